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
    if position == "learned":
        torch.testing.assert_close(logits, window, atol=1e-5, rtol=1e-4)
    else:
        for layer_k, _ in state["kv"]:
            assert layer_k.shape[2] == 7  # context - 1 cached keys


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
