"""Time the pieces of the Figure 3 chapter (chapters/transformer.ipynb) and print them.

Usage (from the repository root):

    python bench/bench_figure3.py            # per-width pieces, one seed
    python bench/bench_figure3.py --full     # also the chapter's whole run (3 seeds)

The per-width table runs single-threaded in this process, as the chapter's
workers do; "pretrain" is 200 AdamW steps, "features" the float64 feature
extraction of both networks, "heads" the softmax (Newton) and least-squares
heads on 2 networks x n_draws training sets. Wall-clock numbers depend on what
else the machine is doing: the script prints the load average next to them.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import hmmrisk.figure3 as f3
import hmmrisk.transformer as tr


def per_width(pr: f3.Protocol, seed: int, widths) -> None:
    print(f"{'width':>6} {'pretrain s':>11} {'features s':>11} {'heads s':>8} "
          f"{'Newton steps (max)':>19} {'LM loss':>8}")
    total = 0.0
    for width in widths:
        with tr.threads(pr.n_threads):
            t0 = time.perf_counter()
            feats = f3.frozen_features(pr, seed, width)
            t_feat = time.perf_counter() - t0 - feats["pretrain_seconds"]
            n_m, n_d = len(f3.MODELS), pr.n_draws
            t1 = time.perf_counter()
            fit = f3.fit_heads(feats["train"].reshape(n_m * n_d, pr.n_train, -1),
                               np.tile(feats["y_train"], (n_m, 1)),
                               np.repeat(feats["test"], n_d, axis=0), feats["y_test"],
                               pr.n_tokens, ridges=pr.ridges, gtol=pr.gtol,
                               max_iter=pr.max_iter, n_threads=pr.n_threads)
            t_head = time.perf_counter() - t1
        total += time.perf_counter() - t0
        print(f"{width:>6} {feats['pretrain_seconds']:>11.2f} {t_feat:>11.2f} {t_head:>8.2f} "
              f"{int(fit['n_iter'].max()):>19} {feats['lm_test_loss'][0]:>8.3f}", flush=True)
    print(f"one seed, all widths, one process: {total:.1f} s "
          f"(load average {os.getloadavg()[0]:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also time f3.run(3 seeds)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pr = f3.Protocol()
    print(pr)
    t0 = time.perf_counter()
    ref = f3.reference_losses(pr, args.seed)
    print(f"reference losses: {time.perf_counter() - t0:.2f} s "
          f"(Bayes {ref['bayes_head_loss']:.3f}, marginal {ref['marginal_head_loss']:.3f})")
    per_width(pr, args.seed, pr.widths)
    if args.full:
        t0 = time.perf_counter()
        res = f3.run(pr, seeds=(0, 1, 2))
        wall = time.perf_counter() - t0
        print(f"f3.run, 3 seeds, {pr.n_workers} workers: {wall:.1f} s wall "
              f"(load average {os.getloadavg()[0]:.2f}); worker time: pre-training "
              f"{res['pretrain_seconds'].sum():.1f} s, heads {res['head_seconds'].sum():.1f} s, "
              f"jobs {res['seconds'].sum():.1f} s")
        t0 = time.perf_counter()
        f3.ridge_path(pr, 0, 32, 10.0 ** np.arange(0, -9, -1))
        print(f"ridge path (one width, 9 ridges): {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
