"""The feature network behind museforge's image metrics, trained here on the data itself.

FID, KID and precision/recall need an embedding in which distances mean something. The
usual Inception-v3 would have to be downloaded and was trained on photos; instead a small
CNN is trained for a fixed, seeded recipe on the training set of the model under test
(class labels when the set has them, rotation prediction when it does not). Its weights
are cached per data fingerprint as safetensors, so every evaluation of models trained on
the same data uses the same embedding.
"""

from __future__ import annotations

import json
import math
import re
from hashlib import sha256
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from museforge.core.atomic import atomic_write_text, atomic_write_with
from museforge.core.files import default_cache_dir
from museforge.core.grid import on_white
from museforge.core.seeding import derive_seed, stream
from museforge.errors import DataError
from museforge.image.data import ImageDataset

RECIPE_VERSION = 1
INPUT_SIZE = 32
FEATURE_DIM = 128
WIDTHS = (16, 32, 64, FEATURE_DIM)
MAX_SHIFT = 2
LEARNING_RATE = 3e-3
RECIPE = {"seed": 0, "steps": 1500, "batch_size": 128}


class FeatureNet(nn.Module):
    """Image -> ``FEATURE_DIM`` features: four stride-2 conv blocks, then global pooling.

    Inputs of any size are resized to 32×32 and any channel count is mapped to
    ``in_channels``. ``head`` (features -> classes or 4 rotations) is used only in training.
    """

    def __init__(self, in_channels: int, num_outputs: int, mode: str = "classes"):
        super().__init__()
        if mode not in {"classes", "rotation"}:
            raise ValueError(f"unknown feature-net mode {mode!r} (classes or rotation)")
        self.in_channels, self.num_outputs, self.mode = in_channels, num_outputs, mode
        self.train_accuracy: float | None = None
        layers: list[nn.Module] = []
        for c_in, c_out in zip((in_channels, *WIDTHS[:-1]), WIDTHS, strict=True):
            layers += [nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), nn.BatchNorm2d(c_out)]
            layers.append(nn.ReLU(inplace=True))
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(FEATURE_DIM, num_outputs)
        # channels_last makes these small convolutions about a third faster on CPU.
        self.to(memory_format=torch.channels_last)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Resize N×C×H×W images to 32×32 and map their channels to ``in_channels``.

        RGBA is composited on white first; channels are averaged to grey and repeated as
        needed (RGB -> grey, grey -> RGB).
        """
        x = on_white(images.float())
        c = x.shape[1]
        if c != self.in_channels:
            x = x.mean(dim=1, keepdim=True) if c > 1 else x
            x = x.expand(-1, self.in_channels, -1, -1)
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True)
        return x.contiguous(memory_format=torch.channels_last)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The N×``FEATURE_DIM`` embedding of a batch."""
        return self.body(self.prepare(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Training logits (classes or rotations) for a batch."""
        return self.head(self.features(images))


def _shift(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by up to ``MAX_SHIFT`` px in each direction.

    Borders are replicated rather than zero-filled: zero is mid-grey in [-1, 1] and would
    paint a frame the net never sees at evaluation time.
    """
    n, _, h, w = x.shape
    s = MAX_SHIFT
    dy = torch.randint(0, 2 * s + 1, (n, 1, 1), generator=gen)
    dx = torch.randint(0, 2 * s + 1, (n, 1, 1), generator=gen)
    rows = torch.arange(h).view(1, h, 1) + dy
    cols = torch.arange(w).view(1, 1, w) + dx
    padded = F.pad(x, [s, s, s, s], mode="replicate").permute(0, 2, 3, 1)
    out = padded[torch.arange(n).view(n, 1, 1), rows, cols].permute(0, 3, 1, 2)
    return out.contiguous(memory_format=torch.channels_last)


def _rotate(x: torch.Tensor, quarter_turns: torch.Tensor) -> torch.Tensor:
    """Rotate image i by ``quarter_turns[i]`` × 90° (the images are square)."""
    out = x.clone()
    for k in (1, 2, 3):
        chosen = quarter_turns == k
        if chosen.any():
            out[chosen] = torch.rot90(x[chosen], k, dims=(2, 3))
    return out


def _targets(dataset: ImageDataset) -> tuple[torch.Tensor | None, int, str]:
    """(labels or None, number of outputs, mode): rotation when there are no usable labels."""
    labels = dataset.labels
    if labels is not None and len(labels) == len(dataset):
        num = max(dataset.num_classes, int(labels.max()) + 1)
        if num >= 2 and int(labels.min()) >= 0:
            return labels.long(), num, "classes"
    return None, 4, "rotation"


@torch.inference_mode()
def _accuracy(net: FeatureNet, data: torch.Tensor, labels: torch.Tensor | None) -> float:
    """Accuracy on the unaugmented set; rotation mode turns image i by (i mod 4) × 90°."""
    correct = 0
    for start in range(0, len(data), 500):
        x = data[start : start + 500]
        if labels is None:
            y = torch.arange(start, start + len(x)) % 4
            x = _rotate(x, y)
        else:
            y = labels[start : start + 500]
        correct += int((net(x).argmax(dim=1) == y).sum())
    return correct / len(data)


def train_feature_net(
    dataset: ImageDataset, seed: int = 0, steps: int = 1500, batch_size: int = 128
) -> FeatureNet:
    """Train a ``FeatureNet`` on ``dataset`` with a fixed, seeded recipe; returns it in eval mode.

    Labelled sets train a classifier; unlabelled ones predict a random 0/90/180/270°
    rotation. Adam with a cosine learning-rate decay, ±2 px random translations. The same
    data, seed and steps give identical weights (for one torch version and thread count).
    ``train_accuracy`` is set on the result.
    """
    if len(dataset) == 0:
        raise DataError(f"cannot train a feature net on an empty data set ({dataset.source})")
    labels, num_outputs, mode = _targets(dataset)
    # Module initialisation draws from torch's global generator; fork it so the weights
    # depend on ``seed`` alone and the caller's random state is left untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "feature-net", "init"))
        net = FeatureNet(min(dataset.channels, 3), num_outputs, mode)  # RGBA: on white
    data = net.prepare(dataset.images)
    gen = stream(seed, "feature-net", "train")
    opt = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    net.train()
    batch_size = min(batch_size, len(data))
    order, cursor = torch.randperm(len(data), generator=gen), 0
    for step in range(steps):
        if cursor + batch_size > len(order):
            order, cursor = torch.randperm(len(data), generator=gen), 0
        idx = order[cursor : cursor + batch_size]
        cursor += batch_size
        x = _shift(data[idx], gen)
        if labels is None:
            y = torch.randint(0, 4, (len(idx),), generator=gen)
            x = _rotate(x, y)
        else:
            y = labels[idx]
        for group in opt.param_groups:
            group["lr"] = LEARNING_RATE * 0.5 * (1 + math.cos(math.pi * step / steps))
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    net.eval()
    net.train_accuracy = _accuracy(net, data, labels)
    return net


@torch.inference_mode()
def extract_features(net: FeatureNet, images: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    """Embed N×C×H×W images in [-1, 1]; returns an N×``FEATURE_DIM`` float64 array."""
    was_training = net.training
    net.eval()
    chunks = [net.features(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    net.train(was_training)
    if not chunks:
        return np.zeros((0, FEATURE_DIM), dtype=np.float64)
    return torch.cat(chunks).double().numpy()


def feature_net_path(dataset: ImageDataset, cache_dir: Path | None = None) -> Path:
    """Where the feature net for ``dataset`` is cached (``.safetensors``; ``.json`` beside)."""
    fp = dataset.fingerprint
    # Fingerprints are hex digests; anything else is hashed so it is safe as a file name.
    key = fp if re.fullmatch(r"[0-9A-Za-z_-]{16,}", fp) else sha256(fp.encode()).hexdigest()
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return root / "features" / f"{key[:16]}-v{RECIPE_VERSION}.safetensors"


def _load_cached(path: Path, fingerprint: str) -> FeatureNet | None:
    """The cached net at ``path``, or None when it is absent, unreadable or for other data."""
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        if meta.get("fingerprint") != fingerprint or meta.get("recipe") != str(RECIPE_VERSION):
            return None
        net = FeatureNet(int(meta["in_channels"]), int(meta["num_outputs"]), meta["mode"])
        net.load_state_dict(load_file(path))
        net.train_accuracy = float(meta["train_accuracy"])
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError):
        return None  # a damaged or foreign cache entry: train afresh and replace it
    return net.eval()


def feature_net_for(dataset: ImageDataset, cache_dir: Path | None = None) -> FeatureNet:
    """The feature net for ``dataset``: loaded from the cache, or trained and cached.

    Weights live in ``<cache_dir>/features/<fingerprint[:16]>-v1.safetensors`` with a JSON
    record (recipe version, fingerprint, train accuracy) beside them; both are written
    atomically, and only safetensors is ever read back (never pickle).
    """
    path = feature_net_path(dataset, cache_dir)
    cached = _load_cached(path, dataset.fingerprint)
    if cached is not None:
        return cached
    net = train_feature_net(dataset, **RECIPE)
    record = {
        "recipe": RECIPE_VERSION,
        **RECIPE,
        "fingerprint": dataset.fingerprint,
        "source": dataset.source,
        "n_images": len(dataset),
        "mode": net.mode,
        "in_channels": net.in_channels,
        "num_outputs": net.num_outputs,
        "train_accuracy": net.train_accuracy,
        "torch": torch.__version__,
    }
    # safetensors metadata holds strings only; it makes the weights file self-describing.
    meta = {k: str(v) for k, v in record.items()}
    tensors = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    atomic_write_with(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))
    atomic_write_text(path.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
    return net
