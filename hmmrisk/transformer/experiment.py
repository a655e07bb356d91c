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
4. Every head is tuned on the same ``n`` training pairs and scored on the same
   test pairs (:func:`~hmmrisk.transformer.heads.fit_heads`): the softmax
   head at every ridge (the first is the near-unregularised headline fit; the
   tuned head takes the ridge with the least validation cross-entropy), the
   early-stopped gradient-descent head, the tuned softmax head on the top
   ``K - 1`` principal components, and the minimum-norm squared-loss head.
   The exact separability of the training sets is decided
   (:func:`~hmmrisk.transformer.separability.is_separable`), the geometry of
   the features measured (:mod:`~hmmrisk.transformer.geometry`, with a linear
   probe of the belief state), and the squared-loss head's loss predicted
   from the features' own covariance (:func:`feature_theory`).

The theory panel (:numref:`fig-transformer-theory`, :func:`run_synthetic`)
puts synthetic features through step 4. Jobs carry their own seeds, so the
numbers do not depend on where or in which order they run: in this process,
on spawned worker processes, or on any ``concurrent.futures.Executor`` (a Dask
``distributed.Client`` included). :func:`~hmmrisk.transformer.results.summarize`
reduces a run to the numbers the chapter quotes;
:mod:`~hmmrisk.transformer.plots` draws them.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import multiprocessing
import os
import time
import warnings
from multiprocessing import resource_tracker
from typing import NamedTuple

import numpy as np

from .. import _signals
from .. import _validate as _v
from ..empirical import population_from_data
from . import features as ft
from . import geometry as geo
from . import hmm as dh
from . import network as tr
from .heads import SOFTMAX_FIELDS, early_stopped_head, fit_heads, fit_softmax_head, softmax_metrics
from .protocol import FAMILIES, NETWORKS, SYNTHETIC_FAMILIES, Protocol, SyntheticProtocol
from .results import RidgePath, SyntheticResult, TransformerResult
from .separability import is_separable, separability_threshold

__all__ = [
    "FrozenFeatures", "frozen_features", "family_features", "reference_losses",
    "run", "ridge_path", "run_synthetic", "feature_theory",
]


def _check_protocol(protocol) -> Protocol:
    if not isinstance(protocol, Protocol):
        raise TypeError(f"protocol must be a Protocol, got {type(protocol).__name__}")
    return protocol


def _check_width(pr: Protocol, width) -> int:
    width = _v.integer("width", width)
    if width not in pr.widths:
        raise ValueError(f"width must be one of protocol.widths={pr.widths}, got {width!r}")
    return width


def _streams(rng) -> list:
    """The eight independent streams of one seed, from ``np.random.default_rng(rng)``'s seed sequence.

    pool, language-model test, head training, head test, initialisations,
    noise, head validation, resampled training sets (:func:`feature_theory`).
    An int ``s`` and ``np.random.default_rng(s)``
    give the same streams, and so does every call (the sequence is rebuilt,
    never spawned from twice).
    """
    ss = np.random.default_rng(rng).bit_generator.seed_seq
    return np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key,
                                  pool_size=ss.pool_size).spawn(8)


def _data(pr: Protocol, rng) -> dict:
    """All the sequences of one seed (the same in every job of that seed)."""
    hmm = pr.hmm()
    s_pool, s_lm, s_train, s_test, s_init, _, s_val, _ = _streams(rng)
    t1 = pr.length + 1
    return {
        "hmm": hmm,
        "pool": dh.sample(hmm, pr.steps * pr.batch_size, t1, rng=np.random.default_rng(s_pool)),
        "lm_test": dh.sample(hmm, pr.n_lm_test, t1, rng=np.random.default_rng(s_lm)),
        "head_train": dh.sample(hmm, pr.n_draws * pr.n_train, t1, rng=np.random.default_rng(s_train)),
        "head_val": dh.sample(hmm, pr.n_val, t1, rng=np.random.default_rng(s_val)),
        "head_test": dh.sample(hmm, pr.n_test, t1, rng=np.random.default_rng(s_test)),
        "init_seeds": s_init.generate_state(len(pr.widths), dtype=np.uint32),
    }


