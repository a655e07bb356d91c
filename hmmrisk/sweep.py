"""Theory and simulation over a grid of ``(n, p, d, sigma^2, snr)``, serially or on a cluster.

:func:`sweep` evaluates the excess risk of the least-squares head at every
point of the Cartesian product of the grid's axes, in this order (the first
varies slowest): ``n``, ``p``, ``d``, ``noise`` (``sigma^2``), ``snr``
(``snr``), ``embedding``.  It adds no formula of its own; each point calls
the book's functions:

* theory: for the orthogonal embedding Definition 3 (:prf:ref:`def-hmm-risk`,
  :func:`hmmrisk.theory.definition3`: Theorem 1 exact for ``p < n - 1``,
  ``inf`` at the threshold, Definition 2 in closed form for ``p > n``),
  which equals :func:`hmmrisk.theory.predicted_risk` of every draw of that
  model; for the Gaussian embedding :func:`~hmmrisk.theory.predicted_risk` on
  the population (:func:`~hmmrisk.population.population`) of the drawn model
  (:func:`~hmmrisk.hmm.make_model`);
* simulation: :func:`~hmmrisk.risk.simulate_risk` over ``reps`` training sets,
  skipped (``NaN``) for ``|p - n| <= band``, where the Monte Carlo mean is
  useless exactly as in :mod:`hmmrisk.curves` (:prf:ref:`prop-moments`).

Seeds
-----
Every point is an independent task.  With an int ``rng`` (the default, ``0``)
its model and its training sets come from
``np.random.SeedSequence([rng, n, p, d, bits(sigma^2), bits(snr), e]).spawn(2)``
(``bits`` = the 64-bit IEEE pattern of the float, ``e`` the index of the
embedding in :data:`hmmrisk.hmm.EMBEDDINGS`), so a point's numbers depend only
on the point and ``seed``: not on the rest of the grid, its order, or which
worker runs it.  Unlike :func:`hmmrisk.curves.risk_curve` the points share no
random numbers (no common encoders across ``sigma^2`` or ``n``), so a sweep
row and a figure point with the same seed are two independent draws.  With a
:class:`numpy.random.Generator` as ``rng`` (SPEC 7) each point instead gets
one child spawned from it in grid order, so its numbers depend on its place in
the grid (still not on the executor).

Scaling out
-----------
``executor`` is anything with the :class:`concurrent.futures.Executor`
``submit`` method; each point is one ``submit`` of a module-level (picklable)
task and the results are put back in grid order, so the output is bitwise
the same for every executor and number of workers (with single-threaded BLAS
in every process; set ``OPENBLAS_NUM_THREADS=1``, which Dask's worker
processes do by default).  On the local machine::

    from concurrent.futures import ProcessPoolExecutor
    import hmmrisk.sweep as sw

    grid = dict(n=100, p=range(50, 351, 10), d=50, noise=(0.2, 0.5, 0.8))
    with ProcessPoolExecutor(max_workers=2) as ex:
        res = sw.sweep(grid, simulate=True, reps=200, rng=0, executor=ex)
    res.to_csv("sweep.csv")

On a Dask cluster, a :class:`distributed.Client` is such an executor.  A local
one (two worker processes, one thread each)::

    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        res = sw.sweep(grid, simulate=True, reps=200, rng=0, executor=client)

On a real cluster connect with ``Client("tcp://scheduler:8786")`` (or the
client of ``dask_jobqueue`` / ``dask_kubernetes``) instead; the workers need
``hmmrisk`` installed (same version), nothing else.  The command line does the
same on local processes: ``python -m hmmrisk sweep ... --workers N``.
"""

from __future__ import annotations

import csv
import io
import itertools
import numbers
import os
import stat
import struct
import sys
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import _resources
from ._blas import blas_single_thread
from . import _validate as check
from ._validate import NOISE, SEED, SNR, Integer, Options, spawn_seeds, validate
from ._io import atomic_write
from .hmm import EMBEDDINGS, HeadTuningModel, make_model
from .population import population
from .risk import METHODS, simulate_risk
from .theory import FORMULAS, definition3, predicted_risk

__all__ = ["AXES", "COLUMNS", "PointRun", "SweepResult", "grid_points", "point_seed", "run_point",
           "sweep", "theory_at"]

#: The grid's axes, in the order of the Cartesian product (the first varies slowest).
AXES = ("n", "p", "d", "noise", "snr", "embedding")

