"""Optimisers of information flux: gradient ascent, the hill climb, self-organisation.

``optimize_biases`` and ``hill_climb`` climb any objective ``f(net, key) -> scalar``.
The study's objectives are one-liners over the public estimators::

    exact = lambda net, key: fj.exact_flux(net)                  # n <= 14, or blocks
    soft = functools.partial(fj.soft_flux, steps=10_000)          # any n
    core = functools.partial(fj.soft_flux, steps=10_000, neurons=core_neurons)
    proxy = functools.partial(fj.correlation_proxy, steps=10_000)
    triplets = lambda net, key: sum(fj.exact_triplet_flux(net, TRIPLETS))
"""

import dataclasses
import inspect
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray, Shaped

from ._checks import check_int, check_key, check_neurons
from .info.correlation import correlation_proxy
from .info.exact import (
    FAST_EXACT_NEURONS,
    RESOLUTION_ULPS,
    enumerated_size,
    exact_flux,
    weight_components,
)
from .info.soft import soft_flux
from .measure import flux
from .network import (
    NUM_NOISE_NODES,
    BinaryNetwork,
    check_network,
    draw_randomness,
    update,
)


FIELDS = ("weights", "biases", "temperature", "noise")
"""The fields of a :class:`BinaryNetwork` that can be optimised."""

Objective = Callable[[BinaryNetwork, PRNGKeyArray], Any]
"""What the optimisers climb: ``f(net, key) -> scalar`` (bits, or any score)."""


class History(NamedTuple):
    """What :func:`optimize_biases` did, one entry per step.

    Attributes:
        objective: ``(steps,)`` the objective at the parameters *before* each update.
        grad_norm: ``(steps,)`` the global 2-norm of the objective's gradient with
            respect to the trained (unconstrained) parameters, masked to ``trainable``.
        converged: whether the run stopped early by the ``tol`` criterion.

    Examples:
        >>> net = random_network(3, key=jax.random.key(0), weight_scale=3.0)
        >>> exact = lambda net, key: exact_flux(net)
        >>> _, history = optimize_biases(net, jax.random.key(1), exact, steps=20)
        >>> history.objective.shape, history.grad_norm.shape, bool(history.converged)
        ((20,), (20,), False)
    """

    objective: Float[Array, " steps"]
    grad_norm: Float[Array, " steps"]
    converged: Bool[Array, ""]


def _field_spec(fields, net: BinaryNetwork) -> tuple[str, ...]:
    """The selected field names, from a name or a sequence of names."""
    if isinstance(fields, str):
        fields = (fields,)
    if not isinstance(fields, Sequence) or not all(isinstance(f, str) for f in fields):
        raise TypeError(
            f"fields must be a field name or a sequence of names from {FIELDS}, "
            f"got {fields!r}"
        )
    for name in fields:
        if name not in FIELDS:
            raise ValueError(f"fields must be drawn from {FIELDS}, got {name!r}")
    if not fields:
        raise ValueError("fields must select at least one field")
    if "noise" in fields and net.noise is None:
        raise ValueError(
            "fields includes 'noise' but the network is noiseless (noise=None): give "
            "it a starting noise > 0 (the flux is even in sigma, so sigma = 0 is a "
            "critical point that gradient ascent cannot leave)"
        )
    return tuple(dict.fromkeys(fields))


def _spec(net: BinaryNetwork, fields: tuple[str, ...]) -> BinaryNetwork:
    spec = jax.tree.map(lambda _: False, net)
    return eqx.tree_at(
        lambda n: [getattr(n, f) for f in fields], spec, [True] * len(fields)
    )


def _unconstrain(net: BinaryNetwork, fields: tuple[str, ...]) -> BinaryNetwork:
    """Trained temperatures are kept as log(temperature), so they stay positive."""
    if "temperature" in fields:
        net = eqx.tree_at(lambda n: n.temperature, net, jnp.log(net.temperature))
    return net


def _constrained(net: BinaryNetwork, fields: tuple[str, ...]) -> BinaryNetwork:
    """The inverse of :func:`_unconstrain`; trained noise enters as |sigma|.

    The flux is even in sigma, so |sigma| is a symmetry, not a constraint.
    """
    if "temperature" in fields:
        net = eqx.tree_at(lambda n: n.temperature, net, jnp.exp(net.temperature))
    if "noise" in fields:
        net = eqx.tree_at(lambda n: n.noise, net, jnp.abs(net.noise))
    return net


