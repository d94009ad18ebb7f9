"""Tiny text models trained on the real built-in corpora for a few steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from museforge.core.artifact import LoadedModel, load_artifact
from museforge.core.recipe import Recipe, train_from_recipe

TINY_TEXT = {"n_layer": 1, "n_head": 2, "n_embd": 32, "context": 32}


def train_tiny_text(data: str, out: Path, steps: int = 30, **model) -> Path:
    recipe = Recipe(
        kind="text-lm",
        data=data,
        model={**TINY_TEXT, **model},
        training={"eval_every": 10, "warmup": 5},
        run={"steps": steps, "batch_size": 8, "preview_every": 0, "log_every": 5},
    )
    train_from_recipe(recipe, out=out, progress=False)
    return out


@pytest.fixture(scope="session")
def zh_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_text("tang300", tmp_path_factory.mktemp("zh") / "m")


@pytest.fixture(scope="session")
def en_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tiny_text("songs-poems", tmp_path_factory.mktemp("en") / "m")


@pytest.fixture
def zh_model(zh_model_path: Path) -> LoadedModel:
    return load_artifact(zh_model_path)


@pytest.fixture
def en_model(en_model_path: Path) -> LoadedModel:
    return load_artifact(en_model_path)
