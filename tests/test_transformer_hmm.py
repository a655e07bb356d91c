"""Tests for hmmrisk.transformer.hmm: structure, sampler frequencies, exact filter."""

import itertools

import numpy as np
import pytest

from hmmrisk.transformer import hmm as dh


def tiny_hmm():
    """A 3-state, 3-token HMM with a non-stationary start (exercises every term)."""
    return dh.DiscreteHMM(
        initial=np.array([0.5, 0.3, 0.2]),
        transition=np.array([[0.1, 0.6, 0.3], [0.4, 0.4, 0.2], [0.25, 0.25, 0.5]]),
        emission=np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]]),
    )


def brute_force_joint(hmm, tokens):
    """P(x_1..x_T) by summing over every hidden path (no recursion)."""
    k = hmm.n_states
    total = 0.0
    for path in itertools.product(range(k), repeat=len(tokens)):
        p = hmm.initial[path[0]] * hmm.emission[path[0], tokens[0]]
        for t in range(1, len(tokens)):
            p *= hmm.transition[path[t - 1], path[t]] * hmm.emission[path[t], tokens[t]]
        total += p
    return total


# ----------------------------------------------------------------------------- builder

def test_random_sparse_hmm_structure():
    k, v, ns, ne = 8, 16, 3, 3
    hmm = dh.random_sparse_hmm(k, v, n_successors=ns, n_emissions=ne, rng=4)
    a, e = hmm.transition, hmm.emission
    np.testing.assert_allclose(a.sum(1), 1.0, atol=1e-12)
    np.testing.assert_allclose(e.sum(1), 1.0, atol=1e-12)
    assert np.all((a > 0).sum(1) == ns)
    assert np.all((e > 0).sum(1) == ne)
    assert all(a[i, (i + 1) % k] > 0 for i in range(k))   # the ring i -> i+1 is always there
    assert np.all((e > 0).any(0))                          # every token is emitted
    np.testing.assert_allclose(hmm.initial @ a, hmm.initial, atol=1e-12)   # stationary start
    assert np.all(hmm.initial > 0)


def test_random_sparse_hmm_is_seeded():
    h1 = dh.random_sparse_hmm(rng=3)
    h2 = dh.random_sparse_hmm(rng=np.random.default_rng(3))
    h3 = dh.random_sparse_hmm(rng=4)
    np.testing.assert_array_equal(h1.transition, h2.transition)
    np.testing.assert_array_equal(h1.emission, h2.emission)
    assert not np.array_equal(h1.transition, h3.transition)


def test_stationary_distribution_matches_power_iteration():
    a = tiny_hmm().transition
    pi = dh.stationary_distribution(a)
    np.testing.assert_allclose(pi, np.linalg.matrix_power(a, 200)[0], atol=1e-12)


# ----------------------------------------------------------------------------- sampler

def test_sampler_frequencies_match_matrices():
    """Empirical initial / transition / emission frequencies within 5 binomial SEs."""
    hmm = tiny_hmm()
    tokens, states = dh.sample(hmm, 20000, 6, rng=0, return_states=True)
    assert tokens.shape == states.shape == (20000, 6)

    def check(counts_from, counts_to, probs):
        n_from = counts_from[:, None]
        freq = counts_to / n_from
        se = np.sqrt(probs * (1 - probs) / n_from)
        assert np.all(np.abs(freq - probs) <= 5 * se + 1e-12), (freq, probs)

    k, v = hmm.n_states, hmm.n_tokens
    n0 = np.bincount(states[:, 0], minlength=k)
    check(np.array([n0.sum()]), n0[None, :], hmm.initial[None, :])
    trans = np.zeros((k, k))
    np.add.at(trans, (states[:, :-1].ravel(), states[:, 1:].ravel()), 1)
    check(trans.sum(1), trans, hmm.transition)
    emit = np.zeros((k, v))
    np.add.at(emit, (states.ravel(), tokens.ravel()), 1)
    check(emit.sum(1), emit, hmm.emission)


def test_sampler_respects_sparsity_and_seed():
    hmm = dh.random_sparse_hmm(rng=1)
    tokens, states = dh.sample(hmm, 500, 20, rng=7, return_states=True)
    assert np.all(hmm.transition[states[:, :-1], states[:, 1:]] > 0)
    assert np.all(hmm.emission[states, tokens] > 0)
    np.testing.assert_array_equal(tokens, dh.sample(hmm, 500, 20, rng=7))


# ----------------------------------------------------------------------------- filter

def test_forward_filter_equals_brute_force():
    hmm = tiny_hmm()
    seqs = np.array(list(itertools.product(range(3), repeat=4)))     # all 81 sequences
    pred = dh.forward_filter(hmm, seqs)
    assert pred.shape == (81, 5, 3)
    np.testing.assert_allclose(pred.sum(-1), 1.0, atol=1e-12)
    for i, x in enumerate(seqs):
        for t in range(5):
            prev = brute_force_joint(hmm, x[:t]) if t else 1.0
            for v in range(3):
                joint = brute_force_joint(hmm, list(x[:t]) + [v])
                assert pred[i, t, v] == pytest.approx(joint / prev, rel=1e-10)


