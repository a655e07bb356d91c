"""Resource guards: estimate memory and work from the arguments alone, refuse what cannot fit.

:func:`require` compares an estimate with the caps of the current
:func:`limits` context: by default :data:`DEFAULT_MAX_MEMORY` (4 GiB) and
:data:`DEFAULT_MAX_WORK` (``1e12`` operations, about ten minutes of one core);
the command line sets them from ``--max-memory`` / ``--max-work``.  The
estimates are the leading terms of each step in 8-byte floats, priced per
Monte Carlo route (:func:`hmmrisk.montecarlo.route`, with its block sizes);
they are right up to a small factor, which is all a guard needs.  Simulations
draw their training sets in chunks of at most :data:`CHUNK_BYTES` of working
arrays (:func:`sim_chunk`), so their peak memory is ``O(p d + CHUNK_BYTES + reps)``.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import re

from ._validate import show
from .montecarlo import BLOCK, route

DEFAULT_MAX_MEMORY = 4 * 2**30
DEFAULT_MAX_WORK = 1e12
#: Working arrays of one chunk of training sets in a simulation (bytes).
CHUNK_BYTES = 2**30
#: Largest signal eigenvalue ``1 + s_j^2`` of ``Sigma_x`` the simulators accept: beyond it
#: the Monte Carlo loses digits to cancellation (relative error ~ 1e-16 x eigenvalue).
MAX_SIGNAL_EIGENVALUE = 1e8

#: Work units of this module a core does in a second (the scale of ``max_work``).
FLOPS_PER_SECOND = 1.5e9

_F = 8          # bytes per float64
_CALL = 3e6     # fixed cost of one call in operations (~2 ms of Python: checks, small arrays)
_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def fmt(value) -> str:
    """An integer argument for a message: exact up to 1e15, else ``1.00e+300`` style (any size)."""
    return show(value)


def format_bytes(n: float) -> str:
    """``n`` bytes as a short human string (``"373 GiB"``)."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def parse_amount(name: str, text, *, sizes: bool) -> float:
    """A cap given as text (``"16G"``, ``"1e13"``) or a number; ``None``, ``"none"`` or ``0``: no cap (``inf``).

    ``sizes``: accept ``K, M, G, T`` suffixes (powers of 1024, optional ``B``/``iB``).
    """
    if text is None:
        return math.inf
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        s = str(text).strip()
        if s.lower() in ("none", "inf", "0"):
            return math.inf
        m = re.fullmatch(r"([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)\s*([KMGTkmgt]?)(?:i?[bB])?", s) \
            if s.isascii() else None
        if m is None or (m.group(2) and not sizes):
            what = "a number of bytes such as 8G or 512M" if sizes else "a number such as 1e13"
            raise ValueError(f"{name} must be {what} (or none), got {text!r}")
        value = float(m.group(1)) * _UNITS[m.group(2).upper()]
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0 (or none), got {text!r}")
    return math.inf if value == 0 else value


_LIMITS = contextvars.ContextVar("hmmrisk_limits", default=(DEFAULT_MAX_MEMORY, DEFAULT_MAX_WORK))


@contextlib.contextmanager
def limits(memory: float = DEFAULT_MAX_MEMORY, work: float = DEFAULT_MAX_WORK):
    """Inside this context :func:`require` uses these caps (bytes, operations; ``math.inf``: none)."""
    token = _LIMITS.set((memory, work))
    try:
        yield
    finally:
        _LIMITS.reset(token)


def set_limits(memory: float, work: float) -> None:
    """The caps of this process from now on (the initializer of a command-line worker process)."""
    _LIMITS.set((memory, work))


def require(what: str, memory: float = 0.0, work: float = 0.0) -> None:
    """Raise ``ValueError`` if ``memory`` bytes or ``work`` operations exceed the current caps.

    ``what`` names the parameters responsible and their values, e.g. ``"p = 1000000000, d = 50"``.
    """
    cap_memory, cap_work = _LIMITS.get()
    if memory > cap_memory:
        raise ValueError(f"{what} needs about {format_bytes(memory)} of memory, over the cap of "
                         f"{format_bytes(cap_memory)} (raise it with --max-memory, or "
                         f"hmmrisk._resources.limits in Python; or choose smaller values)")
    if work > cap_work:
        raise ValueError(f"{what} needs about {work:.2g} floating-point operations, over the cap "
                         f"of {cap_work:.2g} (raise it with --max-work, or "
                         f"hmmrisk._resources.limits in Python; or choose smaller values)")


def _f(x) -> float:
    """A (possibly huge) integer as a float, saturating at 1e300 instead of overflowing."""
    return float(x) if abs(x) < 1e300 else 1e300


def model_cost(p: int, d: int) -> tuple[float, float]:
    """(bytes, flops) of :func:`hmmrisk.make_model` plus :func:`hmmrisk.population`.

    ``W`` (``p x d``), its QR and SVD factors, ``A`` and ``Q`` (``d x d``).
    """
    p, d = _f(p), _f(d)
    m = min(p, d)
    return _F * (4 * p * d + 6 * d * d), 30 * p * d * m + 10 * d * d * d + _CALL


