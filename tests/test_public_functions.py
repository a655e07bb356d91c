"""One generated bad-input test over every public function (after scikit-learn's
``sklearn/tests/test_public_functions.py``).

Each public function of the numpy modules has one valid call below
(:data:`VALID`); the test substitutes, one at a time, every bad value of
:data:`BAD` for every parameter of that name the function takes and requires
a ``ValueError`` that names the parameter.  Parameters declared with
:func:`hmmrisk._validate.validate` also get the bad values of their declared
constraint (``Constraint.bad_values``), so a newly declared parameter is
tested without a new row here.  A public function without a valid
call here fails :func:`test_every_public_function_is_covered`, so a new
function cannot skip its input checks.  ``tests/test_validation.py`` keeps
the hand-written rows this cannot generate (shapes, types of objects, rows
that depend on other arguments).
"""

import importlib
import inspect
import math

import numpy as np
import pytest

import hmmrisk as hr
from hmmrisk import _validate as v
from hmmrisk._validate import constraints_of

NAN, INF = math.nan, math.inf
MODULES = ["hmmrisk.hmm", "hmmrisk.population", "hmmrisk.head", "hmmrisk.risk", "hmmrisk.theory",
           "hmmrisk.curves", "hmmrisk.plotting", "hmmrisk.finite_n", "hmmrisk.sweet_spot",
           "hmmrisk.trajectory", "hmmrisk.sweep", "hmmrisk.figure_data"]

#: Bad values by parameter name: invalid for every function that takes it.
BAD = {
    "n": [0, -1, "3", NAN, INF, None],
    "p": [0, -1, "3", NAN, INF, None],
    "d": [0, -1, 2.5, "3", NAN, INF, None],
    "noise": [-0.1, 1.1, NAN, INF, "0.5", None],
    "snr": [0, -1.0, NAN, INF, "1", None],
    "reps": [-1, 0, 2.5, "3", NAN],
    "ridge": [-1.0, NAN, INF, "0"],
    "rng": [-1, 1.5, "a", [1]],
    "embedding": ["fourier", None, 3],
    "method": ["exact", None, 3],
    "under": ["x", None, 3, ["exact"]],
    "refine": [0, -1, 2.5, "3", NAN, None],
    "gamma": [0, -1.0, NAN, INF, "1"],
    "psi": [0, -1.0, NAN, INF, "1"],
    "irreducible": [-1.0, NAN, INF, "1"],
    "n_eff": [1.0, 0.5, -1, NAN, INF, "3"],
    "n_unit": [-1, 1.5, NAN, "2"],
    "eigvals": [[-1.0, 1.0], [NAN, 1.0], "x"],
}

#: Parameters whose value is one of a set: any other value is a ValueError.
OPTIONS = {"embedding", "method", "under"}

MODEL = hr.make_model(8, 3, 0.5, rng=0)
POP = hr.population(MODEL)
X6 = np.random.default_rng(0).standard_normal((6, 8))
EIG = np.linspace(0.5, 2.0, 30)
CURVE = hr.curves.risk_curve(10, 3, 0.5, [5, 20], reps=3, rng=0)

