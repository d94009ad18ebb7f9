"""Training a style network: crops, batch-size-free losses, a falling loss, the data record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from museforge.core.seeding import stream
from museforge.errors import ArtifactError, InputError
from museforge.style.fastnet import StyleNetConfig
from museforge.style.images import fingerprint, load_rgb
from museforge.style.kinds import style_task
from museforge.style.losses import style_loss
from museforge.style.task import StyleNetTask, StyleNetTraining, random_crops

TINY_MODEL = {"width": 4, "res_blocks": 1, "edge_kernel": 3}
TINY_TRAINING = {"style": "cells", "style_size": 48, "crop": 32, "content_size": 64}


def _photos(n: int = 3) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    ramps = torch.linspace(0, 1, 48).view(1, 1, 1, 48)
    return [(0.5 * ramps + 0.5 * torch.rand(1, 3, 40 + 4 * i, 48, generator=gen)) for i in range(n)]


def _task(**training) -> StyleNetTask:
    cfg = StyleNetConfig(**TINY_MODEL)
    settings = StyleNetTraining(**{**TINY_TRAINING, **training})
    return StyleNetTask(cfg, settings, _photos(), load_rgb("cells", max_side=64), seed=0)


def test_crops_are_deterministic_per_seed_and_of_the_crop_size() -> None:
    photos = _photos()
    a = random_crops(photos, [0, 1, 2, 2], 32, stream(7, "noise"))
    b = random_crops(photos, [0, 1, 2, 2], 32, stream(7, "noise"))
    c = random_crops(photos, [0, 1, 2, 2], 32, stream(8, "noise"))
    assert a.shape == (4, 3, 32, 32)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1
    assert not torch.equal(a[2], a[3])  # two crops of one photo differ


def test_style_loss_of_a_batch_is_the_mean_over_its_images() -> None:
    task = _task()
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    feats_one = task.features(x)
    feats_two = task.features(torch.cat([x, x]))
    one = style_loss(feats_one, task.style_targets)
    two = style_loss(feats_two, task.style_targets)
    assert torch.allclose(one, two, rtol=1e-5)


def test_a_few_steps_lower_the_loss() -> None:
    task = _task(lr=1e-2)
    noise = stream(0, "noise")
    losses = [task.train_step(torch.tensor([0, 1, 2, 3]), noise)["loss"] for _ in range(30)]
    assert set(task.train_step(torch.tensor([5]), noise)) == {
        "loss",
        "style",
        "content",
        "colour",
        "tv",
    }
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


def test_preview_shows_style_content_and_result_side_by_side() -> None:
    image = _task().preview()
    assert image.size == (40 + 48 + 48, 40)  # square style scaled to the photo's height


def test_small_content_sets_still_fill_a_batch() -> None:
    task = _task()
    assert task.num_examples >= 64 and task.num_examples % 3 == 0


def _folder(root: Path) -> str:
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        pixels = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"p{i}.png")
    (root / "broken.png").write_bytes(b"not a png")
    return f"folder:{root}"


def test_style_task_records_content_and_style(tmp_path) -> None:
    data = _folder(tmp_path / "photos")
    task, info = style_task(TINY_MODEL, TINY_TRAINING, data, seed=0)
    assert task.kind == "style-net" and isinstance(task.training, StyleNetTraining)
    assert info["source"] == data and info["n_images"] == 2
    assert info["skipped_files"] == 1 and "broken.png" in info["skipped"][0]
    assert info["style"] == {"source": "cells", "fingerprint": fingerprint(load_rgb("cells"))}
    assert len(info["fingerprint"]) == 16


def test_a_missing_style_is_one_clear_error(tmp_path) -> None:
    data = _folder(tmp_path / "photos")
    with pytest.raises(InputError, match=r"needs a style picture: the training setting style"):
        style_task(TINY_MODEL, {"crop": 32}, data, seed=0)
    with pytest.raises(InputError, match="neither an image file nor a built-in"):
        style_task(TINY_MODEL, {"style": "no-such-style"}, data, seed=0)
    with pytest.raises(ArtifactError, match="crop"):
        style_task(TINY_MODEL, {"style": "cells", "crop": 8}, data, seed=0)
    with pytest.raises(InputError, match="detail_layers"):
        style_task(TINY_MODEL, {"style": "cells", "detail_layers": ["relu9_9"]}, data, seed=0)
