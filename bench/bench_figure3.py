"""Time the pieces of the Figure 3 chapter (chapters/transformer.ipynb) and print them.

Usage (from the repository root):

    python bench/bench_figure3.py            # per-width pieces, one seed, and the theory panel
    python bench/bench_figure3.py --full     # also the chapter's whole run (every seed)

The chapter's budget is 150 s wall on 2 idle cores; in CI it shares the cores
with the tests, so the target is about 160 CPU-s for the whole chapter. On a
shared machine wall time follows the load, so the script also prints CPU
seconds (user + sys of this process and of its reaped worker processes,
``resource.getrusage``). For the whole chapter
use ``/usr/bin/time -v python -m pytest --nbmake chapters/transformer.ipynb``.

The per-width table runs single-threaded in this process, as the chapter's
workers do: "pretrain" is the pre-training of one network, "features" the
float64 feature extraction of both networks, "heads" the softmax (Newton) and
least-squares heads on 3 families x n_draws training sets, "LP" the exact
separability tests (a head that strictly separates its training set
certifies it; the linear programme decides the rest, as in the chapter). Wall-clock numbers depend on what else the machine is
doing: the script prints the load average next to them.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

import hmmrisk.transformer as tf
from hmmrisk.transformer.protocol import FAMILIES


def cpu_seconds() -> float:
    """User + sys CPU seconds of this process and its finished children."""
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def per_width(pr: tf.Protocol, seed: int, widths) -> None:
    print(f"{'width':>6} {'lr':>8} {'pretrain s':>11} {'features s':>11} {'heads s':>8} {'LP s':>6} "
          f"{'LM loss':>8}")
    total = 0.0
    for width in widths:
        with tf.threads(pr.n_threads):
            t0 = time.perf_counter()
            feats = tf.frozen_features(pr, width, rng=seed)
            t_feat = time.perf_counter() - t0 - feats.pretrain_seconds
            xtr, _, xte = tf.family_features(pr, feats, rng=seed)
            n_f, n_d = len(FAMILIES), pr.n_draws
            t1 = time.perf_counter()
            sc = tf.fit_heads(xtr.reshape(n_f * n_d, pr.n_train, -1),
                              np.tile(feats.y_train, (n_f, 1)), np.repeat(xte, n_d, axis=0),
                              feats.y_test, pr.n_tokens, ridges=pr.ridges, gtol=pr.gtol,
                              max_iter=pr.max_iter, n_threads=pr.n_threads)
            t_head = time.perf_counter() - t1
            t2 = time.perf_counter()
            margin = sc.train_margin.max(axis=0).reshape(n_f, n_d)
            for f in range(n_f):
                for d in range(pr.sep_draws):
                    if not margin[f, d] > 1e-9:
                        tf.is_separable(xtr[f, d], feats.y_train[d])
            t_lp = time.perf_counter() - t2
        total += time.perf_counter() - t0
        print(f"{width:>6} {pr.lr_at(width):>8.2e} {feats.pretrain_seconds:>11.2f} {t_feat:>11.2f} "
              f"{t_head:>8.2f} {t_lp:>6.2f} {feats.lm_test_loss[0]:>8.3f}", flush=True)
    print(f"one seed, all widths, one process: {total:.1f} s (load average {os.getloadavg()[0]:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also time tf.run (every seed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes for the theory panel (1: in this process)")
    args = parser.parse_args()
    pr = tf.Protocol()
    print(pr)
    per_width(pr, args.seed, pr.widths)
    t0, c0 = time.perf_counter(), cpu_seconds()
    syn = tf.run_synthetic(tf.SyntheticProtocol(protocol=pr), n_workers=args.workers)
    print(f"theory panel (run_synthetic, {args.workers} worker(s)): "
          f"{time.perf_counter() - t0:.1f} s wall, {cpu_seconds() - c0:.1f} CPU-s of finished "
          f"processes (load average {os.getloadavg()[0]:.2f}); median p_sep per family and n: "
          f"{np.median(syn.p_sep, axis=-1).tolist()}")
    if args.full:
        t0 = time.perf_counter()
        res = tf.run(pr)
        wall = time.perf_counter() - t0
        print(f"tf.run, {len(pr.seeds)} seeds, {pr.n_workers} workers: {wall:.1f} s wall "
              f"(load average {os.getloadavg()[0]:.2f}); worker time: pre-training "
              f"{res.pretrain_seconds.sum():.1f} s, heads + LP {res.head_seconds.sum():.1f} s, "
              f"jobs {res.seconds.sum():.1f} s")
    print(f"CPU seconds so far (this process and reaped workers): {cpu_seconds():.1f}")


if __name__ == "__main__":
    main()