def _mask(params: BinaryNetwork, trainable: tuple[int, ...], n: int):
    """A pytree of 1 where a parameter may move and 0 where it is frozen.

    The entries of ``trainable`` neurons move: biases, per-neuron temperature and noise,
    and incoming weights W[:, i]. Scalars are shared and always move.
    """
    selected = jnp.zeros(n, bool).at[jnp.asarray(trainable)].set(True)

    def leaf_mask(name, leaf):
        if leaf is None:
            return None
        if name == "weights":
            return jnp.broadcast_to(selected[None, :], leaf.shape).astype(leaf.dtype)
        if leaf.shape == (n,):
            return selected.astype(leaf.dtype)
        return jnp.ones(leaf.shape, leaf.dtype)

    return eqx.tree_at(
        lambda m: [getattr(m, f) for f in FIELDS],
        params,
        [leaf_mask(f, getattr(params, f)) for f in FIELDS],
        is_leaf=lambda x: x is None,
    )


@dataclasses.dataclass(frozen=True)
class FluxObjective:
    """The flux as an objective ``(net, key) -> bits``: the validated one for a size.

    Exact (:func:`fluxjax.exact_flux`, given the weights' ``components``) when
    ``steps`` is None, else :func:`fluxjax.soft_flux` from ``steps`` transitions.
    Hashable by value, so runs with equal objectives share one compiled step.
    :meth:`for_network` picks it.

    Attributes:
        steps: the transitions of the sampled estimate; None for the exact flux.
        components: the structure the exact flux enumerates
            (:func:`fluxjax.weight_components`; the weights are traced inside the
            optimiser's step, where it cannot be read from them); None: the whole
            network is one component.
    """

    steps: int | None = None
    components: tuple[tuple[int, ...], ...] | None = None

    def __call__(self, net: BinaryNetwork, key: PRNGKeyArray) -> Float[Array, ""]:
        """The flux of ``net`` in bits (``key`` drives the sampled estimate)."""
        if self.steps is None:
            return exact_flux(net, components=self.components)
        return soft_flux(net, key, self.steps)

    @classmethod
    def for_network(cls, net: BinaryNetwork) -> "FluxObjective":
        """The validated objective for ``net``'s size.

        Exact when every component of the weights has at most
        :data:`fluxjax.info.exact.FAST_EXACT_NEURONS` neurons (or is a cycle); else
        the sampled estimate from max(10^4, 100 n) transitions (the large-n
        estimator's validated regime).
        """
        if enumerated_size(net) <= FAST_EXACT_NEURONS:
            return cls(components=weight_components(net))
        return cls(max(10_000, 100 * net.num_neurons))


_ESTIMATORS = {
    flux: "fluxjax.FluxObjective.for_network(net) (a differentiable scalar)",
    exact_flux: "lambda net, key: fj.exact_flux(net)",
    soft_flux: "functools.partial(fj.soft_flux, steps=10_000)",
    correlation_proxy: "functools.partial(fj.correlation_proxy, steps=10_000)",
}


def _check_objective(objective, net: BinaryNetwork) -> Objective:
    """The objective, default :meth:`FluxObjective.for_network`.

    A clear TypeError for anything that is not a callable ``(net, key) -> scalar``.
    """
    if objective is None:
        return FluxObjective.for_network(net)
    if not callable(objective):
        raise TypeError(
            "objective must be a callable (net, key) -> scalar, e.g. "
            "fluxjax.FluxObjective() (exact) or "
            f"functools.partial(fluxjax.soft_flux, steps=10_000); got {objective!r}"
        )
    wrapped = _ESTIMATORS.get(objective)
    if wrapped is not None:
        raise TypeError(
            f"objective must be a callable (net, key) -> scalar; "
            f"{objective.__name__} takes other arguments. Pass {wrapped}, or "
            "fluxjax.FluxObjective.for_network(net) (the default)"
        )
    try:
        inspect.signature(objective).bind(net, None)
    except TypeError as error:
        raise TypeError(
            f"objective must be a callable (net, key) -> scalar; {objective!r} cannot "
            f"be called so: {error}"
        ) from None
    except ValueError:  # no signature to inspect (some builtins): trust it
        pass
    return objective