class FrozenFeatures(NamedTuple):
    """The frozen features of one seed and width (chapter :ref:`ch-transformer`).

    ``train``: ``(network, draw, n, p)``; ``val``: ``(network, n_val, p)``;
    ``test``: ``(network, m, p)`` (networks in
    :data:`~hmmrisk.transformer.protocol.NETWORKS`); labels ``y_train``
    ``(draw, n)``, ``y_val`` ``(n_val,)``, ``y_test`` ``(m,)``; ``belief_test``
    ``(m, K)``: the forward filter's posterior on the last hidden state of
    every test context; ``pretrain_loss`` ``(step,)``; ``lm_test_loss``
    ``(network,)``; ``pretrain_seconds``.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray
    belief_test: np.ndarray
    pretrain_loss: np.ndarray
    lm_test_loss: np.ndarray
    pretrain_seconds: float


def frozen_features(protocol: Protocol, width: int, *, rng=None) -> FrozenFeatures:
    """Pre-train the width-``p`` network of one seed once; return both networks' frozen features.

    Randomness: the seed sequence of ``np.random.default_rng(rng)`` (an int
    seed or a Generator) is split into independent streams for the
    pre-training pool, the language-model test set, the head training,
    validation and test sets, the initialisations (one per width) and the
    noise family; the HMM comes from ``protocol.hmm_seed``. The same call
    gives the same numbers alone, in a loop or on a worker process. The
    learning rate is :meth:`~hmmrisk.transformer.protocol.Protocol.lr_at`
    ``(width)``. Chapter of origin: :ref:`ch-transformer`.
    """
    pr = _check_protocol(protocol)
    width = _check_width(pr, width)
    data = _data(pr, rng)
    nt = pr.n_threads
    model = tr.CausalTransformer(pr.n_tokens, width, pr.length, n_layers=pr.n_layers,
                                 n_heads=pr.n_heads,
                                 rng=int(data["init_seeds"][pr.widths.index(width)]))
    x_train, x_val, x_test = (data[k][:, :-1] for k in ("head_train", "head_val", "head_test"))
    n_net = len(NETWORKS)
    train = np.empty((n_net, pr.n_draws, pr.n_train, width))
    val = np.empty((n_net, pr.n_val, width))
    test = np.empty((n_net, pr.n_test, width))
    lm = np.empty(n_net)
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
        val[j] = tr.extract_features(model, x_val, n_threads=nt)
        test[j] = tr.extract_features(model, x_test, n_threads=nt)
    return FrozenFeatures(train=train, val=val, test=test,
                          y_train=data["head_train"][:, -1].reshape(pr.n_draws, pr.n_train),
                          y_val=data["head_val"][:, -1], y_test=data["head_test"][:, -1],
                          belief_test=dh.belief_states(data["hmm"], x_test),
                          pretrain_loss=pre_loss, lm_test_loss=lm, pretrain_seconds=pre_sec)


def family_features(protocol: Protocol, feats: FrozenFeatures, *, rng=None):
    """The three feature families of Figure 3 from one seed's frozen features.

    ``pretrained`` and ``untrained`` are the networks' features as they are;
    ``pretrained+noise`` standardises the pre-trained features with the mean
    and sd of all of the seed's head-training features and adds
    ``N(0, noise_sigma^2 I_p)`` noise, drawn afresh for every training,
    validation and test row from the noise stream of the seed ``rng`` (the
    same ``rng`` as :func:`frozen_features`; one stream per width,
    :func:`~hmmrisk.transformer.features.add_isotropic_noise`). Chapter of
    origin: :ref:`ch-transformer`.

    Returns
    -------
    train : numpy.ndarray, shape (family, draw, n, p)
    val : numpy.ndarray, shape (family, n_val, p)
    test : numpy.ndarray, shape (family, m, p)
    """
    pr = _check_protocol(protocol)
    if not isinstance(feats, FrozenFeatures):
        raise TypeError(f"feats must be FrozenFeatures, got {type(feats).__name__}")
    width = _check_width(pr, feats.train.shape[-1])
    # one noise stream per (seed, width): independent of the order the jobs run in
    gen = np.random.default_rng(_streams(rng)[5].spawn(len(pr.widths))[pr.widths.index(width)])
    ipre, iunt = NETWORKS.index("pretrained"), NETWORKS.index("untrained")
    ref = feats.train[ipre].reshape(-1, width)
    noisy = [ft.add_isotropic_noise(x.reshape(-1, width), pr.noise_sigma, reference=ref,
                                    rng=gen).reshape(x.shape)
             for x in (feats.train[ipre], feats.test[ipre], feats.val[ipre])]
    by = {"pretrained": (feats.train[ipre], feats.val[ipre], feats.test[ipre]),
          "pretrained+noise": (noisy[0], noisy[2], noisy[1]),
          "untrained": (feats.train[iunt], feats.val[iunt], feats.test[iunt])}
    return tuple(np.stack([by[f][i] for f in FAMILIES]) for i in range(3))


def _pca(train, others, k):
    """Project standardised features on the top ``k`` principal components of each training set.

    ``train`` ``(B, n, p)``, each of ``others`` ``(B, m, p)``; statistics and
    components from the training rows only.
    """
    mean, sd = train.mean(axis=1, keepdims=True), train.std(axis=1, keepdims=True)
    sd = np.where(sd > 1e-12 * np.maximum(1.0, np.abs(mean)), sd, 1.0)
    ztr = (train - mean) / sd
    _, _, vt = np.linalg.svd(ztr, full_matrices=False)
    v = np.swapaxes(vt[:, :k], 1, 2)
    return [ztr @ v] + [((x - mean) / sd) @ v for x in others]


def feature_theory(features, labels, n: int, n_classes: int, *, reps: int = 0, rng=None):
    """Theorem 1 / Definition 2 for the minimum-norm squared-loss head on a family's own features.

    The rows ``features`` (``m x p``, standardised column by column as the
    head standardises them) and the one-hot ``labels`` are taken as the
    population (``hmmrisk.population_from_data``, centred: the head's bias
    column). Returns ``(theory, resampled)``: the theory's predicted total
    squared loss ``risk + irreducible`` at training-set size ``n`` (``inf``
    at the interpolation threshold) and, with ``reps > 0``, the mean total
    loss of the same head fitted on ``reps`` training sets of ``n`` rows drawn
    from that population (``FeaturePopulation.simulate``; NaN without
    ``reps``). The two share the population, so where they differ the
    theory's assumptions (Gaussian rows, a residual independent of them) are
    what fails, not the sample; see :ref:`ch-transformer`.
    """
    x = ft.standardise(_v.finite_array("features", features, ndim=2))
    y = np.eye(_v.integer("n_classes", n_classes, minimum=2))[np.asarray(labels)]
    n = _v.integer("n", n, minimum=2)
    reps = _v.integer("reps", reps, minimum=0)
    pop = population_from_data(x, y, center=True)
    theory = float(pop.predict(n).total)
    resampled = float(pop.simulate(n, reps, rng=rng).total) if reps else float("nan")
    return theory, resampled


def _run_width(pr: Protocol, seed: int, width: int) -> dict:
    """One job: pre-train once, three families, every head, separability, geometry, theory."""
    t_start = time.perf_counter()
    feats = frozen_features(pr, width, rng=seed)
    t0 = time.perf_counter()
    xtr, xva, xte = family_features(pr, feats, rng=seed)     # (F, D, n, p), (F, n_val, p), (F, m, p)
    n_f, n_d, k = len(FAMILIES), pr.n_draws, pr.n_states - 1
    b_tr = xtr.reshape(n_f * n_d, pr.n_train, width)
    y_tr = np.tile(feats.y_train, (n_f, 1))
    b_va, b_te = np.repeat(xva, n_d, axis=0), np.repeat(xte, n_d, axis=0)
    scores = fit_heads(b_tr, y_tr, b_te, feats.y_test, pr.n_tokens, ridges=pr.ridges, gtol=pr.gtol,
                       max_iter=pr.max_iter, val_features=b_va, y_val=feats.y_val,
                       n_threads=pr.n_threads)
    out = {"pretrain_loss": feats.pretrain_loss, "lm_test_loss": feats.lm_test_loss,
           "pretrain_seconds": feats.pretrain_seconds}

    def fd(a):                                               # (problem,) -> (family, draw)
        return np.asarray(a).reshape(n_f, n_d)

    for key in SOFTMAX_FIELDS + ("val_ce",):
        out[key] = getattr(scores, key).reshape(len(pr.ridges), n_f, n_d).transpose(1, 0, 2)
    for key in ("sq_test_loss", "sq_train_loss", "rank", "eff_rank"):
        out[key] = fd(getattr(scores, key))
    best = np.argmin(scores.val_ce, axis=0)
    cols = np.arange(best.size)
    out["tuned_ce"] = fd(scores.test_ce[best, cols])
    out["tuned_ridge"] = fd(np.asarray(pr.ridges)[best])
    es_ce, _, es_step = early_stopped_head(b_tr, y_tr, b_va, feats.y_val, b_te, feats.y_test,
                                           pr.n_tokens, steps=pr.gd_steps, n_threads=pr.n_threads)
    out["es_ce"], out["es_step"] = fd(es_ce), fd(es_step)
    kk = min(k, width)
    p_tr, p_va, p_te = _pca(b_tr, (b_va, b_te), kk)
    pca = fit_heads(p_tr, y_tr, p_te, feats.y_test, pr.n_tokens, ridges=pr.ridges, gtol=pr.gtol,
                    max_iter=pr.max_iter, val_features=p_va, y_val=feats.y_val,
                    n_threads=pr.n_threads)
    out["pca_ce"] = fd(pca.test_ce[np.argmin(pca.val_ce, axis=0), cols])
    out["pca_sq"] = fd(pca.sq_test_loss)
    # exact separability of the first sep_draws training sets: a head that strictly
    # separates a set certifies it (any ridge); the linear programme decides the rest
    s = pr.sep_draws
    margin = scores.train_margin.max(axis=0).reshape(n_f, n_d)
    out["separable"] = np.array([[bool(margin[f, d] > 1e-9)
                                  or bool(is_separable(xtr[f, d], feats.y_train[d]))
                                  for d in range(s)] for f in range(n_f)], dtype=bool).reshape(n_f, s)
    half = pr.n_test // 2
    out["tail_share"] = np.array([geo.tail_share(xte[f], k) for f in range(n_f)])
    out["participation"] = np.array([geo.participation_ratio(xte[f]) for f in range(n_f)])
    out["effective_rank"] = np.array([geo.effective_rank(xte[f]) for f in range(n_f)])
    out["probe_r2"] = np.array([geo.probe_r2(xte[f, :half], feats.belief_test[:half],
                                             xte[f, half:], feats.belief_test[half:])
                                for f in range(n_f)])
    sims = np.random.default_rng(_streams(seed)[7].spawn(len(pr.widths))[pr.widths.index(width)])
    theory = [feature_theory(xte[f], feats.y_test, pr.n_train, pr.n_tokens,
                             reps=pr.resample_reps, rng=sims) for f in range(n_f)]
    out["theory_sq"], out["resampled_sq"] = np.array(theory).T
    out["head_seconds"] = time.perf_counter() - t0
    out["seconds"] = time.perf_counter() - t_start
    if seed == pr.seeds[0]:
        out["_features"] = feats          # kept by run() for ridge_path (no second pre-training)
    return out


def reference_losses(protocol: Protocol, *, rng=None) -> dict:
    """The reference lines of Figure 3 for one seed (``rng``, as for :func:`frozen_features`), on that seed's test sequences.

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
    data = _data(pr, rng)
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