#: Columns of every row, in CSV order.
COLUMNS = (
    "n", "p", "d", "noise", "snr", "embedding", "formula",
    "theory_bias", "theory_variance", "theory_risk", "irreducible", "theory_total",
    "sim_risk", "sim_stderr", "sim_bias", "sim_variance", "sim_total", "sim_reps",
)
_INT = {"n", "p", "d", "sim_reps"}
_STR = {"embedding", "formula"}

_DEFAULTS = {"snr": 1.0, "embedding": "orthogonal"}


# ---------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class SweepResult:
    """The rows of a sweep, in grid order.

    Attributes
    ----------
    rows : list of dict
        One dict per grid point with the keys :data:`COLUMNS`:

        * ``n, p, d, noise, snr, embedding``: the point;
        * ``formula``: the theory used (``theorem1-exact``, ``threshold``,
          ``definition2``; ``""`` without theory);
        * ``theory_bias, theory_variance, theory_risk`` (excess risk, ``inf``
          at the threshold), ``theory_total``: ``NaN`` without theory;
        * ``irreducible``: ``tr Sigma_r`` of the point's model;
        * ``sim_risk, sim_stderr, sim_bias, sim_variance, sim_total``: Monte
          Carlo means and the standard error of ``sim_risk``; ``NaN`` when not
          simulated (``simulate=False`` or ``|p - n| <= band``);
        * ``sim_reps``: training sets simulated, ``0`` when not simulated.
    """

    rows: list

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> np.ndarray:
        """One column as an array (``float``, ``int`` or ``str``)."""
        check.choice("name", name, COLUMNS)
        values = [row[name] for row in self.rows]
        if name in _STR:
            return np.array(values, dtype=str)
        return np.array(values, dtype=np.int64 if name in _INT else float)

    def to_csv(self, path=None) -> str | None:
        """Write the rows as CSV with a header line.

        Floats are written with ``repr`` (shortest round-trip form, ``inf``,
        ``nan``), so :meth:`from_csv` reads back the same bits.

        Parameters
        ----------
        path : str, path-like, file object or None
            Where to write; ``None`` returns the CSV text instead.
        """
        if path is not None and not hasattr(path, "write") \
                and not isinstance(path, (str, os.PathLike)):
            raise ValueError(f"path must be a file name, a file object or None, got {path!r}")
        if isinstance(path, (str, os.PathLike)):
            # temporary file next to the destination, renamed over it when complete:
            # an interrupted write leaves the old file, never a partial one
            with atomic_write(path, "w", name="path", newline="", encoding="utf-8") as fh:
                self._write_csv(fh)
            return None
        buf = io.StringIO() if path is None else path
        self._write_csv(buf)
        return buf.getvalue() if path is None else None

    def _write_csv(self, fh) -> None:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in self.rows:
            writer.writerow([repr(row[c]) if isinstance(row[c], float) else row[c] for c in COLUMNS])

    @classmethod
    def from_csv(cls, path) -> SweepResult:
        """Read a CSV written by :meth:`to_csv` (file name or text file object).

        Every cell is checked: the point's values as :func:`grid_points` wants
        them (``n >= 2``, ``p, d >= 1``, ``noise`` in ``[0, 1]``, ``snr > 0``,
        an embedding of :data:`hmmrisk.hmm.EMBEDDINGS`), ``formula`` one of
        ``hmmrisk.theory.FORMULAS`` or empty, ``sim_reps >= 0``, the other
        columns numbers (``nan`` and ``inf`` allowed).  A bad cell raises
        ``ValueError`` naming its row and column.  A leading UTF-8 byte-order
        mark (as spreadsheets write) is skipped; files over
        ``MAX_CSV_BYTES`` and anything but a regular file (a FIFO, a
        device) are refused before reading.
        """
        text = _read_csv_text(path)
        if "\x00" in text:
            raise ValueError("path must hold a sweep CSV, got a NUL byte (a binary file?)")
        try:
            records = list(csv.reader(io.StringIO(text)))
        except csv.Error as exc:
            raise ValueError(f"path must hold a sweep CSV, got unreadable CSV ({exc})") from None
        if not records or tuple(records[0]) != COLUMNS:
            got = _short(",".join(records[0])) if records else None
            raise ValueError(f"path must hold a sweep CSV with columns {COLUMNS}, got header {got}")
        rows = []
        for line, rec in enumerate(records[1:], start=2):
            if not rec:
                continue                                    # blank line
            if len(rec) != len(COLUMNS):
                raise ValueError(f"path: row {line} has {len(rec)} cells, expected "
                                 f"{len(COLUMNS)} (columns {COLUMNS})")
            row = {}
            for c, cell in zip(COLUMNS, rec):
                try:
                    row[c] = _cell(c, cell)
                except ValueError as exc:
                    raise ValueError(f"path: row {line}, column {c!r} must be {exc}, "
                                     f"got {_short(cell)}") from None
            rows.append(row)
        return cls(rows)


