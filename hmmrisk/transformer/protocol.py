"""The protocols of Figure 3 (chapter :ref:`ch-transformer`): every setting, the seeds included.

:class:`Protocol` fixes the Transformer experiment (:numref:`fig-transformer`),
:class:`SyntheticProtocol` the theory panel on synthetic features
(:numref:`fig-transformer-theory`). Both were fixed before any result was
seen; the seeds are a field of the protocol and written nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as _v
from . import hmm as dh
from ._random import seed as _seed

__all__ = ["FAMILIES", "NETWORKS", "SYNTHETIC_FAMILIES", "LIMITS", "Protocol", "SyntheticProtocol"]

#: The frozen networks whose features are extracted (pre-training happens once per width and seed).
NETWORKS = ("pretrained", "untrained")
#: The feature families scored by the same heads (:numref:`fig-transformer`).
FAMILIES = ("pretrained", "pretrained+noise", "untrained")
#: The synthetic feature families of the theory panel (:numref:`fig-transformer-theory`).
SYNTHETIC_FAMILIES = ("isotropic", "latent")


def _int_tuple(name, value, minimum=1, increasing=True):
    vals = np.atleast_1d(np.asarray(value, dtype=object)).tolist()
    vals = tuple(_v.integer(name, w, minimum=minimum) for w in vals)
    if not vals:
        raise ValueError(f"{name} must not be empty, got {value!r}")
    if increasing and list(vals) != sorted(set(vals)):
        raise ValueError(f"{name} must be strictly increasing, got {value!r}")
    return vals


def _seeds(value):
    vals = tuple(_seed(s, "seeds") for s in np.atleast_1d(np.asarray(value, dtype=object)).tolist())
    if not vals or len(set(vals)) != len(vals):
        raise ValueError(f"seeds must be a non-empty sequence of distinct non-negative integers, got {value!r}")
    return vals


#: Upper bounds of the integer fields of :class:`Protocol` (far above any run a CPU can finish;
#: the time and memory estimate of :meth:`Protocol.estimate` is the finer guard).
LIMITS = {"n_states": 1000, "n_tokens": 1000, "n_successors": 1000, "n_emissions": 1000,
          "length": 4096, "widths": 8192, "n_layers": 64, "n_heads": 64, "steps": 10**6,
          "batch_size": 10**5, "lr_width": 10**6, "warmup": 10**6, "n_lm_test": 10**6,
          "n_train": 10**5, "n_val": 10**6, "n_draws": 10**4, "n_test": 10**6, "max_iter": 10**5,
          "gd_steps": 10**6, "resample_reps": 10**5, "sep_draws": 10**4, "n_workers": 1024,
          "n_threads": 1024,
          "seeds": 10**4, "hmm_seed": 2**63}


def _bounded(name, value, minimum=1):
    value = _v.integer(name, value, minimum=minimum)
    if value > LIMITS[name]:
        raise ValueError(f"{name} must be <= {LIMITS[name]}, got {value!r}")
    return value


@dataclass(frozen=True)
class Protocol:
    """All the settings of Figure 3 (:numref:`fig-transformer`), with this book's values as defaults.

    Chapter of origin: :ref:`ch-transformer`.

    HMM: ``n_states`` hidden states, ``n_tokens`` tokens, ``n_successors``
    successors and ``n_emissions`` emitted tokens per state, built from
    ``hmm_seed`` (one HMM for every seed). Sequences: the head reads
    ``length = T`` tokens. Transformer: ``widths`` (the model sizes ``p``),
    ``n_layers``, ``n_heads``. Pre-training: ``steps`` AdamW steps of
    ``batch_size`` sequences, peak learning rate :meth:`lr_at` (``lr`` up to
    width ``lr_width``, ``lr * lr_width / p`` above it), ``warmup`` steps then
    cosine decay; ``n_lm_test`` sequences measure the language-model loss.
    Heads: ``n_train`` training pairs, ``n_draws`` training sets per seed (the
    same at every width), ``n_val`` validation pairs (one set per seed: they
    choose the tuned ridge and the early-stopping time), ``n_test`` test pairs
    (the linear probe of the belief state is fitted on the first half of them
    and scored on the second); the noise family adds ``N(0, noise_sigma^2
    I_p)`` to the standardised pre-trained features; softmax ridges ``ridges``
    (the first is the near-unregularised headline fit, the tuned head picks the
    best of all of them on the validation pairs), stopping tolerance ``gtol``
    on the largest gradient entry, ``max_iter`` Newton steps; the
    early-stopped head runs at most ``gd_steps`` steps of gradient descent;
    the theory on the features is checked against ``resample_reps`` training
    sets drawn from the test rows (0: skipped);
    the exact separability test runs on the first ``sep_draws`` training sets
    of every seed, family and width. ``seeds``: the seeds of the experiment.
    Compute: ``n_workers`` processes, ``n_threads`` torch threads in each.
    Every integer field is bounded by :data:`LIMITS`; :meth:`estimate` gives
    the run's cost before any work.
    """

    n_states: int = 8
    n_tokens: int = 16
    n_successors: int = 3
    n_emissions: int = 3
    hmm_seed: int = 0
    length: int = 16
    widths: tuple = (2, 4, 8, 16, 24, 32, 64, 96, 160)
    n_layers: int = 1
    n_heads: int = 1
    steps: int = 150
    batch_size: int = 32
    lr: float = 3e-3
    lr_width: int = 128
    warmup: int = 15
    n_lm_test: int = 300
    n_train: int = 40
    n_val: int = 200
    n_draws: int = 2
    n_test: int = 1000
    noise_sigma: float = 1.0
    ridges: tuple = (1e-6, 1e-2, 1e-1, 1.0)
    gtol: float = 1e-8
    max_iter: int = 300
    gd_steps: int = 500
    resample_reps: int = 50
    sep_draws: int = 1
    seeds: tuple = tuple(range(10))
    n_workers: int = 2
    n_threads: int = 1

    def __post_init__(self):
        for name in ("n_states", "n_tokens", "n_successors", "n_emissions", "length",
                     "n_layers", "n_heads", "steps", "batch_size", "lr_width", "n_lm_test",
                     "n_train", "n_val", "n_draws", "n_test", "max_iter", "gd_steps",
                     "n_workers", "n_threads"):
            object.__setattr__(self, name, _bounded(name, getattr(self, name)))
        if self.n_tokens < 2:
            raise ValueError(f"n_tokens must be an integer >= 2, got {self.n_tokens!r}")
        for name in ("hmm_seed", "warmup", "sep_draws", "resample_reps"):
            object.__setattr__(self, name, _bounded(name, getattr(self, name), minimum=0))
        if self.resample_reps == 1:
            raise ValueError(f"resample_reps must be 0 or >= 2, got {self.resample_reps!r}")
        if self.warmup > self.steps:
            raise ValueError(f"warmup must be <= steps={self.steps}, got {self.warmup!r}")
        if self.n_test < 4:
            raise ValueError(f"n_test must be an integer >= 4 (the probe splits it), got {self.n_test!r}")
        # the separability test runs on the first min(sep_draws, n_draws) training sets
        object.__setattr__(self, "sep_draws", min(self.sep_draws, self.n_draws))
        object.__setattr__(self, "lr", _v.real("lr", self.lr, low=0.0, low_open=True))
        object.__setattr__(self, "gtol", _v.real("gtol", self.gtol, low=0.0, low_open=True))
        object.__setattr__(self, "noise_sigma", _v.real("noise_sigma", self.noise_sigma, low=0.0))
        widths = _int_tuple("widths", self.widths)
        if max(widths) > LIMITS["widths"]:
            raise ValueError(f"widths must be <= {LIMITS['widths']}, got {max(widths)!r}")
        bad = [w for w in widths if w % self.n_heads]
        if bad:
            raise ValueError(f"widths must be divisible by n_heads={self.n_heads}, got {bad!r}")
        object.__setattr__(self, "widths", widths)
        ridges = np.atleast_1d(np.asarray(self.ridges, dtype=object)).tolist()
        ridges = tuple(_v.real("ridges", r, low=0.0, low_open=True) for r in ridges)
        if not ridges or len(set(ridges)) != len(ridges):
            raise ValueError(f"ridges must be a non-empty tuple of distinct values, got {self.ridges!r}")
        object.__setattr__(self, "ridges", ridges)
        seeds = _seeds(self.seeds)
        if len(seeds) > LIMITS["seeds"]:
            raise ValueError(f"seeds must hold at most {LIMITS['seeds']} seeds, got {len(seeds)}")
        object.__setattr__(self, "seeds", seeds)
        # the random dealing of emissions needs K * n_emissions >= V etc.
        self.hmm()

    def hmm(self) -> dh.DiscreteHMM:
        """The HMM of the experiment (built from ``hmm_seed``)."""
        return dh.random_sparse_hmm(self.n_states, self.n_tokens,
                                    n_successors=self.n_successors,
                                    n_emissions=self.n_emissions, rng=self.hmm_seed)

    def lr_at(self, width: int) -> float:
        """Peak pre-training learning rate at ``width``: ``lr * min(1, lr_width / width)``.

        Adam's update of a ``p x p`` matrix grows with ``p`` at a fixed rate;
        scaling the rate as ``1 / p`` beyond ``lr_width`` keeps the widest
        networks from being under-trained by the shared step budget (the
        language-model loss per width is shown next to Figure 3).
        """
        width = _v.integer("width", width)
        return self.lr * min(1.0, self.lr_width / width)

    def estimate(self) -> dict:
        """The run's cost from the settings alone: ``{"seconds": ..., "bytes": ...}``.

        ``seconds``: one core's time, from the leading terms (pre-training
        ``~ 6 x 12 L p^2 x steps x batch_size x (T + 1)`` floating-point
        operations and the attention's ``T^2 p``; feature extraction; the
        heads' ``O(ridges x n^2 V^2)`` Newton systems per problem), at
        ``FLOPS`` operations a second (measured with torch on this book's
        build machine). ``bytes``: the peak memory of the largest job
        (activations of a forward pass over 1000 sequences, the features of
        every family, the Newton system's ``V r x r`` blocks). Both are right
        up to a small factor, which is all a guard needs.
        """
        t1 = self.length + 1
        seeds, draws, v = len(self.seeds), self.n_draws, self.n_tokens
        flops, peak = 0.0, 0.0
        rows = self.n_draws * self.n_train + self.n_val + self.n_test + self.n_lm_test
        for p in self.widths:
            layer = 12.0 * p * p + 2.0 * t1 * p
            flops += 6.0 * self.n_layers * layer * self.steps * self.batch_size * t1
            flops += 2.0 * 2.0 * self.n_layers * layer * rows * t1
            r = min(self.n_train, p + 1)
            flops += 3 * self.resample_reps * 4 * self.n_train * p * p
            flops += 3 * 4 * draws * (len(self.ridges) * 20 * (v * r ** 3 + self.n_train ** 3)
                                      + self.gd_steps * 2 * (self.n_train + self.n_val) * r * v)
            peak = max(peak, 8.0 * (min(rows, 1000) * t1 * 4 * p * 6 + 4 * rows * p
                                    + 3 * draws * v * (r + 1) ** 2 + self.batch_size * t1 * p * 40))
        return {"seconds": seeds * flops / FLOPS, "bytes": peak + 8.0 * 12 * max(self.widths) ** 2 * 4}


#: Floating-point operations a second of one core, for :meth:`Protocol.estimate`.
FLOPS = 2e10


@dataclass(frozen=True)
class SyntheticProtocol:
    """The theory panel of Figure 3 (:numref:`fig-transformer-theory`): synthetic features, same heads.

    Chapter of origin: :ref:`ch-transformer`.

    Labels and contexts come from the HMM of ``protocol`` (the next token after
    ``protocol.length`` tokens). For each ``n`` in ``ns`` the widths are
    ``p = max(2, round(r n))`` for ``r`` in ``ratios``; ``n_draws`` training
    sets and one test set of ``n_test`` pairs per ``n``. Families
    (:data:`SYNTHETIC_FAMILIES`): ``isotropic`` (``x = u``) and ``latent``
    (``x = W z + u``, ``z`` the Bayes filter's next-token law, standardised),
    with ``u ~ N(0, noise_sigma^2 I_p)`` (``noise_sigma`` scales the noise of the
    latent family; the isotropic one is pure ``N(0, I_p)``). Softmax ridge
    ``ridge``; ``seed`` drives everything random.
    """

    ns: tuple = (25, 50)
    ratios: tuple = (0.04, 0.08, 0.12, 0.16, 0.2, 0.24, 0.32, 0.48, 0.96, 2.5, 10.0)
    n_draws: int = 8
    n_test: int = 1000
    noise_sigma: float = 1.0
    ridge: float = 1e-6
    gtol: float = 1e-8
    max_iter: int = 300
    seed: int = 0
    protocol: Protocol = Protocol()

    def __post_init__(self):
        object.__setattr__(self, "ns", _int_tuple("ns", self.ns, minimum=2))
        ratios = np.atleast_1d(np.asarray(self.ratios, dtype=object)).tolist()
        ratios = tuple(_v.real("ratios", r, low=0.0, low_open=True) for r in ratios)
        if not ratios or list(ratios) != sorted(set(ratios)):
            raise ValueError(f"ratios must be a non-empty increasing sequence, got {self.ratios!r}")
        object.__setattr__(self, "ratios", ratios)
        for name in ("n_draws", "n_test", "max_iter"):
            object.__setattr__(self, name, _v.integer(name, getattr(self, name)))
        object.__setattr__(self, "noise_sigma", _v.real("noise_sigma", self.noise_sigma, low=0.0))
        object.__setattr__(self, "ridge", _v.real("ridge", self.ridge, low=0.0, low_open=True))
        object.__setattr__(self, "gtol", _v.real("gtol", self.gtol, low=0.0, low_open=True))
        object.__setattr__(self, "seed", _seed(self.seed))
        if not isinstance(self.protocol, Protocol):
            raise ValueError(f"protocol must be a Protocol, got {type(self.protocol).__name__}")

    def widths(self, n: int) -> np.ndarray:
        """The widths used at training-set size ``n``: ``max(2, round(r n))`` for each ratio."""
        n = _v.integer("n", n)
        return np.maximum(2, np.rint(np.asarray(self.ratios) * n)).astype(int)
