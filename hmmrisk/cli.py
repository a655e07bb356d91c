"""Command line: ``python -m hmmrisk {risk,figure,sweep,features} ...``.

``risk`` prints the excess risk of the least-squares head for one
``(n, p, d, sigma^2, snr)``: by default the theory (Theorem 1 for ``p < n``,
Definition 2 for ``p > n``), with ``--simulate`` a Monte Carlo estimate.
With ``--json`` it prints one JSON object with keys ``bias``, ``variance``,
``risk`` (excess, ``= bias + variance``), ``irreducible`` (``tr Sigma_r``),
``total`` and ``formula``, plus ``stderr`` and ``reps`` with ``--simulate``.
An infinite mean risk (at the interpolation threshold) is printed as ``null``
with ``formula = "threshold"``.

``figure {1,2,3} --out FILE`` regenerates a figure of the book with the very
functions its chapters call: Figures 1-2 (:ref:`ch-double-descent`) with
:func:`hmmrisk.curves.figure1_curves` / :func:`~hmmrisk.curves.figure2_curves`
and :func:`hmmrisk.plotting.figure1` / :func:`~hmmrisk.plotting.figure2`;
Figure 3 (:ref:`ch-transformer`) with :class:`hmmrisk.transformer.Protocol`,
:func:`hmmrisk.transformer.run` and :func:`hmmrisk.transformer.plot_figure3`.
Without overrides the figure is the book's.

``sweep`` evaluates theory and/or simulation over a grid of
``(n, p, d, sigma^2, snr)`` with :func:`hmmrisk.sweep.sweep` and writes CSV.

``features --x X.npy --y Y.npy --n N`` evaluates the same theory on the user's
own features (:func:`hmmrisk.population_from_data`, :ref:`ch-own-features`).

Bad arguments exit with status 2 and one line naming the argument, checked
before any computation: values out of range, output files that cannot be
written (checked by creating a file next to them), and work that does not fit
the resource caps.  A missing optional dependency (Figure 3 needs PyTorch) is
one line naming the extra that installs it, also status 2.  Every command estimates its peak memory and its
floating-point work first and refuses, naming the argument and the estimate,
more than ``--max-memory`` (default ``HMMRISK_MAX_MEMORY``, else 4 GiB) or
``--max-work`` (default ``HMMRISK_MAX_WORK``, else ``1e12`` operations); ``none``
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

from . import __version__, _resources, _signals
from ._blas import blas_single_thread
from ._io import atomic_write, check_writable
from .hmm import EMBEDDINGS, make_model
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
            "of the linear-Gaussian HMM at one (n, p, d, sigma^2, snr). Theory by default\n"
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
    p.add_argument("--snr", type=_arg_float, default=1.0, help="signal strength snr > 0 (default 1)")
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
    reps = 1000 if args.reps is None else args.reps
    if args.p >= 1 and args.d >= 1 and reps >= 2:
        fmt = _resources.fmt
        if args.simulate:
            _resources.require(f"--n {args.n} --p {fmt(args.p)} --d {fmt(args.d)} --reps {fmt(reps)}",
                               *_resources.sim_cost(args.n, args.p, args.d, reps))
        elif args.embedding != "orthogonal":
            _resources.require(f"--p {fmt(args.p)} --d {fmt(args.d)}",
                               *_resources.model_cost(args.p, args.d))
    if not args.simulate and args.embedding == "orthogonal":
        model = None                                # Definition 3 in closed form: nothing to draw
    else:
        model = make_model(args.p, args.d, args.noise, args.snr, args.embedding,
                           rng=np.random.default_rng(model_seed))
    if args.simulate:
        est = simulate_risk(model, args.n, reps=reps, rng=np.random.default_rng(sim_seed))
        return {"bias": est.bias, "variance": est.variance, "risk": est.risk,
                "irreducible": est.irreducible, "total": est.total,
                "stderr": est.stderr, "reps": est.reps, "formula": "simulation"}
    from .sweep import theory_at
    pred = theory_at(args.n, args.p, args.d, args.noise, args.snr, args.embedding, model)
    return {"bias": pred.bias, "variance": pred.variance, "risk": pred.risk,
            "irreducible": pred.irreducible, "total": pred.total, "formula": pred.formula}


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
                    help="Transformer widths p, increasing (book: 2,4,8,16,24,32,64,96,160)")
    g3.add_argument("--seeds", type=_ints, metavar="LIST", help="seeds of the experiment (book: 0:9)")
    g3.add_argument("--steps", type=_arg_int, help="pre-training steps (book: 150)")
    g3.add_argument("--warmup", type=_arg_int,
                    help="warm-up steps (book: 15; default with --steps: a tenth of --steps)")
    g3.add_argument("--n-train", type=_arg_int, help="training pairs of the head, n (book: 40)")
    g3.add_argument("--n-draws", type=_arg_int, help="training sets per seed (book: 2)")
    g3.add_argument("--n-test", type=_arg_int, help="test pairs (book: 1000)")
    g3.add_argument("--n-lm-test", type=_arg_int, help="sequences for the language-model test loss (book: 300)")
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

        pr = _protocol(args)                  # every option and Protocol field checked here
        cost = pr.estimate()
        _resources.require(f"figure 3 (about {cost['seconds']:.0f} s of one core)",
                           memory=cost["bytes"], work=cost["seconds"] * _resources.FLOPS_PER_SECOND)
        print(f"figure 3: about {cost['seconds'] / pr.n_workers:.0f} s on {pr.n_workers} "
              f"worker(s), {_resources.format_bytes(cost['bytes'])} of memory", file=sys.stderr)
        fig = f3.plot_figure3(f3.run(pr))     # SIGTERM, like Ctrl-C, ends its pool (_signals)
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
        "sweep", help="theory and/or simulation over a grid of (n, p, d, sigma^2, snr), as CSV",
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
                   help="signal strengths snr (each > 0; default 1)")
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


def _worker_init(memory: float, work: float) -> None:
    """Worker processes leave SIGINT to the parent, which ends them (no traceback per worker)."""
    _signals.worker_started()
    _resources.set_limits(memory, work)                # the parent's caps
    blas_single_thread().__enter__()      # for the worker's whole life


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

    from .sweep import _plan, _run

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
    reps = 200 if args.reps is None else args.reps
    if reps < 2:
        raise ValueError(f"reps must be an integer >= 2, got {reps}")
    workers = min(args.workers, _cpus())     # more would only wait (same output)
    tasks = _plan(grid, theory=args.theory, simulate=args.simulate, reps=reps, rng=_seed(args.seed),
                  band=args.band, method="conditional", workers=workers)
    progress = False if args.no_progress else None
    t0 = time.perf_counter()
    workers = min(workers, len(tasks))
    if workers > 1:
        ex = ProcessPoolExecutor(max_workers=workers, initializer=_worker_init,
                                 initargs=_resources._LIMITS.get())
        try:
            with _signals.held():       # fork every worker now, none interruptible before its init
                ex.submit(int)
            res = _run(tasks, ex, progress)
        except BrokenProcessPool:
            raise _signals.WorkerLost(_stop_pool(ex)) from None
        except BaseException:
            _stop_pool(ex)
            raise
        ex.shutdown()
    else:
        res = _run(tasks, None, progress)
    if args.out == "-":
        res.to_csv(sys.stdout)
    else:
        res.to_csv(args.out)             # atomic: the old file survives an interrupted write
        print(f"{len(res)} rows written to {args.out} ({time.perf_counter() - t0:.1f} s)",
              file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------
# features: the theory on the user's own features (hmmrisk.empirical)
# ---------------------------------------------------------------------------

def _features_parser(sub):
    p = sub.add_parser(
        "features", help="theory (and simulation) of the head on your own features X and targets Y",
        formatter_class=_FORMAT,
        description=(
            "Predicted excess risk of the least-squares (or ridge) head trained on n rows of your\n"
            "own features: the rows of X (N x p) and Y (N x d) are the population\n"
            "(hmmrisk.population_from_data; centred unless --no-center) and the theory is the\n"
            "book's on its covariance: Theorem 1 exact for rank < n - 1, infinite at the threshold,\n"
            "Definition 2 for rank > n, the ridge equivalent with --ridge. The rank of the\n"
            "covariance (constant or duplicate columns, p > N) is the effective dimension.\n"
            "--simulate also fits heads on n rows drawn without replacement from the sample.\n\n"
            "Files: .npy, .npz (the array --x-key / --y-key, or the only one) or .csv (numbers,\n"
            "optionally one header line); never unpickled. One n prints the result (--json: one\n"
            "object with bias, variance, risk = bias + variance, irreducible, total, formula);\n"
            "a list or range of n (e.g. 50:500:50) writes a CSV like `sweep` (to --out, atomic).\n"
            "Each n is simulated with its own seed, derived from --seed and n alone."),
        epilog="examples:\n"
               "  python -m hmmrisk features --x X.npy --y Y.npy --n 200 --json\n"
               "  python -m hmmrisk features --x feats.npz --x-key X --y feats.npz --y-key Y "
               "--n 20:400:20 --simulate --reps 100 --out curve.csv")
    p.add_argument("--x", required=True, metavar="FILE", help="features, an N x p array (.npy, .npz, .csv)")
    p.add_argument("--y", required=True, metavar="FILE", help="targets, an N x d array (.npy, .npz, .csv)")
    p.add_argument("--x-key", metavar="NAME", help="the array of an .npz --x (default: its only one)")
    p.add_argument("--y-key", metavar="NAME", help="the array of an .npz --y (default: its only one)")
    p.add_argument("--n", type=_ints, required=True, metavar="LIST",
                   help="training rows: one value or a list/range (each >= 2 and <= N)")
    p.add_argument("--ridge", type=_arg_float, default=0.0,
                   help="ridge penalty lam >= 0 (default 0: minimum-norm least squares)")
    p.add_argument("--no-center", action="store_true", help="raw second moments (default: centre the columns)")
    p.add_argument("--simulate", action="store_true", help="also simulate: heads fitted on drawn rows")
    p.add_argument("--reps", type=_arg_int, default=None,
                   help="training sets per n (default 200; needs --simulate)")
    p.add_argument("--seed", type=_arg_int, default=0, help="seed of the simulation (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON (an object for one n, a list for several)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="write the CSV to FILE (default: standard output)")
    _limits(p)
    p.set_defaults(func=_features_command)
    return p


_FEATURE_COLUMNS = ("n", "p", "rank", "ridge", "formula", "theory_bias", "theory_variance",
                    "theory_risk", "irreducible", "theory_total")
_SIM_COLUMNS = ("sim_risk", "sim_stderr", "sim_bias", "sim_variance", "sim_total", "sim_reps")


def _features(args) -> list:
    """The checks, in order (all before any work), then one row per n."""
    from . import empirical

    if args.reps is not None and not args.simulate:
        raise ValueError(f"--reps needs --simulate, got --reps {args.reps}")
    reps = 200 if args.reps is None else args.reps
    if reps < 2:
        raise ValueError(f"--reps must be an integer >= 2, got {reps}")
    if args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {args.seed}")
    if not (math.isfinite(args.ridge) and args.ridge >= 0):
        raise ValueError(f"--ridge must be a finite number >= 0, got {args.ridge}")
    if min(args.n) < 2:
        raise ValueError(f"--n must hold integers >= 2, got {min(args.n)}")
    if args.json and args.out is not None:
        raise ValueError("--json prints to standard output; --out writes CSV: use one of them")
    if args.out is not None and args.out != "-":
        check_writable(args.out, "--out")
    (rows, p), (rows_y, d) = (empirical.matrix_shape(f, k, name=flag, key_name=flag + "-key")
                              for f, k, flag in ((args.x, args.x_key, "--x"), (args.y, args.y_key, "--y")))
    mem, work = empirical.population_cost(rows, p, d)      # the loaded arrays come on top
    sim = [empirical.simulate_cost(n, min(p, rows), d, reps) for n in args.n] if args.simulate else []
    _resources.require(f"--x {args.x} ({rows} x {p}) and --y {args.y} (d = {d})"
                       + (f" with --reps {reps}" if args.simulate else ""),
                       memory=mem + 8.0 * rows * (p + d) + max((m for m, _ in sim), default=0.0),
                       work=work + sum(w for _, w in sim))
    X = empirical.load_matrix(args.x, args.x_key, name="--x", key_name="--x-key")
    Y = empirical.load_matrix(args.y, args.y_key, name="--y", key_name="--y-key")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"--x and --y must have the same number of rows, got {X.shape[0]} in "
                         f"{args.x} and {Y.shape[0]} in {args.y}")
    if max(args.n) > X.shape[0]:
        raise ValueError(f"--n {max(args.n)} exceeds the {X.shape[0]} rows of {args.x} "
                         f"(training sets are drawn from them)")
    try:
        pop = empirical.population_from_data(X, Y, center=not args.no_center)
    except TypeError as exc:
        raise ValueError(str(exc)) from None
    del X, Y
    curve = pop.predict_curve(args.n, ridge=args.ridge)
    out = []
    for i, n in enumerate(args.n):
        pred = curve[i]
        row = {"n": n, "p": pop.p, "rank": pop.rank, "ridge": args.ridge, "formula": pred.formula,
               "bias": pred.bias, "variance": pred.variance, "risk": pred.risk,
               "irreducible": pred.irreducible, "total": pred.total}
        if args.simulate:
            est = pop.simulate(n, reps, rng=np.random.default_rng([args.seed, n]), ridge=args.ridge)
            row.update(sim_risk=est.risk, sim_stderr=est.stderr, sim_bias=est.bias,
                       sim_variance=est.variance, sim_total=est.total, sim_reps=est.reps)
        out.append(row)
    return out


def _features_csv(rows, fh) -> None:
    import csv

    names = _FEATURE_COLUMNS + (_SIM_COLUMNS if "sim_risk" in rows[0] else ())
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        values = [row[c.removeprefix("theory_")] for c in names]
        writer.writerow([repr(v) if isinstance(v, float) else v for v in values])


def _features_command(args) -> int:
    rows = _features(args)
    if args.json:
        clean = [{k: _finite_or_none(v) for k, v in row.items()} for row in rows]
        print(json.dumps(clean[0] if len(clean) == 1 else clean, allow_nan=False))
    elif len(rows) == 1 and args.out is None:
        for key, value in rows[0].items():
            print(f"{key:>12}  {value:.6g}" if isinstance(value, float) else f"{key:>12}  {value}")
    elif args.out is None or args.out == "-":
        _features_csv(rows, sys.stdout)
    else:
        with atomic_write(args.out, "w", name="--out", newline="", encoding="utf-8") as fh:
            _features_csv(rows, fh)
        print(f"{len(rows)} rows written to {args.out}", file=sys.stderr)
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
               "  python -m hmmrisk sweep --n 100 --p 50:350:10 --d 50 --noise 0.5 --out sweep.csv\n"
               "  python -m hmmrisk features --x X.npy --y Y.npy --n 20:400:20 --out curve.csv")
    parser.add_argument("--version", action="version", version=f"hmmrisk {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser,
                                metavar="{risk,figure,sweep,features}")
    _risk_parser(sub)
    _figure_parser(sub)
    _sweep_parser(sub)
    _features_parser(sub)
    args = parser.parse_args(argv)
    prog = f"hmmrisk {args.command}"
    try:
        with _resources.limits(*_caps(args)), blas_single_thread():   # bits independent of BLAS threads
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
        if isinstance(exc, ModuleNotFoundError) and exc.name in _EXTRAS:   # not a bug
            what, extra = _EXTRAS[exc.name]
            print(f"{prog}: error: needs {what}, which is not installed; "
                  f"install it with pip install 'hmmrisk[{extra}]'", file=sys.stderr)
            return 2
        print(f"{prog}: internal error: {type(exc).__name__}: {_one_line(exc)} "
              f"(please report it)", file=sys.stderr)
        return 1


#: Environment variables giving the defaults of --max-memory and --max-work.
ENV_MEMORY, ENV_WORK = "HMMRISK_MAX_MEMORY", "HMMRISK_MAX_WORK"


def _caps(args) -> tuple[float, float]:
    """(bytes, operations) from --max-memory / --max-work, else the environment, else the defaults."""
    caps = []
    for flag, env, sizes, default in (("--max-memory", ENV_MEMORY, True, _resources.DEFAULT_MAX_MEMORY),
                                      ("--max-work", ENV_WORK, False, _resources.DEFAULT_MAX_WORK)):
        value, name = getattr(args, flag[2:].replace("-", "_")), flag
        if value is None:
            value, name = os.environ.get(env), env
        caps.append(default if value is None else _resources.parse_amount(name, value, sizes=sizes))
    return tuple(caps)


#: Optional dependencies: module -> (what it is, the extra of pyproject.toml installing it).
_EXTRAS = {"torch": ("PyTorch", "transformer")}


def _one_line(exc) -> str:
    return " ".join(str(exc).split())

