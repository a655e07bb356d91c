"""Tests for hmmrisk.transformer: head solvers against references, the protocol and the runner."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import scipy.optimize as so
from scipy.special import logsumexp

import hmmrisk.transformer as f3


def np_objective(f, y, w, ridge):
    """Independent NumPy objective and gradient (no torch)."""
    logits = f @ w
    lse = logsumexp(logits, axis=1)
    loss = np.mean(lse - logits[np.arange(len(y)), y]) + 0.5 * ridge * np.sum(w ** 2)
    prob = np.exp(logits - lse[:, None])
    prob[np.arange(len(y)), y] -= 1.0
    return loss, f.T @ prob / len(y) + ridge * w


def problem(n=30, p=5, v=4, seed=0, signal=1.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    logits = signal * x @ rng.normal(size=(p, v))
    y = np.array([rng.choice(v, p=np.exp(row - logsumexp(row))) for row in logits])
    return x, y


def reference_fit(f, y, v, ridge):
    r = f.shape[1]

    def fun(w):
        loss, grad = np_objective(f, y, w.reshape(r, v), ridge)
        return loss, grad.ravel()

    res = so.minimize(fun, np.zeros(r * v), jac=True, method="L-BFGS-B",
                      options=dict(maxiter=100000, maxcor=30, gtol=1e-12, ftol=1e-16))
    return res.x.reshape(r, v), res.fun


# ----------------------------------------------------------------------------- softmax head

def test_objective_matches_numpy_and_finite_differences():
    x, y = problem()
    f = np.c_[x, np.ones(len(y))]
    w = np.random.default_rng(1).normal(size=(6, 4))
    loss, grad = f3.softmax_objective(f, y, w, 0.3)
    ref_loss, ref_grad = np_objective(f, y, w, 0.3)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-12)
    eps = 1e-6
    for idx in [(0, 0), (3, 2), (5, 3)]:
        wp, wm = w.copy(), w.copy()
        wp[idx] += eps
        wm[idx] -= eps
        fd = (np_objective(f, y, wp, 0.3)[0] - np_objective(f, y, wm, 0.3)[0]) / (2 * eps)
        assert grad[idx] == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("ridge", [1e-2, 1e-4])
def test_softmax_head_reaches_the_reference_optimum(ridge):
    x, y = problem(seed=2)
    f = np.c_[x, np.ones(len(y))]
    fit = f3.fit_softmax_head(f, y, 4, ridge=ridge, gtol=1e-10)
    ref_w, ref_loss = reference_fit(f, y, 4, ridge)
    assert fit.converged and fit.grad_norm <= 1e-10
    _, grad = np_objective(f, y, fit.weights, ridge)            # independent gradient
    assert np.abs(grad).max() <= 1e-9
    assert fit.loss == pytest.approx(ref_loss, abs=1e-10)
    assert fit.loss <= ref_loss + 1e-13
    np.testing.assert_allclose(fit.weights, ref_w, atol=1e-4)   # the reference is less exact
    assert fit.residual < 1e-8


def test_softmax_head_tiny_ridge_on_separable_data():
    """p + 1 > n: the training set is separable; the tiny-ridge head separates it."""
    x, y = problem(n=20, p=30, v=3, seed=3)
    f = np.c_[x, np.ones(len(y))]
    fit = f3.fit_softmax_head(f, y, 3, ridge=1e-6, gtol=1e-10)
    _, grad = np_objective(f, y, fit.weights, 1e-6)
    assert fit.converged and np.abs(grad).max() <= 1e-9
    ce, acc = f3.softmax_metrics(f, y, fit.weights)
    assert acc == 1.0
    # optimality: no random perturbation lowers the objective
    rng = np.random.default_rng(0)
    for _ in range(20):
        d = rng.normal(size=fit.weights.shape)
        for t in (1e-3, 1e-1):
            assert np_objective(f, y, fit.weights + t * d, 1e-6)[0] >= fit.loss - 1e-14
    # and smaller ridges give larger heads: there is no finite unregularised optimum
    norms = [np.linalg.norm(f3.fit_softmax_head(f, y, 3, ridge=r).weights)
             for r in (1e-3, 1e-5, 1e-7)]
    assert norms[0] < norms[1] < norms[2]


def test_softmax_head_converges_below_the_objectives_rounding():
    """A strongly convex problem (ridge 1) whose gradient must go far below
    sqrt(eps * loss * ridge) ~ 2e-8: there the Armijo test sees only rounding,
    and Newton's steps are taken when they shrink the gradient. Before that
    rule, 5 of these 20 fits stalled at max_iter with gradients ~1e-9."""
    rng = np.random.default_rng(0)
    f, y = rng.standard_normal((20, 100, 12)), rng.integers(0, 16, (20, 100))
    fit = f3.fit_softmax_head(f, y, 16, ridge=1.0, gtol=1e-12, max_iter=300)
    assert fit.converged.all() and fit.n_iter.max() < 30
    for b in range(0, 20, 5):                                  # independent gradient
        _, grad = np_objective(f[b], y[b], fit.weights[b], 1.0)
        assert np.abs(grad).max() <= 1e-12


def test_batched_fit_equals_separate_fits_and_zero_padding_is_harmless():
    probs = [problem(n=25, p=4, v=3, seed=s) for s in range(3)]
    f = np.stack([np.c_[x, np.ones(25), np.zeros((25, 2))] for x, _ in probs])
    y = np.stack([yy for _, yy in probs])
    batch = f3.fit_softmax_head(f, y, 3, ridge=1e-3, gtol=1e-10)
    for b in range(3):
        single = f3.fit_softmax_head(f[b, :, :5], y[b], 3, ridge=1e-3, gtol=1e-10)
        np.testing.assert_allclose(batch.weights[b, :5], single.weights, atol=1e-8)
        np.testing.assert_array_equal(batch.weights[b, 5:], 0.0)


def test_warm_start_reaches_the_same_optimum():
    x, y = problem(seed=4)
    f = np.c_[x, np.ones(len(y))]
    cold = f3.fit_softmax_head(f, y, 4, ridge=1e-4, gtol=1e-10)
    warm = f3.fit_softmax_head(f, y, 4, ridge=1e-4, gtol=1e-10,
                               init=f3.fit_softmax_head(f, y, 4, ridge=1e-2).weights)
    np.testing.assert_allclose(warm.weights, cold.weights, atol=1e-6)


def test_softmax_metrics_by_hand():
    f = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    w = np.array([[2.0, 0.0], [0.0, 1.0]])
    y = np.array([0, 0, 1])
    ce, acc = f3.softmax_metrics(f, y, w)
    logits = f @ w
    ref = -np.mean([logits[i, y[i]] - logsumexp(logits[i]) for i in range(3)])
    assert ce == pytest.approx(ref, rel=1e-12)
    assert acc == pytest.approx(1 / 3)          # argmaxes are 0, 1, 0


# ----------------------------------------------------------------------------- design and LS head

def test_head_design_gives_the_same_head_as_the_full_design():
    """p > n: fitting on the rotated design equals fitting on [standardised X, 1]."""
    rng = np.random.default_rng(5)
    n, p, m, v = 15, 24, 40, 3
    x, xt = rng.normal(size=(n, p)) * rng.uniform(0.5, 3, p), rng.normal(size=(m, p))
    y, yt = rng.integers(0, v, n), rng.integers(0, v, m)
    f, ft, rank = f3.head_design(x, xt)
    assert rank == n and f.shape == (n, n) and ft.shape == (m, n)
    mu, sd = x.mean(0), x.std(0)
    full, full_t = np.c_[(x - mu) / sd, np.ones(n)], np.c_[(xt - mu) / sd, np.ones(m)]
    for ridge in (1e-1, 1e-3):
        red = f3.fit_softmax_head(f, y, v, ridge=ridge, gtol=1e-11)
        ref_w, ref_loss = reference_fit(full, y, v, ridge)
        assert red.loss == pytest.approx(ref_loss, abs=1e-9)
        np.testing.assert_allclose(ft @ red.weights, full_t @ ref_w, atol=2e-3)
        assert f3.softmax_metrics(ft, yt, red.weights)[0] == pytest.approx(
            f3.softmax_metrics(full_t, yt, ref_w)[0], rel=1e-4)
    # minimum-norm least squares: the rotation is exact too
    w_red = f3.min_norm_squared_head(f, y, v)
    w_full = np.linalg.pinv(full) @ np.eye(v)[y]
    np.testing.assert_allclose(ft @ w_red, full_t @ w_full, atol=1e-8)
    assert np.linalg.norm(w_red) == pytest.approx(np.linalg.norm(w_full), rel=1e-8)


def test_head_design_drops_exactly_dependent_columns():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(30, 4))
    x = np.c_[x, x[:, 0] - x[:, 1], np.full(30, 2.0)]     # a dependent and a constant column
    f, ft, rank = f3.head_design(x, x)
    assert rank == 5                                      # 4 features + bias
    np.testing.assert_allclose(f, ft, atol=1e-12)


def test_min_norm_squared_head_matches_lstsq():
    rng = np.random.default_rng(7)
    for n, r in [(40, 6), (10, 25)]:
        f = rng.normal(size=(n, r))
        y = rng.integers(0, 4, n)
        w = f3.min_norm_squared_head(f, y, 4)
        ref = np.linalg.lstsq(f, np.eye(4)[y], rcond=None)[0]
        np.testing.assert_allclose(w, ref, atol=1e-10)
        loss = f3.squared_loss(f, y, w)
        assert loss == pytest.approx(np.mean(np.sum((np.eye(4)[y] - f @ ref) ** 2, 1)))
        if r > n:
            assert loss == pytest.approx(0.0, abs=1e-18)  # interpolation


# ----------------------------------------------------------------------------- validation

@pytest.mark.parametrize("call, match", [
    (lambda: f3.fit_softmax_head(np.ones((3, 2)), [0, 1, 2], 2), "labels"),
    (lambda: f3.fit_softmax_head(np.ones((3, 2)), [0, 1], 2), "labels"),
    (lambda: f3.fit_softmax_head(np.ones((3, 2)), [0, 1, 1], 1), "n_classes"),
    (lambda: f3.fit_softmax_head(np.ones((3, 2)), [0, 1, 1], 2, ridge=0.0), "ridge"),
    (lambda: f3.fit_softmax_head(np.ones((3, 2)), [0, 1, 1], 2, gtol=-1.0), "gtol"),
    (lambda: f3.fit_softmax_head(np.ones((3, 2)), [0, 1, 1], 2, max_iter=0), "max_iter"),
    (lambda: f3.fit_softmax_head([[np.nan, 1.0]], [0], 2), "features"),
    (lambda: f3.fit_softmax_head(np.ones(3), [0, 1, 1], 2), "features"),
    (lambda: f3.fit_softmax_head(np.ones((3, 2)), [0.0, 1.0, 1.0], 2), "labels"),
    (lambda: f3.fit_softmax_head(np.ones((3, 2)), [0, 1, 1], 2, init=np.ones((3, 2))), "weights"),
    (lambda: f3.softmax_objective(np.ones((3, 2)), [0, 1, 1], np.ones((2, 2)), -1.0), "ridge"),
    (lambda: f3.head_design(np.ones((3, 2)), np.ones((3, 4))), "test"),
    (lambda: f3.head_design(np.ones((3, 2)), np.ones((3, 2)), rcond=1.0), "rcond"),
    (lambda: f3.head_design(np.full((3, 2), np.inf), np.ones((3, 2))), "train"),
    (lambda: f3.min_norm_squared_head(np.ones((3, 2)), [0, 5, 1], 2), "labels"),
    (lambda: f3.squared_loss(np.ones((3, 2)), [0, 1, 1], np.ones((3, 2))), "weights"),
])
def test_heads_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("kwargs, match", [
    (dict(widths=(4, 2)), "widths"),
    (dict(widths=()), "widths"),
    (dict(widths=(0, 2)), "widths"),
    (dict(widths=(2, 3), n_heads=2), "widths"),
    (dict(ridges=(0.0,)), "ridges"),
    (dict(ridges=(1e-3, 1e-3)), "ridges"),
    (dict(n_train=0), "n_train"),
    (dict(steps=10, warmup=11), "warmup"),
    (dict(lr=-1.0), "lr"),
    (dict(gtol=float("nan")), "gtol"),
    (dict(n_workers=0), "n_workers"),
    (dict(n_emissions=1), "n_emissions"),
])
def test_protocol_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        f3.Protocol(**kwargs)


def test_run_rejects_bad_input():
    with pytest.raises(TypeError, match="protocol"):
        f3.run("protocol")
    with pytest.raises(TypeError, match="executor"):
        f3.run(f3.Protocol(widths=(2,)), executor=object())
    with pytest.raises(ValueError, match="seeds"):
        f3.Protocol(widths=(2,), seeds=(1, 1))
    with pytest.raises(ValueError, match="seeds"):
        f3.Protocol(widths=(2,), seeds=(-1,))
    with pytest.raises(ValueError, match="width"):
        f3.frozen_features(f3.Protocol(widths=(2,)), 3, rng=0)
    with pytest.raises(TypeError, match="result"):
        f3.summarize({"widths": 1})


# ----------------------------------------------------------------------------- the protocol

#: The reduced protocol: tiny widths and steps, every code path of the chapter's run.
TINY = dict(n_states=4, n_tokens=6, n_successors=2, n_emissions=2, length=8, widths=(2, 8),
            steps=12, batch_size=8, warmup=2, n_lm_test=50, n_train=12, n_draws=2,
            n_test=40, n_val=20, ridges=(1e-2, 1e-6), gd_steps=50, sep_draws=2, seeds=(0, 1),
            n_workers=1)


def test_reduced_protocol_is_bitwise_reproducible():
    """The chapter's run, reduced: two runs give identical arrays, every one of them."""
    pr = f3.Protocol(**TINY)
    res, again = f3.run(pr), f3.run(pr)
    for key, arr in res.arrays().items():
        if key.endswith("seconds"):
            continue
        np.testing.assert_array_equal(arr, getattr(again, key), err_msg=key)
    sp = f3.SyntheticProtocol(ns=(10, 16), ratios=(0.1, 0.5, 1.0, 3.0), n_draws=2, n_test=40,
                              protocol=pr)
    s1, s2 = f3.run_synthetic(sp), f3.run_synthetic(sp)
    for key, arr in s1.arrays().items():
        np.testing.assert_array_equal(arr, getattr(s2, key), err_msg=key)