#: The largest file :meth:`SweepResult.from_csv` reads, 256 MiB (about a million rows).
MAX_CSV_BYTES = 2**28

_MIN_INT = {"n": 2, "p": 1, "d": 1, "sim_reps": 0}


def _short(cell: str) -> str:
    """A cell for an error message: its ``repr``, cut after 40 characters."""
    return repr(cell) if len(cell) <= 40 else f"{cell[:40]!r}... ({len(cell)} characters)"


def _cell(column: str, cell: str):
    """The value of one CSV cell; ``ValueError(what it must be)`` if it is not valid."""
    if column == "embedding":
        if cell not in EMBEDDINGS:
            raise ValueError(f"one of {list(EMBEDDINGS)}")
        return cell
    if column == "formula":
        if cell and cell not in FORMULAS:
            raise ValueError(f"one of {list(FORMULAS)} or empty")
        return cell
    if column in _INT:
        low = _MIN_INT[column]
        if not (cell.isascii() and cell.lstrip("+-").isdigit()) or len(cell) > 30 \
                or int(cell) < low:
            raise ValueError(f"an integer >= {low}")
        return int(cell)
    try:
        value = float(cell) if cell.isascii() else None
    except ValueError:
        value = None
    if value is not None and abs(value) == float("inf") \
            and cell.strip().lstrip("+-").lower() not in ("inf", "infinity"):
        value = None                                  # "1e999": overflows, no sweep writes it
    if column == "noise" and not (value is not None and 0.0 <= value <= 1.0):
        raise ValueError("a number in [0, 1]")
    if column == "snr" and not (value is not None and 0.0 < value < float("inf")):
        raise ValueError("a finite number > 0")
    if value is None:
        raise ValueError("a number")
    return value


def _read_csv_text(path) -> str:
    """The text of a file name or a text file object, at most ``MAX_CSV_BYTES`` of it."""
    too_big = f"path: the file is larger than {MAX_CSV_BYTES} bytes (MAX_CSV_BYTES), not a sweep CSV"
    if hasattr(path, "read"):
        text = path.read(MAX_CSV_BYTES + 1)
        if isinstance(text, bytes):
            raise ValueError("path must be a text file object (open it with 'r', not 'rb')")
        if len(text) > MAX_CSV_BYTES:
            raise ValueError(too_big)
        return text.removeprefix("\ufeff")
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path must be a file name or a file object, got {path!r}")
    try:
        # O_NONBLOCK: a FIFO opens at once (then is refused) instead of waiting for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"path: {os.fspath(path)!r} is not a regular file")
            if info.st_size > MAX_CSV_BYTES:
                raise ValueError(too_big)
            data = fh.read(MAX_CSV_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"path: cannot read {path!r} ({exc.strerror or exc})") from None
    if len(data) > MAX_CSV_BYTES:
        raise ValueError(too_big)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"path must hold a sweep CSV (UTF-8 text), got undecodable bytes "
                         f"at offset {exc.start}") from None


# ---------------------------------------------------------------------------
# Grid and seeds
# ---------------------------------------------------------------------------

def _axis(name, value):
    """One axis of the grid as a tuple of validated, distinct values."""
    if isinstance(value, (str, bytes, numbers.Number)) or np.ndim(value) == 0:
        values = [value]
    else:
        try:
            values = list(value)
        except TypeError:
            raise ValueError(f"grid[{name!r}] must be a value or a sequence of values, "
                             f"got {value!r}") from None
    if not values:
        raise ValueError(f"grid[{name!r}] must not be empty, got {value!r}")
    if name == "n":
        out = [check.integer("n", v, minimum=2) for v in values]
    elif name in ("p", "d"):
        out = [check.integer(name, v) for v in values]
    elif name == "noise":
        out = [NOISE.clean("noise", v) + 0.0 for v in values]           # + 0.0 turns -0.0 into 0.0
    elif name == "snr":
        out = [SNR.clean("snr", v) for v in values]
    else:
        out = [check.choice("embedding", v, EMBEDDINGS) for v in values]
    if len(set(out)) != len(out):
        raise ValueError(f"grid[{name!r}] must not repeat a value, got {value!r}")
    return tuple(out)


