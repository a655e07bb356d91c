"""Command line: ``python -m hmmrisk risk ...``.

``risk`` prints the excess risk of the least-squares head for one
``(n, p, d, sigma^2, rho)``: by default the theory (Theorem 1 for ``p < n``,
Definition 2 for ``p > n``), with ``--simulate`` a Monte Carlo estimate.
With ``--json`` it prints one JSON object with keys ``bias``, ``variance``,
``risk`` (excess, ``= bias + variance``), ``irreducible`` (``tr Sigma_r``),
``total`` and ``source``, plus ``stderr`` and ``reps`` with ``--simulate``.
An infinite mean risk (at the interpolation threshold) is printed as ``null``
with ``source = "threshold"``.

Bad arguments exit with status 2 and one line naming the argument.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from .hmm import EMBEDDINGS, make_model
from .population import population
from .risk import simulate_risk


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _risk_parser(sub):
    p = sub.add_parser(
        "risk", help="excess risk of the least-squares head (theory or simulation)",
        description="Excess next-token risk of the minimum-norm least-squares head on a frozen "
                    "encoder of the linear-Gaussian HMM. Theory by default (Theorem 1 for p < n, "
                    "Definition 2 for p > n); --simulate for a Monte Carlo estimate.",
        epilog="example: python -m hmmrisk risk --n 100 --p 150 --d 50 --noise 0.5 --simulate --json")
    p.add_argument("--n", type=int, required=True, help="training pairs (>= 2)")
    p.add_argument("--p", type=int, required=True, help="model size: dimension of the representation (>= 1)")
    p.add_argument("--d", type=int, required=True, help="dimension of the latent token (>= 1)")
    p.add_argument("--noise", type=float, required=True, help="HMM noise variance sigma^2 in [0, 1]")
    p.add_argument("--snr", type=float, default=1.0, help="signal strength rho > 0 (default 1)")
    p.add_argument("--embedding", choices=EMBEDDINGS, default="orthogonal",
                   help="encoder weights (default orthogonal)")
    p.add_argument("--simulate", action="store_true", help="Monte Carlo over training sets instead of theory")
    p.add_argument("--reps", type=int, default=None, help="training sets to simulate (default 1000; needs --simulate)")
    p.add_argument("--seed", type=int, default=0, help="seed of the encoder, the HMM and the simulation (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def _risk(args) -> dict:
    if args.reps is not None and not args.simulate:
        raise ValueError(f"--reps needs --simulate, got --reps {args.reps}")
    if args.seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {args.seed}")
    model_seed, sim_seed = np.random.SeedSequence(args.seed).spawn(2)
    if args.n < 2:
        raise ValueError(f"n must be an integer >= 2, got {args.n}")
    model = make_model(args.p, args.d, args.noise, args.snr, args.embedding,
                       rng=np.random.default_rng(model_seed))
    if args.simulate:
        reps = 1000 if args.reps is None else args.reps
        est = simulate_risk(model, args.n, reps=reps, seed=np.random.default_rng(sim_seed))
        return {"bias": est.bias, "variance": est.variance, "risk": est.risk,
                "irreducible": est.irreducible, "total": est.total,
                "stderr": est.stderr, "reps": est.reps, "source": "simulation"}
    from .theory import predicted_risk
    pred = predicted_risk(population(model), args.n)
    return {"bias": pred.bias, "variance": pred.variance, "risk": pred.risk,
            "irreducible": pred.irreducible, "total": pred.total, "source": pred.formula}


def _finite_or_none(value):
    return value if not (isinstance(value, float) and math.isinf(value)) else None


def main(argv=None) -> int:
    parser = _Parser(prog="hmmrisk", description="Risk of head tuning on a frozen encoder of an HMM.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _risk_parser(sub)
    args = parser.parse_args(argv)
    try:
        result = _risk(args)
    except ValueError as exc:
        print(f"hmmrisk {args.command}: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({k: _finite_or_none(v) for k, v in result.items()}, allow_nan=False))
    else:
        for key, value in result.items():
            print(f"{key:>12}  {value:.6g}" if isinstance(value, float) else f"{key:>12}  {value}")
    return 0
