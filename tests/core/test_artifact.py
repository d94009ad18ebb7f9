import json
import pickle

import pytest
import torch

from museforge.core.artifact import load_artifact, read_manifest, save_artifact
from museforge.core.atomic import atomic_directory, atomic_write_with
from museforge.errors import ArtifactError
from museforge.image.gan import GAN, GANConfig

CFG = GANConfig(image_size=16, z_dim=8, g_width=8, d_width=8)


@pytest.fixture
def saved(tmp_path):
    model = GAN(CFG)
    path = save_artifact(
        tmp_path / "m",
        "image-gan",
        CFG,
        model.state_dict(),
        recipe={"steps": 3},
        data={"source": "bars", "fingerprint": "abc"},
    )
    return path, model


def test_round_trip_restores_weights_and_manifest(saved):
    path, model = saved
    loaded = load_artifact(path)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value), key
    manifest = loaded.manifest
    assert manifest["kind"] == "image-gan"
    assert manifest["config"]["z_dim"] == 8
    assert manifest["data"]["fingerprint"] == "abc"
    assert manifest["versions"]["torch"] == torch.__version__
    assert len(loaded.sha256) == 64 and loaded.short_hash == loaded.sha256[:12]


def test_tampered_weights_are_refused(saved):
    path, _ = saved
    weights = path / "model.safetensors"
    blob = bytearray(weights.read_bytes())
    blob[-1] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match="sha256") as info:
        load_artifact(path)
    assert "model.safetensors" in str(info.value) and "\n" not in str(info.value)


def test_pickle_is_never_loaded(saved, tmp_path):
    path, _ = saved
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    blob = pickle.dumps({"w": Exploit()})
    (path / "model.safetensors").write_bytes(blob)
    manifest = json.loads((path / "model.json").read_text())
    import hashlib

    manifest["weights"]["sha256"] = hashlib.sha256(blob).hexdigest()
    (path / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="unreadable safetensors"):
        load_artifact(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda p: (p / "model.json").unlink(), "no model.json"),
        (lambda p: (p / "model.json").write_text("{not json"), "not valid JSON"),
        (lambda p: (p / "model.safetensors").unlink(), "no model.safetensors"),
    ],
)
def test_broken_artifacts_give_clear_errors(saved, breakage, message):
    path, _ = saved
    breakage(path)
    with pytest.raises(ArtifactError, match=message):
        load_artifact(path)


def test_unknown_kind_and_mismatched_config(saved):
    path, _ = saved
    manifest = json.loads((path / "model.json").read_text())
    manifest["config"]["z_dim"] = 9
    (path / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="do not fit"):
        load_artifact(path)
    manifest["kind"] = "no-such-kind"
    (path / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="unknown model kind 'no-such-kind'"):
        load_artifact(path)


def test_missing_directory(tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        read_manifest(tmp_path / "nope")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def failing(tmp):
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write_with(target, failing)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_atomic_directory_replaces_only_on_success(tmp_path):
    target = tmp_path / "run"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("1")
    assert (target / "a.txt").read_text() == "1"
    with pytest.raises(ValueError), atomic_directory(target) as tmp:
        (tmp / "b.txt").write_text("2")
        raise ValueError
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(weights=5), "'weights' is not a JSON object"),
        (lambda m: m.update(data="mnist"), "'data' is not a JSON object"),
        (lambda m: m.update(kind=["image-gan"]), "'kind' is not a string"),
        (lambda m: m["config"].update(z_dim=-3), "config does not build a 'image-gan' model"),
        (lambda m: m["config"].update(g_width="wide"), "config does not build"),
        # a model of ~10^12 parameters: refused on the meta device, before any allocation
        (lambda m: m["config"].update(g_width=10**6), "weights do not fit"),
    ],
)
def test_hostile_manifests_are_one_line_artifact_errors(saved, change, message):
    path, _ = saved
    manifest = json.loads((path / "model.json").read_text())
    change(manifest)
    (path / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=message) as info:
        load_artifact(path)
    assert "\n" not in str(info.value)


def test_oversized_manifest_is_refused_before_reading(saved, monkeypatch):
    from museforge.core import artifact

    path, _ = saved
    monkeypatch.setattr(artifact, "MAX_MANIFEST_BYTES", 100)
    with pytest.raises(
        ArtifactError, match=r"model.json is too large \(\d[\d,]* bytes, limit 100\)"
    ):
        load_artifact(path)


def test_reading_allocates_what_the_file_holds_not_the_cap(saved, monkeypatch):
    from museforge.core import artifact

    path, model = saved
    # read(cap) would ask for 4 EiB up front (the bytes object is allocated before reading)
    monkeypatch.setattr(artifact, "MAX_WEIGHTS_BYTES", 2**62)
    loaded = load_artifact(path)
    key = "generator.up.project.weight"
    assert torch.equal(loaded.model.state_dict()[key], model.state_dict()[key])