def grid_points(grid) -> list:
    """The points of ``grid`` in sweep order, as ``(n, p, d, noise, snr, embedding)`` tuples.

    ``grid`` maps each of :data:`AXES` to one value or a sequence of distinct
    values; ``n``, ``p``, ``d`` and ``noise`` are required, ``snr`` defaults
    to 1 and ``embedding`` to ``"orthogonal"``.
    """
    if not hasattr(grid, "keys"):
        raise TypeError(f"grid must be a mapping from {AXES} to values, got {type(grid).__name__}")
    unknown = sorted(set(grid) - set(AXES))
    if unknown:
        raise ValueError(f"grid has unknown axes {unknown}; the axes are {list(AXES)}")
    missing = [a for a in AXES if a not in grid and a not in _DEFAULTS]
    if missing:
        raise ValueError(f"grid must give the axes {missing} (got {sorted(grid)})")
    axes = [_axis(a, grid[a] if a in grid else _DEFAULTS[a]) for a in AXES]
    _resources.check_grid(axes)          # refuse 10^12 points before building them
    return list(itertools.product(*axes))


def _bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", float(x)))[0]


@validate(rng=Integer(min=0))
def point_seed(rng: int, point) -> np.random.SeedSequence:
    """The seed sequence of one grid point (see the module docstring).

    ``SeedSequence([rng, n, p, d, bits(noise), bits(snr), index(embedding)])``;
    its two children seed :func:`~hmmrisk.hmm.make_model` and
    :func:`~hmmrisk.risk.simulate_risk`.
    """
    try:
        n, p, d, noise, snr, embedding = point
    except (TypeError, ValueError):
        raise ValueError(f"point must be a tuple (n, p, d, noise, snr, embedding), "
                         f"got {point!r}") from None
    if embedding not in EMBEDDINGS:
        raise ValueError(f"point's embedding must be one of {list(EMBEDDINGS)}, got {embedding!r}")
    return np.random.SeedSequence([rng, int(n), int(p), int(d), _bits(noise + 0.0), _bits(snr),
                                   EMBEDDINGS.index(embedding)])


# ---------------------------------------------------------------------------
# The seeded runner of one point (shared by curves, finite_n, the ridge chapter
# and the sweep)
# ---------------------------------------------------------------------------

class PointRun(NamedTuple):
    """Result of :func:`run_point`: the drawn model and its risk estimate(s).

    ``estimate`` is ``None`` when nothing was simulated, one
    :class:`~hmmrisk.risk.RiskEstimate` for a scalar ``ridge`` and a tuple
    of them (one per penalty) for a sequence of penalties.
    """

    model: HeadTuningModel
    estimate: object


@validate(n=Integer(min=2), p=Integer(), d=Integer(), noise=NOISE, snr=SNR,
          embedding=Options(EMBEDDINGS), reps=Integer(min=2), method=Options(METHODS))
def run_point(n, p, d, noise, snr=1.0, *, rng, embedding: str = "orthogonal", reps: int = 200,
              ridge=0.0, method: str = "conditional", simulate: bool = True,
              common_random_numbers: bool = True) -> PointRun:
    """Draw the model of one point and simulate its risk: the book's one seeded runner.

    The point's :class:`numpy.random.SeedSequence` (``rng``: a
    ``SeedSequence`` or an int, its entropy) spawns two
    children: the first seeds :func:`~hmmrisk.hmm.make_model`, the second the
    training sets of :func:`~hmmrisk.risk.simulate_risk`.  Each caller chooses the
    entropy: :func:`hmmrisk.curves.risk_curve` uses ``SeedSequence([rng, p])``
    (common encoders across ``sigma^2`` and ``n``),
    :func:`hmmrisk.finite_n.measured_gap` ``SeedSequence([rng, n])``,
    :func:`sweep` :func:`point_seed`.

    Parameters
    ----------
    n, p, d, noise, snr
        Sample size, model size, latent dimension, ``sigma^2`` and ``snr``.
    rng : SeedSequence or int
        The point's seed (see above).
    embedding, reps, method
        As in :func:`~hmmrisk.hmm.make_model` and :func:`~hmmrisk.risk.simulate_risk`.
    ridge : float or sequence of float
        Penalty ``lam >= 0`` of the head; a sequence simulates one estimate
        per penalty on the same model.
    simulate : bool
        If false only the model is drawn (``estimate`` is ``None``).
    common_random_numbers : bool
        With several penalties: if true (the default) every penalty sees the
        same training sets (the generator restarts from the same seed), so
        differences between penalties carry no sampling noise of their own;
        if false one generator runs on across the penalties.

    Returns
    -------
    PointRun

    Examples
    --------
    >>> import numpy as np
    >>> from hmmrisk.sweep import run_point
    >>> run = run_point(40, 10, 5, 0.5, rng=np.random.SeedSequence([0, 10]), reps=20)
    >>> run.model.p, run.estimate.reps
    (10, 20)
    """
    if not isinstance(rng, np.random.SeedSequence):
        rng = np.random.SeedSequence(check.integer("rng", rng, minimum=0))
    model_ss, sim_ss = rng.spawn(2)
    model = make_model(p, d, noise, snr, embedding, rng=np.random.default_rng(model_ss))
    if not simulate:
        return PointRun(model, None)
    lams = np.atleast_1d(check.real_array("ridge", ridge, low=0.0))
    if lams.ndim != 1:
        raise ValueError(f"ridge must be a number or a non-empty 1-d sequence, got {ridge!r}")
    gen = np.random.default_rng(sim_ss)
    ests = []
    for lam in lams.tolist():
        if common_random_numbers:
            gen = np.random.default_rng(sim_ss)
        ests.append(simulate_risk(model, n, reps=reps, rng=gen, ridge=lam, method=method))
    return PointRun(model, ests[0] if np.ndim(ridge) == 0 else tuple(ests))