def test_tiny_protocol_end_to_end():
    pr = f3.Protocol(**TINY)
    res = f3.run(pr)
    for key, axes in res.AXES.items():                            # named axes match the shapes
        sizes = {"seed": 2, "family": 3, "network": 2, "ridge": 2, "width": 2, "draw": 2,
                 "sep_draw": 2, "step": 12}
        assert getattr(res, key).shape == tuple(sizes[a] for a in axes), key
    assert np.all(res.converged) and res.grad_norm.max() <= pr.gtol
    pre = f3.FAMILIES.index("pretrained")
    assert np.all(res.rank[:, pre, 0] == 2)                       # LayerNorm: p - 1 + bias
    # the job equals a direct head fit on the same frozen features
    feats = f3.frozen_features(pr, 8, rng=1)
    fit = f3.fit_heads(feats.train[0], feats.y_train, feats.test[0], feats.y_test,
                       6, ridges=pr.ridges, gtol=pr.gtol)
    np.testing.assert_allclose(res.test_ce[1, pre, :, 1], fit.test_ce, rtol=1e-9)
    # the noise family is the standardised pre-trained features plus N(0, sigma^2 I)
    xtr, xva, xte = f3.family_features(pr, feats, rng=1)
    assert xva.shape == (3, pr.n_val, 8)
    noisy = f3.FAMILIES.index("pretrained+noise")
    z = f3.features.standardise(feats.train[0].reshape(-1, 8))
    resid = xtr[noisy].reshape(-1, 8) - z
    assert resid.std() == pytest.approx(pr.noise_sigma, rel=0.1)
    np.testing.assert_array_equal(xtr[pre], feats.train[0])
    summ = res.summary()
    assert summ.family("pretrained").peak_width in (2, 8)
    assert summ.all_converged
    assert summ.bayes < summ.marginal + 0.5
    # the tuned head is the softmax head at the ridge of least validation cross-entropy
    best = np.argmin(res.val_ce, axis=2)
    np.testing.assert_array_equal(res.tuned_ce, np.take_along_axis(res.test_ce, best[:, :, None], 2)[:, :, 0])
    assert np.all(res.es_step <= pr.gd_steps) and np.all(np.isfinite(res.theory_sq))
    assert np.all(res.participation >= 1 - 1e-9) and np.all(res.probe_r2 <= 1)
    path = f3.ridge_path(pr, 8, [1e-6, 1e-2], rng=0)
    assert path.test_ce.shape == (3, 2, 2) and path.ridges[0] == 1e-2
    np.testing.assert_allclose(path.test_ce, res.test_ce[0, :, :, 1], rtol=1e-9)  # same ridges
    sp = f3.SyntheticProtocol(ns=(10, 16), ratios=(0.1, 0.5, 1.0, 3.0), n_draws=2, n_test=40,
                              protocol=pr)
    syn = f3.run_synthetic(sp)
    assert syn.test_ce.shape == (2, 2, 4, 2) and syn.p_sep.shape == (2, 2, 2)
    import matplotlib

    before = dict(matplotlib.rcParams)
    for fig in (f3.plot_figure3(res), f3.plot_pretraining(res), f3.plot_theory(syn),
                f3.plot_ridge_path(path, marginal=summ.marginal, headline=1e-6),
                f3.plot_robustness(res), f3.plot_geometry(res)):
        assert fig.patch.get_facecolor() == (1.0, 1.0, 1.0, 1.0)
        plt.close(fig)
    assert dict(matplotlib.rcParams) == before                   # the local style is scoped


