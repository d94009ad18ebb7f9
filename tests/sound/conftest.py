"""A tiny sound model, trained on the tones of the shared conftest."""

from __future__ import annotations

from pathlib import Path

import pytest

from museforge.core.recipe import Recipe, train_from_recipe
from tests.conftest import TINY_SOUND


def train_sound(folder: Path, out: Path, steps: int = 30) -> Path:
    recipe = Recipe(
        kind="sound-vae",
        data=f"folder:{folder}",
        model=dict(TINY_SOUND),
        run={"steps": steps, "batch_size": 8, "preview_every": 0, "log_every": 5},
    )
    train_from_recipe(recipe, out=out, progress=False)
    return out


@pytest.fixture(scope="session")
def sound_model(tmp_path_factory: pytest.TempPathFactory, tones_folder: Path) -> Path:
    return train_sound(tones_folder, tmp_path_factory.mktemp("m") / "sound")