def _per_set(n: int, p: int, d: int, method: str, ridge: float) -> tuple[float, float]:
    """(bytes, flops) of one training set in :func:`hmmrisk.simulate_risk`, by its route."""
    n, p, d = _f(n), _f(p), _f(d)
    r = min(p, d)
    how = route(n, p, r, method, ridge)
    if how in ("fit", "ridge"):
        m = min(n, p)
        mem = _F * (7 * n * p + 3 * p * d + 3 * n * d)
        work = 8 * n * p * m + 6 * p * m * d + 2 * n * d * (p + d)
        return mem, work + 1e3
    if how == "wishart":
        return _F * 6 * p, 400 * p + 2e3
    # p > n: blocks of training sets inside the sampler (bounded), n x r draws per set
    work = 4 * n * r * r + 2 * r * r * r + 100 * n * r + 1e4
    return _F * (3 * n * r + 4 * n + 8), work + (2 * n * n * n if how != "woodbury" else 0.0)


def sim_chunk(n: int, p: int, d: int, method: str = "conditional", ridge: float = 0.0) -> int:
    """Training sets per chunk: as many as fit in :data:`CHUNK_BYTES` (at least 1)."""
    mem, _ = _per_set(n, p, d, method, ridge)
    return max(1, int(CHUNK_BYTES // max(mem, 1.0)))


def sim_cost(n: int, p: int, d: int, reps: int, method: str = "conditional",
             ridge: float = 0.0) -> tuple[float, float]:
    """(bytes, flops) of :func:`hmmrisk.simulate_risk`: model, one chunk of sets, 48 bytes per kept set."""
    mem, work = _per_set(n, p, d, method, ridge)
    n, p, d, reps = _f(n), _f(p), _f(d), _f(reps)
    chunk = min(reps, sim_chunk(n, p, d, method, ridge))
    block = 0.0
    if route(n, p, min(p, d), method, ridge) not in ("fit", "ridge", "wishart"):
        # the sampler's own blocks: BLOCK floats a draw array, dense n x n Gram matrices
        size = max(1, BLOCK // (n * min(p, d)))
        block = _F * (8 * BLOCK + 4 * min(size, reps) * n * n)
    m_mem, m_work = model_cost(p, d)
    return m_mem + block + chunk * mem + 48.0 * reps, m_work + reps * work + _CALL


#: Largest ``snr max(p, d) / d`` :func:`hmmrisk.make_model` accepts: the squared singular
#: values of ``W`` must stay finite (with room for the theory's sums).
MAX_SIGNAL = 1e300


def check_model(p: int, d: int, snr: float) -> None:
    """Refuse a model that cannot be built: memory of ``W`` (names ``p``, ``d``) or overflow (``snr``)."""
    require(f"make_model with p = {fmt(p)}, d = {fmt(d)}", *model_cost(p, d))
    if not snr * _f(max(p, d)) / _f(d) <= MAX_SIGNAL:
        raise ValueError(f"snr must satisfy snr * max(p, d) / d <= {MAX_SIGNAL:.0e} (the squared "
                         f"singular values of W must be finite), got snr = {snr!r} with "
                         f"p = {p}, d = {d}")


#: Bytes per row of a sweep result kept in memory (a dict of 18 values) and its CSV line.
ROW_BYTES = 2500


def check_grid(axes) -> None:
    """Refuse a grid whose rows alone exceed the memory cap (before building its points)."""
    count = math.prod(len(a) for a in axes)
    require(f"a grid of {fmt(count)} points ({' x '.join(str(len(a)) for a in axes)})",
            memory=ROW_BYTES * _f(count))


def check_sweep(points, theory: bool, simulate: bool, reps: int, band: int, method: str,
                workers: int = 1) -> None:
    """Refuse a sweep whose largest point (times ``workers``) or total work exceeds the caps."""
    peak, total, worst = 0.0, 0.0, None
    for n, p, d, _, _, embedding in points:
        drawn = embedding != "orthogonal" or not theory or (simulate and abs(p - n) > band)
        mem, work = model_cost(p, d) if drawn else (0.0, 0.0)
        if simulate and abs(p - n) > band:
            m2, w2 = sim_cost(n, p, d, reps, method)
            mem, work = max(mem, m2), work + w2
        total += work
        if mem > peak:
            peak, worst = mem, (n, p, d)
    if worst is None:
        return
    n, p, d = worst
    where = f"sweep point n = {n}, p = {p}, d = {d}" + (f" with reps = {fmt(reps)}" if simulate else "")
    if workers > 1:
        where += f" on {workers} workers at once"
    require(where, memory=peak * workers + ROW_BYTES * len(points))
    require(f"sweep of {len(points)} points" + (f" with reps = {fmt(reps)}" if simulate else ""),
            work=total)
