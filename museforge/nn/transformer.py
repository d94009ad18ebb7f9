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
        # Shared by sampling (inference mode) and training: made as ordinary tensors, so a
        # table first built while sampling can still take part in a backward pass later.
        with torch.inference_mode(False), torch.no_grad():
            size = max(need, 2 * cos.shape[0], 1024)
            inv = 1.0 / (10000 ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
            angles = torch.arange(size, dtype=torch.float32)[:, None] * inv[None, :]
            cos, sin = angles.cos(), angles.sin()
        _ROPE[head_dim] = (cos, sin)
    return cos[start:need], sin[start:need]


_ROPE_MATRICES: dict[int, torch.Tensor] = {}


def _rope_matrices(head_dim: int, pos: int) -> torch.Tensor:
    """RoPE at position ``pos`` as 2×2 matrices (1, 3, 1, D/2, 2, 2), one per pair of a
    row's stacked query, key and value heads (the value's are identities), so one matmul
    rotates a step's queries and keys (:func:`_rotate_rows`). Row vector times matrix gives
    ``even*cos - odd*sin`` and ``odd*cos + even*sin``, as :func:`_rotate` does."""
    table = _ROPE_MATRICES.get(head_dim)
    if table is None or pos >= table.shape[0]:
        _rope_tables(head_dim, pos, 1)  # grows the shared tables as needed
        cos, sin = _ROPE[head_dim]
        with torch.inference_mode(False), torch.no_grad():
            rotation = torch.stack((torch.stack((cos, sin), -1), torch.stack((-sin, cos), -1)), -2)
            identity = torch.eye(2).expand_as(rotation)
            table = torch.stack((rotation, rotation, identity), 1)[:, None, :, None]
        _ROPE_MATRICES[head_dim] = table
    return table[pos]


def _rotate_rows(qkv: torch.Tensor, matrices: torch.Tensor) -> torch.Tensor:
    """Queries and keys of ``qkv`` (B, 3, H, D) rotated by :func:`_rope_matrices`."""
    b, three, h, d = qkv.shape
    return torch.matmul(qkv.view(b, three, h, d // 2, 1, 2), matrices).view(b, three, h, d)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Apply RoPE to (B, H, T, D) with tables of shape (T, D/2), pairs (even, odd)."""
    even, odd = x[..., 0::2], x[..., 1::2]
    out = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)
    return out.flatten(-2)


def _affine(x: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x @ weight_t + bias`` in one operation (``weight_t`` already transposed)."""
    return torch.mm(x, weight_t) if bias is None else torch.addmm(bias, x, weight_t)


def _residual(
    x: torch.Tensor, y: torch.Tensor, weight_t: torch.Tensor, bias: torch.Tensor | None, p: float
) -> torch.Tensor:
    """``x + dropout(y @ weight_t + bias)``; without bias or dropout one ``addmm``."""
    if bias is None and not p:
        return torch.addmm(x, y, weight_t)
    out = _affine(y, weight_t, bias)
    return x + (F.dropout(out, p, True) if p else out)


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
        """Prefill with a prompt (B, T ≥ 1): logits of the last position and the state.

        The state holds key/value buffers that :meth:`step` writes in place, so a state is
        used once: step it forward, never branch two continuations off the same one."""
        idx = idx[:, -self.shape.context :]
        with torch.no_grad():
            logits, cache = self._run(idx, 0, None)
        kept = cache[0][0].shape[2]
        kv = []
        for k, v in cache:
            b, h, _, d = k.shape
            buf = k.new_empty(2, b, h, self._capacity(kept + 1), d)
            buf[0, :, :, :kept] = k
            buf[1, :, :, :kept] = v
            kv.append(buf)
        state = {"kv": kv, "len": kept, "pos": idx.shape[1]}
        if self.shape.position == "learned":
            state["recent"] = idx
        return logits[:, -1], state

    def _capacity(self, need: int) -> int:
        """Cached positions to allocate for ``need``: doubling while small, at most the
        context plus a slack (a quarter of it), so a full buffer shifts its keys back only
        once per slack steps instead of copying the whole cache every step."""
        full = self.shape.context + max(8, self.shape.context // 4)
        return min(full, max(need, 32, 2 * need - 2))

    def _decode_weights(self) -> list[tuple]:
        """Each block's parameters for :meth:`step`, looked up once per sampling run: the
        matrices transposed (``x @ Wᵀ`` by ``mm``/``addmm``, which also fold in the
        residual additions)."""
        return [
            (
                blk.ln1.weight,
                blk.ln1.bias,
                blk.ln1.eps,
                blk.attn.qkv.weight.t().contiguous(),
                blk.attn.qkv.bias,
                blk.attn.proj.weight.t().contiguous(),
                blk.attn.proj.bias,
                blk.ln2.weight,
                blk.ln2.bias,
                blk.ln2.eps,
                blk.mlp[0].weight.t().contiguous(),
                blk.mlp[0].bias,
                blk.mlp[2].weight.t().contiguous(),
                blk.mlp[2].bias,
            )
            for blk in self.blocks
        ]

    def _room(self, state: dict) -> int:
        """Index where the next key goes, making room first: grow the buffers while they
        are small, else keep only the last ``context - 1`` keys at the front."""
        end, kv = state["len"], state["kv"]
        cap = kv[0].shape[3]
        if end < cap:
            return end
        grown = self._capacity(cap + 1)
        if grown > cap:
            for i, buf in enumerate(kv):
                new = buf.new_empty(*buf.shape[:3], grown, buf.shape[4])
                new[:, :, :, :end] = buf
                kv[i] = new
            return end
        keep = self.shape.context - 1
        for buf in kv:
            buf[:, :, :, :keep] = buf[:, :, :, end - keep : end].clone()
        state["len"] = keep
        return keep

    @torch.no_grad()
    def step(self, token: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        """Feed one token per row (B,); logits of the next position and the state, updated
        in place (the key/value buffers are written, not copied)."""
        s = self.shape
        pos = state["pos"]
        if s.position == "learned":
            recent = torch.cat((state["recent"], token[:, None]), dim=1)[:, -s.context :]
            if pos >= s.context:
                # Absolute positions cannot slide: re-encode the most recent window instead.
                return self.start(recent)
            state["recent"] = recent
        end = self._room(state)
        lo = max(0, end + 1 - s.context)  # attend to the last `context` keys, this one included
        b, c, nh = token.shape[0], s.n_embd, s.n_head
        hd = c // nh
        # Rows are (B, C) here: the arithmetic of a (B, 1, C) forward in fewer operations
        # (a step of a small model is mostly per-operation overhead), equal to it up to
        # float rounding.
        x = F.embedding(token, self.embed.weight)
        if s.position == "learned":
            x = x + self.pos.weight[pos]
            rope = None
        else:
            rope = _rope_matrices(hd, pos)
            if rope.dtype != x.dtype or rope.device != x.device:
                rope = rope.to(x.device, x.dtype)
        p = s.dropout if self.training else 0.0
        if p:
            x = F.dropout(x, p, True)
        # Made on the first step of a state, not in start(): learned positions past the
        # context re-encode through start() every step and never get here.
        weights = state.get("weights")
        if weights is None:
            weights = state["weights"] = self._decode_weights()
        for (w1, b1, e1, wqkv, bqkv, wo, bo, w2, b2, e2, wi, bi, wf, bf), buf in zip(
            weights, state["kv"], strict=True
        ):
            qkv = _affine(torch.layer_norm(x, (c,), w1, b1, e1), wqkv, bqkv).view(b, 3, nh, hd)
            if rope is not None:
                qkv = _rotate_rows(qkv, rope)  # queries and keys rotated, values kept
            buf[:, :, :, end] = qkv[:, 1:].transpose(0, 1)
            y = F.scaled_dot_product_attention(
                qkv[:, 0, :, None], buf[0, :, :, lo : end + 1], buf[1, :, :, lo : end + 1]
            )
            x = _residual(x, y.view(b, c), wo, bo, p)
            h = F.gelu(_affine(torch.layer_norm(x, (c,), w2, b2, e2), wi, bi))
            x = _residual(x, h, wf, bf, p)
        ln = self.ln_f
        x = torch.layer_norm(x, (c,), ln.weight, ln.bias, ln.eps)
        state["len"], state["pos"] = end + 1, pos + 1
        return F.linear(x, self.head.weight), state
