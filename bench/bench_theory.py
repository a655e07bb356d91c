"""Benchmark: the theory (Theorem 1, Definitions 1-3) and the figures' simulation.

Targets (issue 3):

* a 1000-point theory curve in at most 0.2 s;
* one predicted-risk point at p = 20 000, d = 50 in at most 1 s;
* the full-scale simulation time of Figures 1 and 2 (reported, no target).

Timings are best-of-``--repeat`` wall clock; the machine's load average and
the BLAS thread setting are printed because batched small-matrix work in
OpenBLAS is very sensitive to both.

Run:  python bench/bench_theory.py [--repeat 5] [--skip-figures]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

import hmmrisk as hr
from hmmrisk import curves, theory

N, D, NOISE = 100, 50, 0.5


def best_of(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def verdict(t, target):
    return f"{'OK' if t <= target else 'SLOW'} (target {target:g} s)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="best of this many runs")
    parser.add_argument("--skip-figures", action="store_true", help="skip the (slow) figure simulations")
    args = parser.parse_args(argv)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"numpy {np.__version__}; {platform.processor() or platform.machine()}; "
          f"{os.cpu_count()} cpus; load average {load[0]:.2f}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")

    # 1. A 1000-point theory curve.
    p = np.linspace(1, 3 * N, 1000)
    t, pred = best_of(lambda: theory.definition3(N, p, D, NOISE), args.repeat)
    print(f"definition3, 1000 points p in [1, {3 * N}] (n={N}, d={D}):      {t * 1e3:8.2f} ms  {verdict(t, 0.2)}")
    rng = np.random.default_rng(0)
    spectra = 1.0 + rng.exponential(4.0, size=(1000, D))
    n_unit = np.arange(1000) + N + 1
    t, _ = best_of(lambda: theory.definition2(spectra, spectra / 10, N, 25.0, n_unit=n_unit), args.repeat)
    print(f"definition2 batch, 1000 arbitrary spectra (r={D} + unit block): {t * 1e3:8.2f} ms  {verdict(t, 0.2)}")
    pops = [hr.population(hr.make_model(int(q), D, NOISE, rng=int(q))) for q in range(51, 1051)]
    t, _ = best_of(lambda: theory.predicted_curve(pops, N), args.repeat)
    print(f"predicted_curve, 1000 populations p = 51..1050:              {t * 1e3:8.2f} ms  {verdict(t, 0.2)}")
    t_pop, _ = best_of(lambda: [hr.population(hr.make_model(int(q), D, NOISE, rng=int(q)))
                                for q in range(51, 1051)], 1)
    print(f"  (building those 1000 models + populations, once:            {t_pop:8.2f} s)")

    # 2. One point at p = 20 000.
    big = 20_000

    def one_point():
        model = hr.make_model(big, D, NOISE, rng=1)
        return theory.predicted_risk(hr.population(model), N)

    t, pr = best_of(one_point, args.repeat)
    model = hr.make_model(big, D, NOISE, rng=1)
    pop = hr.population(model)
    t_pred, _ = best_of(lambda: theory.predicted_risk(pop, N), args.repeat)
    t_d3, d3 = best_of(lambda: theory.definition3(N, big, D, NOISE), args.repeat)
    print(f"p = {big}, d = {D}: make_model + population + predicted_risk: {t * 1e3:8.2f} ms  {verdict(t, 1.0)}")
    print(f"  predicted_risk alone {t_pred * 1e3:.3f} ms; definition3 {t_d3 * 1e3:.3f} ms; "
          f"risk {pr.risk:.6f} vs closed form {d3.risk:.6f}")

    # 3. The figures' simulation at full scale.
    if not args.skip_figures:
        for name, fn, cfg in (("Figure 1", curves.figure1_curves, curves.FIGURE1),
                              ("Figure 2", curves.figure2_curves, curves.FIGURE2)):
            t0 = time.perf_counter()
            out = fn()
            t = time.perf_counter() - t0
            pts = sum(int((~c.excluded).sum()) for c in out.values())
            print(f"{name}: {pts} simulated points x {cfg['reps']} training sets: {t:6.1f} s")


if __name__ == "__main__":
    main()
