"""Benchmark: hmmrisk's Monte Carlo risk against the loop a user would write.

Same model (orthogonal embedding, sigma^2 = 0.5, rho = 1), n = 100, d = 50
(so r = 50), p in {50, 145, 150, 155, 350} -- p - r = n and its neighbours
n +- 5 included -- 200 training sets per p.  The straightforward loop draws
each training set from the HMM, fits ``np.linalg.pinv(X) @ Y`` and evaluates
the excess risk with the dense ``Sigma_x``.  Prints a table and two ratios:

* ``same reps``: wall time of the loop over wall time of ``hmmrisk``, both
  with 200 training sets (the figure the README reports);
* ``equal precision``: the same with each time multiplied by its squared
  standard error, i.e. the ratio of the times needed to reach one given
  standard error (``hmmrisk`` integrates the label noise out exactly, so each
  of its draws carries more information than a draw of the loop); per p in
  the ``eq. prec.`` column (the standard errors are themselves estimates from
  200 draws, so this column is the noisier one).

Both routes run single-threaded BLAS if ``OPENBLAS_NUM_THREADS=1`` is set, as
``make bench`` does.  Each time is the best of ``--repeat`` runs, as wall time
and as CPU time of the process (``time.process_time``): on a machine shared
with other jobs the wall times stretch with the load while the CPU times of
these single-threaded runs much less, so the ``cpu ratio`` column is the one
to compare across machines and loads (it still moves by some 10-20 % with
cache and memory-bandwidth contention).

``--scaling`` instead gives the CPU time per training set of each route at
fixed n = 100 for p up to 20,000 (the loop without its O(p^3) set-up of the
dense Sigma_x^{-1}, which alone is out of reach at p = 20,000; hmmrisk with
its O(p d^2) population of the model, once per call, spread over the 200
training sets).

Run:  python bench/bench_risk.py [--repeat 3] [--scaling]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

import hmmrisk as hr

N, D, NOISE, REPS = 100, 50, 0.5, 200
PS = (50, N + D - 5, 150, 155, 350)
SCALING_PS = (200, 500, 1000, 2000, 5000, 10000, 20000)


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


def naive_per_set(model, n, reps, rng):
    """The loop's work per training set (pinv), the risk through Sigma_x = W W^T + I."""
    p, W, A = model.p, model.W, model.A
    b_star = hr.population(model).B_star
    for _ in range(reps):
        z = rng.standard_normal((n, model.d))
        x = z @ W.T + rng.standard_normal((n, p))
        y = z @ A.T + np.sqrt(model.noise) * rng.standard_normal((n, model.d))
        delta = np.linalg.pinv(x) @ y - b_star
        np.sum(delta**2) + np.sum((W.T @ delta) ** 2)


def scaling(repeat):
    print(f"n={N} d={D} noise={NOISE}: CPU seconds per training set; best of {repeat}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'p':>6} {'loop':>10} {'hmmrisk':>10} {'ratio':>8}")
    for p in SCALING_PS:
        model = hr.make_model(p, D, NOISE, rng=p)
        k = max(2, min(REPS, 200_000 // p))
        (_, t_loop), _ = best_of(lambda: naive_per_set(model, N, k, np.random.default_rng(0)), repeat, cpu=True)
        (_, t_fast), _ = best_of(lambda: hr.simulate_risk(model, N, REPS, rng=0), repeat, cpu=True)
        print(f"{p:>6} {t_loop / k:>10.2e} {t_fast / REPS:>10.2e} {t_loop / k / (t_fast / REPS):>8.0f}")


def best_of(fn, repeat, cpu=False):
    """Best wall time (or, with ``cpu``, ``(wall, cpu)`` best times) of ``repeat`` runs, and the output."""
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return ((min(walls), min(cpus)) if cpu else min(walls)), out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--scaling", action="store_true",
                        help="cost per training set against p at n = 100, p up to 20,000")
    args = parser.parse_args(argv)
    if args.scaling:
        return scaling(args.repeat)
    models = {p: hr.make_model(p, D, NOISE, rng=p) for p in PS}
    print(f"n={N} d={D} noise={NOISE} reps={REPS}; best of {args.repeat}; "
          f"numpy {np.__version__}, {platform.processor() or platform.machine()}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'p':>5} {'loop s':>9} {'hmmrisk s':>10} {'ratio':>7} {'loop cpu':>9} {'hmmrisk cpu':>11} "
          f"{'cpu ratio':>9} {'eq. prec.':>9} {'loop risk':>15} {'hmmrisk risk':>15}")
    total_loop = total_fast = work_loop = work_fast = 0.0
    worst = worst_cpu = np.inf
    for p in PS:
        (t_loop, c_loop), (r_loop, se_loop) = best_of(
            lambda: naive_risk(models[p], N, REPS, np.random.default_rng(0)), args.repeat, cpu=True)
        (t_fast, c_fast), est = best_of(lambda: hr.simulate_risk(models[p], N, REPS, rng=0),
                                        args.repeat, cpu=True)
        total_loop += t_loop
        worst = min(worst, t_loop / t_fast)
        worst_cpu = min(worst_cpu, c_loop / c_fast)
        total_fast += t_fast
        work_loop += t_loop * se_loop**2
        work_fast += t_fast * est.stderr**2
        print(f"{p:>5} {t_loop:>9.4f} {t_fast:>10.4f} {t_loop / t_fast:>7.1f} {c_loop:>9.4f} {c_fast:>11.4f} "
              f"{c_loop / c_fast:>9.1f} {t_loop * se_loop**2 / (t_fast * est.stderr**2):>9.1f} "
              f"{r_loop:>8.3f}±{se_loop:<6.3f} {est.risk:>8.3f}±{est.stderr:<6.3f}")
    print(f"total {total_loop:>9.4f} {total_fast:>10.4f}")
    print(f"ratio, same reps:       {total_loop / total_fast:6.1f}x (smallest at one p: {worst:.1f}x wall, "
          f"{worst_cpu:.1f}x cpu)")
    print(f"ratio, equal precision: {work_loop / work_fast:6.1f}x")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
