"""A judge of captioned-shapes pictures, trained apart from any generator: does a picture
show the colour, shape, size, position and background its caption asked for?

A small convolutional classifier with one head per attribute learns from freshly drawn
pictures of every colour–shape pair (the held-out ones included: it judges, it is not
judged). It is cached per picture size, so every evaluation uses the same judge.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors
from torch import nn

from museforge.core.atomic import atomic_write_bytes
from museforge.core.files import default_cache_dir
from museforge.crossmodal.shapes import CHOICES, captioned_shapes
from museforge.nn.blocks import DownStack

RECIPE = 1
TRAIN_PICTURES, STEPS, BATCH = 8000, 1500, 64


class AttributeJudge(nn.Module):
    """Picture in [-1, 1] -> logits for each attribute of :data:`CHOICES`."""

    def __init__(self, image_size: int):
        super().__init__()
        self.features = DownStack(image_size, 3, 16, norm="batch")
        self.heads = nn.ModuleDict(
            {key: nn.Linear(self.features.out_features, len(options)) for key, options in CHOICES}
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.features(x)
        return {key: head(h) for key, head in self.heads.items()}


def _targets(attributes: list[dict[str, str]]) -> dict[str, torch.Tensor]:
    return {
        key: torch.tensor([options.index(a[key]) for a in attributes]) for key, options in CHOICES
    }


@torch.inference_mode(False)
@torch.enable_grad()
def train_judge(image_size: int, seed: int = 0) -> AttributeJudge:
    """A judge trained on pictures of every pair (a different seed than the data sets');
    it trains even when called from inside an evaluation's inference mode."""
    data = captioned_shapes(image_size, n=TRAIN_PICTURES, seed=1000 + seed, split="all")
    targets = _targets(list(data.attributes or ()))
    torch.manual_seed(seed)
    judge = AttributeJudge(image_size)
    opt = torch.optim.Adam(judge.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(seed)
    judge.train()
    for _ in range(STEPS):
        idx = torch.randint(len(data), (BATCH,), generator=gen)
        out = judge(data.images[idx])
        loss = sum(F.cross_entropy(out[k], targets[k][idx]) for k in out)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return judge.eval()


def load_judge(image_size: int, cache_dir: Path | None = None) -> AttributeJudge:
    """The cached judge for ``image_size`` (trained once, in about a minute)."""
    root = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / "judges"
    path = root / f"shapes-judge-{image_size}-r{RECIPE}.safetensors"
    judge = AttributeJudge(image_size)
    if path.is_file():
        try:
            judge.load_state_dict(load_tensors(path.read_bytes()))
            return judge.eval()
        except (RuntimeError, ValueError, OSError):
            pass  # a damaged or outdated file is trained again
    judge = train_judge(image_size)
    state = {k: v.contiguous() for k, v in judge.state_dict().items()}
    atomic_write_bytes(path, save_tensors(state, metadata={"recipe": json.dumps(RECIPE)}))
    return judge


@torch.no_grad()
def attribute_accuracy(
    judge: AttributeJudge, images: torch.Tensor, attributes: list[dict[str, str]]
) -> dict[str, float]:
    """The share of pictures the judge sees as asked, per attribute, and for colour and
    shape together."""
    out = {k: [] for k, _ in CHOICES}
    for i in range(0, len(images), 256):
        for key, logits in judge(images[i : i + 256]).items():
            out[key].append(logits.argmax(1))
    guesses = {k: torch.cat(v) for k, v in out.items()}
    targets = _targets(attributes)
    right = {k: guesses[k] == targets[k] for k in guesses}
    scores = {k: v.float().mean().item() for k, v in right.items()}
    scores["colour_and_shape"] = (right["colour"] & right["shape"]).float().mean().item()
    return scores
