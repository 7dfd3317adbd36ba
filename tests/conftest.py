import os


# XLA's CPU backend runs single-threaded Eigen in the tests, and in every process they
# start (notebook kernels, the sharding child): the suite already uses both cores
# through its two xdist workers. (It does not keep jaxlib's batched LAPACK kernels off
# the intra-op pool: that deadlock is avoided in fluxjax._linalg.) Set before JAX
# starts its backend.
SINGLE_THREADED_EIGEN = "--xla_cpu_multi_thread_eigen=false"
os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {SINGLE_THREADED_EIGEN}"

import jax  # noqa: E402
import jax.random as jr  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


# The suite runs in JAX's default float32, as users do. Tests that compare against a
# float64 reference at tight tolerances say so with @pytest.mark.float64 (or a module
# ``pytestmark``), which switches x64 on for that test alone.
jax.config.update("jax_numpy_dtype_promotion", "strict")

# Compiled programs persist on disk: each test module drops its executables (below),
# and the same programs recur in other modules, in the other xdist worker and in the
# next run; from the cache they load instead of compiling again.
COMPILATION_CACHE = os.path.join(
    os.path.dirname(__file__), "..", ".pytest_cache", "jax"
)
jax.config.update("jax_compilation_cache_dir", COMPILATION_CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


@pytest.fixture(autouse=True)
def _precision(request):
    """Float64 for tests marked ``float64``; JAX's default float32 otherwise."""
    if request.node.get_closest_marker("float64") is None:
        yield
        return
    with jax.enable_x64(True):
        yield


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_code():
    """Drops JAX's compiled executables after each test module.

    Every XLA CPU executable holds a few memory maps; a whole suite's worth of them
    reaches the kernel's limit (vm.max_map_count, 65530 by default), and the next
    compilation then crashes inside LLVM (a segmentation fault, seen in CI).
    """
    yield
    jax.clear_caches()


@pytest.fixture
def getkey():
    """Fresh, reproducible keys: getkey() returns fold_in(key(0), 0), then 1, ..."""
    counter = iter(range(10**9))
    return lambda: jr.fold_in(jr.key(0), next(counter))


def random_weights(rng: np.random.Generator, n: int, scale: float = 1.5):
    """N(0, scale^2) weights with zero diagonal and N(0, 1) biases (the test nets)."""
    weights = rng.normal(0.0, scale, (n, n))
    np.fill_diagonal(weights, 0.0)
    return weights, rng.normal(0.0, 1.0, n)


def central_difference(f, x, eps=1e-6):
    """(f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for every entry i of the array x."""
    x = np.asarray(x, float)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        grad[index] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad
