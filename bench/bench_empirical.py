"""The theory from data at p = 2000: one eigendecomposition, then a whole curve over n.

:func:`hmmrisk.population_from_data` pays once for the Gram matrix and its
eigendecomposition (``O(N p^2 + p^3)``); every later prediction costs
``O(p)`` per ``n`` and Newton step.  Run:
OPENBLAS_NUM_THREADS=1 python bench/bench_empirical.py
"""

import time
import timeit

import numpy as np

import hmmrisk as hr

N, p, d = 20_000, 2000, 4
rng = np.random.default_rng(0)
scale = np.arange(1, p + 1) ** -0.5                    # a power-law spectrum
X = rng.standard_normal((N, p)) * scale
Y = X[:, :d] + 0.5 * rng.standard_normal((N, d))
t0 = time.perf_counter()
pop = hr.population_from_data(X, Y)
t_pop = time.perf_counter() - t0
ns = np.unique(np.geomspace(50, 10_000, 200).astype(int))   # both sides of n = p
t_curve = min(timeit.repeat(lambda: pop.predict_curve(ns), number=1, repeat=5))
t_ridge = min(timeit.repeat(lambda: pop.predict_curve(ns, ridge=1e-3), number=1, repeat=5))
t_one = min(timeit.repeat(lambda: pop.predict(1000), number=20, repeat=5)) / 20
print(f"population_from_data(N={N}, p={p}): {t_pop:.2f} s (rank {pop.rank})")
print(f"predict_curve over {ns.size} values of n: {t_curve * 1e3:.0f} ms "
      f"(ridge 1e-3: {t_ridge * 1e3:.0f} ms); one predict: {t_one * 1e3:.1f} ms")
