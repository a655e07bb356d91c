"""Tests for hmmrisk.transformer.network: the network, pre-training and frozen features."""

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from hmmrisk.transformer import hmm as dh
from hmmrisk.transformer import network as tr


def small_model(width=8, rng=0, **kw):
    return tr.CausalTransformer(6, width, 10, rng=rng, **kw)


def test_shapes_and_causality():
    model = small_model(n_heads=2)
    x = torch.tensor([[0, 1, 2, 3, 4, 5, 0, 1]])
    y = x.clone()
    y[0, 5] = 2
    with torch.no_grad():
        lx, ly = model(x), model(y)
    assert lx.shape == (1, 8, 6)
    torch.testing.assert_close(lx[:, :5], ly[:, :5])            # the past ignores the future
    assert not torch.allclose(lx[:, 5:], ly[:, 5:])


def test_initialisation_is_seeded_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    m1, m2, m3 = small_model(rng=5), small_model(rng=5), small_model(rng=6)
    assert torch.equal(torch.random.get_rng_state(), state)
    for (n1, p1), (_, p2), (_, p3) in zip(m1.named_parameters(), m2.named_parameters(),
                                          m3.named_parameters()):
        assert torch.equal(p1, p2), n1
        if n1.endswith(("tok_emb", "w_qkv")):
            assert not torch.equal(p1, p3)


def test_threads_context_restores():
    old = torch.get_num_threads()
    with tr.threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == old
    with tr.threads(None):
        assert torch.get_num_threads() == old


def test_tiny_pretraining_lowers_the_loss():
    hmm = dh.random_sparse_hmm(4, 6, n_successors=2, n_emissions=2, rng=0)
    pool = dh.sample(hmm, 60 * 16, 11, rng=1)
    test = dh.sample(hmm, 300, 11, rng=2)
    model = tr.CausalTransformer(6, 16, 10, rng=0)
    before = tr.lm_loss(model, test, n_threads=1)
    losses = tr.pretrain(model, pool, steps=60, batch_size=16, lr=1e-2, warmup=5, n_threads=1)
    after = tr.lm_loss(model, test, n_threads=1)
    assert losses.shape == (60,) and np.all(np.isfinite(losses))
    assert before == pytest.approx(np.log(6), abs=0.05)           # untrained ~ uniform
    assert after < before - 0.3
    assert after > dh.bayes_loss(hmm, test) - 0.05                # never beats Bayes by much


