"""The Figure 3 experiments, end to end (chapter :ref:`ch-transformer`).

The Transformer experiment (:numref:`fig-transformer`, :func:`run`):

1. A discrete HMM (:func:`~hmmrisk.transformer.hmm.random_sparse_hmm`)
   generates every sequence.
2. For each seed and width ``p`` a causal Transformer
   (:class:`~hmmrisk.transformer.network.CausalTransformer`) is pre-trained
   once on next-token prediction; all widths of a seed read the same pool of
   sequences in the same order.
3. The network is frozen; its last hidden state at position ``T`` is the
   feature of ``x_1..x_T`` and the target is ``x_{T+1}``. Three feature
   families come from this one pre-training (:func:`family_features`): the
   pre-trained features, the same plus isotropic noise, and the untrained
   network's (its initialisation).
4. On ``n`` training pairs both heads are tuned
   (:func:`~hmmrisk.transformer.heads.fit_heads`), scored on fresh test pairs,
   and the exact separability of the training sets is decided
   (:func:`~hmmrisk.transformer.separability.is_separable`).

The theory panel (:numref:`fig-transformer-theory`, :func:`run_synthetic`)
puts synthetic features through step 4. :func:`summarize` reduces a run to the
numbers the chapter quotes; :mod:`~hmmrisk.transformer.plots` draws them.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import multiprocessing
import time
from typing import NamedTuple

import numpy as np

from .. import _validate as _v
from . import features as ft
from . import hmm as dh
from . import network as tr
from .heads import SOFTMAX_FIELDS, fit_heads, fit_softmax_head, softmax_metrics
from .protocol import FAMILIES, NETWORKS, SYNTHETIC_FAMILIES, Protocol, SyntheticProtocol
from .results import FamilySummary, RidgePath, Summary, SyntheticResult, TransformerResult
from .separability import is_separable, separability_threshold
from ._common import seed as _seed

__all__ = [
    "FrozenFeatures", "frozen_features", "family_features", "tail_share", "reference_losses",
    "run", "summarize", "ridge_path", "run_synthetic",
]


def _check_protocol(protocol) -> Protocol:
    if not isinstance(protocol, Protocol):
        raise ValueError(f"protocol must be a Protocol, got {type(protocol).__name__}")
    return protocol


def _check_width(pr: Protocol, width) -> int:
    width = _v.integer("width", width)
    if width not in pr.widths:
        raise ValueError(f"width must be one of protocol.widths={pr.widths}, got {width!r}")
    return width


def _data(pr: Protocol, seed: int) -> dict:
    """All the sequences of one seed (the same in every job of that seed)."""
    hmm = pr.hmm()
    s_pool, s_lm, s_train, s_test, s_init = np.random.SeedSequence(seed).spawn(5)  # 6th: noise
    t1 = pr.length + 1
    return {
        "hmm": hmm,
        "pool": dh.sample(hmm, pr.steps * pr.batch_size, t1, rng=np.random.default_rng(s_pool)),
        "lm_test": dh.sample(hmm, pr.n_lm_test, t1, rng=np.random.default_rng(s_lm)),
        "head_train": dh.sample(hmm, pr.n_draws * pr.n_train, t1, rng=np.random.default_rng(s_train)),
        "head_test": dh.sample(hmm, pr.n_test, t1, rng=np.random.default_rng(s_test)),
        "init_seeds": s_init.generate_state(len(pr.widths), dtype=np.uint32),
    }


class FrozenFeatures(NamedTuple):
    """The frozen features of one seed and width (chapter :ref:`ch-transformer`).

    ``train``: ``(network, draw, n, p)``; ``test``: ``(network, m, p)``
    (networks in :data:`~hmmrisk.transformer.protocol.NETWORKS`); labels
    ``y_train`` ``(draw, n)``, ``y_test`` ``(m,)``; ``pretrain_loss``
    ``(step,)``; ``lm_test_loss`` ``(network,)``; ``pretrain_seconds``.
    """

    train: np.ndarray
    test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    pretrain_loss: np.ndarray
    lm_test_loss: np.ndarray
    pretrain_seconds: float


def frozen_features(protocol: Protocol, seed: int, width: int) -> FrozenFeatures:
    """Pre-train the width-``p`` network of ``seed`` once; return both networks' frozen features.

    Randomness: ``numpy.random.SeedSequence(seed)`` is split into independent
    streams for the pre-training pool, the language-model test set, the head
    training sets, the head test set, the initialisations (one per width) and
    the noise family; the HMM comes from ``protocol.hmm_seed``. The same call
    gives the same numbers alone, in a loop or on a worker process. The
    learning rate is :meth:`~hmmrisk.transformer.protocol.Protocol.lr_at` ``(width)``. Chapter of origin:
    :ref:`ch-transformer`.
    """
    pr = _check_protocol(protocol)
    seed = _seed(seed)
    width = _check_width(pr, width)
    data = _data(pr, seed)
    nt = pr.n_threads
    model = tr.CausalTransformer(pr.n_tokens, width, pr.length, n_layers=pr.n_layers,
                                 n_heads=pr.n_heads,
                                 rng=int(data["init_seeds"][pr.widths.index(width)]))
    x_train, x_test = data["head_train"][:, :-1], data["head_test"][:, :-1]
    train = np.empty((len(NETWORKS), pr.n_draws, pr.n_train, width))
    test = np.empty((len(NETWORKS), pr.n_test, width))
    lm = np.empty(len(NETWORKS))
    pre_loss, pre_sec = None, 0.0
    for stage in ("untrained", "pretrained"):  # the untrained network is the initialisation
        if stage == "pretrained":
            t0 = time.perf_counter()
            pre_loss = tr.pretrain(model, data["pool"], steps=pr.steps, batch_size=pr.batch_size,
                                   lr=pr.lr_at(width), warmup=pr.warmup, n_threads=nt)
            pre_sec = time.perf_counter() - t0
        j = NETWORKS.index(stage)
        lm[j] = tr.lm_loss(model, data["lm_test"], n_threads=nt)
        train[j] = tr.extract_features(model, x_train, n_threads=nt).reshape(
            pr.n_draws, pr.n_train, width)
        test[j] = tr.extract_features(model, x_test, n_threads=nt)
    return FrozenFeatures(train=train, test=test,
                          y_train=data["head_train"][:, -1].reshape(pr.n_draws, pr.n_train),
                          y_test=data["head_test"][:, -1], pretrain_loss=pre_loss,
                          lm_test_loss=lm, pretrain_seconds=pre_sec)


def family_features(protocol: Protocol, seed: int, feats: FrozenFeatures):
    """The three feature families of Figure 3 from one seed's frozen features.

    ``pretrained`` and ``untrained`` are the networks' features as they are;
    ``pretrained+noise`` standardises the pre-trained features with the mean
    and sd of all of the seed's head-training features and adds
    ``N(0, noise_sigma^2 I_p)`` noise, drawn afresh for every training and test
    row from the seed's noise stream (:func:`~hmmrisk.transformer.features.add_isotropic_noise`).
    Chapter of origin: :ref:`ch-transformer`.

    Returns
    -------
    train : numpy.ndarray, shape (family, draw, n, p)
    test : numpy.ndarray, shape (family, m, p)
    """
    pr = _check_protocol(protocol)
    seed = _seed(seed)
    if not isinstance(feats, FrozenFeatures):
        raise ValueError(f"feats must be FrozenFeatures, got {type(feats).__name__}")
    width = feats.train.shape[-1]
    # one noise stream per (seed, width): independent of the order the jobs run in
    gen = np.random.default_rng(_data_noise_seq(pr, seed).spawn(len(pr.widths))[pr.widths.index(width)])
    ipre = NETWORKS.index("pretrained")
    ref = feats.train[ipre].reshape(-1, width)
    noisy_train = ft.add_isotropic_noise(feats.train[ipre].reshape(-1, width), pr.noise_sigma,
                                         reference=ref, rng=gen).reshape(feats.train[ipre].shape)
    noisy_test = ft.add_isotropic_noise(feats.test[ipre], pr.noise_sigma, reference=ref, rng=gen)
    by = {"pretrained": (feats.train[ipre], feats.test[ipre]),
          "pretrained+noise": (noisy_train, noisy_test),
          "untrained": (feats.train[NETWORKS.index("untrained")], feats.test[NETWORKS.index("untrained")])}
    return (np.stack([by[f][0] for f in FAMILIES]), np.stack([by[f][1] for f in FAMILIES]))


def _data_noise_seq(pr: Protocol, seed: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed).spawn(6)[5]


def tail_share(features, k: int) -> float:
    """Share of the variance of standardised features outside their top ``k`` principal components.

    ``1 - (lambda_1 + ... + lambda_k) / (lambda_1 + ... + lambda_p)`` with
    ``lambda_j`` the eigenvalues (descending) of the covariance of the
    standardised columns (:func:`~hmmrisk.transformer.features.standardise`).
    0 when ``p <= k``. With ``k = K - 1`` it measures how much of a
    representation lies outside the ``K - 1`` dimensions of an HMM's belief
    state. Chapter of origin: :ref:`ch-transformer`.

    Parameters
    ----------
    features : array, shape (m, p)
    k : int
        ``>= 1``.
    """
    x = ft.standardise(_v.finite_array("features", features, ndim=2))
    k = _v.integer("k", k)
    s2 = np.linalg.svd(x - x.mean(axis=0), compute_uv=False) ** 2
    return float(max(0.0, 1.0 - s2[:k].sum() / s2.sum())) if s2.sum() > 0 else 0.0


def reference_losses(protocol: Protocol, seed: int) -> dict:
    """The reference lines of Figure 3 for one seed, on that seed's test sequences.

    ``bayes_lm``: Bayes filter, averaged over positions (compare with the
    language-model loss); ``bayes``: Bayes filter on the head's task (predict
    ``x_{T+1}``); ``marginal``: the context-free marginal law on the head's
    task ("model size 0" with unlimited data); ``entropy``: its exact
    expectation; ``bias_only_test_ce``: the softmax head with no features (bias
    only, same ridge and solver) fitted on each training draw -- model size 0
    with the same ``n`` (shape ``(ridge, draw)``). Chapter of origin:
    :ref:`ch-transformer`.
    """
    pr = _check_protocol(protocol)
    data = _data(pr, _seed(seed))
    hmm = data["hmm"]
    y_train = data["head_train"][:, -1].reshape(pr.n_draws, pr.n_train)
    y_test = data["head_test"][:, -1]
    ones_tr = np.ones((pr.n_draws, pr.n_train, 1))
    ones_te = np.ones((pr.n_draws, pr.n_test, 1))
    bias = np.empty((len(pr.ridges), pr.n_draws))
    for k, ridge in enumerate(pr.ridges):
        fit = fit_softmax_head(ones_tr, y_train, pr.n_tokens, ridge=ridge, gtol=pr.gtol,
                               max_iter=pr.max_iter, n_threads=pr.n_threads)
        bias[k] = softmax_metrics(ones_te, np.broadcast_to(y_test, (pr.n_draws, pr.n_test)),
                                  fit.weights)[0]
    return {
        "bayes_lm": dh.bayes_loss(hmm, data["lm_test"], positions="all"),
        "bayes": dh.bayes_loss(hmm, data["head_test"], positions="last"),
        "marginal": dh.marginal_loss(hmm, data["head_test"]),
        "entropy": dh.marginal_loss(hmm),
        "bias_only_test_ce": bias,
    }


def _run_width(pr: Protocol, seed: int, width: int) -> dict:
    """One job: pre-train once, three families, both heads, separability, tail share."""
    t_start = time.perf_counter()
    feats = frozen_features(pr, seed, width)
    t0 = time.perf_counter()
    xtr, xte = family_features(pr, seed, feats)          # (F, D, n, p), (F, m, p)
    n_f, n_d = len(FAMILIES), pr.n_draws
    scores = fit_heads(xtr.reshape(n_f * n_d, pr.n_train, width),
                       np.tile(feats.y_train, (n_f, 1)), np.repeat(xte, n_d, axis=0),
                       feats.y_test, pr.n_tokens, ridges=pr.ridges, gtol=pr.gtol,
                       max_iter=pr.max_iter, n_threads=pr.n_threads)
    out = {"pretrain_loss": feats.pretrain_loss, "lm_test_loss": feats.lm_test_loss,
           "pretrain_seconds": feats.pretrain_seconds}
    for key in SOFTMAX_FIELDS:
        out[key] = getattr(scores, key).reshape(len(pr.ridges), n_f, n_d).transpose(1, 0, 2)
    for key in ("sq_test_loss", "sq_train_loss", "rank", "eff_rank"):
        out[key] = getattr(scores, key).reshape(n_f, n_d)
    # exact separability of the first sep_draws training sets: a head that strictly
    # separates a set certifies it (any ridge); the linear programme decides the rest
    s = pr.sep_draws
    margin = scores.train_margin.max(axis=0).reshape(n_f, n_d)
    out["separable"] = np.array([[bool(margin[f, d] > 1e-9)
                                  or bool(is_separable(xtr[f, d], feats.y_train[d]))
                                  for d in range(s)] for f in range(n_f)], dtype=bool).reshape(n_f, s)
    out["tail_share"] = np.array([tail_share(xte[f], pr.n_states - 1) for f in range(n_f)])
    out["head_seconds"] = time.perf_counter() - t0
    out["seconds"] = time.perf_counter() - t_start
    if seed == pr.seeds[0]:
        out["_features"] = feats          # kept by run() for ridge_path (no second pre-training)
    return out


def _job(args):
    protocol, seed, width = args
    with tr.threads(protocol.n_threads):
        return _run_width(protocol, seed, width)


_POOL: dict = {}


@atexit.register
def _close_pools() -> None:
    """Close a pool left open by ``keep`` before the interpreter tears its modules down
    (else the executor's own clean-up runs too late and prints a traceback at exit)."""
    for ex in _POOL.values():
        ex.shutdown(wait=True, cancel_futures=True)
    _POOL.clear()


#: Frozen features of the first seed from the last :func:`run`, ``{(protocol, seed, width): FrozenFeatures}``.
_FEATURES: dict = {}


def _map(fn, jobs, n_workers: int, *, keep: bool) -> list:
    """``[fn(j) for j in jobs]``, here (``n_workers == 1``) or on spawned worker processes.

    With ``keep`` the pool stays open for the next call with the same
    ``n_workers`` (the chapter calls :func:`run_synthetic`, then :func:`run`,
    which closes it): a fresh worker spends seconds of CPU importing torch and
    SciPy. Jobs carry their own seeds and set their own thread counts, so
    results do not depend on which worker runs which job, nor on the order.
    """
    if n_workers == 1:
        return [fn(j) for j in jobs]
    ex = _POOL.get(n_workers)
    if ex is None or getattr(ex, "_broken", False) or getattr(ex, "_shutdown_thread", False):
        for old in _POOL.values():
            old.shutdown(wait=True)
        _POOL.clear()
        ctx = multiprocessing.get_context("spawn")
        ex = _POOL[n_workers] = concurrent.futures.ProcessPoolExecutor(max_workers=n_workers,
                                                                       mp_context=ctx)
    try:
        done = list(ex.map(fn, jobs))
    except BaseException:
        _POOL.pop(n_workers, None)
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    if not keep:
        _POOL.pop(n_workers, None)
        ex.shutdown(wait=True)
    return done


def run(protocol: Protocol, *, n_workers: int | None = None) -> TransformerResult:
    """Run Figure 3's Transformer experiment for every seed and width of ``protocol``.

    The ``len(seeds) * len(widths)`` jobs are independent; with
    ``n_workers > 1`` they run on that many spawned worker processes (widest
    first, to balance the load; the pool :func:`run_synthetic` left open is
    reused, then closed), each with ``protocol.n_threads`` torch threads. The numbers do not depend on ``n_workers``. Chapter of
    origin: :ref:`ch-transformer`.

    Parameters
    ----------
    protocol : Protocol
    n_workers : int, optional
        Defaults to ``protocol.n_workers``; 1 runs in this process.

    Returns
    -------
    TransformerResult
    """
    pr = _check_protocol(protocol)
    n_workers = pr.n_workers if n_workers is None else _v.integer("n_workers", n_workers)
    t0 = time.perf_counter()
    jobs = [(pr, s, w) for w in pr.widths[::-1] for s in pr.seeds]
    done = _map(_job, jobs, n_workers, keep=False)
    by_key = {(s, w): r for (_, s, w), r in zip(jobs, done)}
    _FEATURES.clear()
    for (s, w), r in by_key.items():
        if "_features" in r:
            _FEATURES[pr, s, w] = r.pop("_features")
    return _assemble(pr, by_key, time.perf_counter() - t0)


def _assemble(pr: Protocol, by_key: dict, seconds: float) -> TransformerResult:
    """Stack the jobs' outputs ``{(seed, width): dict}`` and the reference losses."""
    t0 = time.perf_counter()
    refs = [reference_losses(pr, s) for s in pr.seeds]

    def stack(key):                                   # -> (seed, width, ...)
        return np.stack([np.stack([np.asarray(by_key[s, w][key]) for w in pr.widths])
                         for s in pr.seeds])

    fields = {"protocol": pr}
    for key in SOFTMAX_FIELDS:
        fields[key] = stack(key).transpose(0, 2, 3, 1, 4)           # (S, F, L, W, D)
    for key in ("sq_test_loss", "sq_train_loss", "rank", "eff_rank", "separable"):
        fields[key] = stack(key).transpose(0, 2, 1, 3)              # (S, F, W, D)
    fields["tail_share"] = stack("tail_share").transpose(0, 2, 1)   # (S, F, W)
    fields["lm_test_loss"] = stack("lm_test_loss").transpose(0, 2, 1)
    fields["pretrain_loss"] = stack("pretrain_loss")
    for key in ("pretrain_seconds", "head_seconds", "seconds"):
        fields[key] = stack(key)
    for key in ("marginal", "bayes", "bayes_lm", "entropy", "bias_only_test_ce"):
        fields[key] = np.stack([np.asarray(r[key]) for r in refs])
    fields["wall_seconds"] = seconds + time.perf_counter() - t0
    return TransformerResult(**fields)


def _first_width(widths, frac, level):
    hit = np.nonzero(frac >= level)[0]
    return int(widths[hit[0]]) if hit.size else None


def summarize(result: TransformerResult, *, ridge_index: int = 0) -> Summary:
    """The numbers Figure 3's chapter quotes (:numref:`fig-transformer`), per family.

    Per seed a quantity is first averaged over the training sets; ``mean`` is
    the average of the per-seed values, ``lo``/``hi`` their range over seeds.
    ``sep_width`` is the first width at which at least half of the tested
    training sets are exactly separable. Chapter of origin: :ref:`ch-transformer`.
    """
    if not isinstance(result, TransformerResult):
        raise ValueError(f"result must be a TransformerResult, got {type(result).__name__}")
    ridge_index = _v.integer("ridge_index", ridge_index, minimum=0)
    if ridge_index >= len(result.protocol.ridges):
        raise ValueError(f"ridge_index must be < {len(result.protocol.ridges)}, got {ridge_index!r}")
    widths = result.widths
    fams = {}
    for j, name in enumerate(FAMILIES):
        per_seed = result.test_ce[:, j, ridge_index].mean(axis=-1)          # (S, W)
        mean = per_seed.mean(axis=0)
        k = int(np.argmax(mean))
        sep = (result.separable[:, j].mean(axis=(0, 2)) if result.separable.shape[-1]
               else np.full(widths.size, np.nan))
        sq_seed = result.sq_test_loss[:, j].mean(axis=-1)
        sq_mean = sq_seed.mean(axis=0)
        fams[name] = FamilySummary(
            ce_mean=mean, ce_lo=per_seed.min(axis=0), ce_hi=per_seed.max(axis=0),
            peak_width=int(widths[k]), peak_ce=float(mean[k]),
            seed_peak_widths=widths[np.argmax(per_seed, axis=1)],
            ce_first=float(mean[0]), ce_last=float(mean[-1]),
            min_ce=float(mean.min()), min_ce_width=int(widths[np.argmin(mean)]),
            separable_frac=sep, sep_width=_first_width(widths, sep, 0.5),
            sq_mean=sq_mean, sq_lo=sq_seed.min(axis=0), sq_hi=sq_seed.max(axis=0),
            sq_peak_width=int(widths[np.argmax(sq_mean)]),
            sq_seed_peak_widths=widths[np.argmax(sq_seed, axis=1)],
            test_acc=result.test_acc[:, j, ridge_index].mean(axis=(0, 2)),
            train_acc=result.train_acc[:, j, ridge_index].mean(axis=(0, 2)),
            weight_norm=result.weight_norm[:, j, ridge_index].mean(axis=(0, 2)),
            eff_rank=result.eff_rank[:, j].mean(axis=(0, 2)),
            tail_share=result.tail_share[:, j].mean(axis=0))
    lm = result.lm_test_loss
    return Summary(widths=widths, n=result.protocol.n_train,
                   marginal=float(np.mean(result.marginal)), bayes=float(np.mean(result.bayes)),
                   bayes_lm=float(np.mean(result.bayes_lm)), entropy=float(np.mean(result.entropy)),
                   bias_only=float(np.mean(result.bias_only_test_ce[:, ridge_index])),
                   lm_mean=lm.mean(axis=0), lm_lo=lm.min(axis=0), lm_hi=lm.max(axis=0),
                   all_converged=bool(np.all(result.converged)),
                   max_grad_norm=float(np.max(result.grad_norm)),
                   max_residual=float(np.max(result.residual)),
                   max_newton_steps=int(np.max(result.n_iter)), families=fams)


def ridge_path(protocol: Protocol, seed: int, width: int, ridges) -> RidgePath:
    """The softmax head of one width along a path of ridges (how much the fit matters).

    Pre-trains the width-``p`` network of ``seed`` (:func:`frozen_features`;
    the first seed's networks of the last :func:`run` of the same protocol are
    reused, the same numbers without a second pre-training) and fits the softmax head of every family on every training draw at each
    ridge (largest first, warm-started). Shown next to Figure 3
    (:numref:`fig-transformer-ridge`). Chapter of origin: :ref:`ch-transformer`.
    """
    pr = _check_protocol(protocol)
    seed = _seed(seed)
    width = _check_width(pr, width)
    ridges = np.atleast_1d(np.asarray(ridges, dtype=float))
    ridges = np.array([_v.real("ridges", r, low=0.0, low_open=True) for r in ridges])
    if ridges.size == 0 or np.unique(ridges).size != ridges.size:
        raise ValueError(f"ridges must be a non-empty sequence of distinct values, got {ridges!r}")
    ridges = np.sort(ridges)[::-1]
    with tr.threads(pr.n_threads):
        # the last run() of this protocol already pre-trained this network: reuse it
        feats = _FEATURES.get((pr, seed, width)) or frozen_features(pr, seed, width)
        xtr, xte = family_features(pr, seed, feats)
        n_f, n_d = len(FAMILIES), pr.n_draws
        sc = fit_heads(xtr.reshape(n_f * n_d, pr.n_train, width), np.tile(feats.y_train, (n_f, 1)),
                       np.repeat(xte, n_d, axis=0), feats.y_test, pr.n_tokens, ridges=ridges,
                       gtol=pr.gtol, max_iter=pr.max_iter, n_threads=pr.n_threads)

    def shape(a):
        return a.reshape(ridges.size, n_f, n_d).transpose(1, 0, 2)

    return RidgePath(ridges=ridges, width=width, seed=seed, test_ce=shape(sc.test_ce),
                     train_acc=shape(sc.train_acc), weight_norm=shape(sc.weight_norm),
                     converged=shape(sc.converged))


def _synthetic_job(args) -> dict:
    """One job of the theory panel: one ``n`` and one synthetic family (all widths, all draws)."""
    sp, i, f = args
    pr = sp.protocol
    with tr.threads(pr.n_threads):
        hmm = pr.hmm()
        n, n_d, name = sp.ns[i], sp.n_draws, SYNTHETIC_FAMILIES[f]
        widths = sp.widths(n)
        s_seq, s_feat = np.random.SeedSequence(sp.seed).spawn(len(sp.ns))[i].spawn(2)
        seqs = dh.sample(hmm, n_d * n + sp.n_test, pr.length + 1, rng=np.random.default_rng(s_seq))
        y = seqs[:, -1]
        p_max = int(widths.max())
        gen = np.random.default_rng(s_feat.spawn(2)[f])       # one stream per family
        if name == "isotropic":
            x = ft.isotropic_features(len(y), p_max, rng=gen)
        else:
            law = dh.forward_filter(hmm, seqs[:, :-1])[:, -1, :]  # Bayes next-token law, (rows, V)
            x = ft.latent_features(ft.standardise(law, law[: n_d * n]), p_max, sp.noise_sigma, rng=gen)
        y_tr, y_te = y[: n_d * n].reshape(n_d, n), y[n_d * n:]
        test_rows = seqs[n_d * n:]
        x_tr, x_te = x[: n_d * n].reshape(n_d, n, p_max), x[n_d * n:]
        p_sep = np.empty(n_d, dtype=np.int64)
        guess = None
        for d in range(n_d):          # the previous draw's threshold starts the next search
            p_sep[d] = guess = separability_threshold(x_tr[d], y_tr[d], guess=guess)
        shape = (widths.size, n_d)
        out = {"test_ce": np.empty(shape), "train_acc": np.empty(shape), "sq": np.empty(shape),
               "conv": np.empty(shape, dtype=bool), "p_sep": p_sep,
               "marginal": dh.marginal_loss(hmm, test_rows),
               "bayes": dh.bayes_loss(hmm, test_rows, positions="last")}
        for r, p in enumerate(widths):
            sc = fit_heads(x_tr[:, :, :p], y_tr, x_te[:, :p], y_te, pr.n_tokens,
                           ridges=(sp.ridge,), gtol=sp.gtol, max_iter=sp.max_iter,
                           n_threads=pr.n_threads)
            out["test_ce"][r], out["train_acc"][r] = sc.test_ce[0], sc.train_acc[0]
            out["sq"][r], out["conv"][r] = sc.sq_test_loss, sc.converged[0]
    return out


def run_synthetic(protocol: SyntheticProtocol, *, n_workers: int | None = None) -> SyntheticResult:
    """The theory panel: synthetic feature families through the same heads (:numref:`fig-transformer-theory`).

    For each ``n``: ``n_draws`` training sets and one test set of HMM
    contexts and next tokens (the HMM of ``protocol.protocol``); features of
    each family drawn once at the widest width and sliced (nested features,
    :mod:`~hmmrisk.transformer.features`); at every width the softmax head
    (ridge ``protocol.ridge``) and the minimum-norm squared-loss head; per
    training set the exact separability threshold ``p_sep``
    (:func:`~hmmrisk.transformer.separability.separability_threshold`).
    The ``len(ns) * 2`` jobs (one per ``n`` and family, each with its own
    random streams) run on ``n_workers`` spawned processes (default
    ``protocol.protocol.n_workers``; largest ``n`` first); the numbers do not
    depend on ``n_workers``. Chapter of origin: :ref:`ch-transformer`.
    """
    if not isinstance(protocol, SyntheticProtocol):
        raise ValueError(f"protocol must be a SyntheticProtocol, got {type(protocol).__name__}")
    sp = protocol
    n_workers = (sp.protocol.n_workers if n_workers is None
                 else _v.integer("n_workers", n_workers))
    t0 = time.perf_counter()
    n_f, n_n, n_r, n_d = len(SYNTHETIC_FAMILIES), len(sp.ns), len(sp.ratios), sp.n_draws
    widths = np.stack([sp.widths(n) for n in sp.ns])
    jobs = [(sp, i, f) for i in range(n_n)[::-1] for f in range(n_f)]
    done = _map(_synthetic_job, jobs, n_workers, keep=True)
    by = {(i, f): r for (_, i, f), r in zip(jobs, done)}
    shape = (n_f, n_n, n_r, n_d)
    test_ce, train_acc, sq = np.empty(shape), np.empty(shape), np.empty(shape)
    conv = np.empty(shape, dtype=bool)
    p_sep = np.empty((n_f, n_n, n_d), dtype=np.int64)
    for (i, f), r in by.items():
        test_ce[f, i], train_acc[f, i], sq[f, i] = r["test_ce"], r["train_acc"], r["sq"]
        conv[f, i], p_sep[f, i] = r["conv"], r["p_sep"]
    marg = [by[i, 0]["marginal"] for i in range(n_n)]
    bayes = [by[i, 0]["bayes"] for i in range(n_n)]
    return SyntheticResult(protocol=sp, widths=widths, test_ce=test_ce, train_acc=train_acc,
                           sq_test_loss=sq, converged=conv, p_sep=p_sep,
                           marginal=float(np.mean(marg)), bayes=float(np.mean(bayes)),
                           wall_seconds=time.perf_counter() - t0)