#: One valid call per public function: ``name -> kwargs`` (the function is looked up by name).
VALID = {
    "hmmrisk.hmm.haar_orthogonal": dict(d=3, rng=0),
    "hmmrisk.hmm.encoder_weights": dict(p=5, d=3, snr=1.0, embedding="orthogonal", rng=0),
    "hmmrisk.hmm.make_model": dict(p=5, d=3, noise=0.5, snr=1.0, embedding="orthogonal", rng=0),
    "hmmrisk.population.population": dict(model=MODEL),
    "hmmrisk.head.fit_head": dict(X=X6, Y=np.ones((6, 3)), ridge=0.1),
    "hmmrisk.head.spectral_filter": dict(s=np.ones(3), n=5, ridge=0.1),
    "hmmrisk.head.head_from_svd": dict(svd=np.linalg.svd(X6, full_matrices=False), Y=np.ones((6, 3)), ridge=0.1),
    "hmmrisk.risk.conditional_risk": dict(pop=POP, X=X6, ridge=0.1),
    "hmmrisk.risk.fitted_risk": dict(pop=POP, X=X6[None], Y=np.ones((1, 6, 3)), ridge=0.1, lemma1=True),
    "hmmrisk.risk.simulate_risk": dict(model=MODEL, n=10, reps=3, rng=0, ridge=0.1, method="conditional"),
    "hmmrisk.theory.theorem1": dict(n=40, p=10, irreducible=1.0),
    "hmmrisk.theory.solve_kappa": dict(eigvals=EIG, n=20, n_unit=0),
    "hmmrisk.theory.definition2": dict(eigvals=EIG, signal=EIG / 10, n=20, irreducible=1.0, n_unit=0),
    "hmmrisk.theory.definition3": dict(n=40, p=[10.0, 80.0], d=20, noise=0.5, snr=1.0, under="exact"),
    "hmmrisk.theory.definition3_proportional": dict(gamma=[0.5, 2.0], psi=0.5, noise=0.5, snr=1.0),
    "hmmrisk.theory.kappa_orthogonal": dict(n=40, p=80.0, d=20, snr=1.0),
    "hmmrisk.theory.large_p_limit": dict(n=40, d=20, noise=0.5, snr=1.0),
    "hmmrisk.theory.large_p_tau": dict(n=40, d=20, snr=1.0),
    "hmmrisk.theory.orthogonal_spectrum": dict(p=[10.0, 80.0], d=20, noise=0.5, snr=1.0),
    "hmmrisk.theory.predicted_curve": dict(pops=[POP], n=20),
    "hmmrisk.theory.predicted_risk": dict(pop=POP, n=20),
    "hmmrisk.theory.optimal_ridge": dict(n=40, p=[10.0, 80.0], d=20, noise=0.5, snr=1.0),
    "hmmrisk.theory.ridge_kappa": dict(eigvals=EIG, n=20, ridge=0.1, n_unit=0),
    "hmmrisk.theory.ridge_orthogonal": dict(n=40, p=[10.0, 80.0], d=20, noise=0.5, snr=1.0, ridge=0.1),
    "hmmrisk.theory.ridge_risk": dict(eigvals=EIG, signal=EIG / 10, n=20, irreducible=1.0, ridge=0.1,
                                      n_unit=0),
    "hmmrisk.curves.risk_curve": dict(n=10, d=3, noise=0.5, ps=[5, 20], snr=1.0, embedding="orthogonal",
                                      reps=2, rng=0, band=1, method="conditional"),
    "hmmrisk.curves.figure1_curves": dict(reps=2, ps=[50], noises=[0.5]),
    "hmmrisk.curves.figure2_curves": dict(reps=2, ps=[50], ns=[100]),
    "hmmrisk.finite_n.isotropic": dict(n=40, p=[10, 80], signal=0.5, irreducible=1.0),
    "hmmrisk.finite_n.isotropic_gap": dict(n=40, p=[10, 80], signal=0.5, irreducible=1.0),
    "hmmrisk.finite_n.leading_order": dict(gamma=0.5, signal=0.0, irreducible=1.0),
    "hmmrisk.finite_n.distance_for_gap": dict(eps=0.01, share=1.0),
    "hmmrisk.finite_n.measured_gap": dict(ns=[20], gamma=0.5, psi=0.5, noise=0.5, snr=1.0, reps=2, rng=0),
    "hmmrisk.sweet_spot.optimal_model_size": dict(n=40, d=20, noise=0.5, snr=1.0, n_grid=50),
    "hmmrisk.sweet_spot.phase_diagram": dict(n=40, d=20, noises=[0.2, 0.8], snrs=[0.5, 2.0], n_grid=50),
    "hmmrisk.sweet_spot.small_model_boundary": dict(n=40, d=20, snr=1.0),
    "hmmrisk.sweet_spot.total_risk_curve": dict(n=40, d=20, noise=0.5, snr=1.0, ps=[0.0, 10.0, 80.0]),
    "hmmrisk.sweet_spot.under_optimum": dict(n=40, d=20, noise=0.5, snr=1.0),
    "hmmrisk.sweet_spot.zero_sweet_spot_boundary": dict(n=40, d=20, snr=1.0),
    "hmmrisk.trajectory.aligned_model": dict(model=MODEL),
    "hmmrisk.trajectory.effective_sample_size": dict(model=MODEL, n=20),
    "hmmrisk.trajectory.lagged_covariances": dict(model=MODEL, k=2),
    "hmmrisk.trajectory.predicted_risk_neff": dict(n_eff=30.5, p=[10.0, 80.0], d=20, noise=0.5, snr=1.0),
    "hmmrisk.trajectory.sample_trajectory": dict(model=MODEL, n=10, rng=0, reps=2),
    "hmmrisk.trajectory.simulate_trajectory_risk": dict(model=MODEL, n=10, reps=2, rng=0, ridge=0.1),
    "hmmrisk.trajectory.variance_inflation": dict(model=MODEL, n=20),
    "hmmrisk.trajectory.variance_inflation_aligned": dict(n=20, p=[10.0, 40.0], d=5, noise=0.5, snr=1.0),
    "hmmrisk.sweep.grid_points": dict(grid=dict(n=10, p=5, d=3, noise=0.5)),
    "hmmrisk.sweep.point_seed": dict(rng=0, point=(10, 5, 3, 0.5, 1.0, "orthogonal")),
    "hmmrisk.sweep.run_point": dict(n=10, p=5, d=3, noise=0.5, snr=1.0, rng=0, reps=2, ridge=0.1),
    "hmmrisk.sweep.sweep": dict(grid=dict(n=10, p=5, d=3, noise=0.5), progress=False),
    "hmmrisk.sweep.theory_at": dict(n=10, p=5, d=3, noise=0.5, snr=1.0, embedding="orthogonal"),
    "hmmrisk.plotting.theory_line": dict(curve=CURVE, under="exact", refine=4),
    "hmmrisk.plotting.risk_figure": dict(curves={1: CURVE}, under="asymptotic"),
    "hmmrisk.figure_data.digest": dict(a=np.ones(2)),
    "hmmrisk.figure_data.record": dict(name="fig-x", a=np.ones(2)),
}