def optimize_biases(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    objective: Objective | None = None,
    *,
    steps: int = 200,
    optimizer: optax.GradientTransformation | None = None,
    trainable: Sequence[int | np.integer] | Shaped[ArrayLike, " k"] | None = None,
    fields: str | Sequence[str] = "biases",
    tol: float | None = 1e-5,
    patience: int = 25,
    progress: bool | None = None,
) -> tuple[BinaryNetwork, History]:
    """Gradient ascent of an objective (information flux) over the biases or other fields.

    Each step evaluates f = ``objective(net, fold_in(key, step))`` and its gradient
    and applies ``theta <- theta + optimizer(grad f)`` (optax minimises -f), inside one
    jit-compiled step. It compiles once per objective, optimizer, fields and shapes:
    pass the same ``objective`` and ``optimizer`` objects to several runs (several
    networks) and only the first compiles. The optimiser's ``update`` also gets
    ``value=-f``, ``grad=`` and ``value_fn=`` (the loss at the step's key), so
    ``optax.contrib.reduce_on_plateau`` and ``optax.lbfgs`` work. Trained temperatures
    are optimised as log(temperature) and trained noise enters as |noise|, so the
    returned network is always valid.

    Args:
        net: the starting network.
        key: PRNG key for sampled objectives (one ``fold_in`` per step).
        objective: ``f(net, key) -> scalar`` to maximise; default the validated
            flux for the network's size, :meth:`FluxObjective.for_network` (exact
            up to 12 neurons per component, else ``soft_flux`` from 100 n
            transitions). Others:
            ``lambda net, key: fj.exact_flux(net)`` (n <= 14, or small blocks),
            ``functools.partial(fj.soft_flux, steps=10_000)`` (any n; add
            ``neurons=core`` for the flux of a core), or
            ``functools.partial(fj.correlation_proxy, steps=10_000)``.
        steps: the maximum number of optimisation steps (>= 1).
        optimizer: an optax transformation; default ``optax.adam(0.05)``.
        trainable: the neurons whose parameters move (their biases, incoming weights
            W[:, i], and per-neuron temperature/noise); default all neurons.
        fields: which fields train: a name or a sequence of names from
            ``("weights", "biases", "temperature", "noise")``.
        tol: stop early once the mean objective over the last ``patience`` steps
            exceeds the mean over the ``patience`` steps before by less than ``tol``
            (None: never). With a sampled objective the test sees its noise too
            (about 0.005 bit per step for the soft flux at n = 8 with 10^4 samples),
            so a run stops on a plateau, or, rarely, during a very slow climb.
        patience: the window of the convergence test (>= 1).
        progress: show a tqdm progress bar (time per step, time left); default
            None shows one once the first steps predict a run over 20 s.

    Returns:
        ``(net, history)``: the network after the last step, and a :class:`History`.

    Raises:
        FloatingPointError: a step produced a non-finite objective, gradient or
            parameter (the parameters are never returned with NaN); lower the
            learning rate.
        ValueError, TypeError: bad arguments (named in the message).

    Examples:
        >>> net = random_network(3, key=jax.random.key(0), weight_scale=3.0)
        >>> exact = lambda net, key: exact_flux(net)
        >>> best, history = optimize_biases(net, jax.random.key(1), exact, steps=20)
        >>> bool(history.objective[-1] > history.objective[0])  # bits, improved
        True
    """
    check_network(net)
    check_key(key)
    objective = _check_objective(objective, net)
    steps = check_int(steps, "steps", minimum=1)
    patience = check_int(patience, "patience", minimum=1)
    if tol is not None and not (isinstance(tol, (int, float)) and tol >= 0):
        raise ValueError(f"tol must be None or a number >= 0, got {tol!r}")
    n = net.num_neurons
    trainable = check_neurons(trainable, n, "trainable")
    fields = _field_spec(fields, net)
    if "noise" in fields:  # a trained noise may outgrow the fewer nodes' range
        net = BinaryNetwork(
            net.weights,
            net.biases,
            net.temperature,
            net.noise,
            noise_nodes=NUM_NOISE_NODES,
        )
    if optimizer is None:
        optimizer = optax.adam(0.05)
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            f"optimizer must be an optax.GradientTransformation, got {optimizer!r}"
        )
    params, static = eqx.partition(_unconstrain(net, fields), _spec(net, fields))
    mask = _mask(params, trainable, n)
    opt_state = optimizer.init(params)
    rule = (objective, optimizer, fields)  # static: a new one compiles anew

    values, norms, converged = [], [], False
    bar = _ProgressBar(steps, "optimize_biases", progress)
    try:
        for t in range(steps):
            new_params, new_state, value, grad_norm, finite = _ascent_step(
                params, opt_state, jr.fold_in(key, t), static, mask, rule
            )
            if not bool(finite):
                raise FloatingPointError(
                    f"optimize_biases: step {t} gave a non-finite objective, gradient "
                    f"or parameter (objective {float(value)}, gradient norm "
                    f"{float(grad_norm)}); the parameters before it were finite. Lower "
                    "the learning rate or check the objective."
                )
            params, opt_state = new_params, new_state
            values.append(value)
            norms.append(grad_norm)
            bar.update(objective=f"{float(value):.4f}")
            if tol is not None and len(values) >= 2 * patience:
                recent = np.mean(values[-patience:])
                before = np.mean(values[-2 * patience : -patience])
                if recent - before < tol:
                    converged = True
                    break
    finally:
        bar.close()
    net = _constrained(eqx.combine(params, static), fields)
    history = History(
        objective=jnp.stack(values),
        grad_norm=jnp.stack(norms),
        converged=jnp.bool_(converged),
    )
    return net, history