def _job(args):
    protocol, seed, width = args
    with tr.threads(protocol.n_threads):
        return _run_width(protocol, seed, width)


_POOL: dict = {}


def _tracker() -> None:
    """Make sure multiprocessing's resource tracker runs, writing to /dev/null.

    The spawned pool's queues use named semaphores, which a helper process
    (the resource tracker) unlinks should this process crash. If that
    helper is killed, multiprocessing starts a new one at the next
    semaphore's clean-up, warns, and the new one prints a KeyError
    traceback for every semaphore it never saw (the run itself is not
    affected). Calling this before a pool starts and in :func:`_close` and
    :func:`_stop`, before a pool is shut down, restarts a lost tracker here,
    quietly: its stderr is /dev/null (it has nothing for the user), and the
    relaunch warning is swallowed.
    """
    null = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(2)
    try:
        os.dup2(null, 2)                      # the tracker inherits this process's fd 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            resource_tracker.ensure_running()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _close(ex) -> None:
    """Shut a pool down once its workers are done (they exit by themselves)."""
    _tracker()
    ex.shutdown(wait=True, cancel_futures=True)


def _stop(ex) -> None:
    """Cancel what is pending and end the worker processes now (after an interrupt or error)."""
    _tracker()
    procs = list((getattr(ex, "_processes", None) or {}).values())
    ex.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=5)


