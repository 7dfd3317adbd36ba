"""Independent plain-numpy reference implementation for testing fluxjax.

Model: stochastic binary neurons with synchronous updates.
  * weights[j, i] is the weight FROM neuron j TO neuron i (input is x @ W).
  * mean input m_i(x) = (x @ W + b)_i / temperature_i
  * actual input z_i = m_i + noise_i * xi_i, xi_i ~ N(0, 1)
  * neuron i fires next step with probability sigmoid(z_i).
State code: code(x) = sum_i x_i 2**i (neuron 0 = least significant bit).
All information quantities are in bits.  float64 throughout.

Deliberately written without any reference to fluxjax; the logistic-normal
integral uses scipy.integrate.quad (the library uses a 257-node trapezoidal rule).
"""

import math

import numpy as np
from scipy.integrate import quad


# ---------------------------------------------------------------------------
# Basic helpers
# ---------------------------------------------------------------------------


def sigmoid(z):
    """Numerically stable logistic function 1 / (1 + exp(-z)), elementwise."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))  # in (0, 1], never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _per_neuron(value, n):
    """Broadcast a scalar or length-n parameter to a float64 vector of length n."""
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy()


def logistic_normal(m, s):
    """E[sigmoid(m + s * xi)] for xi ~ N(0, 1), by adaptive quadrature (scalar m, s)."""
    m = float(m)
    s = abs(float(s))
    if s == 0.0:
        return float(sigmoid(m))

    def integrand(xi):
        z = m + s * xi
        if z >= 0:
            sig = 1.0 / (1.0 + math.exp(-z))
        else:
            ez = math.exp(z)
            sig = ez / (1.0 + ez)
        return sig * math.exp(-0.5 * xi * xi) / math.sqrt(2.0 * math.pi)

    # The Gaussian mass outside [-12, 12] is ~4e-33: negligible.
    lo, hi = -12.0, 12.0
    points = [0.0]
    centre = -m / s  # where the sigmoid switches
    if lo < centre < hi and centre != 0.0:
        points.append(centre)
    value, _err = quad(
        integrand, lo, hi, points=sorted(points), epsabs=1e-14, epsrel=1e-13, limit=500
    )
    return value


def expected_sigmoid(m, noise):
    """Elementwise E[sigmoid(m + noise * xi)]; quad called once per unique (m, noise) pair."""
    m = np.asarray(m, dtype=np.float64)
    noise = np.broadcast_to(np.asarray(noise, dtype=np.float64), m.shape)
    out = sigmoid(m)  # correct wherever noise == 0
    noisy = noise != 0
    if np.any(noisy):
        pairs = np.stack([m[noisy], noise[noisy]], axis=1)
        unique_pairs, inverse = np.unique(pairs, axis=0, return_inverse=True)
        values = np.array([logistic_normal(mm, ss) for mm, ss in unique_pairs])
        out[noisy] = values[np.ravel(inverse)]
    return out


def all_states(n):
    """All 2**n binary states as a (2**n, n) int array; row a has bit i = (a >> i) & 1."""
    codes = np.arange(2**n)
    return ((codes[:, None] >> np.arange(n)[None, :]) & 1).astype(np.int64)


def state_codes(states):
    """Integer code sum_i x_i 2**i for each row of a (T, N) binary array."""
    states = np.asarray(states).astype(np.int64)
    return states @ (2 ** np.arange(states.shape[1], dtype=np.int64))


def entropy_bits(p):
    """Shannon entropy in bits of a probability array (any shape), 0 log 0 = 0."""
    p = np.asarray(p, dtype=np.float64).ravel()
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p)))


def mutual_information(joint):
    """Mutual information in bits of a 2-D joint probability table joint[x, y]."""
    joint = np.asarray(joint, dtype=np.float64)
    px = joint.sum(axis=1)
    py = joint.sum(axis=0)
    return entropy_bits(px) + entropy_bits(py) - entropy_bits(joint)


# ---------------------------------------------------------------------------
# Exact quantities from the transition matrix
# ---------------------------------------------------------------------------


def mean_input(W, b, temperature, x):
    """Mean input m(x) = (x @ W + b) / temperature for state(s) x of shape (N,) or (S, N)."""
    W = np.asarray(W, dtype=np.float64)
    n = W.shape[0]
    b = _per_neuron(b, n)
    temperature = _per_neuron(temperature, n)
    x = np.asarray(x, dtype=np.float64)
    return (x @ W + b) / temperature


def firing_prob(W, b, temperature, noise, x):
    """Exact firing probabilities p_i(x) = E[sigmoid(m_i(x) + noise_i xi)] for state(s) x."""
    n = np.asarray(W).shape[0]
    m = mean_input(W, b, temperature, x)
    return expected_sigmoid(m, np.broadcast_to(_per_neuron(noise, n), m.shape))


def silence_prob(W, b, temperature, noise, x):
    """Exact probabilities 1 - p_i(x), computed directly as E[sigmoid(-m_i - noise_i xi)]."""
    n = np.asarray(W).shape[0]
    m = mean_input(W, b, temperature, x)
    return expected_sigmoid(-m, np.broadcast_to(_per_neuron(noise, n), m.shape))


_TRANSITION_CACHE = {}


def transition_matrix(W, b, temperature=1.0, noise=0.0):
    """(2**N, 2**N) matrix P[a, b] = prob of next state code b given current state code a."""
    key = tuple(
        np.asarray(v, dtype=np.float64).tobytes() + str(np.shape(v)).encode()
        for v in (W, b, temperature, noise)
    )
    if key not in _TRANSITION_CACHE:  # memo only: recomputing gives the same matrix
        if len(_TRANSITION_CACHE) > 16:
            _TRANSITION_CACHE.clear()
        _TRANSITION_CACHE[key] = _transition_matrix_uncached(W, b, temperature, noise)
    return _TRANSITION_CACHE[key].copy()


def _transition_matrix_uncached(W, b, temperature, noise):
    """Build the transition matrix from the exact firing probabilities (no memo)."""
    n = np.asarray(W).shape[0]
    X = all_states(n)
    p_on = firing_prob(W, b, temperature, noise, X)  # (S, N), row = current state
    p_off = silence_prob(W, b, temperature, noise, X)  # (S, N)
    P = np.ones((2**n, 2**n), dtype=np.float64)
    for i in range(n):
        next_on = X[:, i].astype(bool)[None, :]  # column = next state
        P *= np.where(next_on, p_on[:, i][:, None], p_off[:, i][:, None])
    return P


def stationary(P):
    """Stationary distribution: left eigenvector of P for the eigenvalue closest to 1, summing to 1."""
    eigvals, eigvecs = np.linalg.eig(np.asarray(P, dtype=np.float64).T)
    k = np.argmin(np.abs(eigvals - 1.0))
    v = np.real(eigvecs[:, k])
    return v / v.sum()


def stationary_joint(W, b, temperature=1.0, noise=0.0):
    """Joint table J[a, b] = pi_a P_ab of (code(x_t), code(x_{t+1})) at stationarity."""
    P = transition_matrix(W, b, temperature, noise)
    pi = stationary(P)
    return pi[:, None] * P


def flux(W, b, temperature=1.0, noise=0.0):
    """Information flux I(X_t; X_{t+1}) in bits with X_t ~ pi: sum pi_a P_ab log2(P_ab / q_b)."""
    P = transition_matrix(W, b, temperature, noise)
    pi = stationary(P)
    q = pi @ P
    J = pi[:, None] * P
    Q = np.broadcast_to(q[None, :], P.shape)
    nz = P > 0  # terms with P_ab = 0 contribute 0
    return float(np.sum(J[nz] * np.log2(P[nz] / Q[nz])))


def entropy(W, b, temperature=1.0, noise=0.0):
    """Entropy H(pi) in bits of the stationary distribution."""
    return entropy_bits(stationary(transition_matrix(W, b, temperature, noise)))


def conditional_entropy(W, b, temperature=1.0, noise=0.0):
    """H(X_{t+1} | X_t) = sum_a pi_a H(P[a, :]) in bits."""
    P = transition_matrix(W, b, temperature, noise)
    pi = stationary(P)
    return float(sum(pi[a] * entropy_bits(P[a]) for a in range(P.shape[0])))


def subset_codes(n, neurons):
    """Code of the sub-state x_S for every full state; bit k of the code is neuron neurons[k]."""
    X = all_states(n)
    neurons = list(neurons)
    if not neurons:
        return np.zeros(2**n, dtype=np.int64)
    return X[:, neurons] @ (2 ** np.arange(len(neurons), dtype=np.int64))


def triplet_indicator(W, b, triplets, temperature=1.0, noise=0.0):
    """The triplet indicator (intra, inter) from the stationary joint, by enumeration.

    intra = mean_k I(c_k(t); c_k(t+1)), inter = mean over k != l of I(c_k(t); c_l(t+1)).
    """
    n = W.shape[0]
    J = stationary_joint(W, b, temperature, noise)
    codes = [subset_codes(n, t) for t in triplets]
    K = len(triplets)
    mi = np.zeros((K, K))
    for k in range(K):
        for l in range(K):
            joint = np.zeros((2 ** len(triplets[k]), 2 ** len(triplets[l])))
            np.add.at(joint, (codes[k][:, None], codes[l][None, :]), J)
            mi[k, l] = mutual_information(joint)
    return np.trace(mi) / K, (mi.sum() - np.trace(mi)) / (K * (K - 1))


def subset_flux(W, b, neurons, temperature=1.0, noise=0.0):
    """I(x_S(t); x_S(t+1)) in bits at stationarity for the neuron list S (order gives bit order)."""
    n = np.asarray(W).shape[0]
    J = stationary_joint(W, b, temperature, noise)
    sub = subset_codes(n, neurons)
    k = 2 ** len(neurons)
    Jsub = np.zeros((k, k))
    np.add.at(Jsub, (sub[:, None], sub[None, :]), J)
    return mutual_information(Jsub)


def transfer_entropy(W, b, target, temperature=1.0, noise=0.0):
    """I(x_C(t+1); x_rest(t) | x_C(t)) in bits at stationarity, C = target, rest = others ascending."""
    n = np.asarray(W).shape[0]
    target = list(target)
    rest = [i for i in range(n) if i not in target]
    J = stationary_joint(W, b, temperature, noise)
    c = subset_codes(n, target)  # x_C as a function of the full state
    r = subset_codes(n, rest)  # x_rest as a function of the full state
    kc, kr = 2 ** len(target), 2 ** len(rest)
    # p3[y, r, y'] with y = x_C(t), r = x_rest(t), y' = x_C(t+1)
    p3 = np.zeros((kc, kr, kc))
    S = 2**n
    np.add.at(p3, (np.repeat(c, S), np.repeat(r, S), np.tile(c, S)), J.ravel())
    # I(Y'; R | Y) = H(Y, R) + H(Y, Y') - H(Y) - H(Y, R, Y')
    return (
        entropy_bits(p3.sum(axis=2))
        + entropy_bits(p3.sum(axis=1))
        - entropy_bits(p3.sum(axis=(1, 2)))
        - entropy_bits(p3)
    )


# ---------------------------------------------------------------------------
# Gaussian approximations from the exact stationary moments
# ---------------------------------------------------------------------------


def gaussian_lagged_information(C0, C1):
    """Gaussian MI of x_t and x_{t+1} in nats, Schur form with numpy's slogdet.

    1/2 log det C0 - 1/2 log det(C0 - C1^T C0^-1 C1), C1 = Cov(x_t, x_{t+1}).
    """
    C0, C1 = np.asarray(C0, np.float64), np.asarray(C1, np.float64)
    conditional = C0 - C1.T @ np.linalg.solve(C0, C1)
    return 0.5 * (np.linalg.slogdet(C0)[1] - np.linalg.slogdet(conditional)[1])


def stationary_moments(W, b, temperature=1.0, noise=0.0):
    """(m, C0, C1) of the stationary chain, C1 summed over the joint table pi_a P_ab."""
    P = transition_matrix(W, b, temperature, noise)
    pi = stationary(P)
    X = all_states(np.asarray(W).shape[0]).astype(np.float64)
    m = pi @ X
    D = X - m
    C0 = D.T @ (pi[:, None] * D)
    C1 = D.T @ (pi[:, None] * P) @ D  # sum_ab pi_a P_ab (x_a - m)(x_b - m)^T
    return m, C0, C1


def gaussian_flux(W, b, temperature=1.0, noise=0.0):
    """Recurrent Infomax's I_G of the exact stationary moments, in bits."""
    _, C0, C1 = stationary_moments(W, b, temperature, noise)
    return gaussian_lagged_information(C0, C1) / math.log(2.0)


