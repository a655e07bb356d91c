"""Figure 3: head tuning on a frozen small Transformer pre-trained on HMM sequences.

The protocol of Figure 3 ({numref}`fig-transformer`), end to end:

1. A discrete HMM (:func:`hmmrisk.discrete_hmm.random_sparse_hmm`) generates
   every sequence.
2. For each width ``p`` a one-layer causal Transformer
   (:class:`hmmrisk.transformer.CausalTransformer`) is pre-trained on next-token
   prediction; all widths of a seed share one pool of pre-training sequences and
   see the same batches in the same order.
3. The model is frozen; its last hidden state at position ``T`` is the feature
   of a sequence ``x_1..x_T`` and the target is the next token ``x_{T+1}``.
4. On ``n`` training pairs a head is tuned: a softmax head with bias fitted to
   the optimum of cross-entropy plus a tiny ridge (:func:`fit_softmax_head`)
   and, as a companion, the minimum-norm least-squares head on one-hot targets
   (:func:`min_norm_squared_head`).
5. Both are scored on fresh test pairs, against ``p``.

The same features taken from the *untrained* network (its random
initialisation, frozen) go through step 4 as a control. :func:`run` does all
of it for several seeds (one job per seed and width, optionally on worker
processes), :func:`summarize` reduces the result to the numbers the chapter
quotes, and :func:`plot_figure3`, :func:`plot_pretraining` and
:func:`plot_companions` draw the figures.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import time
from dataclasses import astuple, dataclass

import numpy as np
import torch

from . import _validate as _v
from . import discrete_hmm as dh
from . import transformer as tr

__all__ = [
    "MODELS",
    "Protocol",
    "head_design",
    "softmax_objective",
    "SoftmaxFit",
    "fit_softmax_head",
    "softmax_metrics",
    "min_norm_squared_head",
    "squared_loss",
    "fit_heads",
    "frozen_features",
    "run_width",
    "ridge_path",
    "reference_losses",
    "run",
    "summarize",
    "plot_figure3",
    "plot_pretraining",
    "plot_companions",
    "plot_ridge_path",
]

#: The two frozen networks whose features are head-tuned.
MODELS = ("pretrained", "untrained")


# ----------------------------------------------------------------------------
# protocol
# ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Protocol:
    """All the settings of Figure 3 ({numref}`fig-transformer`), with the book's defaults.

    HMM: ``n_states`` hidden states, ``n_tokens`` tokens, ``n_successors``
    successors and ``n_emissions`` emitted tokens per state, built from
    ``hmm_seed`` (one HMM for every seed of the experiment). Sequences: the
    head reads ``length = T`` tokens. Transformer: ``widths`` (the model sizes
    ``p``), ``n_layers``, ``n_heads``. Pre-training: ``steps`` AdamW steps of
    ``batch_size`` sequences, peak learning rate ``lr``, ``warmup`` steps then
    cosine decay; ``n_lm_test`` sequences measure the language-model loss.
    Heads: ``n_train`` training pairs, ``n_draws`` independent training sets
    per seed (the same draws at every width), ``n_test`` test pairs; softmax
    ridges ``ridges`` (the first is the headline fit; several are solved as
    one warm-started path from the largest down), stopping tolerance ``gtol``
    on the largest gradient entry, ``max_iter`` Newton steps. Compute:
    ``n_workers`` processes, ``n_threads`` torch threads in each.
    """

    n_states: int = 8
    n_tokens: int = 16
    n_successors: int = 3
    n_emissions: int = 3
    hmm_seed: int = 0
    length: int = 32
    widths: tuple = (2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256)
    n_layers: int = 1
    n_heads: int = 1
    steps: int = 200
    batch_size: int = 32
    lr: float = 3e-3
    warmup: int = 20
    n_lm_test: int = 500
    n_train: int = 100
    n_draws: int = 8
    n_test: int = 2000
    ridges: tuple = (1e-6,)
    gtol: float = 1e-8
    max_iter: int = 300
    n_workers: int = 2
    n_threads: int = 1

    def __post_init__(self):
        for name in ("n_states", "n_tokens", "n_successors", "n_emissions", "length",
                     "n_layers", "n_heads", "steps", "batch_size", "n_lm_test", "n_train",
                     "n_draws", "n_test", "max_iter", "n_workers", "n_threads"):
            object.__setattr__(self, name, _v.integer(name, getattr(self, name)))
        if self.n_tokens < 2:
            raise ValueError(f"n_tokens must be an integer >= 2, got {self.n_tokens!r}")
        object.__setattr__(self, "hmm_seed", _v.integer("hmm_seed", self.hmm_seed, minimum=0))
        object.__setattr__(self, "warmup", _v.integer("warmup", self.warmup, minimum=0))
        if self.warmup > self.steps:
            raise ValueError(f"warmup must be <= steps={self.steps}, got {self.warmup!r}")
        object.__setattr__(self, "lr", _v.real("lr", self.lr, low=0.0, low_open=True))
        object.__setattr__(self, "gtol", _v.real("gtol", self.gtol, low=0.0, low_open=True))
        widths = np.atleast_1d(np.asarray(self.widths, dtype=object)).tolist()
        widths = tuple(_v.integer("widths", w) for w in widths)
        if not widths:
            raise ValueError(f"widths must not be empty, got {self.widths!r}")
        if list(widths) != sorted(set(widths)):
            raise ValueError(f"widths must be strictly increasing, got {self.widths!r}")
        bad = [w for w in widths if w % self.n_heads]
        if bad:
            raise ValueError(f"widths must be divisible by n_heads={self.n_heads}, got {bad!r}")
        object.__setattr__(self, "widths", widths)
        ridges = np.atleast_1d(np.asarray(self.ridges, dtype=object)).tolist()
        ridges = tuple(_v.real("ridges", r, low=0.0, low_open=True) for r in ridges)
        if not ridges or len(set(ridges)) != len(ridges):
            raise ValueError(f"ridges must be a non-empty tuple of distinct values, got {self.ridges!r}")
        object.__setattr__(self, "ridges", ridges)
        # the random dealing of emissions needs K * n_emissions >= V etc.
        self.hmm()

    def hmm(self) -> dh.DiscreteHMM:
        """The HMM of the experiment (built from ``hmm_seed``)."""
        return dh.random_sparse_hmm(self.n_states, self.n_tokens,
                                    n_successors=self.n_successors,
                                    n_emissions=self.n_emissions, seed=self.hmm_seed)


def _check_protocol(protocol) -> Protocol:
    if not isinstance(protocol, Protocol):
        raise ValueError(f"protocol must be a Protocol, got {type(protocol).__name__}")
    return protocol


def _seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


# ----------------------------------------------------------------------------
# the head's design matrix
# ----------------------------------------------------------------------------

def head_design(train, test, *, rcond: float = 1e-10):
    """Standardise frozen features, add a bias column, rotate to the training row space.

    With training features ``X`` (``n x p``) and test features ``X'``: every
    column is standardised with the *training* mean and standard deviation
    (a constant column is only centred); a column of ones is appended,
    ``X_a = [X_std, 1]``; with the thin SVD ``X_a = U S V^T`` (singular values
    below ``rcond * s_max`` dropped, ``r`` kept) the head's coordinates are
    ``F = U S = X_a V`` and ``F' = X'_a V``.

    Why this is exact: both heads of Figure 3 ({numref}`fig-transformer`)
    penalise (or minimise) the Frobenius norm of the full weight matrix
    ``W_a`` (weights and bias together) and see the training data only through
    ``X_a W_a``. The part of ``W_a`` orthogonal to the row space of ``X_a``
    changes no training logit and only adds norm, so it is 0 at the optimum;
    hence ``W_a = V Z``, and fitting ``Z`` (``r x V``, ``r <= min(n, p + 1)``)
    on ``F`` gives the same head, ``||Z|| = ||W_a||``, and the same test
    predictions ``F' Z = X'_a W_a``.

    Parameters
    ----------
    train : array, shape (n, p) or (B, n, p)
    test : array, shape (m, p) or (B, m, p)
    rcond : float
        Relative singular-value cut-off, ``0 <= rcond < 1``.

    Returns
    -------
    f_train : numpy.ndarray, shape (..., n, r_max)
    f_test : numpy.ndarray, shape (..., m, r_max)
    rank : numpy.ndarray of int, shape (...)
        ``r`` of each problem; columns beyond it are zero (padding to the
        largest rank of the batch, which leaves every optimum unchanged).
    """
    xtr = _v.finite_array("train", train)
    xte = _v.finite_array("test", test)
    rcond = _v.real("rcond", rcond, low=0.0, high=1.0, high_open=True)
    if xtr.ndim not in (2, 3) or xtr.shape[-2] < 1 or xtr.shape[-1] < 1:
        raise ValueError(f"train must have shape (n, p) or (B, n, p), got {xtr.shape}")
    if (xte.ndim != xtr.ndim or xte.shape[-1] != xtr.shape[-1]
            or xte.shape[:-2] != xtr.shape[:-2] or xte.shape[-2] < 1):
        raise ValueError(f"test must have shape {xtr.shape[:-2] + ('m', xtr.shape[-1])}, "
                         f"got {xte.shape}")
    squeeze = xtr.ndim == 2
    if squeeze:
        xtr, xte = xtr[None], xte[None]
    mean = xtr.mean(axis=1, keepdims=True)
    std = xtr.std(axis=1, keepdims=True)
    std = np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)
    ztr = np.concatenate([(xtr - mean) / std, np.ones(xtr.shape[:2] + (1,))], axis=2)
    zte = np.concatenate([(xte - mean) / std, np.ones(xte.shape[:2] + (1,))], axis=2)
    u, s, vt = np.linalg.svd(ztr, full_matrices=False)
    keep = s > rcond * s[:, :1]
    rank = keep.sum(axis=1)
    r_max = int(rank.max())
    s = np.where(keep, s, 0.0)
    f_train = (u * s[:, None, :])[:, :, :r_max]
    v = np.where(keep[:, None, :], np.swapaxes(vt, 1, 2), 0.0)[:, :, :r_max]
    f_test = zte @ v
    if squeeze:
        return f_train[0], f_test[0], rank[0]
    return f_train, f_test, rank


# ----------------------------------------------------------------------------
# softmax head
# ----------------------------------------------------------------------------

def _check_head_inputs(features, labels, n_classes):
    f = _v.finite_array("features", features)
    if f.ndim not in (2, 3) or f.shape[-2] < 1 or f.shape[-1] < 1:
        raise ValueError(f"features must have shape (n, r) or (B, n, r), got {f.shape}")
    n_classes = _v.integer("n_classes", n_classes, minimum=2)
    y = np.asarray(labels)
    if y.shape != f.shape[:-1]:
        raise ValueError(f"labels must have shape {f.shape[:-1]}, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes - 1}], got range "
                         f"[{y.min()}, {y.max()}]")
    squeeze = f.ndim == 2
    if squeeze:
        f, y = f[None], y[None]
    return np.ascontiguousarray(f), y.astype(np.int64), n_classes, squeeze


def _check_weights(weights, f, n_classes):
    w = _v.finite_array("weights", weights)
    if w.ndim == 2:
        w = w[None]
    if w.shape != (f.shape[0], f.shape[2], n_classes):
        raise ValueError(f"weights must have shape {(f.shape[0], f.shape[2], n_classes)} "
                         f"(batch dimension optional), got {np.shape(weights)}")
    return np.ascontiguousarray(w)


def _n_classes(weights, n_classes):
    """``n_classes``, by default the last axis of ``weights`` (checked later)."""
    if n_classes is not None:
        return n_classes
    shape = np.shape(weights)
    if len(shape) not in (2, 3):
        raise ValueError(f"weights must have shape (r, V) or (B, r, V), got {shape}")
    return shape[-1]


def _objective(f, onehot, z, ridge):
    """Loss, gradient and softmax probabilities, batched (torch, float64)."""
    n = f.shape[1]
    logits = f @ z
    lse = torch.logsumexp(logits, dim=2)
    ce = (lse - (logits * onehot).sum(dim=2)).mean(dim=1)
    loss = ce + 0.5 * ridge * (z * z).sum(dim=(1, 2))
    prob = torch.exp(logits - lse[:, :, None])
    grad = f.transpose(1, 2) @ (prob - onehot) / n + ridge * z
    return loss, grad, prob


def softmax_objective(features, labels, weights, ridge: float, *, n_classes: int | None = None):
    """Ridge-penalised softmax cross-entropy of a linear head, and its gradient.

    ``L(Z) = (1/n) sum_i [ logsumexp(f_i Z) - (f_i Z)_{y_i} ] + (ridge/2) ||Z||_F^2``,
    ``grad L = F^T (softmax(F Z) - onehot(y)) / n + ridge * Z``,
    with ``f_i`` the rows of ``F`` (bias column included, see
    :func:`head_design`). Minimised by :func:`fit_softmax_head` for Figure 3
    ({numref}`fig-transformer`).

    Parameters
    ----------
    features : array, shape (n, r) or (B, n, r)
    labels : int array, shape (n,) or (B, n)
    weights : array, shape (r, V) or (B, r, V)
    ridge : float
        ``>= 0``.
    n_classes : int, optional
        ``V``; defaults to ``weights.shape[-1]``.

    Returns
    -------
    loss : numpy.ndarray, shape () or (B,)
    grad : numpy.ndarray, shape of ``weights``
    """
    n_classes = _n_classes(weights, n_classes)
    f, y, n_classes, squeeze = _check_head_inputs(features, labels, n_classes)
    w = _check_weights(weights, f, n_classes)
    ridge = _v.real("ridge", ridge, low=0.0)
    onehot = torch.nn.functional.one_hot(torch.from_numpy(y), n_classes).double()
    loss, grad, _ = _objective(torch.from_numpy(f), onehot, torch.from_numpy(w), ridge)
    loss, grad = loss.numpy(), grad.numpy()
    return (loss[0], grad[0]) if squeeze else (loss, grad)


def _hess_vec(f, prob, ridge, d):
    """Hessian of the objective times ``d`` (batched)."""
    g = f @ d
    t = prob * g - prob * (prob * g).sum(dim=2, keepdim=True)
    return f.transpose(1, 2) @ t / f.shape[1] + ridge * d


def _newton_direction(f, prob, ridge, grad):
    """Solve ``H delta = grad`` exactly, using the structure of the softmax Hessian.

    ``H = (1/n) sum_i f_i f_i^T (x) (diag(p_i) - p_i p_i^T) + ridge I``
    is a class-block-diagonal part ``H_v = (1/n) F^T diag(P[:, v]) F + ridge I``
    (``V`` blocks of size ``r x r``) minus the rank-``n`` term ``U U^T / n``
    with ``u_i[:, v] = p_{iv} f_i``. Woodbury:
    ``H^{-1} g = H0^{-1} g + H0^{-1} U (n I - U^T H0^{-1} U)^{-1} U^T H0^{-1} g``,
    so the cost is ``V`` Cholesky factorisations of ``r x r`` and one of
    ``n x n`` instead of one of ``rV x rV``.
    """
    b, n, r = f.shape
    v = prob.shape[2]
    p_t = prob.transpose(1, 2)                                   # (B, V, n)
    f_t = f.transpose(1, 2)                                      # (B, r, n)
    h0 = ((f_t[:, None] * p_t[:, :, None, :]).reshape(b, v * r, n) @ f).reshape(b, v, r, r) / n
    h0.diagonal(dim1=2, dim2=3).add_(ridge)
    chol, info = torch.linalg.cholesky_ex(h0)
    x = torch.linalg.solve_triangular(chol, f_t[:, None].expand(b, v, r, n), upper=False)
    y = (x * p_t[:, :, None, :]).reshape(b, v * r, n)
    schur = -(y.transpose(1, 2) @ y)
    schur.diagonal(dim1=1, dim2=2).add_(n)
    a = torch.cholesky_solve(grad.transpose(1, 2)[..., None], chol)[..., 0]      # (B, V, r)
    ua = (prob * (f @ a.transpose(1, 2))).sum(dim=2)                            # (B, n)
    chol_s, info_s = torch.linalg.cholesky_ex(schur)
    c = torch.cholesky_solve(ua[..., None], chol_s)[..., 0]
    rhs = (f_t @ (prob * c[:, :, None])).transpose(1, 2)                        # (B, V, r)
    delta = a + torch.cholesky_solve(rhs[..., None], chol)[..., 0]
    return delta.transpose(1, 2), (info > 0).any(dim=1) | (info_s > 0)


def _dense_direction(f, prob, ridge, grad):
    """Fallback: build the full ``rV x rV`` Hessian of one problem and solve it."""
    n, r = f.shape
    v = prob.shape[1]
    a = torch.diag_embed(prob) - prob[:, :, None] * prob[:, None, :]          # (n, V, V)
    h = torch.einsum("nr,nvw,ns->rvsw", f, a, f).reshape(r * v, r * v) / n
    h += ridge * torch.eye(r * v, dtype=f.dtype)
    sol = np.linalg.solve(h.numpy(), grad.reshape(-1).numpy())
    return torch.from_numpy(sol).reshape(r, v)


@dataclass
class SoftmaxFit:
    """Result of :func:`fit_softmax_head` (arrays with the batch shape ``(B,)``).

    Attributes
    ----------
    weights : numpy.ndarray, shape (B, r, V)
        The fitted head ``Z``.
    loss : numpy.ndarray
        Objective :func:`softmax_objective` at ``weights``.
    grad_norm : numpy.ndarray
        Largest absolute gradient entry at ``weights``.
    n_iter : numpy.ndarray
        Newton steps taken.
    converged : numpy.ndarray of bool
        ``grad_norm <= gtol``.
    residual : numpy.ndarray
        Largest relative residual ``||H delta - g|| / ||g||`` of the Newton
        systems solved along the way (a check on the linear algebra).
    """

    weights: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    residual: np.ndarray


def fit_softmax_head(features, labels, n_classes: int, *, ridge: float = 1e-6,
                     gtol: float = 1e-8, max_iter: int = 300, init=None,
                     n_threads: int | None = 1) -> SoftmaxFit:
    """Fit softmax heads to the minimiser of :func:`softmax_objective`, many at once.

    Damped Newton's method in float64: the exact Newton direction (solved by
    the structured Woodbury route of ``_newton_direction``, its residual
    checked, with a dense solve as fallback), then Armijo backtracking from the
    unit step (or, if the unit step is accepted, doubling it while the
    objective keeps falling). The objective is strictly convex for ``ridge > 0``, so the
    minimiser is unique and Newton converges to it quadratically; a problem
    stops once its largest gradient entry is ``<= gtol``. The ``B`` problems are
    independent and advance together. Used for Figure 3
    ({numref}`fig-transformer`).

    Why a ridge at all: without one the objective has no finite minimiser as
    soon as some class can be separated from the rest (its logits can grow
    without bound), which happens with ``n = 100`` and 16 classes already at
    tiny widths; the head then depends on when an optimiser is stopped. A tiny
    ridge picks one well-defined head; on a separable training set it is
    close to the maximum-margin direction, scaled to a large norm.

    Parameters
    ----------
    features : array, shape (n, r) or (B, n, r)
        Head inputs (typically from :func:`head_design`).
    labels : int array, shape (n,) or (B, n)
    n_classes : int
        ``V >= 2``.
    ridge, gtol : float
        Both ``> 0``.
    max_iter : int
        Newton steps allowed, ``>= 1``.
    init : array, shape (r, V) or (B, r, V), optional
        Starting point (default 0); used to warm-start a path of ridges.
    n_threads : int or None
        Torch threads during the fit (restored afterwards; ``None``: leave as is).

    Returns
    -------
    SoftmaxFit
        Without the batch dimension if the input had none.
    """
    f, y, n_classes, squeeze = _check_head_inputs(features, labels, n_classes)
    ridge = _v.real("ridge", ridge, low=0.0, low_open=True)
    gtol = _v.real("gtol", gtol, low=0.0, low_open=True)
    max_iter = _v.integer("max_iter", max_iter)
    z0 = np.zeros((f.shape[0], f.shape[2], n_classes)) if init is None else \
        _check_weights(init, f, n_classes)
    with tr.threads(n_threads):
        out = _newton(torch.from_numpy(f), torch.from_numpy(y), n_classes, ridge, gtol,
                      max_iter, torch.from_numpy(z0.copy()))
    if squeeze:
        out = SoftmaxFit(*(np.asarray(a)[0] for a in astuple(out)))
    return out


def _newton(f, y, n_classes, ridge, gtol, max_iter, z, c1=1e-4, max_halvings=60, max_expand=12):
    b = f.shape[0]
    onehot = torch.nn.functional.one_hot(y, n_classes).double()
    loss, grad, prob = _objective(f, onehot, z, ridge)
    n_iter = torch.zeros(b, dtype=torch.long)
    residual = torch.zeros(b, dtype=torch.float64)
    active = grad.abs().amax(dim=(1, 2)) > gtol
    for _ in range(max_iter):
        idx = torch.nonzero(active).flatten()
        if idx.numel() == 0:
            break
        fi, oi, zi, gi, li, pi = f[idx], onehot[idx], z[idx], grad[idx], loss[idx], prob[idx]
        delta, failed = _newton_direction(fi, pi, ridge, gi)
        gnorm = gi.flatten(1).norm(dim=1)
        res = (_hess_vec(fi, pi, ridge, delta) - gi).flatten(1).norm(dim=1) / gnorm
        redo = failed | ~torch.isfinite(res) | (res > 1e-6)
        for j in torch.nonzero(redo).flatten().tolist():
            delta[j] = _dense_direction(fi[j], pi[j], ridge, gi[j])
            res[j] = ((_hess_vec(fi[j:j + 1], pi[j:j + 1], ridge, delta[j:j + 1]) - gi[j:j + 1])
                      .norm() / gnorm[j])
        residual[idx] = torch.maximum(residual[idx], res)
        direction = -delta
        slope = (gi * direction).sum(dim=(1, 2))
        bad = ~(slope < 0)
        direction[bad] = -gi[bad]
        slope[bad] = -(gi[bad] ** 2).sum(dim=(1, 2))
        step = torch.ones(idx.numel(), dtype=torch.float64)
        todo = torch.arange(idx.numel())
        moved = torch.zeros(idx.numel(), dtype=torch.bool)
        for _h in range(max_halvings):
            zt = zi[todo] + step[todo, None, None] * direction[todo]
            lt, gt, pt = _objective(fi[todo], oi[todo], zt, ridge)
            ok = lt <= li[todo] + c1 * step[todo] * slope[todo]
            acc = todo[ok]
            zi[acc], li[acc], gi[acc], pi[acc] = zt[ok], lt[ok], gt[ok], pt[ok]
            moved[acc] = True
            todo = todo[~ok]
            if todo.numel() == 0:
                break
            step[todo] *= 0.5
        # where the unit step was taken, keep doubling it while the objective
        # falls: in the flat exponential tails of a nearly separable problem the
        # Newton step can be too short; near the optimum t = 1 wins at once.
        grow = torch.nonzero(moved & (step == 1.0)).flatten()
        t = 1.0
        for _e in range(max_expand):
            if grow.numel() == 0:
                break
            t *= 2.0
            zt = z[idx[grow]] + t * direction[grow]
            lt, gt, pt = _objective(fi[grow], oi[grow], zt, ridge)
            better = lt < li[grow]
            acc = grow[better]
            zi[acc], li[acc], gi[acc], pi[acc] = zt[better], lt[better], gt[better], pt[better]
            grow = acc
        z[idx], loss[idx], grad[idx], prob[idx] = zi, li, gi, pi
        n_iter[idx] += 1
        active[idx] = (gi.abs().amax(dim=(1, 2)) > gtol) & moved
    gmax = grad.abs().amax(dim=(1, 2))
    return SoftmaxFit(weights=z.numpy(), loss=loss.numpy(), grad_norm=gmax.numpy(),
                      n_iter=n_iter.numpy(), converged=(gmax <= gtol).numpy(),
                      residual=residual.numpy())


def softmax_metrics(features, labels, weights, *, n_classes: int | None = None):
    """Mean cross-entropy (nats) and accuracy of the softmax head ``softmax(f Z)``.

    ``CE = -(1/m) sum_i log softmax(f_i Z)_{y_i}``; accuracy
    ``= (1/m) #{i : argmax_v (f_i Z)_v = y_i}``. Test CE is the y-axis of
    Figure 3 ({numref}`fig-transformer`).

    Returns
    -------
    ce, accuracy : numpy.ndarray, shape () or (B,)
    """
    n_classes = _n_classes(weights, n_classes)
    f, y, n_classes, squeeze = _check_head_inputs(features, labels, n_classes)
    w = _check_weights(weights, f, n_classes)
    logits = torch.from_numpy(f) @ torch.from_numpy(w)
    yt = torch.from_numpy(y)
    ce = -torch.gather(torch.log_softmax(logits, dim=2), 2, yt[:, :, None])[:, :, 0].mean(dim=1)
    acc = (logits.argmax(dim=2) == yt).double().mean(dim=1)
    ce, acc = ce.numpy(), acc.numpy()
    return (ce[0], acc[0]) if squeeze else (ce, acc)


# ----------------------------------------------------------------------------
# squared-loss head
# ----------------------------------------------------------------------------

def min_norm_squared_head(features, labels, n_classes: int, *, rcond: float = 1e-10):
    """Minimum-norm least-squares head on one-hot targets: ``Z = F^+ Y``.

    ``Y = onehot(y)`` (``n x V``) and ``F^+`` is the Moore-Penrose
    pseudo-inverse (singular values below ``rcond * s_max`` treated as 0).
    While ``F`` has full column rank this is ordinary least squares; once its
    rank reaches ``n`` it interpolates the training targets with the smallest
    ``||Z||_F``: the estimator of the theory chapters, here on Transformer
    features. Companion head of Figure 3 ({numref}`fig-transformer`).

    Returns
    -------
    numpy.ndarray, shape (r, V) or (B, r, V)
    """
    f, y, n_classes, squeeze = _check_head_inputs(features, labels, n_classes)
    rcond = _v.real("rcond", rcond, low=0.0, high=1.0, high_open=True)
    u, s, vt = np.linalg.svd(f, full_matrices=False)
    keep = s > rcond * s[:, :1]
    inv = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)
    w = np.swapaxes(vt, 1, 2) @ (inv[:, :, None] * (np.swapaxes(u, 1, 2) @ np.eye(n_classes)[y]))
    return w[0] if squeeze else w


def squared_loss(features, labels, weights, *, n_classes: int | None = None):
    """Mean squared loss of a linear head on one-hot targets.

    ``(1/m) sum_i || onehot(y_i) - f_i Z ||^2`` (summed over the ``V``
    classes). Reported for the minimum-norm head next to Figure 3
    ({numref}`fig-transformer`).

    Returns
    -------
    numpy.ndarray, shape () or (B,)
    """
    n_classes = _n_classes(weights, n_classes)
    f, y, n_classes, squeeze = _check_head_inputs(features, labels, n_classes)
    w = _check_weights(weights, f, n_classes)
    loss = ((np.eye(n_classes)[y] - f @ w) ** 2).sum(axis=2).mean(axis=1)
    return loss[0] if squeeze else loss


# ----------------------------------------------------------------------------
# the experiment
# ----------------------------------------------------------------------------

_HEAD_KEYS = ("test_ce", "train_ce", "test_acc", "train_acc", "weight_norm", "grad_norm",
              "n_iter", "converged", "residual")


def _data(protocol: Protocol, seed: int) -> dict:
    """All the sequences of one seed (the same in every job of that seed)."""
    pr = protocol
    hmm = pr.hmm()
    s_pool, s_lm, s_train, s_test, s_init = np.random.SeedSequence(seed).spawn(5)
    t1 = pr.length + 1
    return {
        "hmm": hmm,
        "pool": dh.sample(hmm, pr.steps * pr.batch_size, t1, seed=np.random.default_rng(s_pool)),
        "lm_test": dh.sample(hmm, pr.n_lm_test, t1, seed=np.random.default_rng(s_lm)),
        "head_train": dh.sample(hmm, pr.n_draws * pr.n_train, t1,
                                seed=np.random.default_rng(s_train)),
        "head_test": dh.sample(hmm, pr.n_test, t1, seed=np.random.default_rng(s_test)),
        "init_seeds": s_init.generate_state(len(pr.widths), dtype=np.uint32),
    }


def fit_heads(train_features, y_train, test_features, y_test, n_classes: int, *,
              ridges=(1e-6,), gtol: float = 1e-8, max_iter: int = 300,
              n_threads: int | None = 1) -> dict:
    """Both heads on a batch of frozen-feature problems (one width of Figure 3).

    For each problem: :func:`head_design`, then the softmax head at each ridge
    (largest first, each warm-started from the previous one) and the
    minimum-norm squared-loss head.

    Parameters
    ----------
    train_features : array, shape (B, n, p)
    y_train : int array, shape (B, n)
    test_features : array, shape (B, m, p) or (m, p) (shared by all problems)
    y_test : int array, shape (m,)
    n_classes : int

    Returns
    -------
    dict
        ``(len(ridges), B)`` arrays for the softmax head (``test_ce``,
        ``train_ce``, ``test_acc``, ``train_acc``, ``weight_norm`` = ``||W_a||_F``,
        ``grad_norm``, ``n_iter``, ``converged``, ``residual``) and ``(B,)``
        arrays ``sq_test_loss``, ``sq_train_loss``, ``rank``, ``eff_rank``
        (participation ratio ``(sum s_j^2)^2 / sum s_j^4`` of the singular
        values of the standardised training design with its bias column) and
        ``sv_min_rel`` (its smallest kept singular value over the largest).
    """
    xtr = _v.finite_array("train_features", train_features, ndim=3)
    xte = _v.finite_array("test_features", test_features)
    if xte.ndim == 2:
        xte = np.broadcast_to(xte, (xtr.shape[0],) + xte.shape)
    if xte.ndim != 3 or xte.shape[0] != xtr.shape[0] or xte.shape[2] != xtr.shape[2]:
        raise ValueError(f"test_features must have shape (m, {xtr.shape[2]}) or "
                         f"({xtr.shape[0]}, m, {xtr.shape[2]}), got {np.shape(test_features)}")
    for name, y, shape in (("y_train", y_train, xtr.shape[:2]), ("y_test", y_test, xte.shape[1:2])):
        y = np.asarray(y)
        if y.shape != shape or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"{name} must be an integer array of shape {shape}, "
                             f"got {y.dtype} array of shape {y.shape}")
    ridges = [_v.real("ridges", r, low=0.0, low_open=True) for r in np.atleast_1d(ridges)]
    if not ridges:
        raise ValueError(f"ridges must not be empty, got {ridges!r}")
    y_tr = np.asarray(y_train)
    y_te = np.broadcast_to(np.asarray(y_test), xte.shape[:2])
    f_tr, f_te, rank = head_design(xtr, xte)
    out = {k: np.empty((len(ridges), xtr.shape[0])) for k in _HEAD_KEYS}
    out["converged"] = out["converged"].astype(bool)
    order = np.argsort(ridges)[::-1]
    z = None
    for k in order:
        fit = fit_softmax_head(f_tr, y_tr, n_classes, ridge=ridges[k], gtol=gtol,
                               max_iter=max_iter, init=z, n_threads=n_threads)
        z = fit.weights
        out["test_ce"][k], out["test_acc"][k] = softmax_metrics(f_te, y_te, z)
        out["train_ce"][k], out["train_acc"][k] = softmax_metrics(f_tr, y_tr, z)
        out["weight_norm"][k] = np.sqrt((z ** 2).sum(axis=(1, 2)))
        for key in ("grad_norm", "n_iter", "converged", "residual"):
            out[key][k] = getattr(fit, key)
    w_sq = min_norm_squared_head(f_tr, y_tr, n_classes)
    out["sq_test_loss"] = squared_loss(f_te, y_te, w_sq)
    out["sq_train_loss"] = squared_loss(f_tr, y_tr, w_sq)
    out["rank"] = rank
    sv2 = (f_tr ** 2).sum(axis=1)          # squared singular values of [X_std, 1]
    out["eff_rank"] = sv2.sum(axis=1) ** 2 / (sv2 ** 2).sum(axis=1)
    sv = np.sqrt(np.where(sv2 > 0, sv2, np.inf))
    out["sv_min_rel"] = sv.min(axis=1) / np.sqrt(sv2.max(axis=1))
    return out


def frozen_features(protocol: Protocol, seed: int, width: int) -> dict:
    """Pre-train the width-``p`` model of ``seed``; return both networks' frozen features.

    Randomness: ``numpy.random.SeedSequence(seed)`` is split into independent
    streams for the pre-training pool, the language-model test set, the head
    training sets, the head test set and the initialisations (one per width);
    the HMM comes from ``protocol.hmm_seed``. The same call therefore gives the
    same numbers alone, in a loop or on a worker process. Used for Figure 3
    ({numref}`fig-transformer`).

    Returns
    -------
    dict
        ``train`` (models, draws, n, p) and ``test`` (models, m, p) features
        (:func:`hmmrisk.transformer.extract_features`, models in
        :data:`MODELS`), labels ``y_train`` (draws, n) and ``y_test`` (m,),
        ``pretrain_loss`` (steps,), ``lm_test_loss`` (models,),
        ``pretrain_seconds``.
    """
    pr = _check_protocol(protocol)
    seed = _seed(seed)
    width = _v.integer("width", width)
    if width not in pr.widths:
        raise ValueError(f"width must be one of protocol.widths={pr.widths}, got {width!r}")
    data = _data(pr, seed)
    nt = pr.n_threads
    model = tr.CausalTransformer(pr.n_tokens, width, pr.length, n_layers=pr.n_layers,
                                 n_heads=pr.n_heads,
                                 seed=int(data["init_seeds"][pr.widths.index(width)]))
    x_train, x_test = data["head_train"][:, :-1], data["head_test"][:, :-1]
    out = {"y_train": data["head_train"][:, -1].reshape(pr.n_draws, pr.n_train),
           "y_test": data["head_test"][:, -1],
           "train": np.empty((len(MODELS), pr.n_draws, pr.n_train, width)),
           "test": np.empty((len(MODELS), pr.n_test, width)),
           "lm_test_loss": np.empty(len(MODELS))}
    for stage in ("untrained", "pretrained"):  # the untrained network is the initialisation
        if stage == "pretrained":
            t0 = time.perf_counter()
            out["pretrain_loss"] = tr.pretrain(model, data["pool"], steps=pr.steps,
                                               batch_size=pr.batch_size, lr=pr.lr,
                                               warmup=pr.warmup, n_threads=nt)
            out["pretrain_seconds"] = time.perf_counter() - t0
        j = MODELS.index(stage)
        out["lm_test_loss"][j] = tr.lm_loss(model, data["lm_test"], n_threads=nt)
        out["train"][j] = tr.extract_features(model, x_train, n_threads=nt).reshape(
            pr.n_draws, pr.n_train, width)
        out["test"][j] = tr.extract_features(model, x_test, n_threads=nt)
    return out


def run_width(protocol: Protocol, seed: int, width: int) -> dict:
    """One job of Figure 3: :func:`frozen_features`, then :func:`fit_heads` on every draw.

    Used for Figure 3 ({numref}`fig-transformer`).

    Returns
    -------
    dict
        ``pretrain_loss`` (steps,), ``lm_test_loss`` (models,), softmax-head
        arrays ``(models, ridges, draws)`` (see :func:`fit_heads`), squared-loss
        and rank arrays ``(models, draws)``, and timings (``pretrain_seconds``,
        ``head_seconds``, ``seconds``).
    """
    pr = _check_protocol(protocol)
    t_start = time.perf_counter()
    feats = frozen_features(pr, seed, width)
    n_m, n_r, n_d = len(MODELS), len(pr.ridges), pr.n_draws
    t0 = time.perf_counter()
    xtr = feats["train"].reshape(n_m * n_d, pr.n_train, -1)
    xte = np.repeat(feats["test"], n_d, axis=0)
    fitted = fit_heads(xtr, np.tile(feats["y_train"], (n_m, 1)), xte, feats["y_test"],
                       pr.n_tokens, ridges=pr.ridges, gtol=pr.gtol, max_iter=pr.max_iter,
                       n_threads=pr.n_threads)
    out = {k: feats[k] for k in ("pretrain_loss", "lm_test_loss", "pretrain_seconds")}
    for key, val in fitted.items():
        if val.ndim == 2:  # (ridges, models * draws)
            out[key] = val.reshape(n_r, n_m, n_d).transpose(1, 0, 2)
        else:
            out[key] = val.reshape(n_m, n_d)
    out["head_seconds"] = time.perf_counter() - t0
    out["seconds"] = time.perf_counter() - t_start
    return out


def ridge_path(protocol: Protocol, seed: int, width: int, ridges) -> dict:
    """The softmax head of one width along a path of ridges (how much the fit matters).

    Pre-trains the width-``p`` model of ``seed`` (:func:`frozen_features`) and
    fits the softmax head on every training draw, for both networks, at each
    ridge (largest first, warm-started). Shown next to Figure 3
    ({numref}`fig-transformer`).

    Returns
    -------
    dict
        ``ridges`` (sorted decreasing), and ``(models, ridges, draws)`` arrays
        ``test_ce``, ``train_acc``, ``weight_norm``, ``converged``.
    """
    pr = _check_protocol(protocol)
    ridges = np.atleast_1d(np.asarray(ridges, dtype=float))
    ridges = np.array([_v.real("ridges", r, low=0.0, low_open=True) for r in ridges])
    if ridges.size == 0 or np.unique(ridges).size != ridges.size:
        raise ValueError(f"ridges must be a non-empty sequence of distinct values, got {ridges!r}")
    ridges = np.sort(ridges)[::-1]
    feats = frozen_features(pr, seed, width)
    n_m, n_d = len(MODELS), pr.n_draws
    fitted = fit_heads(feats["train"].reshape(n_m * n_d, pr.n_train, -1),
                       np.tile(feats["y_train"], (n_m, 1)), np.repeat(feats["test"], n_d, axis=0),
                       feats["y_test"], pr.n_tokens, ridges=ridges, gtol=pr.gtol,
                       max_iter=pr.max_iter, n_threads=pr.n_threads)
    out = {"ridges": ridges, "width": width, "seed": seed}
    for key in ("test_ce", "train_acc", "weight_norm", "converged"):
        out[key] = fitted[key].reshape(len(ridges), n_m, n_d).transpose(1, 0, 2)
    return out


def reference_losses(protocol: Protocol, seed: int) -> dict:
    """The reference lines of Figure 3 for one seed, on that seed's test sequences.

    ``bayes_lm_loss``: Bayes filter, averaged over positions (compare with the
    language-model loss); ``bayes_head_loss``: Bayes filter on the head's task
    (predict ``x_{T+1}``); ``marginal_head_loss``: the context-free marginal law
    on the head's task ("model size 0" with infinite data); ``marginal_entropy``:
    its exact expectation; ``bias_only_test_ce``: the softmax head with no
    features (bias only, same ridge and solver) fitted on each training draw
    -- model size 0 with the same ``n`` (shape ``(ridges, draws)``).
    See :mod:`hmmrisk.discrete_hmm` and Figure 3 ({numref}`fig-transformer`).
    """
    pr = _check_protocol(protocol)
    data = _data(pr, _seed(seed))
    hmm = data["hmm"]
    y_train = data["head_train"][:, -1].reshape(pr.n_draws, pr.n_train)
    y_test = data["head_test"][:, -1]
    ones_tr = np.ones((pr.n_draws, pr.n_train, 1))
    ones_te = np.ones((pr.n_draws, pr.n_test, 1))
    bias = np.empty((len(pr.ridges), pr.n_draws))
    for k, ridge in enumerate(pr.ridges):
        fit = fit_softmax_head(ones_tr, y_train, pr.n_tokens, ridge=ridge, gtol=pr.gtol,
                               max_iter=pr.max_iter, n_threads=pr.n_threads)
        bias[k] = softmax_metrics(ones_te, np.broadcast_to(y_test, (pr.n_draws, pr.n_test)),
                                  fit.weights)[0]
    return {
        "bayes_lm_loss": dh.bayes_loss(hmm, data["lm_test"], positions="all"),
        "bayes_head_loss": dh.bayes_loss(hmm, data["head_test"], positions="last"),
        "marginal_head_loss": dh.marginal_loss(hmm, data["head_test"]),
        "marginal_entropy": dh.marginal_loss(hmm),
        "bias_only_test_ce": bias,
    }


def _job(args):
    protocol, seed, width = args
    with tr.threads(protocol.n_threads):
        return run_width(protocol, seed, width)


def run(protocol: Protocol, seeds=(0, 1, 2), *, n_workers: int | None = None) -> dict:
    """Run Figure 3's protocol for every seed and width; stack the results.

    The ``len(seeds) * len(widths)`` jobs (:func:`run_width`) are independent;
    with ``n_workers > 1`` they run on that many fresh worker processes
    (``spawn``; widest first, to balance the load), each with
    ``protocol.n_threads`` torch threads -- on a 2-core machine two
    single-threaded workers beat one two-threaded process and do not slow down
    badly when another program takes a core. The numbers do not depend on
    ``n_workers``.

    Parameters
    ----------
    protocol : Protocol
    seeds : sequence of int
        Distinct, non-negative.
    n_workers : int, optional
        Defaults to ``protocol.n_workers``; 1 runs in this process.

    Returns
    -------
    dict
        Every array of :func:`run_width` with leading axes ``(seed, width)``
        rearranged to ``(seed, model, [ridge,] width, draw)`` for the heads,
        ``(seed, model, width)`` for ``lm_test_loss``, ``(seed, width, step)``
        for ``pretrain_loss``; the :func:`reference_losses` per seed; and
        ``widths``, ``ridges``, ``seeds``, ``protocol``, ``wall_seconds``.
    """
    pr = _check_protocol(protocol)
    seeds = [_seed(s) for s in np.atleast_1d(np.asarray(seeds, dtype=object)).tolist()]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty sequence of distinct integers, got {seeds!r}")
    n_workers = pr.n_workers if n_workers is None else _v.integer("n_workers", n_workers)
    t0 = time.perf_counter()
    jobs = [(pr, s, w) for w in pr.widths[::-1] for s in seeds]
    if n_workers == 1:
        done = [_job(j) for j in jobs]
    else:
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx) as ex:
            done = list(ex.map(_job, jobs))
    by_key = {(s, w): r for (_, s, w), r in zip(jobs, done)}
    refs = [reference_losses(pr, s) for s in seeds]

    def stack(key):
        return np.stack([np.stack([np.asarray(by_key[s, w][key]) for w in pr.widths])
                         for s in seeds])

    out = {"widths": np.array(pr.widths), "ridges": np.array(pr.ridges),
           "seeds": np.array(seeds), "protocol": pr}
    out["pretrain_loss"] = stack("pretrain_loss")                       # (S, W, steps)
    for key in ("pretrain_seconds", "head_seconds", "seconds"):
        out[key] = stack(key)                                           # (S, W)
    out["lm_test_loss"] = stack("lm_test_loss").transpose(0, 2, 1)      # (S, M, W)
    for key in _HEAD_KEYS:
        out[key] = stack(key).transpose(0, 2, 3, 1, 4)                  # (S, M, L, W, D)
    for key in ("sq_test_loss", "sq_train_loss", "rank", "eff_rank", "sv_min_rel"):
        out[key] = stack(key).transpose(0, 2, 1, 3)                     # (S, M, W, D)
    for key in refs[0]:
        out[key] = np.stack([np.asarray(r[key]) for r in refs])
    out["wall_seconds"] = time.perf_counter() - t0
    return out


# ----------------------------------------------------------------------------
# summaries and figures
# ----------------------------------------------------------------------------

def _check_results(results) -> dict:
    need = ("widths", "test_ce", "train_acc", "sq_test_loss", "lm_test_loss", "protocol")
    if not isinstance(results, dict) or any(k not in results for k in need):
        raise ValueError("results must be the dict returned by hmmrisk.figure3.run")
    return results


def _first_width(widths, frac, level):
    hit = np.nonzero(frac >= level)[0]
    return int(widths[hit[0]]) if hit.size else None


def summarize(results: dict, *, ridge_index: int = 0) -> dict:
    """The numbers Figure 3's chapter quotes ({numref}`fig-transformer`).

    Per seed, a quantity is first averaged over the ``n_draws`` training sets;
    ``mean`` is the average of these per-seed values over seeds, ``lo``/``hi``
    their minimum and maximum (the spread over seeds).

    Returns
    -------
    dict
        For each model in :data:`MODELS` (keys ``"pretrained"``,
        ``"untrained"``): ``ce_mean/ce_lo/ce_hi`` (per width), ``peak_width``,
        ``peak_ce``, ``seed_peak_widths``, ``ce_first`` (smallest width),
        ``ce_last`` (largest), ``min_ce``, ``separated`` (fraction of (seed,
        draw) training sets the head separates, per width), ``sep_width``
        (first width where that fraction reaches 1/2, or None), ``sq_mean``,
        ``sq_lo``, ``sq_hi``, ``sq_peak_width``, ``lm_mean``, ``test_acc``,
        ``weight_norm``; and shared: ``widths``, ``n``, ``marginal``,
        ``bayes``, ``bayes_lm``, ``entropy``, ``bias_only``, ``all_converged``,
        ``max_grad_norm``, ``max_residual``, ``max_newton_steps``.
    """
    res = _check_results(results)
    ridge_index = _v.integer("ridge_index", ridge_index, minimum=0)
    if ridge_index >= len(res["ridges"]):
        raise ValueError(f"ridge_index must be < {len(res['ridges'])}, got {ridge_index!r}")
    widths = np.asarray(res["widths"])
    out = {"widths": widths, "n": res["protocol"].n_train,
           "marginal": float(np.mean(res["marginal_head_loss"])),
           "bayes": float(np.mean(res["bayes_head_loss"])),
           "bayes_lm": float(np.mean(res["bayes_lm_loss"])),
           "entropy": float(np.mean(res["marginal_entropy"])),
           "bias_only": float(np.mean(res["bias_only_test_ce"][:, ridge_index])),
           "all_converged": bool(np.all(res["converged"])),
           "max_grad_norm": float(np.max(res["grad_norm"])),
           "max_residual": float(np.max(res["residual"])),
           "max_newton_steps": int(np.max(res["n_iter"]))}
    for j, m in enumerate(MODELS):
        per_seed = res["test_ce"][:, j, ridge_index].mean(axis=-1)          # (S, W)
        mean = per_seed.mean(axis=0)
        k = int(np.argmax(mean))
        sep = (res["train_acc"][:, j, ridge_index] >= 1.0).mean(axis=(0, 2))
        sq_seed = res["sq_test_loss"][:, j].mean(axis=-1)
        sq_mean = sq_seed.mean(axis=0)
        out[m] = {
            "ce_mean": mean, "ce_lo": per_seed.min(axis=0), "ce_hi": per_seed.max(axis=0),
            "peak_width": int(widths[k]), "peak_ce": float(mean[k]),
            "seed_peak_widths": widths[np.argmax(per_seed, axis=1)],
            "ce_first": float(mean[0]), "ce_last": float(mean[-1]),
            "min_ce": float(mean.min()), "min_ce_width": int(widths[np.argmin(mean)]),
            "separated": sep, "sep_width": _first_width(widths, sep, 0.5),
            "sq_mean": sq_mean, "sq_lo": sq_seed.min(axis=0), "sq_hi": sq_seed.max(axis=0),
            "sq_peak_width": int(widths[np.argmax(sq_mean)]),
            "sq_seed_peak_widths": widths[np.argmax(sq_seed, axis=1)],
            "lm_mean": res["lm_test_loss"][:, j].mean(axis=0),
            "lm_lo": res["lm_test_loss"][:, j].min(axis=0),
            "lm_hi": res["lm_test_loss"][:, j].max(axis=0),
            "test_acc": res["test_acc"][:, j, ridge_index].mean(axis=(0, 2)),
            "train_acc": res["train_acc"][:, j, ridge_index].mean(axis=(0, 2)),
            "weight_norm": res["weight_norm"][:, j, ridge_index].mean(axis=(0, 2)),
            "eff_rank": res["eff_rank"][:, j].mean(axis=(0, 2)),
            "sv_min_rel": np.median(res["sv_min_rel"][:, j], axis=(0, 2)),
        }
    return out


_STYLE = {"pretrained": dict(color="C0", marker="o", label="pre-trained, frozen"),
          "untrained": dict(color="C1", marker="s", mfc="white", label="untrained (random init), frozen")}


def _new_axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    fig.patch.set_facecolor("white")
    ax.set_facecolor("white")
    return fig, ax


def _errorbar(ax, widths, mean, lo, hi, style, offset=1.0):
    ax.errorbar(np.asarray(widths) * offset, mean, yerr=[mean - lo, hi - mean], capsize=3,
                linestyle="-", linewidth=0.8, markersize=5, **style)


def _log_ticks(ax):
    """Readable tick labels (1, 2, 3, 5, 10, 20, 30, ...) on a log y-axis."""
    from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _xaxis(ax, widths):
    ax.set_xscale("log", base=2)
    ax.set_xticks(widths)
    ax.set_xticklabels([str(w) for w in widths], fontsize=8)
    ax.minorticks_off()
    ax.set_xlabel("model size $p$ (Transformer width $d_{model}$)")


def plot_figure3(results: dict, *, ax=None, ridge_index: int = 0, models=MODELS):
    """Figure 3 ({numref}`fig-transformer`): test cross-entropy of the tuned head vs width.

    Markers: mean over seeds (each seed averaged over its training draws);
    error bars: the range over seeds. Reference lines: the marginal predictor
    and the Bayes filter; dashed vertical line at ``p = n``, dotted at the
    first width where most training sets are separated. Log y-axis.

    Returns
    -------
    matplotlib.figure.Figure
    """
    summ = summarize(results, ridge_index=ridge_index)
    models = [_v.choice("models", m, set(MODELS)) for m in models]
    fig, ax = _new_axes(ax, (7.0, 5.4))
    w = summ["widths"]
    for i, m in enumerate(models):
        s = summ[m]
        _errorbar(ax, w, s["ce_mean"], s["ce_lo"], s["ce_hi"], _STYLE[m],
                  offset=1.0 + 0.04 * (i - (len(models) - 1) / 2))
        if s["sep_width"] is not None:
            ax.axvline(s["sep_width"], color=_STYLE[m]["color"], linestyle=":", linewidth=1.2,
                       label=f"{m}: half the training sets separated ($p$ = {s['sep_width']})")
    ax.axhline(summ["marginal"], color="0.35", linestyle="-.", linewidth=1.2,
               label=f"marginal predictor, \"model size 0\" ({summ['marginal']:.2f})")
    ax.axhline(summ["bayes"], color="k", linestyle="--", linewidth=1.2,
               label=f"Bayes filter ({summ['bayes']:.2f})")
    ax.axvline(summ["n"], color="C3", linestyle="--", linewidth=1.0, label=f"$p = n$ = {summ['n']}")
    ax.set_yscale("log")
    _log_ticks(ax)
    _xaxis(ax, w)
    ax.set_ylabel("test cross-entropy (nats)")
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
              framealpha=0.95)
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_pretraining(results: dict, *, seed_index: int = 0):
    """Did pre-training work? Language-model test loss per width, and training curves.

    Left: next-token test cross-entropy of each pre-trained width (mean and
    range over seeds) and of the untrained network, with the Bayes filter and
    the marginal entropy as references. Right: the pre-training loss per step
    (smoothed over 10 steps) of each width for one seed. Companion of Figure 3
    ({numref}`fig-transformer`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    summ = summarize(results)
    seed_index = _v.integer("seed_index", seed_index, minimum=0)
    if seed_index >= len(results["seeds"]):
        raise ValueError(f"seed_index must be < {len(results['seeds'])}, got {seed_index!r}")
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    fig.patch.set_facecolor("white")
    w = summ["widths"]
    for m in MODELS:
        s = summ[m]
        _errorbar(a0, w, s["lm_mean"], s["lm_lo"], s["lm_hi"], _STYLE[m])
    a0.axhline(summ["entropy"], color="0.35", linestyle="-.", label="marginal entropy")
    a0.axhline(summ["bayes_lm"], color="k", linestyle="--", label="Bayes filter")
    _xaxis(a0, w)
    a0.set_ylabel("LM test cross-entropy (nats)")
    a0.legend(fontsize=7.5)
    a0.grid(True, alpha=0.3)
    curves = results["pretrain_loss"][seed_index]
    cmap = plt.get_cmap("viridis")
    kernel = np.ones(10) / 10
    for i, width in enumerate(w):
        sm = np.convolve(curves[i], kernel, mode="valid")
        a1.plot(np.arange(sm.size) + 10, sm, color=cmap(i / max(1, len(w) - 1)), linewidth=1,
                label=f"p={width}")
    a1.axhline(summ["bayes_lm"], color="k", linestyle="--")
    a1.set_xlabel("pre-training step")
    a1.set_ylabel("training loss (10-step mean)")
    a1.legend(fontsize=6.5, ncol=2)
    a1.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def plot_companions(results: dict, *, ridge_index: int = 0):
    """The squared-loss head and the accuracies behind Figure 3 ({numref}`fig-transformer`).

    Left: test squared loss of the minimum-norm least-squares head (mean and
    range over seeds, log scale) for both networks, ``p = n`` marked. Right:
    train and test accuracy of the softmax head, with the fraction of
    training sets it separates.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    summ = summarize(results, ridge_index=ridge_index)
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(9.5, 4.6))
    fig.patch.set_facecolor("white")
    w = summ["widths"]
    for i, m in enumerate(MODELS):
        s = summ[m]
        _errorbar(a0, w, s["sq_mean"], s["sq_lo"], s["sq_hi"], _STYLE[m], offset=1.0 + 0.04 * (i - 0.5))
        a1.plot(w, s["train_acc"], color=_STYLE[m]["color"], marker=_STYLE[m]["marker"],
                mfc=_STYLE[m].get("mfc"), linewidth=1, label=f"{m}: train accuracy")
        a1.plot(w, s["test_acc"], color=_STYLE[m]["color"], marker=_STYLE[m]["marker"],
                mfc=_STYLE[m].get("mfc"), linewidth=1, linestyle="--", label=f"{m}: test accuracy")
        a1.plot(w, s["separated"], color=_STYLE[m]["color"], linewidth=2, alpha=0.35,
                label=f"{m}: fraction separated")
    for a in (a0, a1):
        a.axvline(summ["n"], color="C3", linestyle="--", linewidth=1.0)
        _xaxis(a, w)
        a.grid(True, alpha=0.3)
    a0.set_yscale("log")
    a0.set_ylabel("test squared loss, min-norm head")
    a0.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1)
    a1.set_ylabel("accuracy / fraction")
    a1.set_ylim(-0.02, 1.05)
    a1.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    fig.tight_layout()
    return fig


def plot_ridge_path(path: dict, *, marginal: float | None = None, headline: float | None = None):
    """Test cross-entropy, training accuracy and head norm against the ridge, at one width.

    Mean over the training draws, with their range as error bars; the
    marginal predictor as a reference and the ridge of the headline fit
    (``headline``) as a vertical line, if given. Companion of Figure 3
    ({numref}`fig-transformer`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    need = ("ridges", "test_ce", "train_acc", "weight_norm", "width", "seed")
    if not isinstance(path, dict) or any(k not in path for k in need):
        raise ValueError("path must be the dict returned by hmmrisk.figure3.ridge_path")
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    fig.patch.set_facecolor("white")
    lam = path["ridges"]
    for j, m in enumerate(MODELS):
        for ax, key in zip(axes, ("test_ce", "train_acc", "weight_norm")):
            val = path[key][j]
            mean = val.mean(axis=1)
            ax.errorbar(lam, mean, yerr=[mean - val.min(axis=1), val.max(axis=1) - mean],
                        capsize=3, linewidth=0.8, markersize=5, **_STYLE[m])
    if marginal is not None:
        axes[0].axhline(_v.real("marginal", marginal), color="0.35", linestyle="-.",
                        label="marginal predictor")
    for ax in axes:
        if headline is not None:
            ax.axvline(_v.real("headline", headline, low=0.0, low_open=True), color="C3",
                       linestyle=":", linewidth=1.2, label="ridge of the headline fit")
        ax.set_xscale("log")
        ax.set_xlabel(r"ridge $\lambda$")
        ax.grid(True, alpha=0.3)
        ax.invert_xaxis()
    axes[0].set_yscale("log")
    _log_ticks(axes[0])
    axes[2].set_yscale("log")
    axes[0].set_ylabel("test cross-entropy (nats)")
    axes[1].set_ylabel("training accuracy")
    axes[2].set_ylabel(r"head norm $\|W_a\|_F$")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"one width, p = {path['width']} (seed {path['seed']})", fontsize=9)
    fig.tight_layout()
    return fig
