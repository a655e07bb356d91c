"""The closed-form kappa of the two-point spectrum against the general Newton solver.

The fast path of ``hmmrisk/theory/_kernel.py`` (Definition 3's quadratic)
earns its place if it is much cheaper than ``solve_kappa`` on the same
spectrum and agrees with it.  Run:  OPENBLAS_NUM_THREADS=1 python bench/bench_fast_path.py
"""

import timeit

import numpy as np

from hmmrisk.theory import _kernel as kernel
from hmmrisk.theory import orthogonal_spectrum

n = 100.0
p = np.linspace(101, 5000, 2000)
s1, r, b1, tr = orthogonal_spectrum(p, 50, 0.5)
sp = kernel.two_point(n, p, r, s1, b1, tr)
closed, newton = kernel.kappa_two_point(n, p, r, s1), kernel.solve_kappa(sp, 0.0)
print(f"max relative difference {np.max(np.abs(closed - newton) / newton):.1e}")
t_closed = min(timeit.repeat(lambda: kernel.kappa_two_point(n, p, r, s1), number=200, repeat=5)) / 200
t_newton = min(timeit.repeat(lambda: kernel.solve_kappa(sp, 0.0), number=50, repeat=5)) / 50
print(f"{p.size} model sizes: closed form {t_closed * 1e6:.0f} us, Newton {t_newton * 1e6:.0f} us, "
      f"ratio {t_newton / t_closed:.0f}")