def moment_flux(W, b, temperature=1.0, noise=0.0):
    """U1 - TC_G of the exact stationary moments, in bits.

    U1 = sum_i h(m_i) - sum_a pi_a sum_i h(p_i(a)); TC_G = -1/2 log det of the
    correlation matrix of C0.
    """
    n = np.asarray(W).shape[0]
    P = transition_matrix(W, b, temperature, noise)
    pi = stationary(P)
    X = all_states(n)
    p = firing_prob(W, b, temperature, noise, X)
    m, C0, _ = stationary_moments(W, b, temperature, noise)

    u1 = sum(entropy_bits([mi, 1 - mi]) for mi in m) - sum(
        pi[a] * sum(entropy_bits([q, 1 - q]) for q in p[a]) for a in range(2**n)
    )
    scale = 1 / np.sqrt(np.diag(C0))
    R = C0 * scale[:, None] * scale[None, :]
    return u1 + 0.5 * np.linalg.slogdet(R)[1] / math.log(2.0)


# ---------------------------------------------------------------------------
# Plug-in estimators from trajectories
# ---------------------------------------------------------------------------


def _counts(values):
    """Counts of each distinct hashable value, as a float array (order irrelevant)."""
    table = {}
    for v in values:
        table[v] = table.get(v, 0) + 1
    return np.array(list(table.values()), dtype=np.float64)