def test_bayes_loss_equals_brute_force():
    hmm = tiny_hmm()
    seqs = dh.sample(hmm, 30, 4, rng=2)
    logp_all, logp_last = [], []
    for x in seqs:
        joints = [brute_force_joint(hmm, x[:t]) for t in range(1, 5)]
        logp_all.append([np.log(joints[t] / joints[t - 1]) for t in range(1, 4)])
        logp_last.append(np.log(joints[3] / joints[2]))
    assert dh.bayes_loss(hmm, seqs) == pytest.approx(-np.mean(logp_all), rel=1e-12)
    assert dh.bayes_loss(hmm, seqs, positions="last") == pytest.approx(-np.mean(logp_last),
                                                                       rel=1e-12)


def test_bayes_filter_beats_marginal_on_average():
    hmm = dh.random_sparse_hmm(rng=0)
    seqs = dh.sample(hmm, 3000, 33, rng=1)
    assert dh.bayes_loss(hmm, seqs) < dh.marginal_loss(hmm) - 0.3


def test_marginal_quantities():
    hmm = tiny_hmm()
    for pos in (1, 2, 3):
        q = dh.marginal_distribution(hmm, pos)
        brute = [sum(brute_force_joint(hmm, list(x) + [v])
                     for x in itertools.product(range(3), repeat=pos - 1)) for v in range(3)]
        np.testing.assert_allclose(q, brute, atol=1e-12)
    q = dh.marginal_distribution(hmm, 1)
    assert dh.marginal_loss(hmm) == pytest.approx(-(q * np.log(q)).sum(), rel=1e-12)
    seqs = dh.sample(hmm, 50, 3, rng=0)
    q3 = dh.marginal_distribution(hmm, 3)
    assert dh.marginal_loss(hmm, seqs) == pytest.approx(-np.log(q3[seqs[:, -1]]).mean())
    # stationary chain: every position has the same marginal law
    st = dh.random_sparse_hmm(rng=5)
    np.testing.assert_allclose(dh.marginal_distribution(st, 1), dh.marginal_distribution(st, 9),
                               atol=1e-12)


# ----------------------------------------------------------------------------- validation

@pytest.mark.parametrize("kwargs, match", [
    (dict(initial=[0.5, 0.4], transition=np.eye(2), emission=np.eye(2)), "initial"),
    (dict(initial=[0.5, 0.5], transition=[[0.5, 0.6], [0.5, 0.5]], emission=np.eye(2)), "transition"),
    (dict(initial=[0.5, 0.5], transition=np.eye(2), emission=[[1.2, -0.2], [0, 1]]), "emission"),
    (dict(initial=[0.5, 0.5], transition=np.eye(3), emission=np.eye(2)), "transition"),
    (dict(initial=[0.5, 0.5], transition=np.eye(2), emission=np.eye(3)), "emission"),
    (dict(initial=[np.nan, 1.0], transition=np.eye(2), emission=np.eye(2)), "initial"),
])
def test_hmm_rejects_bad_matrices(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dh.DiscreteHMM(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_states=1), "n_states"),
    (dict(n_tokens=1), "n_tokens"),
    (dict(n_successors=0), "n_successors"),
    (dict(n_successors=9), "n_successors"),
    (dict(n_emissions=17), "n_emissions"),
    (dict(n_emissions=1), "n_emissions"),          # 8 * 1 < 16 tokens
    (dict(concentration=0.0), "concentration"),
    (dict(concentration=float("inf")), "concentration"),
    (dict(rng=-1), "rng"),
    (dict(n_states=2.5), "n_states"),
])
def test_random_sparse_hmm_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dh.random_sparse_hmm(**kwargs)


def test_sampler_and_filter_reject_bad_input():
    hmm = tiny_hmm()
    with pytest.raises(ValueError, match="n_sequences"):
        dh.sample(hmm, 0, 4)
    with pytest.raises(ValueError, match="length"):
        dh.sample(hmm, 3, 0)
    with pytest.raises(ValueError, match="hmm"):
        dh.sample("not an hmm", 3, 4)
    with pytest.raises(ValueError, match="tokens"):
        dh.forward_filter(hmm, np.array([[0, 1, 3]]))
    with pytest.raises(ValueError, match="tokens"):
        dh.forward_filter(hmm, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="tokens"):
        dh.forward_filter(hmm, np.array([[0.0, 1.0]]))
    with pytest.raises(ValueError, match="positions"):
        dh.bayes_loss(hmm, np.array([[0, 1, 2]]), positions="first")
    with pytest.raises(ValueError, match="tokens"):
        dh.bayes_loss(hmm, np.array([[0], [1]]))
    with pytest.raises(ValueError, match="position"):
        dh.marginal_distribution(hmm, 0)
