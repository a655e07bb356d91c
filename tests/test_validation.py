"""Bad input fails at the call with a ValueError naming the parameter and value."""

import numpy as np
import pytest

import hmmrisk as hr

MODEL = hr.make_model(8, 3, 0.5, rng=0)
POP = hr.population(MODEL)


@pytest.mark.parametrize("call, name", [
    (lambda: hr.make_model(-1, 3, 0.5), "p"),
    (lambda: hr.make_model(0, 3, 0.5), "p"),
    (lambda: hr.make_model(5, 0, 0.5), "d"),
    (lambda: hr.make_model(5, 2.5, 0.5), "d"),
    (lambda: hr.make_model(5, 3, 1.2), "noise"),
    (lambda: hr.make_model(5, 3, -0.1), "noise"),
    (lambda: hr.make_model(5, 3, float("nan")), "noise"),
    (lambda: hr.make_model(5, 3, 0.5, snr=0.0), "snr"),
    (lambda: hr.make_model(5, 3, 0.5, snr=float("inf")), "snr"),
    (lambda: hr.make_model(5, 3, 0.5, embedding="fourier"), "embedding"),
    (lambda: hr.make_model(5, 3, 0.5, rng=-1), "seed"),
    (lambda: hr.make_model(5, 3, 0.5, rng="abc"), "seed"),
    (lambda: hr.encoder_weights(5, 3, snr=-1), "snr"),
    (lambda: hr.haar_orthogonal(0), "d"),
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
    with pytest.raises(ValueError, match=name):
        call()


def test_integral_floats_are_accepted():
    assert hr.make_model(5.0, 3, 0.5, rng=0).p == 5
