"""Frozen feature networks: random multi-scale convolutions or a user's VGG-19, for style
losses and for picture descriptors (the taste model).

No weights are downloaded. The default network's weights are drawn from a fixed seed each
time (random convolutional features carry texture and style well: Ustyuzhaninov et al.
2016, He et al. 2016), so it has nothing to store. Users who own VGG-19 weights can pass a
safetensors file with the layer names of the common PyTorch release: ``features.N.weight``
and ``features.N.bias`` for the 16 convolutions N in :data:`VGG19_CONVS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from museforge.errors import InputError

VGG19_CONVS = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
VGG19_CHANNELS = (64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512, 512, 512, 512)
# Blocks of VGG-19 (convolutions per block); a pooling layer follows each block.
_VGG_BLOCKS = (2, 2, 4, 4, 4)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
RANDOM_NET_SEED = 20160808
# A pseudo-layer: the pixels themselves, so the style's colour statistics are matched exactly
# (random features alone leave faint colour speckle in grey styles).
PIXELS = "pixels"


@dataclass(frozen=True)
class Tap:
    """A layer whose output feeds a loss: its name and its position in the stack."""

    name: str
    index: int


class FeatureNet(nn.Module):
    """A frozen stack of 3×3 convolutions, ReLUs and average pools with named taps.

    ``forward`` returns the activations of the content and style taps by name. Padding is
    reflective, or circular for seamless tiles (:meth:`set_tileable`).
    """

    def __init__(
        self,
        blocks: list[list[nn.Conv2d]],
        content_layers: tuple[str, ...],
        style_layers: tuple[str, ...],
        mean: tuple[float, float, float],
        std: tuple[float, float, float],
        name: str,
    ):
        super().__init__()
        self.name = name
        self.blocks = nn.ModuleList(nn.ModuleList(convs) for convs in blocks)
        self.content_layers, self.style_layers = content_layers, style_layers
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))
        self.padding_mode = "reflect"
        self.requires_grad_(False)
        self.eval()
        self._last_block = _last_block(set(content_layers) | set(style_layers))

    def set_tileable(self, tileable: bool) -> None:
        """Circular padding makes the features see the image as a torus (seamless tiles)."""
        self.padding_mode = "circular" if tileable else "reflect"

    def forward(
        self, images: torch.Tensor, only: tuple[str, ...] | None = None
    ) -> dict[str, torch.Tensor]:
        """Activations by tap name (``relu{block}_{conv}``, ``pixels``) for N×3×H×W in [0, 1]:
        of the content and style taps, or of the layers ``only`` names (computing no more
        of the network than they need)."""
        x = (images - self.mean) / self.std
        wanted = set(only) if only is not None else set(self.content_layers + self.style_layers)
        last = self._last_block if only is None else _last_block(wanted)
        taps: dict[str, torch.Tensor] = {PIXELS: images} if PIXELS in wanted else {}
        if not last:
            return taps
        for b, convs in enumerate(self.blocks, start=1):
            if b > 1:
                x = _pool(x, self.padding_mode)
            for c, conv in enumerate(convs, start=1):
                mode = self.padding_mode if min(x.shape[-2:]) > 1 else "replicate"
                x = F.relu(conv(F.pad(x, (1, 1, 1, 1), mode=mode)))
                name = f"relu{b}_{c}"
                if name in wanted:
                    taps[name] = x
            if b >= last:
                break
        return taps


def _last_block(layers: set[str]) -> int:
    """The deepest block (1-based) that the tap names ``relu{block}_{conv}`` reach."""
    return max((int(n.split("_")[0][4:]) for n in layers if n != PIXELS), default=0)


def _pool(x: torch.Tensor, padding_mode: str) -> torch.Tensor:
    """2×2 average pool; odd sizes are padded first so no border row is dropped."""
    pad_h, pad_w = x.shape[-2] % 2, x.shape[-1] % 2
    if pad_h or pad_w:
        mode = "circular" if padding_mode == "circular" else "replicate"
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
    return F.avg_pool2d(x, 2)


def conv_stack(channels: list[int], blocks: tuple[int, ...]) -> list[list[nn.Conv2d]]:
    """Unpadded 3×3 convolutions from RGB through ``channels``, grouped in ``blocks``."""
    out, c_in, i = [], 3, 0
    for n in blocks:
        block = []
        for _ in range(n):
            block.append(nn.Conv2d(c_in, channels[i], 3, padding=0))
            c_in = channels[i]
            i += 1
        out.append(block)
    return out


SMALL_BLOCKS = (2, 2, 2, 1)  # convolutions per scale of the small networks
SMALL_STYLE_LAYERS = (PIXELS, "relu1_1", "relu2_1", "relu3_1", "relu4_1")


def small_channels(width: int) -> list[int]:
    """Channels of the small networks' seven convolutions: w, w, 2w, 2w, 4w, 4w, 8w."""
    return [width, width, 2 * width, 2 * width, 4 * width, 4 * width, 8 * width]


