"""A discrete hidden Markov model: the data source of Figure 3 (chapter :ref:`ch-transformer`).

The chapter on head tuning with a small Transformer (Figure 3,
:numref:`fig-transformer`) pre-trains the Transformer on token sequences drawn
from a discrete HMM and tunes a head on its frozen features. This module is the
only home of that HMM:

* :func:`random_sparse_hmm` builds a random HMM with sparse transitions and
  sparse emissions;
* :func:`sample` draws token sequences from it;
* :func:`forward_filter` runs the forward recursion and returns the
  Bayes-optimal next-token distributions;
* :func:`bayes_loss` and :func:`marginal_loss` give the two reference lines of
  Figure 3: the cross-entropy of the Bayes filter (the best any model can do)
  and of the marginal token distribution (a predictor that ignores the
  context, i.e. "model size 0").

Model. Hidden states ``zeta_1, zeta_2, ...`` in ``{0, ..., K-1}`` form a Markov
chain with ``P(zeta_1 = k) = pi_k`` and ``P(zeta_{t+1} = l | zeta_t = k) = Psi[k, l]``;
each state emits a token ``o_t`` in ``{0, ..., V-1}`` with
``P(o_t = v | zeta_t = k) = Phi[k, v]``, independently given the states.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as _v
from ._random import rng as _rng

__all__ = [
    "DiscreteHMM",
    "random_sparse_hmm",
    "stationary_distribution",
    "sample",
    "belief_states",
    "forward_filter",
    "bayes_loss",
    "marginal_distribution",
    "marginal_loss",
]

_ATOL = 1e-8


def _stochastic(name: str, value, ndim: int) -> np.ndarray:
    arr = _v.finite_array(name, value, ndim=ndim)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative, got minimum {arr.min()!r}")
    sums = arr.sum(axis=-1)
    if not np.allclose(sums, 1.0, atol=_ATOL, rtol=0.0):
        bad = sums[np.abs(sums - 1.0) > _ATOL]
        raise ValueError(f"{name} must have rows summing to 1, got sums {bad[:3]!r}")
    return arr


@dataclass(frozen=True)
class DiscreteHMM:
    """A discrete HMM with ``K`` hidden states and ``V`` tokens.

    Parameters
    ----------
    initial : array, shape (K,)
        ``pi_k = P(zeta_1 = k)``.
    transition : array, shape (K, K)
        ``Psi[k, l] = P(zeta_{t+1} = l | zeta_t = k)``; rows sum to 1.
    emission : array, shape (K, V)
        ``Phi[k, v] = P(o_t = v | zeta_t = k)``; rows sum to 1.

    Raises
    ------
    ValueError
        If an array has the wrong shape, a negative or non-finite entry, or a
        row that does not sum to 1.
    """

    initial: np.ndarray
    transition: np.ndarray
    emission: np.ndarray

    def __post_init__(self):
        initial = _stochastic("initial", self.initial, 1)
        transition = _stochastic("transition", self.transition, 2)
        emission = _stochastic("emission", self.emission, 2)
        k = initial.shape[0]
        if transition.shape != (k, k):
            raise ValueError(f"transition must have shape ({k}, {k}), got {transition.shape}")
        if emission.shape[0] != k:
            raise ValueError(f"emission must have {k} rows (one per state), got shape {emission.shape}")
        for name, arr in (("initial", initial), ("transition", transition), ("emission", emission)):
            arr = arr.copy()
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def n_states(self) -> int:
        """Number of hidden states ``K``."""
        return self.transition.shape[0]

    @property
    def n_tokens(self) -> int:
        """Number of tokens ``V``."""
        return self.emission.shape[1]


def stationary_distribution(transition) -> np.ndarray:
    """Stationary distribution ``pi`` of a transition matrix: ``pi Psi = pi``, ``sum pi = 1``.

    Solved as the least-squares solution of the stacked system
    ``[Psi^T - I; 1^T] pi = [0; 1]`` (exact for an irreducible chain).

    Parameters
    ----------
    transition : array, shape (K, K)
        Row-stochastic matrix.

    Returns
    -------
    numpy.ndarray, shape (K,)
    """
    a = _stochastic("transition", transition, 2)
    k = a.shape[0]
    if a.shape != (k, k):
        raise ValueError(f"transition must be square, got shape {a.shape}")
    lhs = np.vstack([a.T - np.eye(k), np.ones((1, k))])
    rhs = np.zeros(k + 1)
    rhs[-1] = 1.0
    pi, *_ = np.linalg.lstsq(lhs, rhs, rcond=None)
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


def random_sparse_hmm(n_states: int = 8, n_tokens: int = 16, *, n_successors: int = 3,
                      n_emissions: int = 3, concentration: float = 1.0,
                      rng=None) -> DiscreteHMM:
    """A random HMM with sparse transitions and sparse emissions (Figure 3's data source).

    * Transitions: state ``k`` moves to ``n_successors`` distinct states, always
      including ``k + 1 (mod K)`` (so the chain is irreducible) plus
      ``n_successors - 1`` others drawn uniformly; the weights on these
      successors are ``Dirichlet(concentration)``.
    * Emissions: the tokens of a random permutation are dealt round-robin, so
      state ``k`` emits the ``n_emissions`` distinct tokens
      ``perm[(k * n_emissions + j) mod V]``, ``j < n_emissions``; this needs
      ``K * n_emissions >= V`` and guarantees every token is emitted by some
      state. The weights are ``Dirichlet(concentration)``.
    * The initial distribution is the stationary one,
      :func:`stationary_distribution`, so every position has the same marginal
      token law.

    Used by Figure 3 (:numref:`fig-transformer`).

    Parameters
    ----------
    n_states, n_tokens : int
        ``K >= 2`` hidden states, ``V >= 2`` tokens.
    n_successors : int
        Successors per state, ``1 <= n_successors <= K``.
    n_emissions : int
        Tokens per state, ``1 <= n_emissions <= V``, ``K * n_emissions >= V``.
    concentration : float
        Dirichlet concentration, ``> 0``.
    rng : None, int or numpy.random.Generator
        Source of randomness (an int seeds a fresh ``numpy.random.default_rng``).

    Returns
    -------
    DiscreteHMM
    """
    k = _v.integer("n_states", n_states, minimum=2)
    v = _v.integer("n_tokens", n_tokens, minimum=2)
    n_succ = _v.integer("n_successors", n_successors, minimum=1)
    n_emit = _v.integer("n_emissions", n_emissions, minimum=1)
    alpha = _v.real("concentration", concentration, low=0.0, low_open=True)
    if n_succ > k:
        raise ValueError(f"n_successors must be <= n_states={k}, got {n_succ!r}")
    if n_emit > v:
        raise ValueError(f"n_emissions must be <= n_tokens={v}, got {n_emit!r}")
    if k * n_emit < v:
        raise ValueError(f"n_states * n_emissions must be >= n_tokens={v} so every token is "
                         f"emitted, got n_emissions={n_emit!r} with n_states={k}")
    gen = _rng(rng)

    transition = np.zeros((k, k))
    for i in range(k):
        nxt = (i + 1) % k
        others = np.setdiff1d(np.arange(k), [nxt])
        succ = np.concatenate([[nxt], gen.choice(others, size=n_succ - 1, replace=False)])
        transition[i, succ] = gen.dirichlet(np.full(n_succ, alpha))

    perm = gen.permutation(v)
    emission = np.zeros((k, v))
    for i in range(k):
        toks = perm[(i * n_emit + np.arange(n_emit)) % v]
        emission[i, toks] = gen.dirichlet(np.full(n_emit, alpha))

    return DiscreteHMM(initial=stationary_distribution(transition),
                       transition=transition, emission=emission)


def _check_hmm(hmm) -> DiscreteHMM:
    if not isinstance(hmm, DiscreteHMM):
        raise ValueError(f"hmm must be a DiscreteHMM, got {type(hmm).__name__}")
    return hmm


def _check_tokens(tokens, n_tokens: int) -> np.ndarray:
    arr = np.asarray(tokens)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"tokens must be a non-empty 2-d integer array (sequences x positions), "
                         f"got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"tokens must be an integer array, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= n_tokens:
        raise ValueError(f"tokens must lie in [0, {n_tokens - 1}], got range "
                         f"[{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64, copy=False)


def _categorical(gen: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of ``probs`` by inverting the cumulative distribution."""
    cdf = np.cumsum(probs, axis=1)
    u = gen.random((probs.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((u >= cdf).sum(axis=1), probs.shape[1] - 1)


def sample(hmm: DiscreteHMM, n_sequences: int, length: int, *, rng=None,
           return_states: bool = False):
    """Draw ``n_sequences`` independent token sequences of ``length`` tokens.

    ``zeta_1 ~ pi``, ``zeta_{t+1} | zeta_t ~ Psi[zeta_t, :]``, ``o_t | zeta_t ~ Phi[zeta_t, :]``.
    Used to pre-train and to tune the heads of Figure 3 (:numref:`fig-transformer`).

    Parameters
    ----------
    hmm : DiscreteHMM
    n_sequences, length : int
        Both ``>= 1``.
    rng : None, int or numpy.random.Generator
        Source of randomness (an int seeds a fresh ``numpy.random.default_rng``).
    return_states : bool
        Also return the hidden states.

    Returns
    -------
    tokens : numpy.ndarray of int64, shape (n_sequences, length)
    states : numpy.ndarray of int64, shape (n_sequences, length)
        Only if ``return_states``.
    """
    hmm = _check_hmm(hmm)
    n = _v.integer("n_sequences", n_sequences)
    t_len = _v.integer("length", length)
    if not isinstance(return_states, bool):
        raise ValueError(f"return_states must be a bool, got {return_states!r}")
    gen = _rng(rng)
    states = np.empty((n, t_len), dtype=np.int64)
    tokens = np.empty((n, t_len), dtype=np.int64)
    states[:, 0] = _categorical(gen, np.broadcast_to(hmm.initial, (n, hmm.n_states)))
    for t in range(1, t_len):
        states[:, t] = _categorical(gen, hmm.transition[states[:, t - 1]])
    for t in range(t_len):
        tokens[:, t] = _categorical(gen, hmm.emission[states[:, t]])
    if return_states:
        return tokens, states
    return tokens


def forward_filter(hmm: DiscreteHMM, tokens) -> np.ndarray:
    """Bayes-optimal next-token distributions by the (normalised) forward recursion.

    With ``alpha_1 = pi`` (the prior of ``zeta_1``) and, after seeing ``o_t``,
    the filtered law ``f_t(k) ∝ alpha_t(k) Phi[k, o_t]``, the one-step prediction
    is ``alpha_{t+1} = f_t Psi``. The predictive token law at position ``t`` is

    ``P(o_t = v | o_1, ..., o_{t-1}) = sum_k alpha_t(k) Phi[k, v]``.

    Used for the Bayes reference line of Figure 3 (:numref:`fig-transformer`).

    Parameters
    ----------
    hmm : DiscreteHMM
    tokens : int array, shape (n, T)

    Returns
    -------
    numpy.ndarray, shape (n, T + 1, V)
        Entry ``[:, t, :]`` is the law of the token at 0-based position ``t``
        given the tokens before it; ``[:, T, :]`` predicts the token after the
        last one.
    """
    hmm = _check_hmm(hmm)
    x = _check_tokens(tokens, hmm.n_tokens)
    n, t_len = x.shape
    out = np.empty((n, t_len + 1, hmm.n_tokens))
    alpha = np.broadcast_to(hmm.initial, (n, hmm.n_states)).copy()
    emit_t = hmm.emission.T  # (V, K)
    for t in range(t_len + 1):
        out[:, t, :] = alpha @ hmm.emission
        if t == t_len:
            break
        filt = alpha * emit_t[x[:, t]]
        filt /= filt.sum(axis=1, keepdims=True)
        alpha = filt @ hmm.transition
    return out


def belief_states(hmm: DiscreteHMM, tokens) -> np.ndarray:
    """The forward filter's posterior on the last hidden state, ``P(zeta_T = k | o_1, ..., o_T)``.

    The filtered law ``f_T`` of :func:`forward_filter`'s recursion after the
    last token: the belief state that the chapter's linear probe reads from
    the frozen features (:ref:`ch-transformer`). It lies in the simplex of
    dimension ``K - 1``; the next-token law is ``f_T Psi Phi``.

    Parameters
    ----------
    hmm : DiscreteHMM
    tokens : int array, shape (n, T), ``T >= 1``

    Returns
    -------
    numpy.ndarray, shape (n, K)
    """
    hmm = _check_hmm(hmm)
    x = _check_tokens(tokens, hmm.n_tokens)
    alpha = np.broadcast_to(hmm.initial, (x.shape[0], hmm.n_states)).copy()
    emit_t = hmm.emission.T
    for t in range(x.shape[1]):
        filt = alpha * emit_t[x[:, t]]
        filt /= filt.sum(axis=1, keepdims=True)
        alpha = filt @ hmm.transition
    return filt


def bayes_loss(hmm: DiscreteHMM, tokens, *, positions="all") -> float:
    """Mean cross-entropy (nats) of the Bayes-optimal next-token predictor.

    ``-mean log P(o_t | o_1, ..., o_{t-1})`` over the chosen positions, with the
    predictive law of :func:`forward_filter`. No predictor of ``o_t`` from
    ``o_{<t}`` has a lower expected cross-entropy.

    Used for the Bayes reference line of Figure 3 (:numref:`fig-transformer`).

    Parameters
    ----------
    hmm : DiscreteHMM
    tokens : int array, shape (n, T)
    positions : {"all", "last"}
        ``"all"``: the language-model loss, averaged over positions
        ``2, ..., T`` (each token predicted from those before it; the first
        token, which has no context, is excluded as in pre-training);
        ``"last"``: only the last token ``o_T`` predicted from ``o_{<T}``
        (the head-tuning task when each sequence holds context + target).

    Returns
    -------
    float
    """
    hmm = _check_hmm(hmm)
    _v.choice("positions", positions, ("all", "last"))
    x = _check_tokens(tokens, hmm.n_tokens)
    if x.shape[1] < 2:
        raise ValueError(f"tokens must have at least 2 positions, got shape {x.shape}")
    pred = forward_filter(hmm, x)[:, :-1, :]
    logp = np.log(np.take_along_axis(pred, x[:, :, None], axis=2)[:, :, 0])
    if positions == "all":
        return float(-logp[:, 1:].mean())
    return float(-logp[:, -1].mean())


def marginal_distribution(hmm: DiscreteHMM, position: int = 1) -> np.ndarray:
    """Marginal law of the token at (1-based) ``position``: ``pi Psi^{position-1} Phi``.

    For the stationary initial law of :func:`random_sparse_hmm` it is ``pi E`` at
    every position. It is the best predictor that ignores the context ("model
    size 0" in Figure 3, :numref:`fig-transformer`).

    Returns
    -------
    numpy.ndarray, shape (V,)
    """
    hmm = _check_hmm(hmm)
    pos = _v.integer("position", position)
    law = hmm.initial @ np.linalg.matrix_power(hmm.transition, pos - 1)
    return law @ hmm.emission


def marginal_loss(hmm: DiscreteHMM, tokens=None, *, position: int | None = None) -> float:
    """Cross-entropy (nats) of the context-free marginal predictor ("model size 0").

    With ``tokens=None``: the exact expected loss at ``position`` (default 1;
    every position gives the same value for a stationary chain), the entropy
    ``H(q) = -sum_v q_v log q_v`` of ``q`` = :func:`marginal_distribution`.
    With ``tokens`` (shape ``(n, T)``): the empirical loss
    ``-mean_i log q(o_{i,T})`` of the last token of each sequence, with ``q`` the
    marginal law at ``position`` (default ``T``).

    Used for the marginal reference line of Figure 3 (:numref:`fig-transformer`).

    Returns
    -------
    float
    """
    hmm = _check_hmm(hmm)
    if tokens is None:
        q = marginal_distribution(hmm, 1 if position is None else position)
        nz = q > 0
        return float(-(q[nz] * np.log(q[nz])).sum())
    x = _check_tokens(tokens, hmm.n_tokens)
    q = marginal_distribution(hmm, x.shape[1] if position is None else position)
    with np.errstate(divide="ignore"):
        return float(-np.log(q[x[:, -1]]).mean())
