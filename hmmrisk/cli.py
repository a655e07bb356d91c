"""Command line: ``python -m hmmrisk {risk,figure,sweep} ...``.

``risk`` prints the excess risk of the least-squares head for one
``(n, p, d, sigma^2, rho)``: by default the theory (Theorem 1 for ``p < n``,
Definition 2 for ``p > n``), with ``--simulate`` a Monte Carlo estimate.
With ``--json`` it prints one JSON object with keys ``bias``, ``variance``,
``risk`` (excess, ``= bias + variance``), ``irreducible`` (``tr Sigma_r``),
``total`` and ``source``, plus ``stderr`` and ``reps`` with ``--simulate``.
An infinite mean risk (at the interpolation threshold) is printed as ``null``
with ``source = "threshold"``.

``figure {1,2,3} --out FILE`` regenerates a figure of the book with the very
functions its chapters call: Figures 1-2 (:ref:`ch-double-descent`) with
:func:`hmmrisk.curves.figure1_curves` / :func:`~hmmrisk.curves.figure2_curves`
and :func:`hmmrisk.plotting.figure1` / :func:`~hmmrisk.plotting.figure2`;
Figure 3 (:ref:`ch-transformer`) with :class:`hmmrisk.transformer.Protocol`,
:func:`hmmrisk.transformer.run` and :func:`hmmrisk.transformer.plot_figure3`.
Without overrides the figure is the book's.

``sweep`` evaluates theory and/or simulation over a grid of
``(n, p, d, sigma^2, rho)`` with :func:`hmmrisk.sweep.sweep` and writes CSV.

Bad arguments exit with status 2 and one line naming the argument, checked
before any computation: values out of range, output files that cannot be
written (checked by creating a file next to them), and work that does not fit
the resource caps.  Every command estimates its peak memory and its
floating-point work first and refuses, naming the argument and the estimate,
more than ``--max-memory`` (default 4 GiB, or ``HMMRISK_MAX_MEMORY``) or
``--max-work`` (default ``1e12`` operations, or ``HMMRISK_MAX_WORK``); ``none``
switches a cap off (see :mod:`hmmrisk._resources`).  Output files are written
atomically (a temporary file renamed over the destination), so an interrupted
run leaves the old file or the new one, never a partial one.  Ctrl-C (SIGINT)
exits with status 130 and one line, SIGTERM with 143, and a worker process that
dies (e.g. killed by the out-of-memory killer) ends the run with one line and
status 1: each time the old file is kept and no process of the run is left
(see :mod:`hmmrisk._signals`).  ``sweep --workers N`` starts at most one worker
per CPU and per grid point.  Simulations
run with one BLAS thread, so their output does not depend on
``OPENBLAS_NUM_THREADS`` or the machine's cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time

import numpy as np

from . import _resources, _signals
from ._io import atomic_write, check_writable
from .hmm import EMBEDDINGS, make_model
from .population import population
from .risk import simulate_risk


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


_FORMAT = argparse.RawDescriptionHelpFormatter


# ---------------------------------------------------------------------------
# Lists and ranges on the command line
# ---------------------------------------------------------------------------

def _int(text: str) -> int:
    """A decimal integer in ASCII (``int`` alone also takes ``"\uff11\uff10\uff10"`` and ``"1_000"``)."""
    t = text.strip()
    if not (t.isascii() and t.lstrip("+-").isdigit()):
        raise ValueError(text)
    return int(t)


def _float(text: str) -> float:
    """A real number in ASCII (no full-width digits, no ``"1_0"``)."""
    t = text.strip()
    if not t.isascii() or "_" in t:
        raise ValueError(text)
    return float(t)


def _arg_int(text: str) -> int:
    try:
        return _int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _arg_float(text: str) -> float:
    try:
        return _float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


_int.__name__ = _arg_int.__name__ = "int"
_float.__name__ = _arg_float.__name__ = "float"


def _values(text: str, kind):
    """``"a,b,c"`` and inclusive ranges ``"start:stop[:step]"`` (mixable: ``"10:50:10,100"``)."""
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise argparse.ArgumentTypeError(f"empty item in {text!r}")
        parts = item.split(":")
        try:
            nums = [(_int if kind is int else _float)(x) for x in parts]
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(
                f"{item!r} is not {what} or a range start:stop[:step]") from None
        if len(parts) == 1:
            out.append(nums[0])
            continue
        if len(parts) > 3:
            raise argparse.ArgumentTypeError(f"range {item!r} must be start:stop or start:stop:step")
        start, stop = nums[0], nums[1]
        step = nums[2] if len(parts) == 3 else kind(1)
        if not (math.isfinite(start) and math.isfinite(stop) and math.isfinite(step)) or step <= 0:
            raise argparse.ArgumentTypeError(f"range {item!r} needs finite ends and a step > 0")
        if stop < start:
            raise argparse.ArgumentTypeError(f"range {item!r} has stop < start")
        count = int(math.floor((stop - start) / step + 1e-9)) + 1
        if count > 1_000_000:
            raise argparse.ArgumentTypeError(f"range {item!r} has {count} values (limit 1000000)")
        if kind is int:
            out.extend(range(start, stop + 1, step))
        else:
            out.extend(round(start + i * step, 12) for i in range(count))
    return out


def _ints(text):
    return _values(text, int)


def _floats(text):
    return _values(text, float)


def _words(text):
    return [w.strip() for w in text.split(",")]


def _limits(p):
    """``--max-memory`` and ``--max-work``: the resource caps of every command."""
    g = p.add_argument_group("resource caps (checked before any computation)")
    g.add_argument("--max-memory", metavar="BYTES", default=None,
                   help="refuse to start if the estimated peak memory exceeds this, e.g. 16G "
                        "(default: $HMMRISK_MAX_MEMORY or 4G; none = no cap)")
    g.add_argument("--max-work", metavar="FLOPS", default=None,
                   help="refuse to start if the estimated floating-point work exceeds this, e.g. "
                        "1e13 (default: $HMMRISK_MAX_WORK or 1e12, ~10 min of one core; none = no cap)")


# ---------------------------------------------------------------------------
# risk
# ---------------------------------------------------------------------------

def _risk_parser(sub):
    p = sub.add_parser(
        "risk", help="excess risk of the head at one point (theory or simulation)",
        formatter_class=_FORMAT,
        description=(
            "Excess next-token risk of the minimum-norm least-squares head on a frozen encoder\n"
            "of the linear-Gaussian HMM at one (n, p, d, sigma^2, rho). Theory by default\n"
            "(Theorem 1 exact for p < n - 1, infinite at the threshold, Definition 2 for p > n);\n"
            "--simulate for a Monte Carlo estimate over training sets. Prints bias, variance,\n"
            "risk (= bias + variance), irreducible (tr Sigma_r), total and source; --json prints\n"
            "them as one JSON object (an infinite risk as null)."),
        epilog="examples:\n"
               "  python -m hmmrisk risk --n 100 --p 150 --d 50 --noise 0.5 --json\n"
               "  python -m hmmrisk risk --n 100 --p 150 --d 50 --noise 0.5 --simulate --reps 1000 --json")
    p.add_argument("--n", type=_arg_int, required=True, help="training pairs (>= 2)")
    p.add_argument("--p", type=_arg_int, required=True, help="model size: dimension of the representation (>= 1)")
    p.add_argument("--d", type=_arg_int, required=True, help="dimension of the latent token (>= 1)")
    p.add_argument("--noise", type=_arg_float, required=True, help="HMM noise variance sigma^2 in [0, 1]")
    p.add_argument("--snr", type=_arg_float, default=1.0, help="signal strength rho > 0 (default 1)")
    p.add_argument("--embedding", choices=EMBEDDINGS, default="orthogonal",
                   help="encoder weights (default orthogonal)")
    p.add_argument("--simulate", action="store_true", help="Monte Carlo over training sets instead of theory")
    p.add_argument("--reps", type=_arg_int, default=None, help="training sets to simulate (default 1000; needs --simulate)")
    p.add_argument("--seed", type=_arg_int, default=0, help="seed of the encoder, the HMM and the simulation (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _limits(p)
    p.set_defaults(func=_risk_command)
    return p


def _risk(args) -> dict:
    if args.reps is not None and not args.simulate:
        raise ValueError(f"--reps needs --simulate, got --reps {args.reps}")
    if args.seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {args.seed}")
    model_seed, sim_seed = np.random.SeedSequence(args.seed).spawn(2)
    if args.n < 2:
        raise ValueError(f"n must be an integer >= 2, got {args.n}")
    if args.p >= 1 and args.d >= 1:
        fmt = _resources.fmt
        if args.simulate:
            reps = 1000 if args.reps is None else args.reps
            if reps >= 2:
                _resources.require(f"--n {args.n} --p {fmt(args.p)} --d {fmt(args.d)} --reps {fmt(reps)}",
                                   *_resources.sim_cost(args.n, args.p, args.d, reps))
        else:
            _resources.require(f"--p {fmt(args.p)} --d {fmt(args.d)}",
                               *_resources.theory_cost(args.p, args.d))
    model = make_model(args.p, args.d, args.noise, args.snr, args.embedding,
                       rng=np.random.default_rng(model_seed))
    if args.simulate:
        reps = 1000 if args.reps is None else args.reps
        est = simulate_risk(model, args.n, reps=reps, rng=np.random.default_rng(sim_seed))
        return {"bias": est.bias, "variance": est.variance, "risk": est.risk,
                "irreducible": est.irreducible, "total": est.total,
                "stderr": est.stderr, "reps": est.reps, "source": "simulation"}
    from .theory import predicted_risk
    pred = predicted_risk(population(model), args.n)
    return {"bias": pred.bias, "variance": pred.variance, "risk": pred.risk,
            "irreducible": pred.irreducible, "total": pred.total, "source": pred.formula}


def _finite_or_none(value):
    return value if not (isinstance(value, float) and math.isinf(value)) else None


def _risk_command(args) -> int:
    result = _risk(args)
    if args.json:
        print(json.dumps({k: _finite_or_none(v) for k, v in result.items()}, allow_nan=False))
    else:
        for key, value in result.items():
            print(f"{key:>12}  {value:.6g}" if isinstance(value, float) else f"{key:>12}  {value}")
    return 0


# ---------------------------------------------------------------------------
# figure
# ---------------------------------------------------------------------------

# options of `figure` that belong to one figure only: dest -> figures
_ONLY = {"ps": (1, 2), "reps": (1, 2), "seed": (1, 2), "noises": (1,), "ns": (2,),
         "widths": (3,), "seeds": (3,), "steps": (3,), "warmup": (3,), "n_train": (3,),
         "n_draws": (3,), "n_test": (3,), "n_lm_test": (3,), "workers": (3,), "set": (3,)}


def _figure_parser(sub):
    p = sub.add_parser(
        "figure", help="regenerate Figure 1, 2 or 3 of the book into a file",
        formatter_class=_FORMAT,
        description=(
            "Regenerate a figure of the book outside the book, with the functions its chapters\n"
            "call (hmmrisk.curves + hmmrisk.plotting, hmmrisk.transformer). Without overrides the\n"
            "figure is the book's; the file type follows the extension of --out.\n\n"
            "  1  excess and total risk of the least-squares head vs model size p in [50, 150],\n"
            "     n = 100, d = 50, sigma^2 = 0.2, 0.5, 0.8: Theorem 1 / Definition 2 as lines,\n"
            "     simulation (200 training sets a point) as markers (ch-double-descent; ~10 s)\n"
            "  2  the same vs p in [50, 350] at sigma^2 = 0.5 for n = 100, 150, 200 (~8 s)\n"
            "  3  test cross-entropy of a head tuned on a frozen one-layer Transformer pre-trained\n"
            "     on a discrete HMM, vs its width (ch-transformer; needs torch; ~2-3 min on\n"
            "     2 cores at full scale, a few seconds with the small overrides below)"),
        epilog="examples:\n"
               "  python -m hmmrisk figure 1 --out fig1.png\n"
               "  python -m hmmrisk figure 1 --out quick.png --reps 50 --ps 50:150:10 --noises 0.2,0.8\n"
               "  python -m hmmrisk figure 2 --out fig2.pdf --ns 100,200\n"
               "  python -m hmmrisk figure 3 --out fig3.png --widths 4,16,64 --seeds 0 --steps 50 "
               "--n-draws 2")
    p.add_argument("number", type=_arg_int, choices=(1, 2, 3), help="which figure: 1, 2 or 3")
    p.add_argument("--out", required=True, metavar="FILE", help="output image (png, pdf, svg, ...)")
    p.add_argument("--dpi", type=_arg_int, default=150, help="resolution of raster output (default 150)")
    g12 = p.add_argument_group("Figures 1 and 2 (hmmrisk.curves.FIGURE1 / FIGURE2)")
    g12.add_argument("--reps", type=_arg_int, help="training sets per simulated point (book: 200)")
    g12.add_argument("--seed", type=_arg_int, help="base seed of encoders and training sets (book: 2024)")
    g12.add_argument("--ps", type=_ints, metavar="LIST",
                     help="model sizes, e.g. 50:150:10 or 60,80,120 (book: 50:150:2 / 50:350:10)")
    g12.add_argument("--noises", type=_floats, metavar="LIST",
                     help="Figure 1 only: noise variances sigma^2 (book: 0.2,0.5,0.8)")
    g12.add_argument("--ns", type=_ints, metavar="LIST",
                     help="Figure 2 only: training-set sizes n (book: 100,150,200)")
    g3 = p.add_argument_group("Figure 3 (fields of hmmrisk.transformer.Protocol)")
    g3.add_argument("--widths", type=_ints, metavar="LIST",
                    help="Transformer widths p, increasing (book: 2,4,8,12,16,24,32,48,64,96,128,256)")
    g3.add_argument("--seeds", type=_ints, metavar="LIST", help="seeds of the experiment (book: 0,1,2)")
    g3.add_argument("--steps", type=_arg_int, help="pre-training steps (book: 200)")
    g3.add_argument("--warmup", type=_arg_int,
                    help="warm-up steps (book: 20; default with --steps: a tenth of --steps)")
    g3.add_argument("--n-train", type=_arg_int, help="training pairs of the head, n (book: 100)")
    g3.add_argument("--n-draws", type=_arg_int, help="training sets per seed (book: 8)")
    g3.add_argument("--n-test", type=_arg_int, help="test pairs (book: 2000)")
    g3.add_argument("--n-lm-test", type=_arg_int, help="sequences for the language-model test loss (book: 500)")
    g3.add_argument("--workers", type=_arg_int, help="worker processes (book: 2)")
    g3.add_argument("--set", action="append", metavar="FIELD=VALUE",
                    help="any other Protocol field, e.g. --set length=16 --set batch_size=16 (repeatable)")
    _limits(p)
    p.set_defaults(func=_figure_command)
    return p


def _protocol(args):
    """The book's :class:`~hmmrisk.transformer.Protocol` with the command line's overrides."""
    from . import transformer as f3

    fields = {f.name: f for f in dataclasses.fields(f3.Protocol)}
    over = {}
    for text in args.set or ():
        name, sep, value = text.partition("=")
        name = name.strip()
        if not sep or name not in fields:
            raise ValueError(f"--set needs FIELD=VALUE with FIELD one of {sorted(fields)}, got {text!r}")
        default = fields[name].default
        try:
            if isinstance(default, tuple):
                over[name] = tuple(_floats(value) if any(isinstance(x, float) for x in default)
                                   else _ints(value))
            else:
                over[name] = type(default)(value)
        except (ValueError, argparse.ArgumentTypeError):
            raise ValueError(f"--set {name}: {value!r} is not a valid {type(default).__name__}") from None
    named = {"widths": args.widths, "steps": args.steps, "warmup": args.warmup,
             "n_train": args.n_train, "n_draws": args.n_draws, "n_test": args.n_test,
             "n_lm_test": args.n_lm_test, "n_workers": args.workers, "seeds": args.seeds}
    over.update({k: (tuple(v) if isinstance(v, list) else v) for k, v in named.items() if v is not None})
    if "steps" in over and "warmup" not in over:
        over["warmup"] = min(f3.Protocol.warmup, over["steps"] // 10)
    return f3.Protocol(**over)


def _check_out(path: str) -> tuple[str, str]:
    """``(path, format)`` after checking the extension and that the file can be written."""
    from matplotlib.backend_bases import FigureCanvasBase

    ext = os.path.splitext(path)[1].lstrip(".").lower()
    types = FigureCanvasBase.get_supported_filetypes()
    if ext not in types:
        raise ValueError(f"--out must end in one of .{', .'.join(sorted(types))}, got {path!r}")
    return check_writable(path, "--out"), ext


#: Largest figure of the book in inches (Figures 1-2: 11 x 4.4) and the bytes per pixel
#: the Agg renderer holds at once (RGBA canvas, its copy for the file, the encoder's rows).
_FIG_INCHES2, _BYTES_PER_PIXEL = 11.0 * 4.4, 16


def _figure_cost(args):
    """Refuse, before computing, figures whose raster or simulations exceed the caps."""
    if os.path.splitext(args.out)[1].lower() in (".png", ".jpg", ".jpeg", ".tif", ".tiff",
                                                 ".webp", ".raw", ".rgba"):
        _resources.require(f"--dpi {args.dpi}",
                           memory=_FIG_INCHES2 * float(args.dpi) ** 2 * _BYTES_PER_PIXEL)
    if args.number == 3:
        return
    from . import curves

    cfg = curves.FIGURE1 if args.number == 1 else curves.FIGURE2
    ps = cfg["ps"] if args.ps is None else args.ps
    reps = cfg["reps"] if args.reps is None else args.reps
    if args.number == 1:
        ns = [cfg["n"]] * len(cfg["noises"] if args.noises is None else args.noises)
    else:
        ns = cfg["ns"] if args.ns is None else args.ns
    if reps < 2 or not ps or min(ps) < 1:
        return                                  # the curves' own checks name the argument
    mem, work = 0.0, 0.0
    for n in ns:
        for p in ps:
            m, w = _resources.sim_cost(n, p, cfg["d"], reps)
            mem, work = max(mem, m), work + w
    _resources.require(f"figure {args.number} with --reps {reps} and --ps up to {max(ps)}",
                       memory=mem, work=work)


def _figure_command(args) -> int:
    for dest, figs in _ONLY.items():
        if getattr(args, dest) is not None and args.number not in figs:
            flag = "--" + dest.replace("_", "-")
            raise ValueError(f"{flag} applies to figure {' and '.join(map(str, figs))} only, "
                             f"not figure {args.number}")
    if args.dpi < 1:
        raise ValueError(f"dpi must be an integer >= 1, got {args.dpi}")
    out, fmt = _check_out(args.out)
    _figure_cost(args)
    t0 = time.perf_counter()
    if args.number == 3:
        from . import transformer as f3

        fig = f3.plot_figure3(f3.run(_protocol(args)))
    else:
        from . import curves, plotting

        fig = _risk_figure(args, curves, plotting)
    # written next to the destination and renamed over it: never a partial file
    with atomic_write(out, "wb", name="--out") as fh:
        fig.savefig(fh, format=fmt, dpi=args.dpi, facecolor="white", bbox_inches="tight")
    print(f"figure {args.number} written to {out} ({time.perf_counter() - t0:.1f} s)")
    return 0


def _seed(value):
    """``--seed`` (an int >= 0, or None for the figure's own) as the library's ``rng=``."""
    if value is not None and value < 0:
        raise ValueError(f"seed must be a non-negative integer, got {value}")
    return value


def _risk_figure(args, curves, plotting):
    """Figures 1-2: the chapter's calls, with the axis the paper varies overridable."""
    kw = dict(reps=args.reps, ps=args.ps, rng=_seed(args.seed))
    if args.number == 1:
        return plotting.figure1(curves.figure1_curves(**kw, noises=args.noises))
    return plotting.figure2(curves.figure2_curves(**kw, ns=args.ns))


# ---------------------------------------------------------------------------
# sweep
# ---------------------------------------------------------------------------

def _sweep_parser(sub):
    p = sub.add_parser(
        "sweep", help="theory and/or simulation over a grid of (n, p, d, sigma^2, rho), as CSV",
        formatter_class=_FORMAT,
        description=(
            "Evaluate the excess risk of the least-squares head at every point of the grid\n"
            "n x p x d x noise x snr x embedding (hmmrisk.sweep.sweep) and write one CSV row per\n"
            "point: the point, the theory's formula (Theorem 1 exact for p < n - 1, threshold,\n"
            "Definition 2 for p > n), bias, variance, risk, irreducible (tr Sigma_r) and total;\n"
            "with --simulate also the Monte Carlo risk, its standard error, bias, variance,\n"
            "total and number of training sets (NaN and 0 where not simulated: |p - n| <= band).\n\n"
            "Each grid option takes a comma list and/or inclusive ranges start:stop[:step],\n"
            "e.g. --p 50:150:10,200. Every point has its own seed, derived from --seed and the\n"
            "point alone, so the output does not depend on the grid's order or on --workers.\n"
            "To run on a Dask cluster, call hmmrisk.sweep.sweep(..., executor=client) from\n"
            "Python (see its docstring)."),
        epilog="examples:\n"
               "  python -m hmmrisk sweep --n 100 --p 50:350:10 --d 50 --noise 0.2,0.5,0.8 --out theory.csv\n"
               "  python -m hmmrisk sweep --n 100,200 --p 50:400:25 --d 50 --noise 0.5 --simulate "
               "--reps 200 --workers 2 --out sim.csv")
    p.add_argument("--n", type=_ints, required=True, metavar="LIST", help="training pairs (each >= 2)")
    p.add_argument("--p", type=_ints, required=True, metavar="LIST", help="model sizes (each >= 1)")
    p.add_argument("--d", type=_ints, required=True, metavar="LIST", help="latent dimensions (each >= 1)")
    p.add_argument("--noise", type=_floats, required=True, metavar="LIST",
                   help="HMM noise variances sigma^2 (each in [0, 1])")
    p.add_argument("--snr", type=_floats, default=[1.0], metavar="LIST",
                   help="signal strengths rho (each > 0; default 1)")
    p.add_argument("--embedding", type=_words, default=["orthogonal"], metavar="LIST",
                   help=f"encoders, from {', '.join(EMBEDDINGS)} (default orthogonal)")
    p.add_argument("--theory", action=argparse.BooleanOptionalAction, default=True,
                   help="evaluate Theorem 1 / Definition 2 (default on)")
    p.add_argument("--simulate", action="store_true", help="also run the Monte Carlo (hmmrisk.simulate_risk)")
    p.add_argument("--reps", type=_arg_int, default=None,
                   help="training sets per simulated point (default 200; needs --simulate)")
    p.add_argument("--seed", type=_arg_int, default=0, help="base seed (default 0)")
    p.add_argument("--band", type=_arg_int, default=3, help="do not simulate |p - n| <= band (default 3)")
    p.add_argument("--workers", type=_arg_int, default=1,
                   help="worker processes (default 1: run here; at most one per CPU and per point); "
                        "the output is the same for any value")
    p.add_argument("--out", default="-", metavar="FILE",
                   help="CSV file to write (default -: standard output)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    _limits(p)
    p.set_defaults(func=_sweep_command)
    return p


def _worker_init() -> None:
    """Worker processes leave SIGINT to the parent, which ends them (no traceback per worker)."""
    _signals.worker_started()
    _resources.blas_single_thread().__enter__()      # for the worker's whole life


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _stop_pool(ex) -> list:
    """Cancel the pending points and end the worker processes now (after an interrupt or error).

    Returns the worker processes (ended: their ``exitcode`` tells how)."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    ex.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.terminate()
    deadline = time.monotonic() + 2.0
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)
    return procs


def _sweep_command(args) -> int:
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from .sweep import sweep

    if args.reps is not None and not args.simulate:
        raise ValueError(f"--reps needs --simulate, got --reps {args.reps}")
    if not (args.theory or args.simulate):
        raise ValueError("--no-theory without --simulate: nothing to compute")
    if args.workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {args.workers}")
    if args.out != "-":
        check_writable(args.out, "--out")
    if args.band < 1:
        raise ValueError(f"band must be an integer >= 1, got {args.band}")
    grid = dict(n=args.n, p=args.p, d=args.d, noise=args.noise, snr=args.snr, embedding=args.embedding)
    kw = dict(theory=args.theory, simulate=args.simulate, reps=200 if args.reps is None else args.reps,
              rng=_seed(args.seed), band=args.band, progress=False if args.no_progress else None)
    from .sweep import grid_points
    _resources.check_grid(list(grid.values()))      # 10^12 points: refused before validating each
    points = grid_points(grid)           # bad grids fail before any worker starts
    workers = min(args.workers, len(points), _cpus())     # more would only wait (same output)
    if kw["reps"] >= 2:
        _resources.check_sweep(points, args.theory, args.simulate, kw["reps"], args.band,
                               "conditional", workers=workers)
    t0 = time.perf_counter()
    if workers > 1:
        ex = ProcessPoolExecutor(max_workers=workers, initializer=_worker_init)
        try:
            with _signals.held():       # fork every worker now, none interruptible before its init
                ex.submit(int)
            res = sweep(grid, executor=ex, **kw)
        except BrokenProcessPool:
            raise _signals.WorkerLost(_stop_pool(ex)) from None
        except BaseException:
            _stop_pool(ex)
            raise
        ex.shutdown()
    else:
        res = sweep(grid, **kw)
    if args.out == "-":
        res.to_csv(sys.stdout)
    else:
        res.to_csv(args.out)             # atomic: the old file survives an interrupted write
        print(f"{len(res)} rows written to {args.out} ({time.perf_counter() - t0:.1f} s)",
              file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------

@_signals.cli
def main(argv=None) -> int:
    parser = _Parser(
        prog="hmmrisk", formatter_class=_FORMAT,
        description="Risk of head tuning on a frozen encoder of a linear-Gaussian HMM "
                    "(the hmmrisk book).\nRun `python -m hmmrisk COMMAND --help` for the "
                    "options of each command.",
        epilog="examples:\n"
               "  python -m hmmrisk risk --n 100 --p 150 --d 50 --noise 0.5 --json\n"
               "  python -m hmmrisk figure 1 --out fig1.png\n"
               "  python -m hmmrisk sweep --n 100 --p 50:350:10 --d 50 --noise 0.5 --out sweep.csv")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                metavar="{risk,figure,sweep}")
    _risk_parser(sub)
    _figure_parser(sub)
    _sweep_parser(sub)
    args = parser.parse_args(argv)
    prog = f"hmmrisk {args.command}"
    saved = {k: os.environ.get(k) for k in (_resources.ENV_MEMORY, _resources.ENV_WORK)}
    try:
        for flag, env, sizes in (("--max-memory", _resources.ENV_MEMORY, True),
                                 ("--max-work", _resources.ENV_WORK, False)):
            value = getattr(args, flag[2:].replace("-", "_"))
            if value is not None:
                _resources.parse_amount(flag, value, sizes=sizes)     # one line naming the flag
                os.environ[env] = value                               # seen by worker processes too
            else:
                _resources.max_memory() if sizes else _resources.max_work()   # a bad env var
        with _resources.blas_single_thread():       # output independent of BLAS threads
            return args.func(args)
    except KeyboardInterrupt as exc:              # Ctrl-C or SIGTERM (exit status 130 / 143)
        word, code = _signals.status(exc)
        print(f"{prog}: {word}", file=sys.stderr)
        return code
    except _signals.WorkerLost as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"{prog}: error: out of memory (lower the sizes or --max-memory)", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{prog}: error: {exc.strerror or exc}"
              + (f": {exc.filename!r}" if exc.filename else ""), file=sys.stderr)
        return 2
    except Exception as exc:                      # a bug: still one line, exit 1
        print(f"{prog}: internal error: {type(exc).__name__}: {_one_line(exc)} "
              f"(please report it)", file=sys.stderr)
        return 1
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _one_line(exc) -> str:
    return " ".join(str(exc).split())

