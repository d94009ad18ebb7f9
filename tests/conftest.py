"""Shared fixtures: a tiny procedural image set and tiny trained artifacts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

from museforge.core.grid import to_pil
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.gallery.store import Gallery
from museforge.image.data import ImageDataset

TINY_GAN = {"image_size": 16, "z_dim": 8, "g_width": 8, "d_width": 8}
TINY_VAE = {"image_size": 16, "z_dim": 4, "width": 8}
TINY_FLOW = {"image_size": 16, "width": 16, "autoencoder_width": 8, "sample_steps": 3}
TINY = {"image-gan": TINY_GAN, "image-vae": TINY_VAE, "image-flow": TINY_FLOW}


def bar_images(n: int = 48, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Horizontal (class 0) and vertical (class 1) white bars on black, at varied places."""
    images = -torch.ones(n, 1, size, size)
    labels = torch.arange(n) % 2
    for i in range(n):
        pos = 2 + (i * 5) % (size - 6)
        if labels[i] == 0:
            images[i, 0, pos : pos + 3, 2:-2] = 1
        else:
            images[i, 0, 2:-2, pos : pos + 3] = 1
    return images, labels


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory):
    """Keep feature-net caches of the tests out of the user's ~/.cache, and leave pieces
    unengraved (LilyPond takes seconds a piece) and solids without a turntable GIF (seconds
    a solid) but in the tests of those."""
    mp = pytest.MonkeyPatch()
    mp.setenv("MUSEFORGE_CACHE", str(tmp_path_factory.mktemp("cache")))
    mp.setenv("MUSEFORGE_ENGRAVE", "0")
    mp.setenv("MUSEFORGE_TURNTABLE", "0")
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def denormals_as_the_test_found_them():
    """The CLI flushes denormal floats to zero for the whole process (core/device.py); a
    test that runs it in-process must not leave that on for the next one, whose float
    maths (and hypothesis, which refuses to draw floats then) would differ by test order."""
    yield
    torch.set_flush_denormal(False)


@pytest.fixture
def quick_feature_net(monkeypatch: pytest.MonkeyPatch) -> None:
    """Train evaluation feature nets for a few steps only (the protocol's numbers are not
    under test where this is used, only the plumbing)."""
    from museforge.image import features

    monkeypatch.setitem(features.RECIPE, "steps", 30)


@pytest.fixture(scope="session")
def bars() -> ImageDataset:
    images, labels = bar_images()
    return ImageDataset(images, labels, ("horizontal", "vertical"), "bars", "bars-fp")


@pytest.fixture(scope="session")
def bars_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bar images as PNG files in class subfolders."""
    root = tmp_path_factory.mktemp("bars")
    images, labels = bar_images()
    for i, (img, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / ("horizontal" if label == 0 else "vertical")
        folder.mkdir(exist_ok=True)
        to_pil(img).save(folder / f"{i:03d}.png")
    return root


def train_tiny(kind: str, folder: Path, out: Path, steps: int = 20, **model) -> Path:
    base = TINY[kind]
    recipe = Recipe(
        kind=kind,
        data=f"folder:{folder}",
        model={**base, **model},
        run={"steps": steps, "batch_size": 16, "preview_every": 0, "log_every": 5},
    )
    train_from_recipe(recipe, out=out, progress=False)
    return out


@pytest.fixture(scope="session")
def gan_model(tmp_path_factory: pytest.TempPathFactory, bars_folder: Path) -> Path:
    out = tmp_path_factory.mktemp("m") / "gan"
    return train_tiny("image-gan", bars_folder, out, conditional=False)


@pytest.fixture(scope="session")
def cgan_model(tmp_path_factory: pytest.TempPathFactory, bars_folder: Path) -> Path:
    out = tmp_path_factory.mktemp("m") / "cgan"
    return train_tiny("image-gan", bars_folder, out, conditional=True)


@pytest.fixture(scope="session")
def vae_model(tmp_path_factory: pytest.TempPathFactory, bars_folder: Path) -> Path:
    out = tmp_path_factory.mktemp("m") / "vae"
    return train_tiny("image-vae", bars_folder, out, steps=40, conditional=False)


def write_png(path: Path, pixels: torch.Tensor) -> Path:
    """Save a C×H×W tensor in [-1, 1] as a plain PNG (no provenance)."""
    to_pil(pixels).save(path)
    return path


def solid(size: int = 16, value: float = 1.0) -> Image.Image:
    return Image.new("L", (size, size), int((value + 1) * 127.5))


@pytest.fixture
def gallery(tmp_path):
    """An empty gallery under tmp_path, closed afterwards (modules may define their own)."""
    g = Gallery(tmp_path / "gallery")
    yield g
    g.close()


# --- sounds: harmonic tones at known pitches in two timbres, in class sub-folders ---
RATE = 8000
TINY_SOUND = {"sample_rate": RATE, "n_fft": 256, "hop": 128, "frames": 16, "width": 8, "steps": 3}
PITCHES = (55, 60, 64, 67, 72)


def tone(pitch: int, bright: bool, seconds: float = 0.3, rate: int = RATE) -> np.ndarray:
    """A decaying harmonic tone: many partials (bright) or nearly a sine (soft)."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    partials = range(1, 9) if bright else (1, 2)
    wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in partials if k * f0 < rate / 2)
    return (0.5 * wave / np.abs(wave).max() * np.exp(-3 * t)).astype(np.float32)


@pytest.fixture(scope="session")
def tones_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tones")
    for timbre in ("bright", "soft"):
        (root / timbre).mkdir()
        for pitch in PITCHES:
            for k, suffix in enumerate((".wav", ".flac")):
                wave = tone(pitch, timbre == "bright") * (1 - 0.3 * k)
                soundfile.write(str(root / timbre / f"p{pitch}-{k}{suffix}"), wave, RATE)
    return root
