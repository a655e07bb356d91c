"""One theory path: the API, ``hmmrisk risk --json`` and ``hmmrisk sweep`` give the same bits."""

import contextlib
import io
import json
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from hmmrisk import theory
from hmmrisk.cli import main
from hmmrisk.sweep import SweepResult

FIELDS = ("bias", "variance", "risk", "irreducible", "total")


def _bits(x):
    return struct.pack("<d", float("inf") if x is None else x)


def _run(argv) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0
    return out.getvalue()


def _point_args(n, p, d, noise, snr):
    return ["--n", str(n), "--p", str(p), "--d", str(d), "--noise", repr(noise), "--snr", repr(snr)]


def _check(n, p, d, noise, snr):
    api = theory.definition3(n, p, d, noise, snr)
    cli = json.loads(_run(["risk", *_point_args(n, p, d, noise, snr), "--json"]))
    row = SweepResult.from_csv(io.StringIO(_run(["sweep", *_point_args(n, p, d, noise, snr),
                                                 "--no-progress"]))).rows[0]
    assert cli["formula"] == row["formula"] == api.formula
    for f in FIELDS:
        want = _bits(getattr(api, f))
        assert _bits(cli[f]) == want, (f, cli[f], getattr(api, f))
        assert _bits(row[f if f == "irreducible" else "theory_" + f]) == want, (f, row)


def test_the_issue_point_is_one_number():
    _check(100, 150, 50, 0.5, 1.0)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 400), p=st.integers(1, 800), d=st.integers(1, 120),
       noise=st.floats(0.0, 1.0), snr=st.floats(1e-3, 1e3))
def test_api_risk_and_sweep_agree_bitwise(n, p, d, noise, snr):
    _check(n, p, d, noise, snr)