def test_a_pool_left_open_is_released_at_exit():
    """``_map(..., keep=True)`` leaves its worker pool open for the next call.
    A process that ends there must release it in an exit hook: an executor
    that survives into the interpreter's module tear-down is collected after
    ``concurrent.futures`` lost its globals, and its weakref callback prints
    "Exception ignored ... 'NoneType' object has no attribute 'util'" after
    the last test of a pytest session.  A check registered before the import
    runs after the module's exit hook (atexit: last in, first out)."""
    import subprocess
    import sys

    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('left open:',\n"
            "                len(sys.modules['hmmrisk.transformer.experiment']._POOL)))\n"
            "from hmmrisk.transformer import experiment as e\n"
            "assert e._map(abs, [-1, 2], 2, keep=True) == [1, 2] and len(e._POOL) == 1\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "left open: 0" in run.stdout, (run.stdout, run.stderr[-2000:])


def test_an_int_seed_and_its_generator_give_the_same_features():
    pr = f3.Protocol(**TINY)
    a = f3.frozen_features(pr, 2, rng=1)
    b = f3.frozen_features(pr, 2, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a.train, b.train)
    np.testing.assert_array_equal(a.test, b.test)


@pytest.mark.slow
def test_run_on_a_dask_cluster_is_bitwise_serial():
    """Any executor gives the serial run's bits: a Dask LocalCluster of 2 worker processes."""
    distributed = pytest.importorskip("distributed")
    pr = f3.Protocol(**{**TINY, "seeds": (0,), "widths": (2, 4)})
    serial = f3.run(pr, n_workers=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        dask = f3.run(pr, executor=client)
    for key, arr in serial.arrays().items():
        if not key.endswith("seconds"):
            np.testing.assert_array_equal(arr, getattr(dask, key), err_msg=key)