class _ProgressBar:
    """A tqdm bar: steps per second and time left.

    With ``show=None`` it opens only once the steps so far predict a run longer
    than :data:`_LONG_RUN` seconds.
    """

    def __init__(self, total: int, description: str, show: bool | None):
        self.total, self.description, self.show = total, description, show
        self.done, self.first, self.bar = 0, None, None
        if show:
            self._open()

    def _open(self):
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, initial=self.done, desc=self.description)

    def update(self, amount: int = 1, **postfix):
        """Counts ``amount`` more units done.

        The first call's time (compilation) is not counted in the prediction.
        """
        self.done += amount
        now = time.perf_counter()
        if self.bar is None and self.show is None and self.first is not None:
            rate = (now - self.first[0]) / (self.done - self.first[1])
            if rate * (self.total - self.done) > _LONG_RUN:
                self._open()
        if self.first is None:
            self.first = (now, self.done)
        if self.bar is not None:
            self.bar.update(self.done - self.bar.n)
            if postfix:
                self.bar.set_postfix(postfix)

    def close(self):
        if self.bar is not None:
            self.bar.close()


_LONG_RUN = 20.0


@eqx.filter_jit
def _ascent_step(params, opt_state, key, static, mask, rule):
    """One step of :func:`optimize_biases`; ``rule = (objective, optimizer, fields)``."""
    objective, optimizer, fields = rule
    optimizer = optax.with_extra_args_support(optimizer)

    def loss(params):
        current = _constrained(eqx.combine(params, static), fields)
        return -jnp.asarray(objective(current, key))

    neg_value, grads = eqx.filter_value_and_grad(loss)(params)
    grads = jax.tree.map(jnp.multiply, grads, mask)
    # optax's rules mix Python floats with int32 counts (adam: decay**count),
    # which strict dtype promotion rejects; scope the standard rules to them.
    with jax.numpy_dtype_promotion("standard"):
        updates, opt_state = optimizer.update(
            grads,
            opt_state,
            params,
            value=neg_value,
            grad=grads,
            value_fn=loss,
        )
    updates = jax.tree.map(jnp.multiply, updates, mask)
    params = eqx.apply_updates(params, updates)
    grad_norm = optax.tree.norm(grads)
    finite = jnp.isfinite(neg_value) & jnp.isfinite(grad_norm)
    for leaf in jax.tree.leaves(params):
        finite = finite & jnp.all(jnp.isfinite(leaf))
    return params, opt_state, -neg_value, grad_norm, finite


