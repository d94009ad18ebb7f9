"""A feed-forward style network (Johnson et al. 2016, with instance norm): one pass per image.

Two stride-2 convolutions take the picture to a quarter of its size, residual blocks work
there, and nearest-neighbour enlargement followed by a convolution brings it back
(transposed convolutions leave checkerboard artefacts). Every convolution pads by
reflection, so borders are not darkened. The widths are slim enough for a 512×512 picture
in a fraction of a second on two CPU cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

MULTIPLE = 4  # two stride-2 stages: inputs are padded to a multiple of this


@dataclass(frozen=True)
class StyleNetConfig:
    """Architecture of a style network (stored in the artifact)."""

    # Channels at full size; 2× at half size, 4× at quarter size. 12 stylised a 512² picture
    # about a third faster than 16 on two CPU cores and looked as good after equal training.
    width: int = 12
    res_blocks: int = 4
    # 9 as in Johnson et al. doubled the time of a 512² picture on two CPU cores; 5 does not.
    edge_kernel: int = 5  # kernel of the first and the last convolution

    def __post_init__(self) -> None:
        if not 4 <= self.width <= 128:
            raise ValueError(f"width must be 4..128 (got {self.width})")
        if not 0 <= self.res_blocks <= 16:
            raise ValueError(f"res_blocks must be 0..16 (got {self.res_blocks})")
        if self.edge_kernel not in (3, 5, 7, 9):
            raise ValueError(f"edge_kernel must be 3, 5, 7 or 9 (got {self.edge_kernel})")


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, padding_mode="reflect")


class ConvNormReLU(nn.Sequential):
    """Convolution, instance norm (learned scale and shift), ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__(
            _conv(c_in, c_out, kernel, stride),
            nn.InstanceNorm2d(c_out, affine=True),
            nn.ReLU(inplace=True),
        )


class ResidualBlock(nn.Module):
    """x + (conv, norm, ReLU, conv, norm)(x) at constant width."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            ConvNormReLU(channels, channels, 3),
            _conv(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Upsample(nn.Module):
    """Nearest-neighbour ×2, then convolution, norm and ReLU."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = ConvNormReLU(c_in, c_out, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class StyleNet(nn.Module):
    """Picture in, the same picture in the trained style out: N×3×H×W in [0, 1], any H×W."""

    def __init__(self, cfg: StyleNetConfig):
        super().__init__()
        self.cfg = cfg
        w, k = cfg.width, cfg.edge_kernel
        self.down = nn.Sequential(
            ConvNormReLU(3, w, k),
            ConvNormReLU(w, 2 * w, 3, stride=2),
            ConvNormReLU(2 * w, 4 * w, 3, stride=2),
        )
        self.body = nn.Sequential(*(ResidualBlock(4 * w) for _ in range(cfg.res_blocks)))
        self.up = nn.Sequential(Upsample(4 * w, 2 * w), Upsample(2 * w, w))
        self.out = _conv(w, 3, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Stylise N×3×H×W in [0, 1]; returns the same shape in [0, 1]."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"StyleNet needs N×3×H×W, got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        pad_h, pad_w = -h % MULTIPLE, -w % MULTIPLE
        if pad_h or pad_w:
            # Reflection needs the pad to be smaller than the side; tiny inputs replicate.
            mode = "reflect" if min(h, w) > MULTIPLE else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        y = self.out(self.up(self.body(self.down(x))))
        return torch.sigmoid(y[..., :h, :w])