#: Public functions that take no numeric input to check (figures of checked results, contexts).
NOT_GENERATED = {"hmmrisk.plotting.figure1", "hmmrisk.plotting.figure2", "hmmrisk.plotting.new_figure",
                 "hmmrisk.plotting.phase_figure", "hmmrisk.plotting.style"}


def _public_functions():
    for modname in MODULES:
        module = importlib.import_module(modname)
        names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
        for name in names:
            obj = getattr(module, name)
            if inspect.isfunction(obj) and obj.__module__ in (modname, modname + ".paper",
                                                              modname + ".ridge"):
                yield f"{modname}.{name}", obj


PUBLIC = dict(_public_functions())


def _declared_bad(c):
    """Bad values of a declared constraint, derived from its kind and bounds."""
    if isinstance(c, v.OrNone):
        return [x for x in _declared_bad(c.constraint) if x is not None]
    if isinstance(c, v.Integer):
        return [c.min - 1, c.min - 2, c.min + 0.5, "3", NAN, INF, None, True] \
            + ([c.max + 1, 10**400] if c.max is not None else []) \
            + ([[c.min, c.min + 0.5]] if c.array else [[c.min]])
    if isinstance(c, v.Real):
        bad = [NAN, INF, "1", None, 10**400]
        if c.low is not None:
            bad += [c.low if c.low_open else c.low - 0.5, c.low - 1.0]
        if c.high is not None:
            bad += [c.high if c.high_open else c.high + 0.5]
        return bad + ([[1.0, NAN]] if c.array and (c.low is None or c.low <= 1.0) else
                      [] if c.array else [[0.5]])
    if isinstance(c, v.Options):
        return ["not-an-option", None, 3, [c.options[0]]]
    if c is v.SEED:
        return [-1, 1.5, "a", [1], True, np.random.RandomState(0)]
    return [-1, 1.5, "a", [1]]                       # RNG


def _bad_values(func, param):
    """The declared constraint's bad values, then the table's (each once)."""
    declared = constraints_of(func).get(param)
    values = (_declared_bad(declared) if declared else []) + BAD.get(param, [])
    seen, out = set(), []
    for x in values:
        key = (type(x).__name__, repr(x))
        if key not in seen:
            seen.add(key)
            out.append(x)
    return out


def _cases():
    for qualname in VALID:
        params = inspect.signature(PUBLIC[qualname]).parameters
        for param in params:
            for bad in _bad_values(PUBLIC[qualname], param):
                yield pytest.param(qualname, param, bad, id=f"{qualname.split('.')[-1]}-{param}-{bad!r}")


def test_declared_constraints_are_generated():
    """Every declared parameter of a covered function yields bad-input cases."""
    cases = {(q, p) for q, p, _ in (c.values for c in _cases())}
    declared = {(q, p) for q in VALID for p in constraints_of(PUBLIC[q])}
    assert declared, "no function declares its constraints"
    assert declared <= cases, sorted(declared - cases)


def test_every_public_function_is_covered():
    missing = set(PUBLIC) - set(VALID) - NOT_GENERATED
    assert not missing, f"public functions without a valid call in VALID: {sorted(missing)}"
    assert not set(VALID) - set(PUBLIC), sorted(set(VALID) - set(PUBLIC))


@pytest.mark.parametrize("qualname", sorted(VALID))
def test_the_valid_call_is_valid(qualname, tmp_path, monkeypatch):
    monkeypatch.delenv(hr.figure_data.ENV, raising=False)
    PUBLIC[qualname](**VALID[qualname])


@pytest.mark.parametrize("qualname, param, bad", list(_cases()))
def test_bad_input_raises_value_error_naming_the_parameter(qualname, param, bad):
    """A value of the wrong type is a TypeError, a value out of range a ValueError; both name it."""
    kwargs = dict(VALID[qualname], **{param: bad})
    options = isinstance(constraints_of(PUBLIC[qualname]).get(param), v.Options) or param in OPTIONS
    wrong_type = not options and (bad is None or isinstance(bad, (str, bool, np.random.RandomState)))
    with pytest.raises(TypeError if wrong_type else (TypeError, ValueError), match=param) as info:
        PUBLIC[qualname](**kwargs)
    if not wrong_type and not isinstance(bad, list):
        assert info.type is ValueError, (qualname, param, bad)
