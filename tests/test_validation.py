"""Bad input fails at the call naming the parameter: TypeError for a wrong type, ValueError for a wrong value."""

import numpy as np
import pytest

import hmmrisk as hr
from hmmrisk import _validate as check

MODEL = hr.make_model(8, 3, 0.5, rng=0)
POP = hr.population(MODEL)


@pytest.mark.parametrize("call, name", [
    # make_model, encoder_weights, haar_orthogonal: generated from their declared
    # constraints in tests/test_public_functions.py
    (lambda: MODEL.sample(0), "n"),
    (lambda: MODEL.sample(5, reps=0), "reps"),
    (lambda: hr.simulate_risk(MODEL, 1), "n"),
    (lambda: hr.simulate_risk(MODEL, 10, reps=1), "reps"),
    (lambda: hr.simulate_risk(MODEL, 10, ridge=-1.0), "ridge"),
    (lambda: hr.simulate_risk(MODEL, 10, ridge=float("nan")), "ridge"),
    (lambda: hr.simulate_risk(MODEL, 10, method="exact"), "method"),
    (lambda: hr.simulate_risk("model", 10), "model"),
    (lambda: hr.population("model"), "model"),
    (lambda: hr.conditional_risk(POP, np.ones((5, 7))), "X"),
    (lambda: hr.conditional_risk(POP, np.ones((1, 8))), "n"),
    (lambda: hr.conditional_risk(POP, np.full((5, 8), np.nan)), "X"),
    (lambda: hr.conditional_risk(MODEL, np.ones((5, 8))), "pop"),
    (lambda: hr.fit_head(np.ones((5, 8)), np.ones((4, 2))), "Y"),
    (lambda: hr.fit_head(np.ones((5, 8)), np.full((5, 2), np.inf)), "Y"),
    (lambda: hr.fit_head(np.ones(5), np.ones(5)), "X"),
    (lambda: POP.excess_risk(np.ones((3, 3))), "B_hat"),
    (lambda: hr.HeadTuningModel(A=np.eye(3), W=np.ones((4, 3)), noise=0.5), "A"),
    (lambda: hr.HeadTuningModel(A=np.eye(3), W=np.ones((4, 2)), noise=0.0), "W"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises((TypeError, ValueError), match=name):
        call()


def test_integral_floats_are_accepted():
    assert hr.make_model(5.0, 3, 0.5, rng=0).p == 5


# ---------------------------------------------------------------------------
# Audit table: every public function of the numpy modules x each kind of bad
# input that applies to it.  Each row is (call, parameter name); the
# ValueError must name the parameter.
# ---------------------------------------------------------------------------

from hmmrisk import curves, head, plotting  # noqa: E402
from hmmrisk.transformer import hmm as dh  # noqa: E402

NAN, INF = float("nan"), float("inf")
X6 = np.random.default_rng(0).standard_normal((6, 8))
Y6 = np.ones((6, 3))
CURVE = curves.risk_curve(10, 3, 0.5, [5, 20], reps=3, rng=0)
HMM = dh.random_sparse_hmm(4, 6, rng=0)
TOKENS = dh.sample(HMM, 5, 7, rng=0)
SIZES = [-1, 0, 2.5, "3", None, NAN, INF]           # bad values of an integer size >= 1


def _size_rows():
    for v in SIZES:
        yield (lambda v=v: MODEL.sample(v)), "n"
        yield (lambda v=v: MODEL.sample_tokens(v)), "n"
        yield (lambda v=v: hr.simulate_risk(MODEL, v, reps=5)), "n"
        yield (lambda v=v: hr.simulate_risk(MODEL, 10, reps=v)), "reps"
        yield (lambda v=v: head.spectral_filter(np.ones(3), v, 0.0)), "n"
        yield (lambda v=v: dh.random_sparse_hmm(v, 6)), "n_states"
        yield (lambda v=v: dh.random_sparse_hmm(4, v)), "n_tokens"
        yield (lambda v=v: dh.sample(HMM, v, 5)), "n_sequences"
        yield (lambda v=v: dh.sample(HMM, 3, v)), "length"
        yield (lambda v=v: dh.marginal_distribution(HMM, v)), "position"
    for v in [v for v in SIZES if v is not None]:       # None means "the default" here
        yield (lambda v=v: MODEL.sample(3, reps=v)), "reps"
    for v in (1, 1.0):                                 # n >= 2 where a variance needs it
        yield (lambda v=v: hr.simulate_risk(MODEL, v)), "n"
        yield (lambda v=v: hr.simulate_risk(MODEL, 10, reps=v)), "reps"
    # risk_curve's scalar arguments are declared (@validate): tests/test_public_functions.py


def _real_rows():
    for v in (-0.1, 1.1, NAN, INF, "0.5", None, [0.5]):
        yield (lambda v=v: hr.HeadTuningModel(A=MODEL.A, W=MODEL.W, noise=v)), "noise"
    for v in (-1.0, NAN, INF, "0", None):
        yield (lambda v=v: hr.fit_head(X6, Y6, v)), "ridge"
        yield (lambda v=v: hr.conditional_risk(POP, X6, v)), "ridge"
        yield (lambda v=v: hr.simulate_risk(MODEL, 10, reps=5, ridge=v)), "ridge"
        yield (lambda v=v: head.spectral_filter(np.ones(3), 5, v)), "ridge"
    for v in (0, -1.0, NAN):
        yield (lambda v=v: dh.random_sparse_hmm(4, 6, concentration=v)), "concentration"


def _choice_and_seed_rows():
    for v in ("exact", ["fit"], None):
        yield (lambda v=v: hr.simulate_risk(MODEL, 10, reps=5, method=v)), "method"
    # plotting's under= and refine= are declared (@validate): tests/test_public_functions.py
    for v in ("x", ["all"]):
        yield (lambda v=v: dh.bayes_loss(HMM, TOKENS, positions=v)), "positions"
    for v in (-1, 1.5, "a", [1]):
        yield (lambda v=v: MODEL.sample(3, rng=v)), "rng"
        yield (lambda v=v: hr.simulate_risk(MODEL, 10, reps=5, rng=v)), "rng"
        yield (lambda v=v: dh.random_sparse_hmm(4, 6, rng=v)), "rng"
    for v in (-1, 1.5):
        yield (lambda v=v: curves.figure1_curves(reps=3, ps=[50], rng=v)), "rng"


def _array_rows():
    # NaN / inf entries
    yield (lambda: hr.HeadTuningModel(A=np.full((3, 3), NAN), W=MODEL.W, noise=0.5)), "A"
    yield (lambda: hr.HeadTuningModel(A=MODEL.A, W=np.full((8, 3), INF), noise=0.5)), "W"
    yield (lambda: POP.excess_risk(np.full((8, 3), NAN))), "B_hat"
    yield (lambda: hr.fit_head(np.full((6, 8), NAN), Y6)), "X"
    yield (lambda: hr.conditional_risk(POP, np.full((6, 8), INF))), "X"
    yield (lambda: head.spectral_filter(np.array([NAN, 1.0]), 5, 0.0)), "s"
    yield (lambda: hr.Population(W=np.full((8, 3), NAN), eigvals=POP.eigvals,
                                 eigvecs=POP.eigvecs, signal=POP.signal, B_star=POP.B_star,
                                 Sigma_r=POP.Sigma_r)), "W"
    yield (lambda: dh.stationary_distribution(np.full((2, 2), NAN))), "transition"
    # wrong shapes / empty
    yield (lambda: hr.HeadTuningModel(A=np.ones(3), W=MODEL.W, noise=0.5)), "A"
    yield (lambda: hr.HeadTuningModel(A=np.ones((3, 2)), W=MODEL.W, noise=0.5)), "A"
    yield (lambda: hr.HeadTuningModel(A=np.zeros((0, 0)), W=np.zeros((0, 0)), noise=1.0)), "A"
    yield (lambda: hr.HeadTuningModel(A=MODEL.A, W=np.zeros((0, 3)), noise=0.5)), "W"
    yield (lambda: POP.excess_risk(np.ones(3))), "B_hat"
    yield (lambda: hr.fit_head(np.ones((6, 0)), Y6)), "X"
    yield (lambda: hr.fit_head(X6, np.ones((6, 0)))), "Y"
    yield (lambda: hr.fit_head(X6, np.ones(6))), "Y"
    yield (lambda: hr.fit_head(np.ones((2, 6, 8)), np.ones((3, 6, 3)))), "Y"
    yield (lambda: hr.conditional_risk(POP, np.ones(8))), "X"
    yield (lambda: hr.conditional_risk(POP, np.ones((0, 8)))), "n"
    yield (lambda: head.spectral_filter(np.array([]), 5, 0.0)), "s"
    yield (lambda: head.spectral_filter(np.array([-1.0, 1.0]), 5, 0.0)), "s"
    for field, bad in (("eigvals", np.ones(7)), ("eigvals", np.array([0.5, 2.0, 3.0])),
                       ("eigvecs", np.ones((8, 2))), ("signal", -POP.signal),
                       ("B_star", np.ones((3, 8))), ("Sigma_r", np.ones(3))):
        kw = dict(W=POP.W, eigvals=POP.eigvals, eigvecs=POP.eigvecs, signal=POP.signal,
                  B_star=POP.B_star, Sigma_r=POP.Sigma_r)
        kw[field] = bad
        yield (lambda kw=kw: hr.Population(**kw)), field
    yield (lambda: hr.RiskEstimate(risks=np.ones(3), biases=np.ones(2), variances=np.ones(3),
                                   irreducible=1.0)), "risks"
    yield (lambda: hr.RiskEstimate(risks=np.ones(3), biases=np.ones(3), variances=np.ones(3),
                                   irreducible=-1.0)), "irreducible"
    yield (lambda: hr.RiskEstimate(risks=np.ones(0), biases=np.ones(0), variances=np.ones(0),
                                   irreducible=1.0)), "risks"
    for ps in ([], [0], [2.5], [5, 5], "abc", None, [[5, 6]], [NAN], [5, "a"]):
        yield (lambda ps=ps: curves.risk_curve(10, 3, 0.5, ps, reps=3)), "ps"
    yield (lambda: curves.figure1_curves(reps=3, ps=[])), "ps"
    yield (lambda: dh.forward_filter(HMM, TOKENS.astype(float))), "tokens"
    yield (lambda: dh.forward_filter(HMM, TOKENS[0])), "tokens"
    yield (lambda: dh.forward_filter(HMM, TOKENS + 10)), "tokens"
    yield (lambda: dh.forward_filter(HMM, np.zeros((0, 3), int))), "tokens"
    yield (lambda: dh.bayes_loss(HMM, TOKENS[:, :1])), "tokens"
    yield (lambda: dh.marginal_loss(HMM, TOKENS.astype(float))), "tokens"
    yield (lambda: dh.stationary_distribution(np.ones((2, 3)) / 3)), "transition"
    yield (lambda: dh.DiscreteHMM(np.array([1.5, -0.5]), np.eye(2), np.eye(2))), "initial"
    yield (lambda: dh.DiscreteHMM(np.array([0.5, 0.5]), np.eye(2), np.array([1.0, 0.0]))), "emission"


def _type_rows():
    # the wrong kind of object where a model / population / curve is needed
    for v in ([MODEL], POP, "model", None):
        yield (lambda v=v: hr.population(v)), "model"
        yield (lambda v=v: hr.simulate_risk(v, 10)), "model"
    for v in ([POP], MODEL, None):
        yield (lambda v=v: hr.conditional_risk(v, X6)), "pop"
    for v in ([CURVE], None, {1: CURVE}):
        yield (lambda v=v: plotting.theory_line(v)), "curve"
    for v in ([CURVE], {}, {1: 3}, None):
        yield (lambda v=v: plotting.risk_figure(v)), "curves"
        yield (lambda v=v: plotting.figure1(v)), "curves"
        yield (lambda v=v: plotting.figure2(v)), "curves"
    for v in (["a"], {2: "a"}):
        yield (lambda v=v: plotting.risk_figure({1: CURVE}, labels=v)), "labels"
    for v in ((-1, 2), "ab", (1.0,), (NAN, 3)):
        yield (lambda v=v: plotting.risk_figure({1: CURVE}, figsize=v)), "figsize"
    for v in ("yes", 2, None):
        yield (lambda v=v: CURVE.max_relative_deviation(total=v)), "total"
    for v in (-1, 2.5, "a"):
        yield (lambda v=v: CURVE.max_relative_deviation(outside=v)), "outside"
    for v in ([HMM], "h", None):
        yield (lambda v=v: dh.sample(v, 3, 5)), "hmm"
        yield (lambda v=v: dh.forward_filter(v, TOKENS)), "hmm"
        yield (lambda v=v: dh.marginal_loss(v)), "hmm"
    yield (lambda: dh.sample(HMM, 3, 5, return_states=1)), "return_states"


AUDIT = [*_size_rows(), *_real_rows(), *_choice_and_seed_rows(), *_array_rows(), *_type_rows()]


@pytest.mark.parametrize("call, name", AUDIT)
def test_audit_bad_input_names_the_parameter(call, name):
    with pytest.raises((TypeError, ValueError), match=name):
        call()


# A bool is not a size, and a string or complex array is not an array of reals: TypeError.
@pytest.mark.parametrize("call, name", [
    (lambda: hr.make_model(True, 3, 0.5), "p"),
    (lambda: MODEL.sample(3, reps=True), "reps"),
    (lambda: curves.risk_curve(10, 3, 0.5, [True], reps=3), "ps"),
    (lambda: dh.sample(HMM, True, 5), "n_sequences"),
    (lambda: hr.fit_head("abc", Y6), "X"),
    (lambda: hr.HeadTuningModel(A=MODEL.A + 0j, W=MODEL.W, noise=0.5), "A"),
])
def test_bool_sizes_and_non_real_arrays_are_rejected(call, name):
    with pytest.raises(TypeError, match=name):
        call()


def test_population_constructor_accepts_what_population_builds():
    again = hr.Population(W=POP.W, eigvals=POP.eigvals, eigvecs=POP.eigvecs, signal=POP.signal,
                          B_star=POP.B_star, Sigma_r=POP.Sigma_r)
    assert again.irreducible == POP.irreducible


def test_spectral_filter_public_route_matches_the_head():
    # the checked public filter gives the same head as fit_head's internal route
    U, s, Vt = np.linalg.svd(X6, full_matrices=False)
    B = Vt.T @ (head.spectral_filter(s, 6, 0.3)[:, None] * (U.T @ Y6))
    np.testing.assert_allclose(B, hr.fit_head(X6, Y6, ridge=0.3), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("value, kwargs", [
    ([1.0, np.nan], {}), ([], {}), ("3", {}), (True, {}), ([0.5, 2.0], dict(high=1.0)),
    (0.0, dict(low=0.0, low_open=True)), ([1, 2], dict(high=2, high_open=True)),
])
def test_real_array_names_the_parameter(value, kwargs):
    wrong_type = isinstance(value, (str, bool))
    with pytest.raises(TypeError if wrong_type else ValueError, match="^gamma "):
        check.real_array("gamma", value, **kwargs)


def test_real_and_integer_arrays_accept_good_input():
    np.testing.assert_array_equal(check.real_array("x", [[0.0, 1.5]], low=0.0, high=1.5), [[0.0, 1.5]])
    out = check.integer_array("n", [2.0, 7], minimum=2)
    assert out.dtype == np.int64 and out.tolist() == [2, 7]
    with pytest.raises(ValueError, match="n must hold integers"):
        check.integer_array("n", [2.5], minimum=2)
    with pytest.raises(ValueError, match="^n "):
        check.integer_array("n", [1], minimum=2)


# ---------------------------------------------------------------------------
# Out-of-range magnitudes: a ValueError naming the argument, never OverflowError,
# a wrapped integer, a leaked warning or a NaN / inf result
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("call, name", [
    (lambda: hr.make_model(10**400, 5, 0.5), "p = 1e\\+400"),
    (lambda: hr.make_model(20, 1e300, 0.5), "d = 1e\\+300"),
    (lambda: hr.simulate_risk(MODEL, 2**63, reps=5), "n must be an integer in \\[2, 9.01e\\+15\\], got 9.22e\\+18"),
    (lambda: hr.simulate_risk(MODEL, 10, reps=10**400), "reps .* got 1e\\+400"),
    (lambda: MODEL.sample(2**63), "n must"),
    (lambda: hr.theory.definition3(n=[3], p=2, d=2, noise=0.5), "n must be a scalar"),
    (lambda: hr.theory.definition3(100, 10**400, 50, 0.5), "p must"),
    (lambda: hr.fit_head(X6 * 1e-310, Y6), "X is out of the floating-point range"),
    (lambda: hr.conditional_risk(POP, X6 * 1e-310), "X is out of the floating-point range"),
    (lambda: hr.conditional_risk(POP, X6 * 1e-300), "X is out of the floating-point range"),
    (lambda: POP.excess_risk(np.full((8, 3), 1e200)), "B_hat is out of the floating-point range"),
])
def test_extreme_magnitudes_raise_value_error(call, name):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=name):
            call()


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="X must be a real number or an array"):
        hr.fit_head(None, Y6)
    with pytest.raises(TypeError, match="n must be an integer"):
        hr.simulate_risk(MODEL, "10")
    with pytest.raises(TypeError, match="rng"):
        hr.make_model(5, 3, 0.5, rng=np.random.RandomState(0))


def test_tiny_but_normal_inputs_keep_their_exact_scaling():
    """The head scales as 1/c and Lemma 1's bias is scale-free: no false alarm at c = 1e-150."""
    c = 1e-150
    np.testing.assert_allclose(hr.fit_head(X6 * c, Y6) * c, hr.fit_head(X6, Y6), rtol=1e-10)
    b0, _ = hr.conditional_risk(POP, X6)
    b1, _ = hr.conditional_risk(POP, X6 * 1e-100)
    assert b1 == pytest.approx(b0, rel=1e-10)


def test_cli_huge_n_is_not_wrapped(capsys):
    from hmmrisk.cli import main

    assert main(["risk", "--n", str(10**30), "--p", "150", "--d", "50", "--noise", "0.5",
                 "--simulate"]) == 2
    err = capsys.readouterr().err
    assert "got 1e+30" in err and "-9.22e" not in err and err.count("\n") == 1
