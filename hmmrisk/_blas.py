"""One BLAS thread inside the simulations, so that their bits do not depend on the thread count."""

from __future__ import annotations

import contextlib
import sys

_CONTROLLER = (None, None)      # (number of imported modules when scanned, the controller)


def blas_single_thread():
    """Context manager: BLAS and OpenMP pools limited to one thread (``threadpoolctl``).

    Multi-threaded BLAS splits sums differently for different thread counts,
    so the last bits of a simulation would depend on ``OPENBLAS_NUM_THREADS``;
    inside this context they do not.  The package's simulations
    (:func:`hmmrisk.make_model`, :func:`hmmrisk.simulate_risk`, each point of
    :func:`hmmrisk.sweep.sweep`, every CLI command) run in it; the previous
    limits come back on exit.  The loaded libraries are scanned again (about
    a millisecond) whenever modules were imported since the last scan, so a
    BLAS loaded late -- SciPy's own OpenBLAS, loaded by the first
    ``scipy.linalg`` import -- is limited too when the context is entered
    after it; otherwise entering costs about ten microseconds.
    """
    global _CONTROLLER
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:                         # pragma: no cover - threadpoolctl is a dependency
        return contextlib.nullcontext()
    if _CONTROLLER[0] != len(sys.modules):
        _CONTROLLER = (len(sys.modules), ThreadpoolController())
    return _CONTROLLER[1].limit(limits=1)
