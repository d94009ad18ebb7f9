"""A text–image encoder (CLIP-style): captions and pictures in one embedding space.

The text side reads characters — one tokenizer for English and Chinese alike, since a
Chinese character is a word more often than not — through a small bidirectional
transformer (PyTorch's own encoder layers) and averages over the caption. The picture side
is museforge's convolutional down-stack. Both end in unit vectors; their dot product,
scaled by a learned temperature, says how well a caption fits a picture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from museforge.errors import InputError
from museforge.nn.blocks import DownStack, plan_resolutions

PAD, UNK, END = "\x00", "\x01", "\x02"
SPECIALS = (PAD, UNK, END)


def build_vocab(texts: list[str]) -> tuple[str, ...]:
    """The special markers, then every character of ``texts`` (English lower-cased)."""
    chars = sorted({c for t in texts for c in normalise(t)} - set(SPECIALS))
    return (*SPECIALS, *chars)


def normalise(text: str) -> str:
    """A caption as the encoder reads it: lower case, single spaces."""
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class EncoderConfig:
    """Architecture and vocabulary of a text–image encoder (stored in the artifact)."""

    vocab: tuple[str, ...]
    image_size: int = 64
    context: int = 64  # characters of a caption the encoder reads
    embed_dim: int = 128
    text_width: int = 128
    text_layers: int = 2
    text_heads: int = 4
    image_width: int = 32

    def __post_init__(self) -> None:
        if tuple(self.vocab[: len(SPECIALS)]) != SPECIALS:
            raise ValueError("vocab must start with the pad, unknown and end markers")
        if self.text_width % self.text_heads:
            raise ValueError("text_width must be a multiple of text_heads")
        if self.context < 8:
            raise ValueError(f"context must be at least 8 characters (got {self.context})")
        plan_resolutions(self.image_size)


class CaptionTokens:
    """Characters to ids and back for one vocabulary; unseen characters are named."""

    def __init__(self, vocab: tuple[str, ...], context: int):
        self.vocab, self.context = vocab, context
        self.index = {c: i for i, c in enumerate(vocab)}

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` the encoder never saw, in order of appearance."""
        return list(dict.fromkeys(c for c in normalise(text) if c not in self.index))

    def encode(self, texts: list[str], strict: bool = False) -> torch.Tensor:
        """B×context ids, each caption cut to fit and closed by the end marker.

        ``strict``: an InputError naming unseen characters (else they read as unknown)."""
        out = torch.zeros(len(texts), self.context, dtype=torch.long)
        for row, text in enumerate(texts):
            clean = normalise(text)
            if strict and (missing := self.unknown(text)):
                shown = "".join(missing[:10])
                raise InputError(f"the prompt has characters the model never saw: {shown!r}")
            ids = [self.index.get(c, 1) for c in clean[: self.context - 1]]
            out[row, : len(ids) + 1] = torch.tensor([*ids, 2])
        return out


class TextEncoder(nn.Module):
    """Caption ids -> a unit vector (mean of the transformer's outputs over the caption)."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.embed = nn.Embedding(len(cfg.vocab), cfg.text_width, padding_idx=0)
        self.pos = nn.Parameter(torch.zeros(cfg.context, cfg.text_width))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            cfg.text_width,
            cfg.text_heads,
            4 * cfg.text_width,
            dropout=0.0,
            batch_first=True,
            norm_first=True,
        )
        self.body = nn.TransformerEncoder(layer, cfg.text_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.text_width)
        self.out = nn.Linear(cfg.text_width, cfg.embed_dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pad = ids == 0
        h = self.body(self.embed(ids) + self.pos[: ids.shape[1]], src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).to(h.dtype)
        mean = (self.norm(h) * keep).sum(1) / keep.sum(1).clamp_min(1)
        return F.normalize(self.out(mean), dim=-1)


class ImageEncoder(nn.Module):
    """Pictures in [-1, 1] -> a unit vector."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.features = DownStack(cfg.image_size, 3, cfg.image_width, norm="batch")
        self.out = nn.Linear(self.features.out_features, cfg.embed_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.out(self.features(images)), dim=-1)


class TextImageEncoder(nn.Module):
    """Both encoders and the temperature that scales their agreement."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.tokens = CaptionTokens(cfg.vocab, cfg.context)
        self.text = TextEncoder(cfg)
        self.image = ImageEncoder(cfg)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_text(self, texts: list[str], strict: bool = False) -> torch.Tensor:
        """Unit vectors (B×embed_dim) of captions."""
        return self.text(self.tokens.encode(texts, strict))

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        """Unit vectors (B×embed_dim) of pictures in [-1, 1]."""
        return self.image(images)

    def logits(self, image_vecs: torch.Tensor, text_vecs: torch.Tensor) -> torch.Tensor:
        """Scaled agreement of every picture (rows) with every caption (columns)."""
        return self.log_scale.clamp(max=math.log(100)).exp() * image_vecs @ text_vecs.T


def contrastive_loss(logits: torch.Tensor) -> torch.Tensor:
    """Symmetric cross-entropy: each picture picks its caption and each caption its picture.

    ``logits`` is B×(B+M): the first B columns are the pictures' own captions in order, any
    further M columns extra captions (hard negatives) that only the pictures rank."""
    b = logits.shape[0]
    target = torch.arange(b)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits[:, :b].T, target)) / 2


@torch.no_grad()
def r_precision(
    model: TextImageEncoder,
    images: torch.Tensor,
    captions: list[str],
    candidates: int = 100,
    seed: int = 0,
) -> float:
    """The share of pictures whose own caption ranks first among ``candidates`` captions
    (itself and others drawn at random), as AttnGAN and DF-GAN report it."""
    model.eval()
    n = len(captions)
    if n < 2:
        return float("nan")
    k = min(candidates, n)
    text = torch.cat([model.encode_text(captions[i : i + 256]) for i in range(0, n, 256)])
    pics = torch.cat([model.encode_images(images[i : i + 256]) for i in range(0, n, 256)])
    gen = torch.Generator().manual_seed(seed)
    hits = 0
    for i in range(n):
        others = torch.randperm(n - 1, generator=gen)[: k - 1]
        others = others + (others >= i).long()  # every index but i
        pool = torch.cat([torch.tensor([i]), others])
        scores = pics[i] @ text[pool].T
        # A different picture with the very same caption is no miss.
        same = torch.tensor([captions[j] == captions[i] for j in pool.tolist()])
        hits += bool(scores[same].max() >= scores[~same].max()) if (~same).any() else 1
    return hits / n