def test_pretraining_matches_torch_adamw():
    """The written-out AdamW step is torch.optim.AdamW with a LambdaLR schedule (an independent route)."""
    import math

    hmm = dh.random_sparse_hmm(4, 6, n_successors=2, n_emissions=2, rng=0)
    pool = dh.sample(hmm, 12 * 8, 11, rng=1)
    steps, warmup, lr, wd = 12, 3, 5e-3, 0.01
    ours = tr.CausalTransformer(6, 8, 10, rng=4)
    ref = tr.CausalTransformer(6, 8, 10, rng=4)
    losses = tr.pretrain(ours, pool, steps=steps, batch_size=8, lr=lr, warmup=warmup,
                         weight_decay=wd, n_threads=1)

    def schedule(step):
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / (steps - warmup)))

    named = list(ref.named_parameters())
    opt = torch.optim.AdamW([{"params": [p for n, p in named if n.split(".")[-1].startswith("w_")],
                              "weight_decay": wd},
                             {"params": [p for n, p in named if not n.split(".")[-1].startswith("w_")],
                              "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    data = torch.as_tensor(pool)
    ref_losses = []
    for step in range(steps):
        batch = data[step * 8:(step + 1) * 8]
        loss = torch.nn.functional.cross_entropy(ref(batch[:, :-1]).reshape(-1, 6), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0)
        opt.step()
        sched.step()
        ref_losses.append(loss.item())
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
    for (name, a), b in zip(ours.named_parameters(), ref.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=name)


def test_pretraining_is_deterministic():
    hmm = dh.random_sparse_hmm(4, 6, n_successors=2, n_emissions=2, rng=0)
    pool = dh.sample(hmm, 5 * 8, 11, rng=1)
    runs = []
    for _ in range(2):
        model = small_model(rng=3)
        runs.append(tr.pretrain(model, pool, steps=5, batch_size=8, warmup=1, n_threads=1))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_lm_loss_matches_manual_cross_entropy():
    model = small_model()
    toks = np.random.default_rng(0).integers(0, 6, size=(7, 11))
    with torch.no_grad():
        logits = model(torch.as_tensor(toks[:, :-1]))
        manual = F.cross_entropy(logits.reshape(-1, 6), torch.as_tensor(toks[:, 1:]).reshape(-1))
    assert tr.lm_loss(model, toks, batch_size=3) == pytest.approx(manual.item(), rel=1e-6)


@pytest.mark.parametrize("n_layers", [1, 2])
def test_extract_features_is_the_last_hidden_state(n_layers):
    model = small_model(n_layers=n_layers)
    toks = np.random.default_rng(1).integers(0, 6, size=(5, 9))
    before = [p.detach().clone() for p in model.parameters()]
    feats = tr.extract_features(model, toks, batch_size=2)
    assert feats.shape == (5, 8) and feats.dtype == np.float64
    with torch.no_grad():
        ref = model.hidden(torch.as_tensor(toks))[:, -1, :].numpy()
        ref64 = copy.deepcopy(model).double().hidden(torch.as_tensor(toks))[:, -1, :].numpy()
    np.testing.assert_allclose(feats, ref, atol=1e-5)
    np.testing.assert_allclose(feats, ref64, atol=1e-12)     # the last-position shortcut is exact
    # LayerNorm at initialisation (gain 1, bias 0): features are centred (exactly, in
    # float64), with mean square var / (var + eps) <= 1
    np.testing.assert_allclose(feats.sum(1), 0.0, atol=1e-10)
    ms = (feats ** 2).mean(1)
    assert np.all(ms <= 1.0) and np.all(ms > 0.9)
    for p, q in zip(before, model.parameters()):
        assert torch.equal(p, q) and q.dtype == torch.float32


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_tokens=1, width=4, context=5), "n_tokens"),
    (dict(n_tokens=6, width=0, context=5), "width"),
    (dict(n_tokens=6, width=4, context=0), "context"),
    (dict(n_tokens=6, width=6, context=5, n_heads=4), "width"),
    (dict(n_tokens=6, width=4, context=5, n_layers=0), "n_layers"),
    (dict(n_tokens=6, width=4, context=5, rng=-2), "rng"),
])
def test_model_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tr.CausalTransformer(**kwargs)


def test_functions_reject_bad_input():
    model = small_model()
    pool = np.zeros((8, 11), dtype=int)
    with pytest.raises(ValueError, match="tokens"):
        model(torch.tensor([[0, 6]]))
    with pytest.raises(ValueError, match="tokens"):
        model(torch.zeros(1, 11, dtype=torch.long))          # longer than the context
    with pytest.raises(ValueError, match="model"):
        tr.pretrain("model", pool)
    with pytest.raises(ValueError, match="pool"):
        tr.pretrain(model, np.zeros((8, 12), dtype=int))   # T + 1 > context + 1
    with pytest.raises(ValueError, match="pool"):
        tr.pretrain(model, pool.astype(float))
    with pytest.raises(ValueError, match="steps"):
        tr.pretrain(model, pool, steps=0)
    with pytest.raises(ValueError, match="lr"):
        tr.pretrain(model, pool, lr=0.0)
    with pytest.raises(ValueError, match="lr"):
        tr.pretrain(model, pool, lr=float("nan"))
    with pytest.raises(ValueError, match="warmup"):
        tr.pretrain(model, pool, steps=3, warmup=4)
    with pytest.raises(ValueError, match="tokens"):
        tr.lm_loss(model, np.full((2, 5), 7))
    with pytest.raises(ValueError, match="tokens"):
        tr.extract_features(model, np.zeros((2, 11), dtype=int))
    with pytest.raises(ValueError, match="n_threads"):
        with tr.threads(0):
            pass
