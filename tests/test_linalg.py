"""fluxjax._linalg: values against numpy, derivatives against jax.numpy.linalg and
central differences, and the batched factorisations that deadlock jaxlib's CPU LAPACK
kernels.
"""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import central_difference, random_weights

import fluxjax as fj
from fluxjax._linalg import eigh, log_det, solve, svd


pytestmark = pytest.mark.float64

# Four independent vmapped 512 x 512 factorisations in one jitted program, for each
# function: with jnp.linalg.solve this hung in 4 of 4 runs on two cores, with
# jnp.linalg.cholesky in 1 of 3 (jaxlib 0.10's batched LAPACK kernels wait on the
# intra-op pool they occupy). It runs in a child process so that a regression fails
# at the timeout instead of wedging the suite; it prints the largest error against
# numpy.
CONCURRENT_FACTORISATIONS = """
import jax, numpy as np
jax.config.update("jax_enable_x64", True)
from fluxjax._linalg import eigh, log_det, solve, svd
rng = np.random.default_rng(0)
k = 512
m = rng.normal(size=(4, 4, k, k)) / np.sqrt(k)
a = m @ np.swapaxes(m, -1, -2) + np.eye(k)  # symmetric positive definite
b = rng.normal(size=(4, 4, k))
def four(f, *args):
    return jax.jit(lambda *args: [jax.vmap(f)(*(x[i] for x in args)) for i in range(4)])(*args)
errors = [
    np.abs(np.asarray(four(solve, a, b)) - np.linalg.solve(a, b[..., None])[..., 0]).max(),
    np.abs(np.asarray(four(log_det, a)) - np.linalg.slogdet(a)[1]).max(),
    np.abs(np.asarray([w for w, _ in four(eigh, a)]) - np.linalg.eigvalsh(a)).max(),
    np.abs(np.asarray([s for _, s, _ in four(svd, m)]) - np.linalg.svd(m, compute_uv=False)).max(),
]
print(max(errors))
"""


def test_concurrent_batched_factorisations_finish():
    done = subprocess.run(
        [sys.executable, "-c", CONCURRENT_FACTORISATIONS],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 1e-9


def _system(seed, k=6, batch=()):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(*batch, k, k)) + 3 * np.eye(k)
    return a, rng.normal(size=(*batch, k))


def test_solve_matches_numpy_batched_or_not():
    a, b = _system(1, batch=(4,))
    expected = np.linalg.solve(a, b[..., None])[..., 0]
    a, b = jnp.asarray(a), jnp.asarray(b)
    np.testing.assert_allclose(jax.vmap(solve)(a, b), expected, rtol=1e-12)
    np.testing.assert_allclose(solve(a[0], b[0]), expected[0], rtol=1e-12)


def test_solve_derivatives():
    """d/da, d/db of c . a^{-1} b: central differences, jnp.linalg.solve, under vmap."""
    a, b = _system(2)
    c = np.random.default_rng(3).normal(size=b.shape)

    def loss(a, b, solver=solve):
        return jnp.dot(c, solver(jnp.asarray(a), jnp.asarray(b)))

    grad_a, grad_b = jax.grad(loss, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(
        grad_a, central_difference(lambda a: float(loss(a, b)), a), atol=1e-7
    )
    np.testing.assert_allclose(
        grad_b, central_difference(lambda b: float(loss(a, b)), b), atol=1e-7
    )
    batched_a, batched_b = _system(4, batch=(3,))
    hessian = jax.vmap(jax.hessian(loss, argnums=0))
    np.testing.assert_allclose(
        hessian(batched_a, batched_b),
        jax.vmap(jax.hessian(lambda a, b: loss(a, b, jnp.linalg.solve)))(
            batched_a, batched_b
        ),
        rtol=1e-10,
        atol=1e-12,
    )


def test_vmapped_exact_flux_equals_one_network_at_a_time():
    """jax.vmap(fj.exact_flux) over biases (a batched stationary solve) and its gradient."""
    weights, biases = random_weights(np.random.default_rng(5), 6)
    stacked = np.stack([biases, biases - 1.0, np.zeros(6)])

    def flux(v):
        return fj.exact_flux(fj.BinaryNetwork(weights=weights, biases=v))

    values, grads = jax.vmap(jax.value_and_grad(flux))(stacked)
    for v, value, grad in zip(stacked, values, grads):
        one_value, one_grad = jax.value_and_grad(flux)(v)
        np.testing.assert_allclose(value, one_value, rtol=1e-12)
        np.testing.assert_allclose(grad, one_grad, rtol=1e-9, atol=1e-12)


def _positive_definite(seed, k=5, batch=()):
    m = np.random.default_rng(seed).normal(size=(*batch, k, k))
    return m @ np.swapaxes(m, -1, -2) / k + np.eye(k)


def test_log_det_and_its_gradient():
    """Against numpy's slogdet, central differences and autodiff through cholesky."""
    a = _positive_definite(6, batch=(3,))
    np.testing.assert_allclose(
        jax.vmap(log_det)(jnp.asarray(a)), np.linalg.slogdet(a)[1], rtol=1e-12
    )

    def along(a):  # log det of a matrix that depends on a non-symmetrically
        return log_det(jnp.asarray(a) + 0.1 * jnp.tril(jnp.asarray(a), -1))

    def through_cholesky(a):
        lower = jnp.linalg.cholesky(a + 0.1 * jnp.tril(a, -1))
        return 2.0 * jnp.sum(jnp.log(jnp.diagonal(lower)))

    grads = jax.vmap(jax.grad(along))(jnp.asarray(a))
    np.testing.assert_allclose(
        grads, jax.vmap(jax.grad(through_cholesky))(jnp.asarray(a)), rtol=1e-10
    )
    np.testing.assert_allclose(
        grads[0], central_difference(lambda x: float(along(x)), a[0]), atol=1e-7
    )


def test_eigh_and_svd_match_numpy_under_vmap():
    a = _positive_definite(8, k=6, batch=(3,))
    values, vectors = jax.vmap(eigh)(jnp.asarray(a))
    np.testing.assert_allclose(values, np.linalg.eigvalsh(a), rtol=1e-12)
    rebuilt = np.einsum("bij,bj,bkj->bik", vectors, values, vectors)
    np.testing.assert_allclose(rebuilt, a, atol=1e-12)
    m = np.random.default_rng(9).normal(size=(3, 7, 4))
    u, s, vt = jax.vmap(svd)(jnp.asarray(m))
    assert u.shape == (3, 7, 4) and vt.shape == (3, 4, 4)
    np.testing.assert_allclose(s, np.linalg.svd(m, compute_uv=False), rtol=1e-12)
    np.testing.assert_allclose(np.einsum("bij,bj,bjk->bik", u, s, vt), m, atol=1e-12)
