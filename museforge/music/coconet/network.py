"""The Coconet network: an erased grid in, per-cell pitch logits out.

One deliberate change from the paper: the convolution runs over time only, with the four
voices' pitches as channels (dilated residual blocks), instead of a 2-D convolution over
time × pitch. Every layer then sees the whole chord at once, and it costs ~50× less, which
is what a minutes-long training run on two CPU cores needs; transposition augmentation
supplies the pitch invariance the 2-D convolution would have built in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

VOICES = 4
POS_FEATURES = 6  # sixteenth within the beat (4), downbeat, half-bar


@dataclass(frozen=True)
class CoconetConfig:
    """Network shape and the pitch range it covers (MIDI, inclusive)."""

    low: int = 36
    high: int = 81
    window: int = 32  # sixteenth steps seen at once (2 bars of 4/4)
    hidden: int = 128
    layers: int = 6  # residual blocks of two convolutions each
    kernel: int = 3

    def __post_init__(self) -> None:
        if not 0 <= self.low < self.high <= 127:
            raise ValueError(f"pitch range {self.low}..{self.high} is not within MIDI 0..127")
        if self.window < 4 or self.hidden < 1 or self.layers < 1 or self.kernel % 2 == 0:
            raise ValueError("window ≥ 4, hidden ≥ 1, layers ≥ 1 and an odd kernel are needed")

    @property
    def classes(self) -> int:
        """Pitches in the range plus one rest class (the last)."""
        return self.high - self.low + 2


def position_features(pos: torch.Tensor) -> torch.Tensor:
    """``[B, T]`` bar positions → ``[B, POS_FEATURES, T]`` metrical features."""
    beat = F.one_hot(pos % 4, 4).float()
    downbeat = (pos == 0).float().unsqueeze(-1)
    half = (pos % 8 == 0).float().unsqueeze(-1)
    return torch.cat([beat, downbeat, half], -1).transpose(1, 2)


class ResBlock(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int):
        super().__init__()
        pad = dilation * (kernel // 2)
        self.conv1 = nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation)
        self.norm1 = nn.BatchNorm1d(channels)
        self.conv2 = nn.Conv1d(channels, channels, kernel, padding=kernel // 2)
        self.norm2 = nn.BatchNorm1d(channels)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(h)))
        return F.relu(h + self.norm2(self.conv2(y)))


class Coconet(nn.Module):
    """Erased grid in, per-cell pitch logits out."""

    def __init__(self, cfg: CoconetConfig):
        super().__init__()
        self.cfg = cfg
        width = VOICES * cfg.classes + VOICES + POS_FEATURES
        self.inp = nn.Conv1d(width, cfg.hidden, cfg.kernel, padding=cfg.kernel // 2)
        # Dilations 1, 2, 4, 8 repeating: six blocks see ~50 sixteenths, more than a window.
        self.blocks = nn.ModuleList(
            ResBlock(cfg.hidden, cfg.kernel, 2 ** (i % 4)) for i in range(cfg.layers)
        )
        self.out = nn.Conv1d(cfg.hidden, VOICES * cfg.classes, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """``x`` [B, 4, T] classes, ``mask`` [B, 4, T] (True = erased), ``pos`` [B, T]
        → logits [B, 4, T, classes]."""
        b, v, t = x.shape
        c = self.cfg.classes
        seen = F.one_hot(x, c).float() * (~mask).unsqueeze(-1).float()
        h = seen.permute(0, 1, 3, 2).reshape(b, v * c, t)
        h = torch.cat([h, mask.float(), position_features(pos)], 1)
        h = F.relu(self.inp(h))
        for block in self.blocks:
            h = block(h)
        return self.out(h).view(b, v, c, t).permute(0, 1, 3, 2)