@atexit.register
def _close_pools() -> None:
    """Close a pool left open by ``keep`` before the interpreter tears its modules down
    (else the executor's own clean-up runs too late and prints a traceback at exit)."""
    for ex in _POOL.values():
        _close(ex)
    _POOL.clear()


#: Frozen features of the first seed from the last :func:`run`, ``{(protocol, seed, width): FrozenFeatures}``.
_FEATURES: dict = {}


def _check_executor(executor):
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"executor must be a concurrent.futures.Executor or a Dask Client "
                        f"(an object with submit), got {type(executor).__name__}")
    return executor


def _map(fn, jobs, n_workers: int, *, keep: bool, executor=None) -> list:
    """``[fn(j) for j in jobs]``: on ``executor``, here (``n_workers == 1``) or on spawned workers.

    ``executor``: anything with ``submit(fn, arg)`` returning a future with
    ``result()`` (a ``concurrent.futures.Executor``, a Dask ``Client``).
    With ``keep`` the book's own pool stays open for the next call with the
    same ``n_workers`` (the chapter calls :func:`run_synthetic`, then
    :func:`run`, which closes it): a fresh worker spends seconds of CPU
    importing torch and SciPy. Its workers ignore SIGINT; on any exception
    (an interrupt included) they are terminated before it propagates. Jobs
    carry their own seeds and set their own thread counts, so results do not
    depend on which worker runs which job, nor on the order.
    """
    if executor is not None:
        futures = [executor.submit(fn, j) for j in jobs]
        return [f.result() for f in futures]
    if n_workers == 1:
        return [fn(j) for j in jobs]
    ex = _POOL.get(n_workers)
    if ex is None or getattr(ex, "_broken", False) or getattr(ex, "_shutdown_thread", False):
        for old in _POOL.values():
            _close(old)
        _POOL.clear()
        ctx = multiprocessing.get_context("spawn")
        _tracker()
        ex = _POOL[n_workers] = concurrent.futures.ProcessPoolExecutor(
            max_workers=min(n_workers, len(jobs)), mp_context=ctx, initializer=_signals.worker_started)
    try:
        # the pool spawns its workers while jobs are submitted: with SIGINT and SIGTERM held
        # there, a worker cannot be interrupted (a traceback) before its initializer ignores
        # Ctrl-C; a signal meant for this process waits until the block ends
        with _signals.held():
            pending = ex.map(fn, jobs)
        done = list(pending)
    except BaseException:
        _POOL.pop(n_workers, None)
        _stop(ex)
        raise
    if not keep:
        _POOL.pop(n_workers, None)
        _close(ex)
    return done


