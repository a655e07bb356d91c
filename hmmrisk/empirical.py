"""The theory for a head tuned on *your own* features (:ref:`ch-own-features`).

Theorem 1, Definition 2 and the ridge equivalent need only the spectrum of
the feature covariance ``Sigma_x``, the weights of the population head ``B*``
on its eigenvectors and ``tr Sigma_r``.  :func:`population_from_data` takes
those from a sample, ``N`` rows of features ``X`` (``N x p``) and targets
``Y`` (``N x d``), treating the rows as the population (their empirical
distribution, centred by default):

    Sigma_x = X^T X / N,        B* = Sigma_x^+ X^T Y / N,
    Sigma_r = (Y - X B*)^T (Y - X B*) / N,   irreducible = tr Sigma_r.

One eigendecomposition ``Sigma_x = V diag(s) V^T`` (of the smaller Gram
matrix, ``X^T X`` or ``X X^T``) is kept and reused for every ``n``: the
prediction of :meth:`FeaturePopulation.predict` evaluates the package's own
:func:`hmmrisk.theory.theorem1`, :func:`~hmmrisk.theory.definition2` and
:func:`~hmmrisk.theory.ridge_risk` on ``(s_i, b_i = ||B*^T v_i||^2,
tr Sigma_r)`` (no formula is implemented here).

**Rank-deficient features.**  Constant columns (zero after centring),
duplicated or linearly dependent columns, or ``p > N`` make ``Sigma_x``
singular.  Every row of ``X`` lies in the range of ``Sigma_x``, so every head
the least-squares or ridge fit can produce lies there too and the null space
plays no part: the head on ``p`` features is exactly the head on the ``r``
coordinates ``Z = X V_r`` (``r`` the rank of ``Sigma_x``, ``V_r`` its
eigenvectors with non-zero eigenvalues).  The theory is therefore applied with
the effective dimension ``r`` in place of ``p``: Theorem 1 for ``r < n - 1``,
the threshold for ``n - 1 <= r <= n``, Definition 2 for ``r > n``.  The rank is
numerical, as :func:`numpy.linalg.matrix_rank` decides it for the Hermitian
``Sigma_x``: eigenvalues below ``s_max * max(N, p) * eps`` count as zero.

**What is and is not exact.**  For the empirical population the quantities
above are exact; the theory's formulas are exact for Gaussian features with a
residual independent of them (Theorem 1's ``p/(n - p - 1)`` is the
inverse-Wishart mean) and deterministic equivalents otherwise.  Real features
are neither Gaussian nor is their residual independent of them, which is why
:meth:`FeaturePopulation.simulate` measures the same risk by drawing
training sets from the rows.
"""

from __future__ import annotations

import numbers
import os
import zipfile

import numpy as np

from . import _resources
from .head import fit_head
from .risk import RiskEstimate
from .theory import definition2, ridge_risk, theorem1
from .theory._results import Prediction, Predictions

__all__ = ["FeaturePopulation", "load_matrix", "matrix_shape", "population_cost",
           "population_from_data", "simulate_cost"]

_F = 8                 # bytes per float64
_CHUNK = 2**27         # bytes of training sets fitted at once by simulate (128 MiB)


# ---------------------------------------------------------------------------
# Checks at the boundary (kept here, so that this module stands alone)
# ---------------------------------------------------------------------------

def _matrix(name: str, value) -> np.ndarray:
    """``value`` as a finite 2-d float array; ``TypeError`` for non-numeric input."""
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.dtype.hasobject or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) \
            or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array (rows x columns), got shape {arr.shape}")
    if arr.shape[0] < 2 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have at least 2 rows and 1 column, got shape {arr.shape}")
    arr = arr.astype(float, copy=True)
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{name} must contain only finite values, got {float(arr[i, j])!r} at row {i}, "
                         f"column {j}")
    return arr


def _int(name: str, value, low: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _ridge(value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"ridge must be a real number, got {value!r}")
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"ridge must be a finite number >= 0, got {value!r}")
    return float(value)