def theory_at(n, p, d, noise, snr=1.0, embedding: str = "orthogonal", model=None):
    """The theory at one point: the one path of :func:`sweep`, ``hmmrisk risk`` and the book.

    For the orthogonal embedding Definition 3 in closed form
    (:func:`hmmrisk.theory.definition3`, no draw: ``model`` is ignored); for
    the Gaussian embedding :func:`hmmrisk.theory.predicted_risk` on the
    population of ``model``, the drawn :class:`~hmmrisk.hmm.HeadTuningModel`
    of the point.  Returns a :class:`~hmmrisk.theory.Prediction`.

    Examples
    --------
    >>> from hmmrisk.sweep import theory_at
    >>> theory_at(100, 150, 50, 0.5).formula
    'definition2'
    """
    check.choice("embedding", embedding, EMBEDDINGS)
    if embedding == "orthogonal":
        return definition3(n, p, d, noise, snr)
    if not isinstance(model, HeadTuningModel):
        raise TypeError(f"model must be the point's HeadTuningModel for embedding = {embedding!r}, "
                        f"got {type(model).__name__}")
    if (model.p, model.d) != (p, d):
        raise ValueError(f"model must have p = {p}, d = {d}, got p = {model.p}, d = {model.d}")
    return predicted_risk(population(model), check.integer("n", n, minimum=2))


# ---------------------------------------------------------------------------
# One point of the sweep (a module-level function: picklable for any executor)
# ---------------------------------------------------------------------------

def _run_point(task) -> dict:
    """Evaluate one grid point; ``task = (point, theory, simulate, reps, seed, band, method)``.

    ``seed`` is the int of ``rng=`` (the point's seed is :func:`point_seed`) or
    the point's own spawned :class:`numpy.random.SeedSequence`.
    """
    with blas_single_thread():        # same bits on any worker, any BLAS setting
        return _point_row(*task)


def _point_row(point, theory, simulate, reps, seed, band, method) -> dict:
    n, p, d, noise, snr, embedding = point
    nan = float("nan")
    row = dict(zip(AXES, point))
    row.update(formula="", theory_bias=nan, theory_variance=nan, theory_risk=nan,
               irreducible=nan, theory_total=nan, sim_risk=nan, sim_stderr=nan,
               sim_bias=nan, sim_variance=nan, sim_total=nan, sim_reps=0)
    do_sim = simulate and abs(p - n) > band
    run = None
    if do_sim or embedding != "orthogonal" or not theory:
        ss = seed if isinstance(seed, np.random.SeedSequence) else point_seed(seed, point)
        run = run_point(n, p, d, noise, snr, rng=ss, embedding=embedding,
                        reps=reps, method=method, simulate=do_sim)
    if theory:
        pred = theory_at(n, p, d, noise, snr, embedding, None if run is None else run.model)
        row.update(formula=pred.formula, theory_bias=float(pred.bias),
                   theory_variance=float(pred.variance), theory_risk=float(pred.risk),
                   irreducible=float(pred.irreducible), theory_total=float(pred.total))
    if do_sim:
        est = run.estimate
        if not theory:
            row["irreducible"] = float(est.irreducible)
        row.update(sim_risk=float(est.risk), sim_stderr=float(est.stderr),
                   sim_bias=float(est.bias), sim_variance=float(est.variance),
                   sim_total=float(est.risk) + row["irreducible"], sim_reps=int(est.reps))
    elif not theory:
        # simulation only, point inside the band: still report tr Sigma_r of the model
        row["irreducible"] = float(population(run.model).irreducible)
    return row