def run(protocol: Protocol, *, n_workers: int | None = None, executor=None) -> TransformerResult:
    """Run Figure 3's Transformer experiment for every seed and width of ``protocol``.

    The ``len(seeds) * len(widths)`` jobs are independent (widest first, to
    balance the load). They run on ``executor`` if one is given (any
    ``concurrent.futures.Executor``, a Dask ``distributed.Client`` included),
    else on ``n_workers`` spawned worker processes (the pool
    :func:`run_synthetic` left open is reused, then closed), each with
    ``protocol.n_threads`` torch threads. The numbers are bitwise the same
    for every executor and ``n_workers``. Chapter of origin:
    :ref:`ch-transformer`.

    Parameters
    ----------
    protocol : Protocol
    n_workers : int, optional
        Defaults to ``protocol.n_workers``; 1 runs in this process.
    executor : concurrent.futures.Executor or distributed.Client, optional

    Returns
    -------
    TransformerResult
    """
    pr = _check_protocol(protocol)
    n_workers = pr.n_workers if n_workers is None else _v.integer("n_workers", n_workers)
    executor = _check_executor(executor)
    t0 = time.perf_counter()
    jobs = [(pr, s, w) for w in pr.widths[::-1] for s in pr.seeds]
    done = _map(_job, jobs, n_workers, keep=False, executor=executor)
    by_key = {(s, w): r for (_, s, w), r in zip(jobs, done)}
    _FEATURES.clear()
    for (s, w), r in by_key.items():
        if "_features" in r:
            _FEATURES[pr, s, w] = r.pop("_features")
    return _assemble(pr, by_key, time.perf_counter() - t0)


