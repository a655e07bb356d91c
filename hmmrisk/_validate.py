"""Input checks at the public boundary, declared next to each signature.

A public function states its parameters' constraints once::

    @validate(n=Integer(min=2), noise=NOISE, rng=RNG)
    def simulate(n, noise, rng=None): ...

and its body receives the cleaned values (ints, floats, arrays, Generators).
A value of the wrong type raises ``TypeError``, a value out of range
``ValueError``; both messages name the parameter and the value.  Functions
called by the package itself trust their callers and check nothing again.
"""

from __future__ import annotations

import contextlib
import decimal
import functools
import inspect
import math
import numbers
from collections.abc import Hashable

import numpy as np

#: Largest size or count a simulation accepts: every integer up to it is exact as a float.
MAX_INT = 2**53


def show(value) -> str:
    """``repr(value)`` for a message, at most about 60 characters (huge ints as ``1.23e+400``)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and abs(value) >= 10**15:
        mantissa, exponent = format(decimal.Decimal(int(value)), ".2e").split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e+{int(exponent)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _interval(low, high, low_open=False, high_open=False) -> str:
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}"


def integer(name: str, value, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an ``int`` ``>= minimum`` and, if given, ``<= maximum`` (integral floats accepted)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an integer, got {show(value)}")
    where = f">= {minimum}" if maximum is None else f"in [{minimum}, {show(maximum)}]"
    if not isinstance(value, numbers.Integral) and not (math.isfinite(value) and float(value).is_integer()):
        raise ValueError(f"{name} must be an integer {where}, got {show(value)}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer {where}, got {show(value)}")
    return value


def real(name: str, value, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """``value`` as a finite ``float`` inside the interval."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {show(value)}")
    try:
        value = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got {show(value)}") from None
    bad = not math.isfinite(value) or (low is not None and (value < low or (low_open and value == low))) \
        or (high is not None and (value > high or (high_open and value == high)))
    if bad:
        raise ValueError(f"{name} must be finite and lie in {_interval(low, high, low_open, high_open)}, "
                         f"got {value!r}")
    return value


def _float_array(name: str, value) -> np.ndarray:
    """``value`` as a float array; ``TypeError`` unless it holds real numbers (no bools, strings, None)."""
    if value is None or isinstance(value, (str, bytes, bool, np.bool_)):
        raise TypeError(f"{name} must be a real number or an array of them, got {show(value)}")
    try:
        arr = np.asarray(value)
        if arr.dtype.kind == "O":
            arr = arr.astype(float)
    except OverflowError:
        raise ValueError(f"{name} must hold finite values, got {show(value)}") from None
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number or an array of them, got {show(value)}") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got an array of {arr.dtype}")
    return arr.astype(float, copy=False)


def real_array(name: str, value, *, low=None, high=None, low_open=False, high_open=False) -> np.ndarray:
    """``value`` (a number or an array of any shape) as a non-empty float array, finite and inside the interval."""
    arr = _float_array(name, value)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got {show(value)}")
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
    """``value`` as an int array, every entry an integer in ``[minimum, 2**53)``."""
    arr = real_array(name, value, low=minimum, high=MAX_INT, high_open=True)
    if np.any(arr != np.floor(arr)):
        raise ValueError(f"{name} must hold integers >= {minimum}, got {arr[arr != np.floor(arr)].ravel()[0]!r}")
    return arr.astype(np.int64)


def finite_array(name: str, value, ndim: int | None = None) -> np.ndarray:
    """``value`` as a float array of ``ndim`` axes (any if ``None``) with finite entries."""
    arr = _float_array(name, value)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-d array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values, got {arr[~np.isfinite(arr)][:3]} among them")
    return arr


def training_data(X, Y=None):
    """``X`` of shape ``(..., n, p)`` (``n >= 2``, ``p >= 1``) and ``Y`` of shape ``(..., n, d)``, finite."""
    X = finite_array("X", X)
    if X.ndim < 2 or X.shape[-2] < 2 or X.shape[-1] < 1:
        raise ValueError(f"X must have shape (..., n, p) with n >= 2 rows and p >= 1 columns, got {X.shape}")
    if Y is None:
        return X
    Y = finite_array("Y", Y)
    if Y.ndim != X.ndim or Y.shape[:-1] != X.shape[:-1] or Y.shape[-1] < 1:
        raise ValueError(f"Y must have shape {X.shape[:-1]} + (d,), got {Y.shape}")
    return X, Y