def random_feature_net(width: int = 16, seed: int = RANDOM_NET_SEED) -> FeatureNet:
    """The default network: four scales of random 3×3 convolutions (widths w, 2w, 4w, 8w).

    Weights are He-normal with zero bias, drawn from ``seed`` on the CPU, so every run and
    every machine gets the same network. Inputs are only centred (no ImageNet statistics).
    """
    convs = conv_stack(small_channels(width), SMALL_BLOCKS)
    gen = torch.Generator().manual_seed(seed)
    for block in convs:
        for conv in block:
            fan_in = conv.in_channels * 9
            weight = torch.randn(conv.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5
            conv.weight.data.copy_(weight)
            conv.bias.data.zero_()
    return FeatureNet(
        convs, ("relu3_2",), SMALL_STYLE_LAYERS, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "random"
    )


def vgg19_feature_net(state: dict[str, torch.Tensor] | None = None, source: str = "") -> FeatureNet:
    """VGG-19 up to relu5_1 with average pooling, from ``state`` (None: random weights).

    ``state`` holds ``features.N.weight`` / ``features.N.bias`` for N in VGG19_CONVS; extra
    keys (the classifier) are ignored. A missing key or a wrong shape is an InputError.
    """
    convs = conv_stack(list(VGG19_CHANNELS), _VGG_BLOCKS)
    flat = [conv for block in convs for conv in block]
    if state is not None:
        where = f"VGG-19 weights '{source}'" if source else "VGG-19 weights"
        for index, conv in zip(VGG19_CONVS, flat, strict=True):
            for part, param in (("weight", conv.weight), ("bias", conv.bias)):
                key = f"features.{index}.{part}"
                if key not in state:
                    raise InputError(f"{where} lack '{key}' (see docs/style.md for the names)")
                value = state[key]
                if tuple(value.shape) != tuple(param.shape):
                    raise InputError(
                        f"{where}: '{key}' has shape {tuple(value.shape)}, "
                        f"expected {tuple(param.shape)}"
                    )
                param.data.copy_(value.float())
    style = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    return FeatureNet(convs, ("relu4_2",), style, _IMAGENET_MEAN, _IMAGENET_STD, "vgg19")


def load_vgg19(path: str | Path) -> FeatureNet:
    """VGG-19 features from a safetensors file; every problem is one line naming the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"VGG-19 weights '{path}' do not exist")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise InputError(f"VGG-19 weights '{path}' are not a safetensors file ({err})") from None
    return vgg19_feature_net(state, str(path))


def feature_net(spec: str = "random") -> FeatureNet:
    """A feature network by name: ``random`` (default), ``random:WIDTH`` or ``vgg19:PATH``."""
    kind, _, arg = spec.partition(":")
    if kind == "random":
        try:
            width = int(arg) if arg else 16
        except ValueError:
            raise InputError(f"feature network '{spec}': width must be a number") from None
        if not 4 <= width <= 256:
            raise InputError(f"feature network '{spec}': width must be 4..256")
        return random_feature_net(width)
    if kind == "vgg19" and arg:
        return load_vgg19(arg)
    raise InputError(f"unknown feature network '{spec}' (use random, random:WIDTH or vgg19:PATH)")
