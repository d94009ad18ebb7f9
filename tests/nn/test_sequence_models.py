"""The token LMs: cached decoding matches a full forward pass; shapes; context sliding."""

from __future__ import annotations

import pytest
import torch

from museforge.nn.lstm import LSTMLM, LSTMShape
from museforge.nn.transformer import TransformerLM, TransformerShape


def _incremental_logits(net, idx: torch.Tensor) -> torch.Tensor:
    logits, state = net.start(idx[:, :1])
    outs = [logits]
    for t in range(1, idx.shape[1]):
        logits, state = net.step(idx[:, t], state)
        outs.append(logits)
    return torch.stack(outs, dim=1)


@pytest.mark.parametrize("position", ["rope", "learned"])
def test_transformer_cache_matches_full_forward(position):
    torch.manual_seed(0)
    net = TransformerLM(
        TransformerShape(
            vocab_size=11, context=16, n_layer=2, n_head=2, n_embd=16, position=position
        )
    ).eval()
    idx = torch.randint(0, 11, (3, 12))
    with torch.no_grad():
        full = net(idx)
        step = _incremental_logits(net, idx)
    assert full.shape == (3, 12, 11)
    torch.testing.assert_close(step, full, atol=1e-5, rtol=1e-4)


def test_transformer_prefill_then_steps_match():
    torch.manual_seed(1)
    net = TransformerLM(TransformerShape(vocab_size=7, context=32, n_layer=2, n_head=2, n_embd=16))
    net.eval()
    idx = torch.randint(0, 7, (2, 10))
    with torch.no_grad():
        full = net(idx)
        logits, state = net.start(idx[:, :6])
        torch.testing.assert_close(logits, full[:, 5], atol=1e-5, rtol=1e-4)
        for t in range(6, 10):
            logits, state = net.step(idx[:, t], state)
            torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("position", ["rope", "learned"])
def test_transformer_samples_past_its_context(position):
    """Beyond the context the cache slides (RoPE) or the window is re-encoded (learned)."""
    torch.manual_seed(2)
    shape = TransformerShape(
        vocab_size=5, context=8, n_layer=1, n_head=2, n_embd=8, position=position
    )
    net = TransformerLM(shape).eval()
    idx = torch.randint(0, 5, (1, 20))
    with torch.no_grad():
        logits, state = net.start(idx[:, :1])
        for t in range(1, 20):
            logits, state = net.step(idx[:, t], state)
        # The last prediction depends only on the last `context` tokens.
        window = net(idx[:, -8:])[:, -1]
    assert torch.isfinite(logits).all()
    # RoPE attention depends only on relative distance, so sliding matches a fresh window.
    torch.testing.assert_close(logits, window, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("position", ["rope", "learned"])
@pytest.mark.parametrize("prompt", [1, 5, 30])
def test_transformer_steps_match_full_forward_beyond_the_context(position, prompt):
    """Every step, before and after the in-place cache grows and shifts, predicts what a
    full forward pass over the last ``context`` tokens predicts. (With RoPE that holds for
    one layer: deeper cached keys past the window carry older context, as in any sliding
    cache; the bit-identity test below covers deeper models.)"""
    torch.manual_seed(4)
    context = 12
    shape = TransformerShape(
        vocab_size=9,
        context=context,
        n_layer=1 if position == "rope" else 2,
        n_head=2,
        n_embd=16,
        position=position,
    )
    net = TransformerLM(shape).eval()
    idx = torch.randint(0, 9, (2, 70))
    with torch.no_grad():
        logits, state = net.start(idx[:, :prompt])
        lo = max(0, prompt - context)
        torch.testing.assert_close(logits, net(idx[:, lo:prompt])[:, -1], atol=1e-5, rtol=1e-4)
        for t in range(prompt, 70):
            logits, state = net.step(idx[:, t], state)
            window = net(idx[:, max(0, t + 1 - context) : t + 1])[:, -1]
            torch.testing.assert_close(logits, window, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("position", ["rope", "learned"])
def test_transformer_step_matches_the_concatenating_cache(position):
    """The in-place cache and the fused step give the logits of the plain path (``_run``
    with a cache that grows by concatenation and keeps the last ``context - 1`` keys), up
    to float rounding, at every step: while the buffers grow, once they shift, and with
    RoPE past the context in a model deeper than one layer."""
    torch.manual_seed(5)
    context = 10
    shape = TransformerShape(
        vocab_size=13, context=context, n_layer=2, n_head=2, n_embd=16, position=position
    )
    net = TransformerLM(shape).eval()
    idx = torch.randint(0, 13, (3, 60))
    with torch.inference_mode():
        logits, state = net.start(idx[:, :3])
        ref, cache = net._run(idx[:, :3], 0, None)
        torch.testing.assert_close(logits, ref[:, -1], atol=1e-5, rtol=1e-5)
        recent = idx[:, :3]
        for t in range(3, 60):
            logits, state = net.step(idx[:, t], state)
            recent = torch.cat((recent, idx[:, t : t + 1]), dim=1)[:, -context:]
            if position == "learned" and t >= context:
                ref, cache = net._run(recent, 0, None)
            else:
                ref, cache = net._run(idx[:, t : t + 1], t, cache)
            torch.testing.assert_close(logits, ref[:, -1], atol=1e-5, rtol=1e-5)


def test_lstm_cache_matches_full_forward():
    torch.manual_seed(3)
    net = LSTMLM(LSTMShape(vocab_size=9, n_layer=2, n_embd=16)).eval()
    idx = torch.randint(0, 9, (2, 15))
    with torch.no_grad():
        torch.testing.assert_close(_incremental_logits(net, idx), net(idx), atol=1e-5, rtol=1e-4)


def test_shapes_reject_bad_sizes():
    with pytest.raises(ValueError, match="heads"):
        TransformerShape(vocab_size=5, n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="position"):
        TransformerShape(vocab_size=5, position="alibi")
    with pytest.raises(ValueError, match="dropout"):
        LSTMShape(vocab_size=5, dropout=1.5)


def test_output_layer_is_tied_to_the_embedding():
    net = TransformerLM(TransformerShape(vocab_size=13, n_embd=16, n_head=2, n_layer=1))
    assert net.head.weight.data_ptr() == net.embed.weight.data_ptr()


def test_training_after_sampling_in_the_same_process():
    """RoPE tables first built while sampling (inference mode) must not break training."""
    from museforge.nn.transformer import _ROPE, _ROPE_MATRICES

    _ROPE.clear()
    _ROPE_MATRICES.clear()
    torch.manual_seed(0)
    net = TransformerLM(TransformerShape(11, 16, 1, 2, 16, 0.0, "rope", False))
    with torch.inference_mode():
        _, state = net.start(torch.tensor([[1, 2, 3]]))
        net.step(torch.tensor([4]), state)
    loss = net(torch.randint(11, (2, 8))).logsumexp(-1).mean()
    loss.backward()
    assert net.embed.weight.grad is not None