@contextlib.contextmanager
def finite_result(name: str, value):
    """Compute quietly inside; then every array in the list yielded must be finite, else a
    ``ValueError`` naming ``name`` (an input whose scale leaves the floating-point range)."""
    results = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        yield results
    if not all(np.all(np.isfinite(r)) for r in results):
        scale = float(np.max(np.abs(value))) if np.size(value) else 0.0
        raise ValueError(f"{name} is out of the floating-point range of this computation (largest "
                         f"|entry| {scale:.3g}): the result overflows; rescale {name}")


def choice(name: str, value, options):
    """``value`` if it is one of ``options``."""
    if not (isinstance(value, Hashable) and value in options):
        raise ValueError(f"{name} must be one of {sorted(options)}, got {show(value)}")
    return value


def rng(value, name: str = "rng") -> np.random.Generator:
    """The one coercion of ``rng=``: ``None``, an int ``>= 0``, a SeedSequence or a Generator (SPEC 7)."""
    if isinstance(value, np.random.Generator):
        return value
    if value is not None and not isinstance(value, np.random.SeedSequence):
        value = integer(name, value, minimum=0, maximum=None)
    return np.random.default_rng(value)


def seed(value, name: str = "rng"):
    """``rng=`` of a seeded runner: a Generator as is, an int seed as an int, ``None`` as fresh entropy.

    The runners derive one seed sequence per point from an int
    (``SeedSequence([seed, ...])``) and spawn one child per point from a Generator.
    """
    if isinstance(value, np.random.Generator):
        return value
    if value is None:
        return int(np.random.SeedSequence().entropy)
    return integer(name, value, minimum=0, maximum=None)


def spawn_seeds(generator, m: int) -> list:
    """``m`` child :class:`numpy.random.SeedSequence` of a Generator (``Generator.spawn``)."""
    try:
        return [g.bit_generator.seed_seq for g in generator.spawn(m)]
    except (TypeError, AttributeError):
        raise ValueError(f"rng must be a Generator that can spawn children (seeded by a "
                         f"SeedSequence), got {show(generator)}") from None


# ---------------------------------------------------------------------------
# Declared constraints
# ---------------------------------------------------------------------------

class Integer:
    """An integer ``>= min`` (and ``<= max`` if given); ``array=True``: a number or an array of them
    (each in ``[min, 2**53)``)."""

    def __init__(self, min: int = 1, array: bool = False, max: int | None = None):
        self.min, self.array, self.max = min, array, max

    def clean(self, name, value):
        if self.array:
            return integer_array(name, value, self.min)
        return integer(name, value, self.min, self.max)


class Real:
    """A finite real number in an interval (``gt``/``ge`` and ``lt``/``le``); ``array=True`` as for Integer."""

    def __init__(self, *, gt=None, ge=None, lt=None, le=None, array: bool = False):
        self.low, self.low_open = (gt, True) if gt is not None else (ge, False)
        self.high, self.high_open = (lt, True) if lt is not None else (le, False)
        self.array = array

    def clean(self, name, value):
        return (real_array if self.array else real)(name, value, low=self.low, high=self.high,
                                                    low_open=self.low_open, high_open=self.high_open)


class Options:
    """One of a fixed set of values."""

    def __init__(self, options):
        self.options = tuple(options)

    def clean(self, name, value):
        return choice(name, value, self.options)


class OrNone:
    """``None`` (not given) or a value of ``constraint``."""

    def __init__(self, constraint):
        self.constraint = constraint

    def clean(self, name, value):
        return None if value is None else self.constraint.clean(name, value)


class _Call:
    """A constraint that is one of the functions above."""

    def __init__(self, func):
        self.func = func

    def clean(self, name, value):
        return self.func(value, name)


RNG = _Call(rng)                           #: ``rng=`` of a function that draws: a Generator
SEED = _Call(seed)                         #: ``rng=`` of a seeded runner: an int seed or a Generator
NOISE = Real(ge=0.0, le=1.0)               #: the HMM noise variance sigma^2
SNR = Real(gt=0.0)                         #: the signal strength snr


def validate(**constraints):
    """Declare the constraints of a function's parameters; check them (defaults too) on every call.

    The declaration is kept on the function as ``__constraints__``.
    """
    def decorate(func):
        sig = inspect.signature(func)
        unknown = set(constraints) - set(sig.parameters)
        if unknown:
            raise TypeError(f"{func.__qualname__} has no parameter(s) {sorted(unknown)}")

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            bound = sig.bind(*args, **kwargs)
            for name, constraint in constraints.items():
                value = bound.arguments.get(name, sig.parameters[name].default)
                bound.arguments[name] = constraint.clean(name, value)
            return func(*bound.args, **bound.kwargs)

        wrapper.__constraints__ = dict(constraints)
        return wrapper

    return decorate


def constraints_of(func) -> dict:
    """The constraints :func:`validate` declared for ``func`` (``{}`` if none)."""
    return dict(getattr(func, "__constraints__", {}))