def population_cost(rows: int, p: int, d: int) -> tuple[float, float]:
    """Peak memory (bytes) and work (flops) of :func:`population_from_data`, from the shapes alone.

    The float copies of ``X`` and ``Y``, their centred versions' coordinates
    ``Z`` (``N x r``, ``r <= min(N, p)``), the Gram matrix and its eigenvectors
    (``min(N, p)^2`` each) and the residual; work ``N p min(N, p)`` (the Gram
    matrix) plus ``10 min(N, p)^3`` (its eigendecomposition).
    """
    m = min(rows, p)
    memory = _F * (2.0 * rows * p + 3.0 * rows * d + 3.0 * m * m + 2.0 * rows * m)
    work = float(rows) * p * m + 10.0 * float(m) ** 3 + 4.0 * rows * m * d
    return memory, work


# ---------------------------------------------------------------------------
# The population
# ---------------------------------------------------------------------------

class FeaturePopulation:
    """The empirical population of ``N`` rows ``(x, y)``, in the eigenbasis of ``Sigma_x``.

    Made by :func:`population_from_data`; see the module docstring for the
    definitions.

    Attributes
    ----------
    p : int
        Number of feature columns.
    d : int
        Number of target columns.
    rows : int
        ``N``, the number of rows (training sets of :meth:`simulate` are drawn
        from them without replacement, so ``n <= N``).
    rank : int
        ``r``, the numerical rank of ``Sigma_x``: the effective dimension the
        theory uses in place of ``p``.
    eigvals : (r,) array
        The non-zero eigenvalues ``s_i`` of ``Sigma_x``, decreasing.
    signal : (r,) array
        ``b_i = ||B*^T v_i||^2``, the weight of the population head on each
        eigenvector.
    irreducible : float
        ``tr Sigma_r``, the part of the targets no linear head removes.
    """

    def __init__(self, Z, Y, eigvals, coef, p):
        # Z: (N, r) coordinates X V_r; coef: (r, d) the population head in them.
        self._Z, self._Y, self._coef = Z, Y, coef
        self.eigvals = eigvals
        self.signal = np.sum(coef * coef, axis=1)
        resid = Y - Z @ coef
        self.irreducible = float(np.sum(resid * resid) / Z.shape[0])
        self.p, self.d, self.rows, self.rank = int(p), Y.shape[1], Z.shape[0], eigvals.size

    def __repr__(self):
        return (f"FeaturePopulation(rows={self.rows}, p={self.p}, rank={self.rank}, d={self.d}, "
                f"irreducible={self.irreducible:.6g})")

    def _check_n(self, n) -> int:
        n = _int("n", n, 2)
        if n > self.rows:
            raise ValueError(f"n must be at most the number of rows N = {self.rows} (training sets "
                             f"are drawn from them without replacement), got n = {n}")
        return n

    def predict(self, n, ridge=0.0) -> Prediction:
        """The theory's excess risk of the head trained on ``n`` rows.

        With ``r`` the rank and ``lam`` the ridge penalty:

        * ``lam = 0``, ``r < n - 1``: Theorem 1 exact (:prf:ref:`thm-under`),
          bias 0, variance ``tr Sigma_r r / (n - r - 1)``;
        * ``lam = 0``, ``n - 1 <= r <= n``: ``formula="threshold"``, variance ``inf``;
        * ``lam = 0``, ``r > n``: :prf:ref:`Definition 2 <def-predicted-risk>`
          on the spectrum ``(s_i, b_i)``;
        * ``lam > 0``: the ridge equivalent (:prf:ref:`def-ridge-risk`).

        Returns the package's :class:`~hmmrisk.theory.Prediction` (``bias``,
        ``variance``, ``risk``, ``irreducible``, ``total``, ``formula``).

        Examples
        --------
        >>> import numpy as np, hmmrisk as hr
        >>> rng = np.random.default_rng(0)
        >>> X = rng.standard_normal((5000, 20))
        >>> pop = hr.population_from_data(X, X @ np.ones((20, 1)) + rng.standard_normal((5000, 1)))
        >>> pred = pop.predict(41)                      # tr Sigma_r * 20 / (41 - 20 - 1)
        >>> pred.formula, round(pred.variance / pop.irreducible, 12)
        ('theorem1-exact', 1.0)
        """
        return self.predict_curve([self._check_n(n)], ridge)[0]

    def predict_curve(self, ns, ridge=0.0) -> Predictions:
        """:meth:`predict` at every ``n`` of ``ns``, from the one eigendecomposition.

        Returns :class:`~hmmrisk.theory.Predictions` (or
        :class:`~hmmrisk.theory.RidgePredictions` for ``ridge > 0``) in the
        order of ``ns``; its ``p`` is the rank ``r`` at every point.  The
        over-parameterised points share one vectorised Definition 1 solve.
        """
        if isinstance(ns, (str, bytes)) or np.ndim(ns) > 1:
            raise ValueError(f"ns must be an integer or a 1-d sequence of integers, got {ns!r}")
        ns = [self._check_n(n) for n in np.atleast_1d(ns).tolist()]
        if not ns:
            raise ValueError("ns must hold at least one sample size, got an empty sequence")
        lam = _ridge(ridge)
        nn = np.asarray(ns, dtype=np.int64)
        m, r, tr = nn.size, self.rank, self.irreducible
        s = np.broadcast_to(self.eigvals, (m, r))
        b = np.broadcast_to(self.signal, (m, r))
        if lam > 0:
            return ridge_risk(s, b, nn, tr, ridge=lam)
        bias, variance = np.zeros(m), np.zeros(m)
        formula = np.full(m, "definition2", dtype=object)
        under = r <= nn
        if under.any():
            variance[under] = theorem1(nn[under], float(r), irreducible=tr, exact=True)
            formula[under] = "theorem1-exact"
            formula[under & (r >= nn - 1)] = "threshold"       # infinite mean risk
        over = ~under
        if over.any():
            pred = definition2(s[over], b[over], nn[over], tr)
            bias[over], variance[over] = pred.bias, pred.variance
        return Predictions(p=np.full(m, float(r)), bias=bias, variance=variance,
                           irreducible=np.full(m, tr), formula=formula.astype(str))

    def simulate(self, n, reps, rng=None, ridge=0.0) -> RiskEstimate:
        """Monte Carlo of the same risk: heads fitted on ``n`` rows drawn from the sample.

        Each of ``reps`` training sets is ``n`` rows drawn without replacement
        (``rng``: a Generator or a seed, coerced by one
        :func:`numpy.random.default_rng` call).  The head ``C`` is fitted by
        :func:`~hmmrisk.head.fit_head` (minimum-norm least squares, or ridge
        ``lam``) on the coordinates ``Z`` and its excess risk is evaluated
        exactly on the population, ``sum_i s_i ||C_i - C*_i||^2``.  The
        per-set ``biases`` are ``sum_i s_i ||(P C* - C*)_i||^2`` with ``P C*``
        the head fitted to the noiseless targets ``Z C*``, the ``variances``
        the same norm of the head fitted to the residuals; on real data the
        residual is only uncorrelated with the features, not independent, so
        their sum differs from ``risks`` by a cross term of mean close to 0.

        Drawing without replacement makes every training set part of the
        population it is scored on, so the measured risk is lower than for
        independent draws by a relative amount of order ``n/N`` (the
        finite-population correction, measured in
        :prf:ref:`rem-finite-population`): keep ``n`` well below ``N`` when
        comparing with the theory.

        Returns :class:`~hmmrisk.risk.RiskEstimate` (mean, standard error, bias,
        variance, irreducible, total).
        """
        n = self._check_n(n)
        reps = _int("reps", reps, 2)
        lam = _ridge(ridge)
        try:
            rng = np.random.default_rng(rng)
        except (TypeError, ValueError):
            raise ValueError(f"rng must be a numpy Generator or a non-negative integer seed, "
                             f"got {rng!r}") from None
        r, d = self.rank, self.d
        _resources.require(f"simulate(n={n}, reps={reps}) on rank {r}",
                           *simulate_cost(n, r, d, reps))
        per_set = _F * n * (2 * r + 3 * d + min(n, r))
        block = max(1, min(reps, _CHUNK // max(per_set, 1)))
        risks, biases, variances = (np.empty(reps) for _ in range(3))
        resid = self._Y - self._Z @ self._coef
        for start in range(0, reps, block):
            k = min(block, reps - start)
            idx = np.stack([rng.choice(self.rows, size=n, replace=False) for _ in range(k)])
            Zb = self._Z[idx]                                       # (k, n, r)
            targets = np.concatenate([self._Y[idx], Zb @ self._coef, resid[idx]], axis=-1)
            heads = fit_head(Zb, targets, ridge=lam)                # one SVD per set
            for out, part in ((risks, heads[..., :d] - self._coef),
                              (biases, heads[..., d:2 * d] - self._coef),
                              (variances, heads[..., 2 * d:])):
                out[start:start + k] = np.einsum("i,kij,kij->k", self.eigvals, part, part)
        return RiskEstimate(risks=risks, biases=biases, variances=variances,
                            irreducible=self.irreducible)


def simulate_cost(n: int, r: int, d: int, reps: int) -> tuple[float, float]:
    """Peak memory (bytes, beyond the population) and work (flops) of :meth:`FeaturePopulation.simulate`."""
    per_set = _F * n * (2.0 * r + 3.0 * d + min(n, r))
    memory = min(reps * per_set, max(_CHUNK, per_set)) + 3.0 * _F * reps
    work = reps * (6.0 * n * r * min(n, r) + 6.0 * n * r * d)
    return memory, work


def population_from_data(X, Y, center=True) -> FeaturePopulation:
    """The theory's population from ``N`` rows of features and targets (:ref:`ch-own-features`).

    Parameters
    ----------
    X : (N, p) array
        Features, one row per example (real numbers, finite).
    Y : (N, d) array
        Targets, the same rows.
    center : bool
        Subtract the column means of ``X`` and ``Y`` first (default), i.e.
        model the targets with an intercept whose value is taken as known.
        With ``center=False`` the raw second moments are used.

    Returns
    -------
    FeaturePopulation
        ``Sigma_x = X^T X / N``, ``B* = Sigma_x^+ X^T Y / N`` and
        ``tr Sigma_r`` of the (centred) rows, in the eigenbasis of
        ``Sigma_x`` restricted to its range: a singular ``Sigma_x`` (constant
        or dependent columns, ``p > N``) is handled through the effective
        dimension ``rank`` (module docstring).

    Raises
    ------
    TypeError
        If ``X`` or ``Y`` is not an array of real numbers (e.g. object dtype).
    ValueError
        If an array is not 2-d, has non-finite entries or fewer than 2 rows,
        the row counts differ, no feature varies, or the estimated memory or
        work exceeds the caps of ``hmmrisk._resources``.

    Examples
    --------
    >>> import numpy as np, hmmrisk as hr
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((1000, 3)) @ np.diag([3.0, 2.0, 1.0])
    >>> X = np.column_stack([X, X[:, 0], np.ones(1000)])   # a duplicate and a constant column
    >>> pop = hr.population_from_data(X, X[:, :1] + rng.standard_normal((1000, 1)))
    >>> pop.p, pop.rank
    (5, 3)
    """
    if not isinstance(center, (bool, np.bool_)):
        raise TypeError(f"center must be True or False, got {center!r}")
    for name, value in (("X", X), ("Y", Y)):
        try:
            shape = np.shape(value) if not isinstance(value, (str, bytes)) else ()
        except ValueError:
            raise ValueError(f"{name} must be a rectangular array, got rows of different lengths") from None
        if len(shape) != 2:
            raise ValueError(f"{name} must be a 2-d array (rows x columns), got shape {shape}")
    (rows, p), (rows_y, d) = np.shape(X), np.shape(Y)
    if rows != rows_y:
        raise ValueError(f"X and Y must have the same number of rows, got X {np.shape(X)} and "
                         f"Y {np.shape(Y)}")
    _resources.require(f"X of shape ({rows}, {p}) and Y of shape ({rows_y}, {d})",
                       *population_cost(rows, p, d))
    X, Y = _matrix("X", X), _matrix("Y", Y)
    if center:
        X -= X.mean(axis=0)
        Y -= Y.mean(axis=0)
    if p <= rows:
        lam, V = np.linalg.eigh(X.T @ X)                  # eigenvalues of N Sigma_x
    else:
        lam, U = np.linalg.eigh(X @ X.T)                  # the same non-zero ones, from X X^T
    lam, order = lam[::-1], np.arange(lam.size)[::-1]
    tol = max(lam[0], 0.0) * max(rows, p) * np.finfo(float).eps
    keep = order[lam > tol]
    if keep.size == 0:
        raise ValueError(f"X must have at least one column that varies{' after centring' if center else ''}, "
                         f"got rank 0 (shape {X.shape})")
    if p <= rows:
        Z = X @ V[:, keep]                                # coordinates on the eigenvectors
    else:
        Z = U[:, keep] * np.sqrt(lam[:keep.size])         # X V_r = U_r sqrt(lam_r)
    eigvals = lam[:keep.size] / rows
    coef = (Z.T @ Y) / (rows * eigvals[:, None])           # C* = diag(1/s) Z^T Y / N
    return FeaturePopulation(Z, Y, eigvals, coef, p)


# ---------------------------------------------------------------------------
# Reading X and Y from files (.npy, .npz, .csv); pickled data are never loaded
# ---------------------------------------------------------------------------

_EXTENSIONS = (".npy", ".npz", ".csv")


def _path(path, name: str) -> tuple[str, str]:
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"{name} must be a file name, got {path!r}")
    path = os.fsdecode(os.fspath(path))
    ext = os.path.splitext(path)[1].lower()
    if ext not in _EXTENSIONS:
        raise ValueError(f"{name}: {path!r} must end in .npy, .npz or .csv")
    if not os.path.exists(path):
        raise ValueError(f"{name}: no such file {path!r}")
    if not os.path.isfile(path):
        raise ValueError(f"{name}: {path!r} is not a regular file")
    return path, ext


def _npy_header(fh, where: str, name: str):
    """``(shape, dtype)`` from the header of a ``.npy`` stream, checked; reads no data."""
    fmt = np.lib.format
    if fh.read(1) == b"\x80":                              # the first byte of every pickle
        raise ValueError(f"{name}: {where} is a pickle, not a NumPy array file; pickled data "
                         f"are never loaded")
    fh.seek(0)
    try:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(fh)
        else:
            raise ValueError(f"version {version}")
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{name}: {where} is not a NumPy array file ({_line(exc)})") from None
    if dtype.hasobject:
        raise ValueError(f"{name}: {where} holds an object array (dtype {dtype}); pickled data "
                         f"are never loaded, save the features as numbers")
    if not (np.issubdtype(dtype, np.number) or dtype == np.bool_) \
            or np.issubdtype(dtype, np.complexfloating):
        raise ValueError(f"{name}: {where} holds dtype {dtype}, not real numbers")
    if len(shape) != 2:
        raise ValueError(f"{name}: {where} must hold a 2-d array (rows x columns), got shape {shape}")
    return shape, dtype


def _line(exc) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _npz_member(path: str, key, name: str, key_name: str) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [m[:-4] for m in zf.namelist() if m.endswith(".npy")]
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{name}: {path!r} is not an .npz archive ({_line(exc)})") from None
    if key is None:
        if len(names) != 1:
            raise ValueError(f"{name}: {path!r} holds {len(names)} arrays ({', '.join(names) or 'none'}); "
                             f"choose one with {key_name}")
        return names[0]
    if key not in names:
        raise ValueError(f"{key_name}: {path!r} has no array {key!r} (it holds "
                         f"{', '.join(names) or 'none'})")
    return key


def _csv_layout(path: str, name: str) -> tuple[int, int, int]:
    """``(header lines, columns, estimated rows)`` of a CSV from its first data line."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            first = fh.readline()
            skip = 0
            try:
                [float(v) for v in first.split(",")]
            except ValueError:                              # a header line
                skip, first = 1, fh.readline()
    except OSError as exc:
        raise ValueError(f"{name}: cannot read {path!r} ({exc.strerror or _line(exc)})") from None
    if not first.strip():
        raise ValueError(f"{name}: {path!r} holds no rows of numbers")
    rows = max(1, os.path.getsize(path) // max(len(first), 1))
    return skip, len(first.split(",")), rows


def matrix_shape(path, key=None, *, name: str = "path", key_name: str = "key") -> tuple[int, int]:
    """The ``(rows, columns)`` of the array :func:`load_matrix` would read, from headers only.

    Checks everything a header tells (the file exists and is an array of real
    numbers with two axes, the ``.npz`` key) without reading the data, so
    that the memory can be estimated first.  For a ``.csv`` the number of
    rows is an estimate (file size over the length of the first row).
    Raises ``ValueError`` naming ``name`` (or ``key_name``) and the file.
    """
    path, ext = _path(path, name)
    try:
        if ext == ".csv":
            _, cols, rows = _csv_layout(path, name)
            return rows, cols
        if ext == ".npy":
            with open(path, "rb") as fh:
                return _npy_header(fh, repr(path), name)[0]
        member = _npz_member(path, key, name, key_name)
        with zipfile.ZipFile(path) as zf, zf.open(member + ".npy") as fh:
            return _npy_header(fh, f"{path!r}[{member!r}]", name)[0]
    except OSError as exc:
        raise ValueError(f"{name}: cannot read {path!r} ({exc.strerror or _line(exc)})") from None


def load_matrix(path, key=None, *, name: str = "path", key_name: str = "key") -> np.ndarray:
    """A finite 2-d float array from a ``.npy``, ``.npz`` (array ``key``, or its only one) or ``.csv``.

    Never unpickles (``allow_pickle=False``; object arrays are refused from
    their header).  A ``.csv`` is comma-separated numbers, optionally under
    one header line; one column gives an ``(N, 1)`` array.  Every problem is a
    ``ValueError`` naming ``name`` (or ``key_name``) and the file.
    """
    matrix_shape(path, key, name=name, key_name=key_name)          # the header checks
    path, ext = _path(path, name)
    where = repr(path)
    try:
        if ext == ".csv":
            skip = _csv_layout(path, name)[0]
            try:
                arr = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2, dtype=float,
                                 encoding="utf-8")
            except ValueError as exc:
                raise ValueError(f"{name}: {where} is not a CSV of numbers ({_line(exc)})") from None
        elif ext == ".npy":
            arr = np.load(path, allow_pickle=False)
        else:
            member = _npz_member(path, key, name, key_name)
            with np.load(path, allow_pickle=False) as archive:
                arr = archive[member]
            where = f"{where}[{member!r}]"
    except OSError as exc:
        raise ValueError(f"{name}: cannot read {path!r} ({exc.strerror or _line(exc)})") from None
    except ValueError as exc:
        if str(exc).startswith(name):
            raise
        raise ValueError(f"{name}: {where} cannot be read as an array ({_line(exc)})") from None
    arr = np.asarray(arr, dtype=float)
    bad = ~np.isfinite(arr)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(f"{name}: {where} has a non-finite entry ({float(arr[i, j])!r}) at row {i}, "
                         f"column {j}")
    return arr
