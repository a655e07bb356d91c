"""Input checks shared by every public function of :mod:`hmmrisk`.

Each helper returns the cleaned value or raises a ``ValueError`` whose message
names the parameter and the offending value, so that bad input fails at the
call site and never later as a cryptic linear-algebra error.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable

import numpy as np


def integer(name: str, value, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` after checking ``value >= minimum``."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def real(name: str, value, *, low: float | None = None, high: float | None = None,
         low_open: bool = False, high_open: bool = False) -> float:
    """Return ``value`` as a finite ``float`` inside the stated interval."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    lo_bad = low is not None and (value < low or (low_open and value == low))
    hi_bad = high is not None and (value > high or (high_open and value == high))
    if lo_bad or hi_bad:
        raise ValueError(f"{name} must lie in {_interval(low, high, low_open, high_open)}, "
                         f"got {value!r}")
    return value


def _interval(low, high, low_open, high_open) -> str:
    """``[low, high)`` and the like, for messages (``None`` is an infinite end)."""
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}"


def noise(value) -> float:
    """The HMM noise variance sigma^2 must lie in [0, 1] (A A^T = (1 - sigma^2) I)."""
    return real("noise", value, low=0.0, high=1.0)


def snr(value) -> float:
    """The signal strength snr must be finite and > 0."""
    return real("snr", value, low=0.0, low_open=True)


def choice(name: str, value, options) -> str:
    """Check that ``value`` is one of ``options``."""
    try:
        ok = isinstance(value, Hashable) and value in options
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return value


def finite_array(name: str, value, ndim: int | None = None) -> np.ndarray:
    """Return ``value`` as a float array after checking its shape and finiteness."""
    try:
        if isinstance(value, (str, bytes)) or np.iscomplexobj(value):
            raise TypeError
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of real numbers, got {value!r}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-d array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values, got {arr.ravel()[~np.isfinite(arr.ravel())][:3]} among them")
    return arr


def training_data(X, Y=None):
    """``X`` of shape ``(..., n, p)`` (``n >= 2``, ``p >= 1``) and ``Y`` of shape ``(..., n, d)``, finite."""
    X = finite_array("X", X)
    if X.ndim < 2:
        raise ValueError(f"X must have shape (..., n, p), got {X.shape}")
    if X.shape[-2] < 2:
        raise ValueError(f"n (rows of X) must be >= 2, got {X.shape[-2]}")
    if X.shape[-1] < 1:
        raise ValueError(f"X must have at least one column (p >= 1), got shape {X.shape}")
    if Y is None:
        return X
    Y = finite_array("Y", Y)
    if Y.ndim != X.ndim or Y.shape[:-1] != X.shape[:-1] or Y.shape[-1] < 1:
        raise ValueError(f"Y must have shape {X.shape[:-1]} + (d,), got {Y.shape}")
    return X, Y


def rng(seed, name: str = "rng") -> np.random.Generator:
    """Turn ``seed`` (None, int or Generator; SPEC 7) into an explicit Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{name} must be a non-negative integer seed or a numpy Generator, got {seed!r}")
    return np.random.default_rng(int(seed))


def real_array(name: str, value, *, low: float | None = None, low_open: bool = False,
               high: float | None = None, high_open: bool = False) -> np.ndarray:
    """``value`` (a number or an array of any shape) as a float array, finite and inside the interval."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (str, bytes))):
        raise ValueError(f"{name} must be a real number or array of them, got {value!r}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number or array of them, got {value!r}") from None
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got {value!r}")
    bad = ~np.isfinite(arr)
    if low is not None:
        bad |= (arr <= low) if low_open else (arr < low)
    if high is not None:
        bad |= (arr >= high) if high_open else (arr > high)
    if np.any(bad):
        raise ValueError(f"{name} must be finite and lie in {_interval(low, high, low_open, high_open)}, "
                         f"got {arr[bad].ravel()[0]!r}")
    return arr


def integer_array(name: str, value, minimum: int) -> np.ndarray:
    """``value`` as an int array, every entry an integer ``>= minimum``."""
    arr = real_array(name, value, low=minimum)
    if np.any(arr != np.floor(arr)):
        raise ValueError(f"{name} must hold integers >= {minimum}, "
                         f"got {arr[arr != np.floor(arr)].ravel()[0]!r}")
    return arr.astype(np.int64)


# ---------------------------------------------------------------------------
# Constraints declared next to the signature (after scikit-learn's
# ``sklearn/utils/_param_validation.py``): ``@validate(n=Integer(min=2), ...)``
# ---------------------------------------------------------------------------

class Constraint:
    """A parameter constraint: :meth:`clean` checks and converts, :meth:`bad_values` lists failures.

    ``bad_values`` feeds the generated bad-input test
    (``tests/test_public_functions.py``), so a parameter declared here is tested
    without a hand-written row.
    """

    def clean(self, name: str, value):
        raise NotImplementedError

    def bad_values(self) -> list:
        return []


class Integer(Constraint):
    """An integer ``>= min`` (integral floats accepted; bools, NaN, inf, strings refused).

    ``array=True`` accepts a number or an array of them (every entry checked).
    """

    def __init__(self, min: int = 1, array: bool = False):   # noqa: A002 (scikit-learn's spelling)
        self.min = min
        self.array = array

    def clean(self, name, value):
        if self.array:
            return integer_array(name, value, minimum=self.min)
        return integer(name, value, minimum=self.min)

    def bad_values(self):
        bad = [self.min - 1, self.min - 2, self.min + 0.5, "3", math.nan, math.inf, None, True]
        return bad + ([[self.min, self.min + 0.5]] if self.array else [])

    def __repr__(self):
        return f"Integer(min={self.min}, array={self.array})"


