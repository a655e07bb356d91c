"""A small causal Transformer whose width is the "model size" of Figure 3.

Figure 3 (:numref:`fig-transformer`) pre-trains, for each width ``p``, a
one-layer decoder-only Transformer on next-token prediction of HMM sequences,
freezes it, and tunes a head on its last hidden state. This module holds the
network (:class:`CausalTransformer`), its pre-training (:func:`pretrain`), its
language-model loss (:func:`lm_loss`) and the frozen feature extractor
(:func:`extract_features`).

Architecture (pre-LayerNorm, GPT style, no dropout), for tokens
``x_1..x_T`` and width ``p``:

``h_0 = tok_emb[x_t] + pos_emb[t]``;
per layer ``h <- h + Attn(LN(h))``, ``h <- h + W_2 GELU(W_1 LN(h))``
(``W_1``: ``p -> 4p``), causal self-attention;
last hidden state ``z_t = LN_f(h_t)`` (this is what a head sees);
logits ``= z_t W_out + b_out``.

Parameters are initialised from an explicit ``torch.Generator`` (weights
``N(0, 0.02^2)``, residual output projections ``N(0, (0.02 / sqrt(2 L))^2)``,
biases 0, LayerNorm gains 1), so no global random state is read or changed.
Torch's thread count is changed only inside :func:`threads` and restored after.
The functions here default to one thread: on the book's shared 2-core machine a
second OpenMP thread often waits for a core that another program holds, and a
run then slows down many-fold instead of speeding up; Figure 3 gets its
parallelism from two single-threaded worker processes instead
(:func:`hmmrisk.transformer.experiment.run`).
"""

from __future__ import annotations

import contextlib
import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as _v

__all__ = [
    "CausalTransformer",
    "threads",
    "pretrain",
    "lm_loss",
    "extract_features",
]


@contextlib.contextmanager
def threads(n_threads: int | None):
    """Run a block with ``torch.set_num_threads(n_threads)``, restoring the old value.

    ``None`` leaves the setting alone. Figure 3 runs single-threaded workers
    (see the module docstring).
    """
    if n_threads is None:
        yield
        return
    n = _v.integer("n_threads", n_threads)
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@contextlib.contextmanager
def _without_onednn():
    """Run a block with oneDNN (mkldnn) kernels off, restoring the setting after."""
    old = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = old


