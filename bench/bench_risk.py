"""Benchmark: hmmrisk's Monte Carlo risk against the loop a user would write.

Same model (orthogonal embedding, sigma^2 = 0.5, rho = 1), n = 100, d = 50,
p in {50, 150, 350}, 200 training sets per p.  The straightforward loop draws
each training set from the HMM, fits ``np.linalg.pinv(X) @ Y`` and evaluates
the excess risk with the dense ``Sigma_x``.  Prints a table and two ratios:

* ``same reps``: wall time of the loop over wall time of ``hmmrisk``, both
  with 200 training sets (the figure the README reports);
* ``equal precision``: the same with each time multiplied by its squared
  standard error, i.e. the ratio of the times needed to reach one given
  standard error (``hmmrisk`` integrates the label noise out exactly, so each
  of its draws carries more information than a draw of the loop).

Both routes run single-threaded BLAS if ``OPENBLAS_NUM_THREADS=1`` is set, as
``make bench`` does.

Run:  python bench/bench_risk.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

import hmmrisk as hr

N, D, NOISE, REPS = 100, 50, 0.5, 200
PS = (50, 150, 350)


def naive_risk(model, n, reps, rng):
    """What a user writes first: dense Sigma_x and B*, pinv per training set."""
    p, W, A = model.p, model.W, model.A
    sigma_x = W @ W.T + np.eye(p)
    b_star = np.linalg.inv(sigma_x) @ W @ A.T
    risks = np.empty(reps)
    for k in range(reps):
        z = rng.standard_normal((n, model.d))
        x = z @ W.T + rng.standard_normal((n, p))
        y = z @ A.T + np.sqrt(model.noise) * rng.standard_normal((n, model.d))
        delta = np.linalg.pinv(x) @ y - b_star
        risks[k] = np.trace(delta.T @ sigma_x @ delta)
    return risks.mean(), risks.std(ddof=1) / np.sqrt(reps)


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args(argv)
    models = {p: hr.make_model(p, D, NOISE, rng=p) for p in PS}
    print(f"n={N} d={D} noise={NOISE} reps={REPS}; best of {args.repeat}; "
          f"numpy {np.__version__}, {platform.processor() or platform.machine()}")
    print(f"{'p':>5} {'loop s':>9} {'hmmrisk s':>10} {'ratio':>7} {'loop risk':>15} {'hmmrisk risk':>15}")
    total_loop = total_fast = work_loop = work_fast = 0.0
    for p in PS:
        t_loop, (r_loop, se_loop) = best_of(
            lambda: naive_risk(models[p], N, REPS, np.random.default_rng(0)), args.repeat)
        t_fast, est = best_of(lambda: hr.simulate_risk(models[p], N, REPS, seed=0), args.repeat)
        total_loop += t_loop
        total_fast += t_fast
        work_loop += t_loop * se_loop**2
        work_fast += t_fast * est.stderr**2
        print(f"{p:>5} {t_loop:>9.4f} {t_fast:>10.4f} {t_loop / t_fast:>7.1f} "
              f"{r_loop:>8.3f}±{se_loop:<6.3f} {est.risk:>8.3f}±{est.stderr:<6.3f}")
    print(f"total {total_loop:>9.4f} {total_fast:>10.4f}")
    print(f"ratio, same reps:       {total_loop / total_fast:6.1f}x")
    print(f"ratio, equal precision: {work_loop / work_fast:6.1f}x")


if __name__ == "__main__":
    main()
