"""Dense linear algebra that stays one matrix at a time under ``vmap``.

jaxlib's CPU LAPACK kernels (0.10.x) split a batch of matrices over XLA's intra-op
thread pool and then wait for the pieces on a thread of that same pool. Two batched
factorisations that run at once in one program can hold every thread of the pool
while they wait, and then wait forever: on two cores, one jitted program with four
independent ``vmap``-ed 512 x 512 solves hung in 4 of 4 runs (Cholesky
factorisations in 1 of 3). So every factorisation in fluxjax goes through this
module, whose functions take a batch one matrix after another (``sequential_vmap``),
whether the batch comes from fluxjax or from a user's ``jax.vmap(fj.exact_flux)``;
each factorisation still uses every core through LAPACK.
"""

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jaxtyping import Array, Float


_lu_factor = jax.custom_batching.sequential_vmap(lambda a: jsl.lu_factor(a))
_lu_solve = jax.custom_batching.sequential_vmap(
    lambda factors, b: jsl.lu_solve(factors, b, trans=0)
)
_lu_solve_transposed = jax.custom_batching.sequential_vmap(
    lambda factors, b: jsl.lu_solve(factors, b, trans=1)
)


def solve(a: Float[Array, "k k"], b: Float[Array, " k"]) -> Float[Array, " k"]:
    """The solution x = a^{-1} b, differentiable in a and b (dx = a^{-1} (db - da x)).

    As ``jnp.linalg.solve`` for one system: an LU factorisation of the constant a,
    and ``lax.custom_linear_solve`` for the derivatives, whose solves reuse it.
    """
    factors = _lu_factor(jax.lax.stop_gradient(a))
    return jax.lax.custom_linear_solve(
        lambda x: jnp.dot(a, x),
        b,
        solve=lambda _, r: _lu_solve(factors, r),
        transpose_solve=lambda _, r: _lu_solve_transposed(factors, r),
    )


_cholesky = jax.custom_batching.sequential_vmap(lambda a: jnp.linalg.cholesky(a))


@jax.custom_batching.sequential_vmap
def _inverse_from_cholesky(lower: Array) -> Array:
    inverse = jsl.cho_solve((lower, True), jnp.eye(lower.shape[0], dtype=lower.dtype))
    return (inverse + inverse.T) / 2


def _log_det_of_cholesky(lower: Array) -> Array:
    return 2.0 * jnp.sum(jnp.log(jnp.diagonal(lower)))


@jax.custom_jvp
def log_det(a: Float[Array, "k k"]) -> Float[Array, ""]:
    """The log-determinant of a symmetric positive definite a (by Cholesky).

    Differentiable once: d log det a = tr(a^{-1} da). An indefinite a gives NaN.
    """
    return _log_det_of_cholesky(_cholesky(a))


@log_det.defjvp
def _log_det_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    lower = _cholesky(a)  # the inverse only where a derivative is asked for
    tangent = jnp.sum(_inverse_from_cholesky(lower) * (da + da.T) / 2)
    return _log_det_of_cholesky(lower), tangent


def log_det_correlation(
    covariance: Float[Array, "k k"], variance: Float[Array, " k"]
) -> Float[Array, ""]:
    """The log-determinant of R = D^-1/2 C D^-1/2, D = diag(``variance``), R_ii = 1.

    A unit whose variance is at most eps(dtype) times the largest is constant: its row
    and column of R are the identity's (a constant unit is independent of the others
    and adds nothing), where its row of C / sqrt(D) would be rounding noise divided by
    a vanishing scale. Differentiable (double ``where``): a constant unit gets a zero
    derivative. The scale-free log-determinant of Gaussian information measures
    (total correlation -1/2 log det R; the lagged information of
    :func:`fluxjax.info.gaussian.gaussian_information`).
    """
    dtype = covariance.dtype
    constant = variance <= jnp.finfo(dtype).eps * jnp.max(variance)
    scale = jnp.where(constant, 0.0, jax.lax.rsqrt(jnp.where(constant, 1.0, variance)))
    R = covariance * scale[:, None] * scale[None, :]
    return log_det(jnp.where(jnp.eye(R.shape[0], dtype=bool), 1.0, R))


#: (eigenvalues ascending, eigenvectors as columns) of a symmetric matrix; values only
#: (no derivatives).
eigh = jax.custom_batching.sequential_vmap(lambda a: jnp.linalg.eigh(a))

#: The thin singular value decomposition (u, s, vt); values only (no derivatives).
svd = jax.custom_batching.sequential_vmap(
    lambda a: jnp.linalg.svd(a, full_matrices=False)
)