def plugin_entropy_of_codes(codes):
    """Plug-in (maximum likelihood) entropy in bits of a 1-D sequence of codes."""
    counts = _counts(np.asarray(codes).tolist())
    return entropy_bits(counts / counts.sum())


def plugin_mi(past_codes, future_codes):
    """Plug-in MI in bits between two aligned code sequences, from empirical joint frequencies."""
    past = np.asarray(past_codes).tolist()
    future = np.asarray(future_codes).tolist()
    assert len(past) == len(future)
    h_past = plugin_entropy_of_codes(past)
    h_future = plugin_entropy_of_codes(future)
    counts = _counts(list(zip(past, future)))
    h_joint = entropy_bits(counts / counts.sum())
    return h_past + h_future - h_joint


def plugin_flux(states):
    """Plug-in MI in bits between code(x_t) and code(x_{t+1}) over pairs t = 0..T-2."""
    codes = state_codes(states)
    return plugin_mi(codes[:-1], codes[1:])


def plugin_entropy(states):
    """Plug-in entropy in bits of the state codes over all T rows."""
    return plugin_entropy_of_codes(state_codes(states))


def miller_madow_entropy_of_codes(codes):
    """Plug-in entropy plus the Miller-Madow correction (m - 1) / (2 n ln 2) bits."""
    codes = np.asarray(codes).tolist() if not isinstance(codes, list) else codes
    n = len(codes)
    m = len(set(codes))
    counts = _counts(codes)
    return entropy_bits(counts / counts.sum()) + (m - 1) / (2.0 * n * np.log(2.0))