INFOMAX_TARGET_RATE = 0.05
"""The target firing rate of Recurrent Infomax's threshold rule (Tanaka, Kaneko & Aoyagi
2009): ``self_organize(net, key, steps, target=INFOMAX_TARGET_RATE)`` runs it.

Its thresholds h_i follow h_i <- h_i + eps (x_i(t+1) - p_bar) with eps = 0.01, the
neuron firing with probability p_max sigmoid(sum_j W_ij x_j - h_i) (the authors'
sample code, RI_sample): with the bias v_i = -h_i this is :func:`self_organize`'s rule
v_i <- v_i - eps (s_i(t+1) - target) with target = p_bar, in one step and at the same
default rate. p_bar = 0.05 is the paper's free-running setting (Fig. 6: sequences and
cell assemblies, with reliable neurons, p_max = 0.95, the closest to fluxjax's
p_max = 1); its avalanche setting (Fig. 8) uses p_bar = 0.01 with p_max = 0.5.
Recurrent Infomax also learns the weights, by gradient ascent on the Gaussian lagged
information (:func:`fluxjax.exact_gaussian_flux`); the rule here is its threshold
part alone.
"""


class SelfOrganizationHistory(NamedTuple):
    """What :func:`self_organize` records.

    Attributes:
        steps: ``(K,)`` step index of each bias snapshot.
        biases: ``(K, n)`` the biases after those steps.
        states: ``(steps, len(record))`` the recorded neurons' states, bool.

    Examples:
        >>> net = BinaryNetwork(jnp.zeros((3, 3)), jnp.full(3, 2.0))
        >>> _, history = self_organize(net, jax.random.key(0), 2000, snapshots=10)
        >>> history.steps.shape, history.biases.shape, history.states.shape
        ((10,), (10, 3), (2000, 3))
    """

    steps: Array
    biases: Array
    states: Array