def _assemble(pr: Protocol, by_key: dict, seconds: float) -> TransformerResult:
    """Stack the jobs' outputs ``{(seed, width): dict}`` and the reference losses."""
    t0 = time.perf_counter()
    refs = [reference_losses(pr, rng=s) for s in pr.seeds]

    def stack(key):                                   # -> (seed, width, ...)
        return np.stack([np.stack([np.asarray(by_key[s, w][key]) for w in pr.widths])
                         for s in pr.seeds])

    fields = {"protocol": pr}
    for key in SOFTMAX_FIELDS + ("val_ce",):
        fields[key] = stack(key).transpose(0, 2, 3, 1, 4)           # (S, F, L, W, D)
    for key in ("sq_test_loss", "sq_train_loss", "rank", "eff_rank", "separable", "tuned_ce",
                "tuned_ridge", "es_ce", "es_step", "pca_ce", "pca_sq"):
        fields[key] = stack(key).transpose(0, 2, 1, 3)              # (S, F, W, D)
    for key in ("tail_share", "participation", "effective_rank", "probe_r2", "theory_sq",
                "resampled_sq"):
        fields[key] = stack(key).transpose(0, 2, 1)                 # (S, F, W)
    fields["lm_test_loss"] = stack("lm_test_loss").transpose(0, 2, 1)
    fields["pretrain_loss"] = stack("pretrain_loss")
    for key in ("pretrain_seconds", "head_seconds", "seconds"):
        fields[key] = stack(key)
    for key in ("marginal", "bayes", "bayes_lm", "entropy", "bias_only_test_ce"):
        fields[key] = np.stack([np.asarray(r[key]) for r in refs])
    fields["wall_seconds"] = seconds + time.perf_counter() - t0
    return TransformerResult(**fields)


