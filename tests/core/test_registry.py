from dataclasses import dataclass

import pytest
import torch

from museforge.core import registry
from museforge.errors import ArtifactError, VerbError


@dataclass(frozen=True)
class Cfg:
    width: int = 2


class Net(torch.nn.Module):
    def __init__(self, cfg: Cfg):
        super().__init__()
        self.lin = torch.nn.Linear(cfg.width, 1)


@pytest.fixture
def temp_kind():
    registry.load_all()
    spec = registry.register_kind(
        "test-kind", modality="test", description="t", config_cls=Cfg, model_cls=Net
    )
    yield spec
    registry._KINDS.pop("test-kind")


def test_image_kinds_are_registered_with_their_verbs():
    kinds = registry.kinds()
    assert {"image-gan", "image-vae"} <= set(kinds)
    assert "encode" in kinds["image-vae"].verbs and "encode" not in kinds["image-gan"].verbs
    assert {"sample", "interpolate", "breed", "project", "evaluate"} <= set(
        kinds["image-gan"].verbs
    )


def test_names_are_validated(temp_kind):
    with pytest.raises(ValueError, match="already registered"):
        registry.register_kind(
            "test-kind", modality="t", description="", config_cls=Cfg, model_cls=Net
        )
    with pytest.raises(ValueError, match="lower-case"):
        registry.register_kind(
            "Bad Name", modality="t", description="", config_cls=Cfg, model_cls=Net
        )
    with pytest.raises(ValueError, match="vocabulary"):
        registry.verb("test-kind", "dance")(lambda m: m)


def test_missing_verb_names_what_the_kind_has(temp_kind):
    registry.verb("test-kind", "sample")(lambda m: m)
    with pytest.raises(VerbError, match=r"no verb 'encode' \(it has: sample\)"):
        registry.get_verb("test-kind", "encode")


def test_build_model_rejects_unknown_settings(temp_kind):
    assert isinstance(registry.build_model("test-kind", {"width": 3}), Net)
    with pytest.raises(ArtifactError, match="unknown Cfg settings: depth"):
        registry.build_model("test-kind", {"depth": 3})
    with pytest.raises(ArtifactError) as caught:  # a key from an edited manifest
        registry.build_model("test-kind", {"dep\nth": 3})
    assert str(caught.value) == "config: unknown Cfg settings: dep th"
    with pytest.raises(ArtifactError, match="unknown model kind"):
        registry.get_kind("nope")


def test_kinds_come_from_entry_points_and_their_absence_is_said(monkeypatch):
    names = {ep.value for ep in registry.entry_points(group=registry.ENTRY_POINT_GROUP)}
    assert {"museforge.image.kinds", "museforge.music.kinds"} <= names
    monkeypatch.setattr(registry, "_scanned", False)
    monkeypatch.setattr(registry, "entry_points", lambda group: [])
    with pytest.raises(ArtifactError, match="no model kinds are installed"):
        registry.load_all()