def _generator(rng) -> torch.Generator:
    if isinstance(rng, torch.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or rng < 0:
        raise ValueError(f"rng must be a non-negative integer or a torch.Generator, got {rng!r}")
    gen = torch.Generator()
    gen.manual_seed(int(rng))
    return gen


class _Block(nn.Module):
    def __init__(self, width: int, n_heads: int, mlp_width: int):
        super().__init__()
        p = width
        self.n_heads = n_heads
        self.ln1 = nn.LayerNorm(p)
        self.ln2 = nn.LayerNorm(p)
        self.w_qkv = nn.Parameter(torch.empty(p, 3 * p))
        self.b_qkv = nn.Parameter(torch.zeros(3 * p))
        self.w_o = nn.Parameter(torch.empty(p, p))
        self.b_o = nn.Parameter(torch.zeros(p))
        self.w_1 = nn.Parameter(torch.empty(p, mlp_width))
        self.b_1 = nn.Parameter(torch.zeros(mlp_width))
        self.w_2 = nn.Parameter(torch.empty(mlp_width, p))
        self.b_2 = nn.Parameter(torch.zeros(p))

    def forward_last(self, h: torch.Tensor) -> torch.Tensor:
        """The block's output at the last position only (keys and values from all)."""
        b, t, p = h.shape
        nh = self.n_heads
        x = self.ln1(h)
        w_q, w_kv = self.w_qkv[:, :p], self.w_qkv[:, p:]
        b_q, b_kv = self.b_qkv[:p], self.b_qkv[p:]
        q = (x[:, -1:] @ w_q + b_q).view(b, 1, nh, p // nh).transpose(1, 2)
        k, v = (x @ w_kv + b_kv).view(b, t, 2, nh, p // nh).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v)   # the last query sees every key
        h_last = h[:, -1] + att.transpose(1, 2).reshape(b, p) @ self.w_o + self.b_o
        return h_last + F.gelu(self.ln2(h_last) @ self.w_1 + self.b_1) @ self.w_2 + self.b_2

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        b, t, p = h.shape
        nh = self.n_heads
        qkv = self.ln1(h) @ self.w_qkv + self.b_qkv
        q, k, v = qkv.view(b, t, 3, nh, p // nh).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = h + att.transpose(1, 2).reshape(b, t, p) @ self.w_o + self.b_o
        return h + F.gelu(self.ln2(h) @ self.w_1 + self.b_1) @ self.w_2 + self.b_2


class CausalTransformer(nn.Module):
    """Decoder-only pre-LN Transformer of width ``p`` (the model size of Figure 3).

    Used by Figure 3 (:numref:`fig-transformer`); the architecture is stated in
    the module docstring.

    Parameters
    ----------
    n_tokens : int
        Vocabulary size ``V >= 2``.
    width : int
        ``d_model = p >= 1``; must be divisible by ``n_heads``.
    context : int
        Maximum sequence length ``T >= 1`` (learned position embeddings).
    n_layers : int
        Number of blocks ``L >= 1``.
    n_heads : int
        Attention heads, ``>= 1``.
    mlp_ratio : int
        Hidden width of the feed-forward layer is ``mlp_ratio * p``.
    rng : int or torch.Generator
        Initialisation randomness.
    """

    def __init__(self, n_tokens: int, width: int, context: int, *, n_layers: int = 1,
                 n_heads: int = 1, mlp_ratio: int = 4, rng=0):
        super().__init__()
        v = _v.integer("n_tokens", n_tokens, minimum=2)
        p = _v.integer("width", width)
        t = _v.integer("context", context)
        n_layers = _v.integer("n_layers", n_layers)
        n_heads = _v.integer("n_heads", n_heads)
        mlp_ratio = _v.integer("mlp_ratio", mlp_ratio)
        if p % n_heads:
            raise ValueError(f"width must be divisible by n_heads={n_heads}, got {p!r}")
        gen = _generator(rng)
        self.n_tokens, self.width, self.context = v, p, t
        self.tok_emb = nn.Parameter(torch.empty(v, p))
        self.pos_emb = nn.Parameter(torch.empty(t, p))
        self.blocks = nn.ModuleList(_Block(p, n_heads, mlp_ratio * p) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(p)
        self.w_out = nn.Parameter(torch.empty(p, v))
        self.b_out = nn.Parameter(torch.zeros(v))
        std = 0.02
        resid_std = std / math.sqrt(2 * n_layers)
        with torch.no_grad():
            for name, par in self.named_parameters():
                if name.endswith(("w_o", "w_2")):
                    par.normal_(0.0, resid_std, generator=gen)
                elif name.endswith(("tok_emb", "pos_emb", "w_qkv", "w_1", "w_out")):
                    par.normal_(0.0, std, generator=gen)

    def _check_input(self, tokens: torch.Tensor) -> torch.Tensor:
        if not isinstance(tokens, torch.Tensor):
            arr = np.asarray(tokens)
            if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
                    or arr.dtype == bool):
                raise ValueError(f"tokens must be an integer array, got dtype {arr.dtype}")
            tokens = torch.as_tensor(arr)
        if tokens.ndim != 2 or tokens.shape[0] < 1 or tokens.shape[1] < 1:
            raise ValueError(f"tokens must be a non-empty 2-d array, got shape {tuple(tokens.shape)}")
        if tokens.dtype.is_floating_point or tokens.dtype == torch.bool:
            raise ValueError(f"tokens must be integers, got dtype {tokens.dtype}")
        if tokens.shape[1] > self.context:
            raise ValueError(f"tokens must have at most context={self.context} positions, "
                             f"got {tokens.shape[1]}")
        if int(tokens.min()) < 0 or int(tokens.max()) >= self.n_tokens:
            raise ValueError(f"tokens must lie in [0, {self.n_tokens - 1}], got range "
                             f"[{int(tokens.min())}, {int(tokens.max())}]")
        return tokens.long()

    def hidden(self, tokens) -> torch.Tensor:
        """Last hidden states ``z_t = LN_f(h_t)``, shape ``(batch, T, p)``."""
        x = self._check_input(tokens)
        h = self.tok_emb[x] + self.pos_emb[: x.shape[1]]
        for block in self.blocks:
            h = block(h)
        return self.ln_f(h)

    def last_hidden(self, tokens) -> torch.Tensor:
        """``z_T = LN_f(h_T)`` at the last position only, shape ``(batch, p)``.

        Equal to ``hidden(tokens)[:, -1]`` but the last block runs its
        query, feed-forward layer and final LayerNorm at one position only.
        """
        x = self._check_input(tokens)
        h = self.tok_emb[x] + self.pos_emb[: x.shape[1]]
        for block in self.blocks[:-1]:
            h = block(h)
        return self.ln_f(self.blocks[-1].forward_last(h))

    def forward(self, tokens) -> torch.Tensor:
        """Next-token logits, shape ``(batch, T, V)``."""
        return self.hidden(tokens) @ self.w_out + self.b_out


def _check_model(model) -> CausalTransformer:
    if not isinstance(model, CausalTransformer):
        raise ValueError(f"model must be a CausalTransformer, got {type(model).__name__}")
    return model


def _check_sequences(name: str, tokens, model: CausalTransformer, extra: int) -> torch.Tensor:
    arr = np.asarray(tokens)
    if arr.ndim != 2 or arr.shape[0] < 1:
        raise ValueError(f"{name} must be a non-empty 2-d integer array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if not 1 + extra <= arr.shape[1] <= model.context + extra:
        raise ValueError(f"{name} must have between {1 + extra} and {model.context + extra} "
                         f"positions, got {arr.shape[1]}")
    if arr.min() < 0 or arr.max() >= model.n_tokens:
        raise ValueError(f"{name} must lie in [0, {model.n_tokens - 1}], got range "
                         f"[{arr.min()}, {arr.max()}]")
    return torch.as_tensor(arr, dtype=torch.long)


def _adamw_step(params, state, weight_decay, lr, t, betas=(0.9, 0.95), eps=1e-8):
    """One AdamW step (Loshchilov & Hutter), as ``torch.optim.AdamW`` computes it.

    For each parameter ``w`` with gradient ``g``, moments ``m, v`` and step
    ``t``: ``w <- w (1 - lr wd)``; ``m <- b1 m + (1 - b1) g``;
    ``v <- b2 v + (1 - b2) g^2``;
    ``w <- w - (lr / (1 - b1^t)) m / (sqrt(v / (1 - b2^t)) + eps)``.
    Written out here (tested against ``torch.optim.AdamW``) because
    ``torch.optim`` imports ``torch._dynamo``, seconds of CPU in every worker
    process of Figure 3.
    """
    b1, b2 = betas
    c1, c2 = 1.0 - b1 ** t, math.sqrt(1.0 - b2 ** t)
    with torch.no_grad():
        for w, (m, v), wd in zip(params, state, weight_decay):
            g = w.grad
            if wd:
                w.mul_(1.0 - lr * wd)
            m.lerp_(g, 1.0 - b1)
            v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
            w.addcdiv_(m, v.sqrt().div_(c2).add_(eps), value=-lr / c1)


def pretrain(model: CausalTransformer, pool, *, steps: int = 200, batch_size: int = 32,
             lr: float = 3e-3, warmup: int = 20, weight_decay: float = 0.01,
             clip: float = 1.0, n_threads: int | None = 1) -> np.ndarray:
    """Pre-train ``model`` in place on next-token prediction; return the loss per step.

    Minimises the mean next-token cross-entropy
    ``-(1/T) sum_t log softmax(f(x_{1..t}))[x_{t+1}]`` with AdamW (learning rate
    ``lr``, betas 0.9 and 0.95, linear warm-up over ``warmup`` steps, cosine decay to 0), gradient
    clipping at norm ``clip``. Step ``s`` uses rows ``s*B .. (s+1)*B - 1`` of
    ``pool`` (cycling if the pool is shorter), so every model trained on the
    same pool sees the same batches in the same order, and training is
    deterministic given the initialisation. Used for Figure 3
    (:numref:`fig-transformer`).

    Parameters
    ----------
    model : CausalTransformer
    pool : int array, shape (N, T + 1)
        Token sequences; inputs are ``pool[:, :-1]``, targets ``pool[:, 1:]``.
    steps, batch_size, warmup : int
        ``steps >= 1``, ``batch_size >= 1``, ``0 <= warmup <= steps``.
    lr, weight_decay, clip : float
        ``lr > 0``, ``weight_decay >= 0``, ``clip > 0``.
    n_threads : int or None
        Torch threads during training (restored afterwards; ``None``: leave as is).

    Returns
    -------
    numpy.ndarray, shape (steps,)
        Training loss (nats) of each step's batch before its update.
    """
    model = _check_model(model)
    data = _check_sequences("pool", pool, model, extra=1)
    steps = _v.integer("steps", steps)
    batch_size = _v.integer("batch_size", batch_size)
    warmup = _v.integer("warmup", warmup, minimum=0)
    if warmup > steps:
        raise ValueError(f"warmup must be <= steps={steps}, got {warmup!r}")
    lr = _v.real("lr", lr, low=0.0, low_open=True)
    weight_decay = _v.real("weight_decay", weight_decay, low=0.0)
    clip = _v.real("clip", clip, low=0.0, low_open=True)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        frac = (step - warmup) / max(1, steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * frac))

    params = list(model.named_parameters())
    wd = [weight_decay if n.split(".")[-1].startswith("w_") else 0.0 for n, _ in params]
    params = [p for _, p in params]
    state = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    n_pool = data.shape[0]
    losses = np.empty(steps)
    model.train()
    # oneDNN off: for these small matrices PyTorch's own CPU kernels are faster
    # (measured in bench/bench_figure3.py; the losses agree to rounding)
    with threads(n_threads), _without_onednn():
        for step in range(steps):
            idx = (torch.arange(batch_size) + step * batch_size) % n_pool
            batch = data[idx]
            logits = model(batch[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, model.n_tokens), batch[:, 1:].reshape(-1))
            for p in params:
                p.grad = None
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, clip)
            _adamw_step(params, state, wd, lr * schedule(step), step + 1)
            losses[step] = loss.item()
    model.eval()
    return losses


def lm_loss(model: CausalTransformer, tokens, *, batch_size: int = 1000,
            n_threads: int | None = 1) -> float:
    """Mean next-token cross-entropy (nats) of ``model`` on ``tokens`` (shape ``(N, T + 1)``).

    ``-(1 / (N T)) sum_i sum_t log softmax(f(x_{i,1..t}))[x_{i,t+1}]``; compare
    with :func:`hmmrisk.transformer.hmm.bayes_loss` (``positions="all"``), its
    lower bound. Shown per width next to Figure 3 (:numref:`fig-transformer`).
    """
    model = _check_model(model)
    data = _check_sequences("tokens", tokens, model, extra=1)
    batch_size = _v.integer("batch_size", batch_size)
    total = 0.0
    with threads(n_threads), torch.no_grad():
        for start in range(0, data.shape[0], batch_size):
            batch = data[start:start + batch_size]
            logits = model(batch[:, :-1])
            total += F.cross_entropy(logits.reshape(-1, model.n_tokens),
                                     batch[:, 1:].reshape(-1), reduction="sum").item()
    return total / (data.shape[0] * (data.shape[1] - 1))


def extract_features(model: CausalTransformer, tokens, *, batch_size: int = 1000,
                     n_threads: int | None = 1) -> np.ndarray:
    """Frozen features: the last hidden state ``z_T = LN_f(h_T)`` at the last position.

    For each sequence ``x_1..x_T`` (shape ``(N, T)``, ``T <= context``) returns
    ``z_T``, shape ``(N, p)``; a head tuned on it predicts ``x_{T+1}``
    (Figure 3, :numref:`fig-transformer`). The forward pass runs on a float64
    copy of the network (the model itself is not changed): LayerNorm makes
    ``z_T`` lie in a ``(p - 1)``-dimensional affine subspace, and in float32
    that exact null direction would come back as rounding noise of about ``1e-7`` that a
    minimum-norm head would happily fit.
    """
    model = _check_model(model)
    data = _check_sequences("tokens", tokens, model, extra=0)
    batch_size = _v.integer("batch_size", batch_size)
    frozen = copy.deepcopy(model).double().eval()
    out = []
    with threads(n_threads), torch.no_grad():
        for start in range(0, data.shape[0], batch_size):
            out.append(frozen.last_hidden(data[start:start + batch_size]))
    return torch.cat(out).numpy()