def ridge_path(protocol: Protocol, width: int, ridges, *, rng=None) -> RidgePath:
    """The softmax head of one width along a path of ridges (how much the fit matters).

    Pre-trains the width-``p`` network of the seed ``rng`` (:func:`frozen_features`;
    for an int seed, the first seed's networks of the last :func:`run` of the
    same protocol are reused, the same numbers without a second pre-training) and fits the softmax head of every family on every training draw at each
    ridge (largest first, warm-started). Shown next to Figure 3
    (:numref:`fig-transformer-ridge`). Chapter of origin: :ref:`ch-transformer`.
    """
    pr = _check_protocol(protocol)
    width = _check_width(pr, width)
    ridges = np.atleast_1d(np.asarray(ridges, dtype=float))
    ridges = np.array([_v.real("ridges", r, low=0.0, low_open=True) for r in ridges])
    if ridges.size == 0 or np.unique(ridges).size != ridges.size:
        raise ValueError(f"ridges must be a non-empty sequence of distinct values, got {ridges!r}")
    ridges = np.sort(ridges)[::-1]
    with tr.threads(pr.n_threads):
        # the last run() of this protocol already pre-trained this network: reuse it
        feats = ((_FEATURES.get((pr, rng, width)) if isinstance(rng, int) else None)
                 or frozen_features(pr, width, rng=rng))
        xtr, _, xte = family_features(pr, feats, rng=rng)
        n_f, n_d = len(FAMILIES), pr.n_draws
        sc = fit_heads(xtr.reshape(n_f * n_d, pr.n_train, width), np.tile(feats.y_train, (n_f, 1)),
                       np.repeat(xte, n_d, axis=0), feats.y_test, pr.n_tokens, ridges=ridges,
                       gtol=pr.gtol, max_iter=pr.max_iter, n_threads=pr.n_threads)

    def shape(a):
        return a.reshape(ridges.size, n_f, n_d).transpose(1, 0, 2)

    return RidgePath(ridges=ridges, width=width, test_ce=shape(sc.test_ce),
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


def run_synthetic(protocol: SyntheticProtocol, *, n_workers: int | None = None,
                  executor=None) -> SyntheticResult:
    """The theory panel: synthetic feature families through the same heads (:numref:`fig-transformer-theory`).

    For each ``n``: ``n_draws`` training sets and one test set of HMM
    contexts and next tokens (the HMM of ``protocol.protocol``); features of
    each family drawn once at the widest width and sliced (nested features,
    :mod:`~hmmrisk.transformer.features`); at every width the softmax head
    (ridge ``protocol.ridge``) and the minimum-norm squared-loss head; per
    training set the exact separability threshold ``p_sep``
    (:func:`~hmmrisk.transformer.separability.separability_threshold`).
    The ``len(ns) * 2`` jobs (one per ``n`` and family, each with its own
    random streams) run on ``executor`` if given, else on ``n_workers``
    spawned processes (default ``protocol.protocol.n_workers``; largest ``n``
    first); the numbers do not depend on either. Chapter of origin: :ref:`ch-transformer`.
    """
    if not isinstance(protocol, SyntheticProtocol):
        raise TypeError(f"protocol must be a SyntheticProtocol, got {type(protocol).__name__}")
    sp = protocol
    n_workers = (sp.protocol.n_workers if n_workers is None
                 else _v.integer("n_workers", n_workers))
    t0 = time.perf_counter()
    n_f, n_n, n_r, n_d = len(SYNTHETIC_FAMILIES), len(sp.ns), len(sp.ratios), sp.n_draws
    widths = np.stack([sp.widths(n) for n in sp.ns])
    jobs = [(sp, i, f) for i in range(n_n)[::-1] for f in range(n_f)]
    done = _map(_synthetic_job, jobs, n_workers, keep=True, executor=_check_executor(executor))
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