# ---------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------

@validate(reps=Integer(min=2), rng=SEED, band=Integer(min=1), method=Options(METHODS))
def sweep(grid, *, theory: bool = True, simulate: bool = False, reps: int = 200, rng=0,
          band: int = 3, method: str = "conditional", executor=None, progress=None) -> SweepResult:
    """Theory and/or Monte Carlo excess risk of the head at every point of ``grid``.

    Parameters
    ----------
    grid : mapping
        ``{"n": ..., "p": ..., "d": ..., "noise": ..., "snr": ..., "embedding": ...}``,
        each a value or a sequence of distinct values (``snr`` defaults to 1,
        ``embedding`` to ``"orthogonal"``); see :func:`grid_points`.
    theory : bool
        Evaluate the theory (Theorem 1 / threshold / Definition 2).
    simulate : bool
        Run :func:`~hmmrisk.risk.simulate_risk` (at least one of the two must be on).
    reps : int
        Training sets per simulated point, ``>= 2``.
    rng : int, numpy.random.Generator or None
        An int seed ``>= 0`` (default 0) or a Generator (one child spawned per
        point, in grid order), or ``None`` (fresh OS entropy); point seeds
        follow the module docstring.
    band : int
        Points with ``|p - n| <= band`` are not simulated (``>= 1``; the mean
        risk is infinite for ``|p - n| <= 1``).
    method : {"conditional", "fit"}
        Passed to :func:`~hmmrisk.risk.simulate_risk`.
    executor : concurrent.futures.Executor, distributed.Client or None
        Runs the points (one ``submit`` each); ``None`` runs them here, one
        after another.  The result does not depend on it.
    progress : bool or None
        tqdm progress bar on stderr: ``True`` always, ``False`` never,
        ``None`` only if stderr is a terminal and the sweep lasts over half a
        second.

    Returns
    -------
    SweepResult
        One row per point, in grid order.
    """
    return _run(_plan(grid, theory=theory, simulate=simulate, reps=reps, rng=rng, band=band,
                      method=method), executor, progress)


def _plan(grid, *, theory, simulate, reps, rng, band, method, workers: int = 1) -> list:
    """The tasks of :func:`sweep` (one per point, in grid order), every argument checked once.

    ``reps``, ``rng``, ``band`` and ``method`` come cleaned by :func:`sweep`'s
    declaration (the command line passes checked values); the grid, the
    flags and the resources (for ``workers`` points at once) are checked here.
    """
    points = grid_points(grid)
    for name, value in (("theory", theory), ("simulate", simulate)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {value!r}")
    if not (theory or simulate):
        raise ValueError("theory and simulate are both False: nothing to compute")
    _resources.check_sweep(points, theory, simulate, reps, band, method,
                           workers=min(workers, len(points)))
    seeds = [rng] * len(points) if isinstance(rng, int) else spawn_seeds(rng, len(points))
    return [(pt, bool(theory), bool(simulate), reps, ss, band, method) for pt, ss in zip(points, seeds)]


def _run(tasks, executor=None, progress=None) -> SweepResult:
    """Run the tasks of :func:`_plan` here or on ``executor``; rows in grid order."""
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"executor must have a submit method (a concurrent.futures.Executor "
                        f"or distributed.Client) or be None, got {type(executor).__name__}")
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), desc="sweep", unit="pt", file=sys.stderr,
               disable=(None if progress is None else not progress),
               delay=(0.5 if progress is None else 0.0))
    try:
        if executor is None:
            rows = []
            for task in tasks:
                rows.append(_run_point(task))
                bar.update(1)
        else:
            futures = [executor.submit(_run_point, task) for task in tasks]
            rows = []
            try:
                for fut in futures:                 # grid order, whatever order they finish in
                    rows.append(fut.result())
                    bar.update(1)
            except BaseException:                   # interrupt or error: drop what has not started
                for fut in futures:
                    fut.cancel()
                raise
    finally:
        bar.close()
    return SweepResult(rows)