def miller_madow_flux(states):
    """Miller-Madow corrected MI: H_MM(X) + H_MM(X') - H_MM(X, X') over the T-1 pairs."""
    codes = state_codes(states).tolist()
    past, future = codes[:-1], codes[1:]
    return (
        miller_madow_entropy_of_codes(past)
        + miller_madow_entropy_of_codes(future)
        - miller_madow_entropy_of_codes(list(zip(past, future)))
    )


def plugin_triplet_flux(states, triplets):
    """(intra, inter) in bits: mean MI(c_k(t); c_k(t+1)) and mean over k != l of MI(c_k(t); c_l(t+1))."""
    s = np.asarray(states).astype(np.int64)
    codes = [s[:, a] + 2 * s[:, b_] + 4 * s[:, c] for (a, b_, c) in triplets]
    intra = [plugin_mi(ck[:-1], ck[1:]) for ck in codes]
    inter = [
        plugin_mi(codes[k][:-1], codes[l][1:])
        for k in range(len(codes))
        for l in range(len(codes))
        if k != l
    ]
    intra_mean = float(np.mean(intra)) if intra else float("nan")
    inter_mean = float(np.mean(inter)) if inter else float("nan")
    return intra_mean, inter_mean


# ---------------------------------------------------------------------------
# Simulation with pre-drawn randomness
# ---------------------------------------------------------------------------