class Real(Constraint):
    """A finite real number in an interval; ``gt``/``ge``/``lt``/``le`` as in scikit-learn's ``Interval``."""

    def __init__(self, *, gt=None, ge=None, lt=None, le=None, array: bool = False):
        if gt is not None and ge is not None or lt is not None and le is not None:
            raise ValueError("give one lower and one upper bound at most")
        self.low = gt if gt is not None else ge
        self.low_open = gt is not None
        self.high = lt if lt is not None else le
        self.high_open = lt is not None
        self.array = array

    def clean(self, name, value):
        f = real_array if self.array else real
        return f(name, value, low=self.low, high=self.high, low_open=self.low_open,
                 high_open=self.high_open)

    def bad_values(self):
        bad = [math.nan, math.inf, "1", None]
        if self.low is not None:
            bad += [self.low if self.low_open else self.low - 0.5, self.low - 1.0]
        if self.high is not None:
            bad += [self.high if self.high_open else self.high + 0.5]
        if self.array:
            bad += [[1.0, math.nan]] if self.low is None or self.low <= 1.0 else []
        else:
            bad += [[0.5]]
        return bad

    def __repr__(self):
        return (f"Real({'gt' if self.low_open else 'ge'}={self.low}, "
                f"{'lt' if self.high_open else 'le'}={self.high}, array={self.array})")


def Interval(low, high, closed: str = "both", array: bool = False) -> Real:  # noqa: N802
    """``Real`` in ``[low, high]`` (``closed`` = ``"both"``, ``"left"``, ``"right"``, ``"neither"``)."""
    left, right = closed in ("both", "left"), closed in ("both", "right")
    return Real(ge=low if left else None, gt=None if left else low,
                le=high if right else None, lt=None if right else high, array=array)


class Options(Constraint):
    """One of a fixed set of values."""

    def __init__(self, options):
        self.options = tuple(options)

    def clean(self, name, value):
        return choice(name, value, self.options)

    def bad_values(self):
        return ["not-an-option", None, 3, [self.options[0]]]

    def __repr__(self):
        return f"Options({self.options!r})"


class _RNG(Constraint):
    """``None``, a non-negative int seed or a ``numpy.random.Generator`` (SPEC 7)."""

    def clean(self, name, value):
        return rng(value, name)

    def bad_values(self):
        return [-1, 1.5, "a", [1]]

    def __repr__(self):
        return "RNG"


class OrNone(Constraint):
    """``None`` (the parameter's "not given") or a value of ``constraint``."""

    def __init__(self, constraint: Constraint):
        self.constraint = constraint

    def clean(self, name, value):
        return None if value is None else self.constraint.clean(name, value)

    def bad_values(self):
        return [v for v in self.constraint.bad_values() if v is not None]

    def __repr__(self):
        return f"OrNone({self.constraint!r})"


RNG = _RNG()
NOISE = Interval(0.0, 1.0)                  #: the HMM noise variance sigma^2
SNR = Real(gt=0.0)                           #: the signal strength snr


def validate(**constraints):
    """Declare the constraints of a function's parameters; check them on every call.

    Each keyword names a parameter and gives its :class:`Constraint`; the
    wrapped function receives the cleaned values (ints, floats, arrays,
    Generators) and raises the constraint's ``ValueError`` (naming the
    parameter and the value) before its body runs.  The declaration is kept
    on the function as ``__constraints__`` for the generated bad-input test.
    """
    import functools
    import inspect

    def decorate(func):
        sig = inspect.signature(func)
        unknown = set(constraints) - set(sig.parameters)
        if unknown:
            raise TypeError(f"{func.__qualname__} has no parameter(s) {sorted(unknown)}")

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            bound = sig.bind(*args, **kwargs)
            for name, constraint in constraints.items():     # defaults are cleaned too
                value = bound.arguments.get(name, sig.parameters[name].default)
                bound.arguments[name] = constraint.clean(name, value)
            return func(*bound.args, **bound.kwargs)

        wrapper.__constraints__ = dict(constraints)
        return wrapper

    return decorate


def constraints_of(func) -> dict:
    """The constraints :func:`validate` declared for ``func`` (``{}`` if none)."""
    return dict(getattr(func, "__constraints__", {}))


class _Seed(Constraint):
    """``rng=`` of a seeded runner (SPEC 7): a non-negative int seed, a Generator, or None.

    Unlike :data:`RNG` it keeps an int as an int: a runner derives one seed
    sequence per point from it (``SeedSequence([seed, ...])``), while a
    Generator has per-point children spawned from it.  ``None`` draws fresh
    OS entropy (an int, so the same per-point scheme applies).
    """

    def clean(self, name, value):
        if isinstance(value, np.random.Generator):
            return value
        if value is None:
            return int(np.random.SeedSequence().entropy)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer seed or a numpy Generator, "
                             f"got {value!r}")
        return int(value)

    def bad_values(self):
        return [-1, 1.5, "a", [1], True, np.random.RandomState(0)]

    def __repr__(self):
        return "SEED"


SEED = _Seed()


def spawn_seeds(rng_value, m: int) -> list:
    """``m`` child :class:`numpy.random.SeedSequence` of a Generator (``Generator.spawn``, SPEC 7)."""
    try:
        return [g.bit_generator.seed_seq for g in rng_value.spawn(m)]
    except (TypeError, AttributeError):
        raise ValueError(f"rng must be a Generator that can spawn children (seeded by a "
                         f"SeedSequence), got {rng_value!r}") from None
