"""A small decoder-only transformer over token ids, with a KV cache for fast sampling.

Pre-LayerNorm blocks, causal self-attention through ``scaled_dot_product_attention``,
GELU MLPs and an output layer tied to the token embedding. Positions are either rotary
(RoPE: attention sees only relative distance, so the cache can slide past the training
context) or learned absolute embeddings (the classic GPT recipe, kept for baselines).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class TransformerShape:
    """Sizes of a :class:`TransformerLM`."""

    vocab_size: int
    context: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    position: str = "rope"  # rope | learned
    bias: bool = False

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head or (self.n_embd // self.n_head) % 2:
            raise ValueError(f"n_embd {self.n_embd} must split into {self.n_head} even-sized heads")
        if self.position not in ("rope", "learned"):
            raise ValueError(f"position must be 'rope' or 'learned' (got {self.position!r})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1) (got {self.dropout})")


KVCache = list[tuple[torch.Tensor, torch.Tensor]]


_ROPE: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}


def _rope_tables(head_dim: int, start: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin of the rotary angles at positions ``start…start+length-1``, each (length, D/2);
    computed once per head size and grown as needed (sampling asks for one per step)."""
    need = start + length
    cos, sin = _ROPE.get(head_dim, (torch.empty(0), torch.empty(0)))
    if cos.shape[0] < need:
        size = max(need, 2 * cos.shape[0], 1024)
        inv = 1.0 / (10000 ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        angles = torch.arange(size, dtype=torch.float32)[:, None] * inv[None, :]
        cos, sin = angles.cos(), angles.sin()
        _ROPE[head_dim] = (cos, sin)
    return cos[start:need], sin[start:need]


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Apply RoPE to (B, H, T, D) with tables of shape (T, D/2), pairs (even, odd)."""
    even, odd = x[..., 0::2], x[..., 1::2]
    out = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)
    return out.flatten(-2)


class Attention(nn.Module):
    def __init__(self, shape: TransformerShape):
        super().__init__()
        self.n_head, self.rope = shape.n_head, shape.position == "rope"
        self.qkv = nn.Linear(shape.n_embd, 3 * shape.n_embd, bias=shape.bias)
        self.proj = nn.Linear(shape.n_embd, shape.n_embd, bias=shape.bias)
        self.resid_drop = nn.Dropout(shape.dropout)

    def forward(
        self,
        x: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor] | None,
        cache: tuple[torch.Tensor, torch.Tensor] | None,
        window: int,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        if rope is not None:
            q, k = _rotate(q, *rope), _rotate(k, *rope)
        if cache is not None:
            k, v = torch.cat((cache[0], k), dim=2), torch.cat((cache[1], v), dim=2)
        # A prefill (no cache) is causal; one new token may attend to everything cached.
        # No dropout on attention weights: it forces PyTorch's slow attention path on CPU
        # (twice the step time) and residual dropout regularises as well here.
        causal = cache is None and t > 1
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        y = y.transpose(1, 2).reshape(b, t, c)
        return self.resid_drop(self.proj(y)), (k[:, :, -window:], v[:, :, -window:])


class Block(nn.Module):
    def __init__(self, shape: TransformerShape):
        super().__init__()
        self.ln1 = nn.LayerNorm(shape.n_embd, bias=shape.bias)
        self.attn = Attention(shape)
        self.ln2 = nn.LayerNorm(shape.n_embd, bias=shape.bias)
        self.mlp = nn.Sequential(
            nn.Linear(shape.n_embd, 4 * shape.n_embd, bias=shape.bias),
            nn.GELU(),
            nn.Linear(4 * shape.n_embd, shape.n_embd, bias=shape.bias),
            nn.Dropout(shape.dropout),
        )

    def forward(self, x, rope, cache, window):
        a, new_cache = self.attn(self.ln1(x), rope, cache, window)
        x = x + a
        return x + self.mlp(self.ln2(x)), new_cache


class TransformerLM(nn.Module):
    """Next-token logits over ``vocab_size`` ids; ``forward`` for training, ``step`` to sample."""

    def __init__(self, shape: TransformerShape):
        super().__init__()
        self.shape = shape
        self.embed = nn.Embedding(shape.vocab_size, shape.n_embd)
        if shape.position == "learned":
            self.pos = nn.Embedding(shape.context, shape.n_embd)
        self.drop = nn.Dropout(shape.dropout)
        self.blocks = nn.ModuleList(Block(shape) for _ in range(shape.n_layer))
        self.ln_f = nn.LayerNorm(shape.n_embd, bias=shape.bias)
        self.head = nn.Linear(shape.n_embd, shape.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied: fewer parameters, better on small data
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * shape.n_layer))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def _run(self, idx: torch.Tensor, start: int, cache: KVCache | None):
        t = idx.shape[1]
        x = self.embed(idx)
        rope = None
        if self.shape.position == "learned":
            if start + t > self.shape.context:
                raise ValueError(f"learned positions end at {self.shape.context} tokens")
            x = x + self.pos(torch.arange(start, start + t, device=idx.device))
        else:
            cos, sin = _rope_tables(self.shape.n_embd // self.shape.n_head, start, t)
            rope = (cos.to(x.device, x.dtype), sin.to(x.device, x.dtype))
        x = self.drop(x)
        window = self.shape.context - 1
        new_cache: KVCache = []
        for i, block in enumerate(self.blocks):
            x, layer_cache = block(x, rope, None if cache is None else cache[i], window)
            new_cache.append(layer_cache)
        return self.head(self.ln_f(x)), new_cache

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) for every position of ``idx`` (B, T), T ≤ context."""
        return self._run(idx, 0, None)[0]

    def start(self, idx: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Prefill with a prompt (B, T ≥ 1): logits of the last position and the state."""
        idx = idx[:, -self.shape.context :]
        logits, cache = self._run(idx, 0, None)
        return logits[:, -1], {"kv": cache, "pos": idx.shape[1], "recent": idx}

    def step(self, token: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        """Feed one token per row (B,); logits of the next position and the updated state."""
        recent = torch.cat((state["recent"], token[:, None]), dim=1)[:, -self.shape.context :]
        if self.shape.position == "learned" and state["pos"] >= self.shape.context:
            # Absolute positions cannot slide: re-encode the most recent window instead.
            return self.start(recent)
        logits, cache = self._run(token[:, None], state["pos"], state["kv"])
        return logits[:, -1], {"kv": cache, "pos": state["pos"] + 1, "recent": recent}
