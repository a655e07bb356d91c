"""Time the pieces of the Figure 3 chapter (chapters/transformer.ipynb) and print them.

Usage (from the repository root):

    python bench/bench_figure3.py            # per-width pieces, one seed, and the theory panel
    python bench/bench_figure3.py --full     # also the chapter's whole run (every seed)

The per-width table runs single-threaded in this process, as the chapter's
workers do: "pretrain" is the pre-training of one network, "features" the
float64 feature extraction of both networks, "heads" the softmax (Newton) and
least-squares heads on 3 families x n_draws training sets, "LP" the exact
separability tests. Wall-clock numbers depend on what else the machine is
doing: the script prints the load average next to them.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import hmmrisk.transformer as tf
from hmmrisk.transformer.protocol import FAMILIES


def per_width(pr: tf.Protocol, seed: int, widths) -> None:
    print(f"{'width':>6} {'lr':>8} {'pretrain s':>11} {'features s':>11} {'heads s':>8} {'LP s':>6} "
          f"{'LM loss':>8}")
    total = 0.0
    for width in widths:
        with tf.threads(pr.n_threads):
            t0 = time.perf_counter()
            feats = tf.frozen_features(pr, seed, width)
            t_feat = time.perf_counter() - t0 - feats.pretrain_seconds
            xtr, xte = tf.family_features(pr, seed, feats)
            n_f, n_d = len(FAMILIES), pr.n_draws
            t1 = time.perf_counter()
            tf.fit_heads(xtr.reshape(n_f * n_d, pr.n_train, -1), np.tile(feats.y_train, (n_f, 1)),
                         np.repeat(xte, n_d, axis=0), feats.y_test, pr.n_tokens, ridges=pr.ridges,
                         gtol=pr.gtol, max_iter=pr.max_iter, n_threads=pr.n_threads)
            t_head = time.perf_counter() - t1
            t2 = time.perf_counter()
            for f in range(n_f):
                tf.is_separable(xtr[f, :pr.sep_draws], feats.y_train[:pr.sep_draws])
            t_lp = time.perf_counter() - t2
        total += time.perf_counter() - t0
        print(f"{width:>6} {pr.lr_at(width):>8.2e} {feats.pretrain_seconds:>11.2f} {t_feat:>11.2f} "
              f"{t_head:>8.2f} {t_lp:>6.2f} {feats.lm_test_loss[0]:>8.3f}", flush=True)
    print(f"one seed, all widths, one process: {total:.1f} s (load average {os.getloadavg()[0]:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also time tf.run (every seed)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pr = tf.Protocol()
    print(pr)
    per_width(pr, args.seed, pr.widths)
    t0 = time.perf_counter()
    syn = tf.run_synthetic(tf.SyntheticProtocol(protocol=pr))
    print(f"theory panel (run_synthetic): {time.perf_counter() - t0:.1f} s "
          f"(load average {os.getloadavg()[0]:.2f}); median p_sep per family and n: "
          f"{np.median(syn.p_sep, axis=-1).tolist()}")
    if args.full:
        t0 = time.perf_counter()
        res = tf.run(pr)
        wall = time.perf_counter() - t0
        print(f"tf.run, {len(pr.seeds)} seeds, {pr.n_workers} workers: {wall:.1f} s wall "
              f"(load average {os.getloadavg()[0]:.2f}); worker time: pre-training "
              f"{res.pretrain_seconds.sum():.1f} s, heads + LP {res.head_seconds.sum():.1f} s, "
              f"jobs {res.seconds.sum():.1f} s")


if __name__ == "__main__":
    main()