def simulate_reference(W, b, temperature, noise, x0, normals, uniforms):
    """Run len(normals) synchronous updates; return the (steps, N) bool states after each update."""
    W = np.asarray(W, dtype=np.float64)
    n = W.shape[0]
    b = _per_neuron(b, n)
    temperature = _per_neuron(temperature, n)
    noise = _per_neuron(noise, n)
    normals = np.asarray(normals, dtype=np.float64)
    uniforms = np.asarray(uniforms, dtype=np.float64)
    x = np.asarray(x0, dtype=np.float64)
    out = np.zeros((normals.shape[0], n), dtype=bool)
    for t in range(normals.shape[0]):
        z = (x @ W + b) / temperature + noise * normals[t]
        x_new = uniforms[t] < sigmoid(z)
        out[t] = x_new
        x = x_new.astype(np.float64)
    return out


# ---------------------------------------------------------------------------
# NSB entropy (Nemenman, Shafee & Bialek 2002) by adaptive quadrature
# ---------------------------------------------------------------------------
# Direct formulas (gammaln and polygamma differences, no asymptotic series) and
# scipy.integrate.quad over x = ln(alpha) on [ln(1e-12 / K), ln(min(1e10, 1e12 / K))]:
# accurate when the posterior's mass beyond that is negligible (samples with
# coincidences); there the direct differences of K alpha ~ 1e12 still hold ~3 digits
# of a weight that is ~0.


def _nsb_groups(counts, K):
    """(count values, number of bins with each) over all K bins, zeros included."""
    counts = np.asarray(counts)
    counts = counts[counts > 0]
    values, bins = np.unique(counts, return_counts=True)
    if K > counts.size:
        values, bins = np.r_[0, values], np.r_[K - counts.size, bins]
    return values.astype(np.float64), bins.astype(np.float64)


def nsb_log_weight(alpha, counts, K):
    """ln[p(alpha) p(n | alpha)] up to a constant, as a density in alpha.

    p(alpha) = K psi_1(K alpha + 1) - psi_1(alpha + 1) (the NSB prior) and
    p(n | alpha) = Gamma(K alpha) / Gamma(N + K alpha) prod_i Gamma(n_i + alpha) /
    Gamma(alpha) (the Dirichlet-multinomial evidence).
    """
    from scipy.special import gammaln, polygamma

    n, z = _nsb_groups(counts, K)
    N = float(np.sum(n * z))
    prior = K * polygamma(1, K * alpha + 1) - polygamma(1, alpha + 1)
    evidence = (
        gammaln(K * alpha)
        - gammaln(N + K * alpha)
        + np.sum(z * (gammaln(n + alpha) - gammaln(alpha)))
    )
    return math.log(prior) + evidence


