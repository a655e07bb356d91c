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
from ._common import seed as _seed

__all__ = ["FAMILIES", "NETWORKS", "SYNTHETIC_FAMILIES", "Protocol", "SyntheticProtocol"]

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


@dataclass(frozen=True)
class Protocol:
    """All the settings of Figure 3 (:numref:`fig-transformer`), with the book's values as defaults.

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
    same at every width), ``n_test`` test pairs; the noise family adds
    ``N(0, noise_sigma^2 I_p)`` to the standardised pre-trained features;
    softmax ridges ``ridges`` (the first is the headline fit), stopping
    tolerance ``gtol`` on the largest gradient entry, ``max_iter`` Newton
    steps; the exact separability test runs on the first ``sep_draws`` training
    sets of every seed, family and width (all of them if there are fewer). ``seeds``: the seeds of the
    experiment. Compute: ``n_workers`` processes, ``n_threads`` torch threads in each.
    """

    n_states: int = 8
    n_tokens: int = 16
    n_successors: int = 3
    n_emissions: int = 3
    hmm_seed: int = 0
    length: int = 32
    widths: tuple = (2, 4, 8, 16, 24, 32, 64, 96, 128)
    n_layers: int = 1
    n_heads: int = 1
    steps: int = 200
    batch_size: int = 32
    lr: float = 3e-3
    lr_width: int = 128
    warmup: int = 20
    n_lm_test: int = 500
    n_train: int = 100
    n_draws: int = 4
    n_test: int = 2000
    noise_sigma: float = 1.0
    ridges: tuple = (1e-6,)
    gtol: float = 1e-8
    max_iter: int = 300
    sep_draws: int = 2
    seeds: tuple = (0, 1, 2)
    n_workers: int = 2
    n_threads: int = 1

    def __post_init__(self):
        for name in ("n_states", "n_tokens", "n_successors", "n_emissions", "length",
                     "n_layers", "n_heads", "steps", "batch_size", "lr_width", "n_lm_test",
                     "n_train", "n_draws", "n_test", "max_iter", "n_workers", "n_threads"):
            object.__setattr__(self, name, _v.integer(name, getattr(self, name)))
        if self.n_tokens < 2:
            raise ValueError(f"n_tokens must be an integer >= 2, got {self.n_tokens!r}")
        object.__setattr__(self, "hmm_seed", _v.integer("hmm_seed", self.hmm_seed, minimum=0))
        object.__setattr__(self, "warmup", _v.integer("warmup", self.warmup, minimum=0))
        object.__setattr__(self, "sep_draws", _v.integer("sep_draws", self.sep_draws, minimum=0))
        if self.warmup > self.steps:
            raise ValueError(f"warmup must be <= steps={self.steps}, got {self.warmup!r}")
        # the separability test runs on the first min(sep_draws, n_draws) training sets
        object.__setattr__(self, "sep_draws", min(self.sep_draws, self.n_draws))
        object.__setattr__(self, "lr", _v.real("lr", self.lr, low=0.0, low_open=True))
        object.__setattr__(self, "gtol", _v.real("gtol", self.gtol, low=0.0, low_open=True))
        object.__setattr__(self, "noise_sigma", _v.real("noise_sigma", self.noise_sigma, low=0.0))
        widths = _int_tuple("widths", self.widths)
        bad = [w for w in widths if w % self.n_heads]
        if bad:
            raise ValueError(f"widths must be divisible by n_heads={self.n_heads}, got {bad!r}")
        object.__setattr__(self, "widths", widths)
        ridges = np.atleast_1d(np.asarray(self.ridges, dtype=object)).tolist()
        ridges = tuple(_v.real("ridges", r, low=0.0, low_open=True) for r in ridges)
        if not ridges or len(set(ridges)) != len(ridges):
            raise ValueError(f"ridges must be a non-empty tuple of distinct values, got {self.ridges!r}")
        object.__setattr__(self, "ridges", ridges)
        object.__setattr__(self, "seeds", _seeds(self.seeds))
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
        language-model loss per width is shown next to Figure 3). The book's
        grid stops at ``lr_width``, so there one rate serves every width.
        """
        width = _v.integer("width", width)
        return self.lr * min(1.0, self.lr_width / width)


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

    ns: tuple = (50, 100, 200)
    ratios: tuple = (0.04, 0.08, 0.12, 0.16, 0.2, 0.24, 0.32, 0.48, 0.96, 2.5, 10.0)
    n_draws: int = 2
    n_test: int = 2000
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