def self_organize(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    steps: int,
    *,
    rate: float = 0.01,
    target: float = 0.5,
    neurons=None,
    burn_in: int = 0,
    record=None,
    snapshots: int = 200,
    progress: bool | None = None,
) -> tuple[BinaryNetwork, SelfOrganizationHistory]:
    """The homeostatic bias rule of Metzner et al. (2026), run inside ``lax.scan``.

    After every synchronous update x_t -> x_{t+1}, each adapting neuron i moves its
    bias against its activity,

        v_i <- v_i - rate * (s_i(t+1) - target),

    in raw weight units (inside the division by the temperature). The fixed point has
    each neuron firing a fraction ``target`` of the time; with ``target`` =
    :data:`INFOMAX_TARGET_RATE` it is the threshold rule of Recurrent Infomax (Tanaka,
    Kaneko & Aoyagi 2009). The dynamics are those of
    :func:`fluxjax.simulate` (same key schedule), with the biases changing on the way.

    Args:
        net: the network; its biases are the starting point.
        key: PRNG key.
        steps: adapting updates after ``burn_in`` non-adapting ones.
        rate: the learning rate eps > 0.
        target: the target firing probability in (0, 1).
        neurons: the neurons whose biases adapt (default all).
        burn_in: updates before adaptation starts (not recorded).
        record: the neurons whose states are recorded (default ``neurons``; at most
            the ones you need, e.g. the core, to keep memory at steps * len(record)).
        snapshots: number of bias snapshots kept, evenly spaced.
        progress: show a tqdm progress bar (time per step, time left); default
            None shows one once the first steps predict a run over 20 s.

    Returns:
        ``(net, history)``: the network with the final biases, and the
        :class:`SelfOrganizationHistory`.

    Examples:
        >>> net = BinaryNetwork(jnp.zeros((3, 3)), jnp.full(3, 2.0))  # fires 88%
        >>> net, history = self_organize(net, jax.random.key(0), 2000, rate=0.05)
        >>> bool((abs(net.biases) < 0.5).all())  # near b = 0: fires 50%
        True
    """
    check_network(net)
    check_key(key)
    steps = check_int(steps, "steps", minimum=1)
    burn_in = check_int(burn_in, "burn_in", minimum=0)
    snapshots = check_int(snapshots, "snapshots", minimum=1)
    if not (isinstance(rate, (int, float)) and rate > 0 and math.isfinite(rate)):
        raise ValueError(f"rate must be a finite number > 0, got {rate!r}")
    if not (isinstance(target, (int, float)) and 0 < target < 1):
        raise ValueError(f"target must lie in (0, 1), got {target!r}")
    adapting = check_neurons(neurons, net.num_neurons)
    recorded = (
        adapting if record is None else check_neurons(record, net.num_neurons, "record")
    )
    every = max(1, steps // snapshots)
    mask = jnp.zeros(net.num_neurons, bool).at[jnp.asarray(adapting)].set(True)
    rule = (mask, float(rate), float(target), recorded)
    x, run_key = _self_organize_start(net, key, burn_in)
    biases = net.biases
    blocks = steps // every
    per_call = max(1, blocks // PROGRESS_UPDATES)  # blocks per compiled call
    calls = [per_call] * (blocks // per_call) + [blocks % per_call] * (
        blocks % per_call > 0
    )
    bar = _ProgressBar(steps, "self_organize", progress)
    snapshots_out, states_out = [], []
    start = burn_in
    try:
        for num_blocks in calls:
            (x, biases), snaps, states = _self_organize_blocks(
                net, run_key, x, biases, jnp.uint32(start), num_blocks, every, rule
            )
            snapshots_out.append(snaps)
            states_out.append(states)
            start += num_blocks * every
            bar.update(num_blocks * every)
        if steps > blocks * every:  # the remainder: no snapshot
            (x, biases), _, states = _self_organize_blocks(
                net,
                run_key,
                x,
                biases,
                jnp.uint32(start),
                1,
                steps - blocks * every,
                rule,
            )
            states_out.append(states)
            bar.update(steps - blocks * every)
    finally:
        bar.close()
    history = SelfOrganizationHistory(
        every * (1 + jnp.arange(blocks)),
        jnp.concatenate(snapshots_out),
        jnp.concatenate(states_out),
    )
    return eqx.tree_at(lambda n: n.biases, net, biases), history


PROGRESS_UPDATES = 50
""":func:`self_organize` runs in about this many compiled calls (progress updates);
the trajectory does not depend on it (update t always uses the draws of step t)."""


@eqx.filter_jit
def _self_organize_start(net, key, burn_in):
    """The initial state and run key of ``simulate``'s replica 0, after the burn-in."""
    init_key, run_key = jr.split(jr.fold_in(key, 0))
    x = jr.bernoulli(init_key, 0.5, (net.num_neurons,))

    def burn(x, t):
        return update(net, x, *draw_randomness(run_key, t, x.shape, net)), None

    x, _ = jax.lax.scan(burn, x, jnp.arange(burn_in, dtype=jnp.uint32))
    return x, run_key


@eqx.filter_jit
def _self_organize_blocks(net, run_key, x, biases, start, num_blocks, every, rule):
    """``num_blocks`` blocks of ``every`` adapting updates from update ``start``.

    Returns the carry (x, biases), the biases after each block and the recorded
    states of every update.
    """
    mask, rate, target, recorded = rule
    index = jnp.asarray(recorded)

    def adapt(carry, t):  # v_i <- v_i - eps (s_i(t+1) - target)
        x, biases = carry
        current = eqx.tree_at(lambda n: n.biases, net, biases)
        x_next = update(current, x, *draw_randomness(run_key, t, x.shape, current))
        activity = x_next.astype(biases.dtype)
        biases = biases - jnp.where(mask, rate * (activity - target), 0.0)
        return (x_next, biases), x_next[index]

    def block(carry, first):  # ``every`` adapting steps, then one bias snapshot
        carry, states = jax.lax.scan(
            adapt, carry, first + jnp.arange(every, dtype=jnp.uint32)
        )
        return carry, (carry[1], states)

    firsts = start + jnp.uint32(every) * jnp.arange(num_blocks, dtype=jnp.uint32)
    carry, (snapshots, states) = jax.lax.scan(block, (x, biases), firsts)
    return carry, snapshots, states.reshape(num_blocks * every, -1)


PAIR_PROBABILITY = 0.2
"""The hill climb's probability of perturbing two biases at once (the paper's)."""


class HillClimbHistory(NamedTuple):
    """What :func:`hill_climb` did, one entry per iteration.

    Attributes:
        objective: ``(iterations,)`` the stored (best so far) objective after each
            iteration; with a sampled objective this is the noisy estimate that was
            accepted, as in the paper (it is never re-evaluated).
        accepted: ``(iterations,)`` whether the proposal was accepted.

    Examples:
        >>> net = random_network(3, key=jax.random.key(0), weight_scale=3.0)
        >>> exact = lambda net, key: exact_flux(net)
        >>> _, history = hill_climb(net, jax.random.key(1), exact, iterations=20)
        >>> history.objective.shape, history.accepted.dtype
        ((20,), dtype('bool'))
    """

    objective: Array
    accepted: Array


def hill_climb(
    net: BinaryNetwork,
    key: PRNGKeyArray,
    objective: Objective | None = None,
    *,
    iterations: int = 500,
    step_size: float = 0.3,
    halve_at: int | None = 250,
    trainable=None,
) -> tuple[BinaryNetwork, HillClimbHistory]:
    """The paper's stochastic hill climb over the biases (Metzner et al. 2026, Methods).

    Each iteration perturbs one trainable bias, or two with probability
    :data:`PAIR_PROBABILITY` (the paper's 0.2), by N(0, step^2) (step halved after ``halve_at`` iterations),
    evaluates the objective with a fresh key, and keeps the proposal if its value
    beats the stored one. The whole climb is one ``lax.scan`` (jit-compiled); restarts
    are a ``vmap`` over starting networks.

    Args:
        net: the starting network.
        key: PRNG key (proposals and the sampled objectives' simulations).
        objective: ``f(net, key) -> scalar`` to maximise; it need not be
            differentiable (e.g. the paper's sampled triplet indicator,
            ``lambda net, key: sum(plugin_triplet_flux(simulate(net, key, T), TRIPLETS))``);
            default :meth:`FluxObjective.for_network`, as :func:`optimize_biases`.
        iterations: number of proposals (>= 1).
        step_size: SD of a perturbation (> 0), in bias units.
        halve_at: iteration after which the SD is halved (None: never).
        trainable: the neurons whose biases move (default all; at least two for pairs).

    Returns:
        ``(net, history)``: the best network found and a :class:`HillClimbHistory`.

    Examples:
        >>> net = random_network(3, key=jax.random.key(0), weight_scale=3.0)
        >>> exact = lambda net, key: exact_flux(net)
        >>> best, history = hill_climb(net, jax.random.key(1), exact, iterations=20)
        >>> round(float(exact_flux(net)), 3), round(float(exact_flux(best)), 3)
        (0.69, 0.966)
    """
    check_network(net)
    check_key(key)
    function = _check_objective(objective, net)
    iterations = check_int(iterations, "iterations", minimum=1)
    if not (isinstance(step_size, (int, float)) and step_size > 0):
        raise ValueError(f"step_size must be a number > 0, got {step_size!r}")
    if halve_at is not None:
        halve_at = check_int(halve_at, "halve_at", minimum=0)
    trainable = jnp.asarray(check_neurons(trainable, net.num_neurons, "trainable"))
    halve = iterations if halve_at is None else halve_at
    biases, values, accepted = _hill_climb(
        net,
        key,
        function,
        trainable,
        iterations,
        float(step_size),
        halve,
    )
    return eqx.tree_at(lambda m: m.biases, net, biases), HillClimbHistory(
        values, accepted
    )


@eqx.filter_jit
def _hill_climb(
    net,
    key,
    function,
    trainable,
    iterations,
    step_size,
    halve,
):
    def evaluate(biases, key):
        candidate = eqx.tree_at(lambda m: m.biases, net, biases)
        return jnp.asarray(function(candidate, key))

    start_key, climb_key = jr.split(key)
    start = evaluate(net.biases, start_key)

    def propose(carry, i):
        biases, value = carry
        pick_key, pair_key, size_key, eval_key = jr.split(jr.fold_in(climb_key, i), 4)
        pool = trainable if trainable.size > 1 else jnp.tile(trainable, 2)
        chosen = jr.permutation(pick_key, pool)[:2]
        two = (jr.uniform(pair_key) < PAIR_PROBABILITY) & (trainable.size > 1)
        sd = jnp.where(i < halve, step_size, step_size / 2)
        kicks = sd * jr.normal(size_key, (2,), biases.dtype)
        kicks = kicks.at[1].multiply(two.astype(biases.dtype))
        candidate = biases.at[chosen].add(kicks)
        candidate_value = evaluate(candidate, eval_key)
        better = candidate_value > value
        biases = jnp.where(better, candidate, biases)
        value = jnp.where(better, candidate_value, value)
        return (biases, value), (value, better)

    (biases, _), (values, accepted) = jax.lax.scan(
        propose, (net.biases, start), jnp.arange(iterations)
    )
    return biases, values, accepted


def single_bias_gains(
    net: BinaryNetwork,
    objective: Callable[[BinaryNetwork], ArrayLike],
    *,
    delta: float = 0.01,
) -> Float[Array, " n"]:
    """g_i = max(F(v + delta e_i), F(v - delta e_i)) - F(v): the local-maximum check.

    At a local maximum of a deterministic objective F (e.g. :func:`exact_flux`)
    every g_i is negative (about H_ii delta^2 / 2). A gain is meaningful only above
    the objective's round-off, ``RESOLUTION_ULPS * eps * max(|F(v)|, 1)`` in the
    network's dtype (float32: 3e-5 bit per bit of F); if any |g_i| is below it,
    this raises instead of returning round-off.

    Args:
        net: the network; its dtype sets the precision of F.
        objective: a deterministic ``f(net) -> scalar``, e.g. ``fluxjax.exact_flux``.
        delta: the bias change (finite, > 0).

    Returns:
        The ``(n,)`` gains, in the objective's units.

    Raises:
        ValueError: a gain is below the resolution (in float32: compute in float64,
            ``jax.enable_x64(True)`` and ``BinaryNetwork(..., dtype=jnp.float64)``).

    Examples:
        >>> with jax.enable_x64(True):
        ...     net = random_network(4, key=jax.random.key(0), dtype=jnp.float64)
        ...     gains = np.asarray(single_bias_gains(net, exact_flux))
        >>> gains.shape, bool(gains.max() > 0)  # a random bias is not the optimum
        ((4,), True)
    """
    check_network(net)
    if not callable(objective):
        raise TypeError(
            f"objective must be a callable net -> scalar, got {objective!r}"
        )
    number = isinstance(delta, (int, float)) and not isinstance(delta, bool)
    if not (number and math.isfinite(delta) and delta > 0):
        raise ValueError(f"delta must be a finite number > 0, got {delta!r}")
    value, gains = _single_bias_gains(net, objective, delta)
    if not (np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(gains)))):
        raise ValueError(
            f"single_bias_gains: the objective is not finite at the biases or at "
            f"the biases moved by delta = {delta}"
        )
    dtype = net.biases.dtype
    resolution = (
        RESOLUTION_ULPS * float(jnp.finfo(dtype).eps) * max(abs(float(value)), 1.0)
    )
    magnitudes = np.abs(np.asarray(gains))
    below = int(np.sum(magnitudes < resolution))
    if below:
        advice = (
            "compute in float64: with jax.enable_x64(True), pass "
            "BinaryNetwork(net.weights, net.biases, net.temperature, net.noise, "
            f"dtype=jnp.float64), or a larger delta than {delta}"
            if jnp.finfo(dtype).bits < 64
            else f"use a larger delta than {delta}"
        )
        raise ValueError(
            f"single_bias_gains: {below} of {gains.size} gains are below the "
            f"{jnp.dtype(dtype).name} resolution of the objective ({resolution:.1e} "
            f"at F = {float(value):.4g}; smallest |gain| "
            f"{magnitudes.min():.1e}): they would be "
            f"round-off; {advice}"
        )
    return gains


@eqx.filter_jit
def _single_bias_gains(net, objective, delta):
    n = net.num_neurons
    moves = delta * jnp.concatenate([jnp.eye(n), -jnp.eye(n)]).astype(net.biases.dtype)

    def value(biases):
        return jnp.asarray(objective(eqx.tree_at(lambda m: m.biases, net, biases)))

    F = value(net.biases)
    values = jax.lax.map(value, net.biases + moves)
    return F, jnp.max((values - F).reshape(2, n), axis=0)