def nsb_conditional_moments(alpha, counts, K):
    """E[H | n, alpha] and E[H^2 | n, alpha] in nats under Dirichlet(n + alpha).

    The mean (Wolpert & Wolf 1995) and the second moment as the explicit sum over
    pairs of bins (Archer, Park & Pillow 2013, appendix): sum_{i != k} A_i A_k I_ik +
    sum_i A_i (A_i + 1) J_i, over nu (nu + 1), with A = n + alpha, nu = sum A.
    """
    from scipy.special import digamma, polygamma

    n, z = _nsb_groups(counts, K)
    A = n + alpha
    nu = float(np.sum(z * A))
    mean = digamma(nu + 1) - np.sum(z * A * digamma(A + 1)) / nu
    c = polygamma(1, nu + 2)
    phi = digamma(A + 1) - digamma(nu + 2)
    pair_counts = np.outer(z, z) - np.diag(z)  # ordered pairs of distinct bins
    cross = np.sum(pair_counts * np.outer(A, A) * (np.outer(phi, phi) - c))
    single = np.sum(
        z
        * A
        * (A + 1)
        * ((digamma(A + 2) - digamma(nu + 2)) ** 2 + polygamma(1, A + 2) - c)
    )
    return mean, (cross + single) / (nu * (nu + 1))


def nsb_entropy(counts, K, window=None):
    """NSB posterior mean and SD of the entropy in nats, by scipy.integrate.quad.

    The integrals over x = ln(alpha) of w(x) = p(alpha) p(n | alpha) alpha times 1,
    E[H | alpha] and E[H^2 | alpha]; ``window`` = (x_lo, x_hi) restricts them.
    """
    lo, hi = window or (math.log(1e-12 / K), math.log(min(1e10, 1e12 / K)))
    grid = np.linspace(lo, hi, 2001)
    log_w = np.array([nsb_log_weight(math.exp(x), counts, K) + x for x in grid])
    top, mode = log_w.max(), grid[np.argmax(log_w)]

    def weight(x):
        return math.exp(nsb_log_weight(math.exp(x), counts, K) + x - top)

    def integral(f):
        options = dict(points=[mode], limit=1000, epsabs=0.0, epsrel=1e-11)
        return quad(lambda x: weight(x) * f(x), lo, hi, **options)[0]

    norm = integral(lambda x: 1.0)
    mean = integral(lambda x: nsb_conditional_moments(math.exp(x), counts, K)[0])
    second = integral(lambda x: nsb_conditional_moments(math.exp(x), counts, K)[1])
    mean, second = mean / norm, second / norm
    return mean, math.sqrt(second - mean * mean)


def ndd_window(counts, K):
    """The window (x_lo, x_hi) of x = ln(alpha) over which ndd 1.10.6 integrates.

    ndd's nsb_mod.compute_integration_range: alpha_max by bisection of the sign of
    d ln w / d alpha on [1e-8 / K, 1e8 / K] until the bracket is 0.1 % wide; the SD s
    of x about ln(alpha_max) under w(x) on that range; the window ln(alpha_max) +- 4 s
    clipped to the range. ndd truncates its integrals there (up to ~1e-3 nats).
    """
    a1, a2 = 1e-8 / K, 1e8 / K
    alpha_max = None
    for _ in range(100):
        x = (a1 + a2) / 2
        if abs(a2 - a1) / x < 0.001:
            alpha_max = x
            break
        slope = nsb_log_weight(x * (1 + 1e-7), counts, K) - nsb_log_weight(
            x * (1 - 1e-7), counts, K
        )
        if slope > 0:
            a1 = x
        elif slope < 0:
            a2 = x
    lo, hi, centre = math.log(1e-8 / K), math.log(1e8 / K), math.log(alpha_max)
    top = nsb_log_weight(alpha_max, counts, K)

    def weight(x):
        return math.exp(nsb_log_weight(math.exp(x), counts, K) + x - top)

    options = dict(points=[centre], limit=1000, epsrel=1e-10)
    norm = quad(weight, lo, hi, **options)[0]
    var = quad(lambda x: (x - centre) ** 2 * weight(x), lo, hi, **options)[0]
    s = math.sqrt(var / norm)
    return max(centre - 4 * s, lo), min(centre + 4 * s, hi)
