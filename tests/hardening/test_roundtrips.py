"""Round-trips as properties (issue #27): what museforge writes it reads back the same —
artifacts, provenance, the gallery's index from its files, and a remix's bytes."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import mido
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from PIL import Image

from museforge.core.artifact import load_artifact, load_weights, read_manifest, save_artifact
from museforge.core.artwork import Artwork, Result
from museforge.core.registry import call_verb
from museforge.errors import InputError
from museforge.gallery.artwork import write_result
from museforge.gallery.provenance import (
    read_png_provenance,
    read_text_provenance,
    save_png,
    save_sidecar,
    save_text,
)
from museforge.gallery.remix import remake
from museforge.gallery.store import Gallery
from museforge.image.vae import VAE, VAEConfig
from museforge.music.render import PROVENANCE_PREFIX as PREFIX
from museforge.music.result import MusicResult
from museforge.music.score import Note, Piece
from tests.test_cli import run

MODELS = Path(__file__).resolve().parents[2] / "models"
# Same examples on every run, nothing remembered between runs, no deadline on a busy machine.
PROPERTY = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# JSON as provenance and manifests carry it: any Unicode text (lone surrogates are not
# text), integers, and the floats JSON can carry exactly (no NaN or infinity).
TEXT = st.text(max_size=10)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
RECORDS = st.dictionaries(TEXT, JSON, max_size=6)


def canonical(value: Any) -> str:
    """JSON that tells 1 from 1.0 and 0.0 from -0.0: equal only for the same record."""
    return json.dumps(value, sort_keys=True, ensure_ascii=True)


def bits(tensor: torch.Tensor) -> tuple[torch.dtype, tuple[int, ...], bytes]:
    """A tensor's dtype, shape and bytes: NaN payloads and -0.0 included."""
    flat = tensor.detach().contiguous().reshape(-1).view(torch.uint8)
    return tensor.dtype, tuple(tensor.shape), flat.numpy().tobytes()


# --- artifacts -----------------------------------------------------------------------------
VAE_CONFIGS = st.builds(
    VAEConfig,
    image_size=st.sampled_from([8, 12, 16, 20]),
    channels=st.sampled_from([1, 3, 4]),
    z_dim=st.integers(1, 6),
    num_classes=st.integers(0, 3),
    width=st.integers(1, 6),
)


@settings(PROPERTY, max_examples=12)
@given(config=VAE_CONFIGS, seed=st.integers(0, 2**32 - 1), recipe=RECORDS, data=RECORDS)
def test_an_artifact_loads_back_with_the_same_weights_and_manifest(config, seed, recipe, data):
    torch.manual_seed(seed)
    state = {
        k: torch.randn_like(v) if v.is_floating_point() else v + seed % 5
        for k, v in VAE(config).state_dict().items()
    }
    metrics = {"loss": seed / 7, "notes": recipe}
    with tempfile.TemporaryDirectory() as folder:
        path = save_artifact(Path(folder) / "m", "image-vae", config, state, recipe, data, metrics)
        loaded = load_artifact(path)
        assert read_manifest(path) == loaded.manifest
    got = loaded.model.state_dict()
    assert {k: bits(v) for k, v in got.items()} == {k: bits(v) for k, v in state.items()}
    manifest = loaded.manifest
    assert (manifest["kind"], manifest["config"]) == ("image-vae", dataclasses.asdict(config))
    sent = [recipe, data, metrics]
    assert canonical([manifest["recipe"], manifest["data"], manifest["metrics"]]) == canonical(sent)


DTYPES = {
    torch.float32: 4,
    torch.float16: 2,
    torch.bfloat16: 2,
    torch.float64: 8,
    torch.int64: 8,
    torch.int32: 4,
    torch.int16: 2,
    torch.int8: 1,
    torch.uint8: 1,
}


@st.composite
def tensors(draw: st.DrawFn) -> torch.Tensor:
    """Any bytes as a tensor of any dtype and a small shape (scalars and empty ones too)."""
    shape = draw(st.lists(st.integers(0, 3), max_size=3))
    count = math.prod(shape)
    if draw(st.booleans()):
        values = draw(st.lists(st.booleans(), min_size=count, max_size=count))
        return torch.tensor(values, dtype=torch.bool).reshape(shape)
    dtype = draw(st.sampled_from(list(DTYPES)))
    size = count * DTYPES[dtype]
    raw = draw(st.binary(min_size=size, max_size=size))
    if not raw:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(dtype).reshape(shape).clone()


@settings(PROPERTY, max_examples=60)
@given(st.dictionaries(st.text(min_size=1, max_size=8), tensors(), max_size=5))
def test_raw_tensors_load_back_bit_for_bit(weights):
    with tempfile.TemporaryDirectory() as folder:
        path = save_artifact(Path(folder), "image-vae", VAEConfig(), weights)
        got = load_weights(path, read_manifest(path))
    assert {k: bits(v) for k, v in got.items()} == {k: bits(v) for k, v in weights.items()}


# --- provenance ----------------------------------------------------------------------------
@settings(PROPERTY, max_examples=50)
@given(
    record=RECORDS,
    size=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    mode=st.sampled_from(["L", "RGB", "RGBA", "P"]),
)
def test_a_pictures_provenance_reads_back_the_same(record, size, mode):
    with tempfile.TemporaryDirectory() as folder:
        path = save_png(Path(folder) / "art.png", Image.new(mode, size), record)
        assert canonical(read_png_provenance(path)) == canonical(record)


@settings(PROPERTY, max_examples=50)
@given(record=RECORDS, text=st.text(max_size=40))
def test_a_poems_sidecar_and_a_meshs_read_back_the_same(record, text):
    with tempfile.TemporaryDirectory() as folder:
        poem = save_text(Path(folder) / "poem.txt", text, record)
        assert canonical(read_text_provenance(poem)) == canonical({**record, "file": "poem.txt"})
        written = poem.read_bytes().decode("utf-8")
        assert written == (text if text.endswith("\n") else text + "\n")
        mesh = Path(folder) / "form.glb"
        mesh.write_bytes(b"glTF")
        save_sidecar(mesh, record)
        assert canonical(read_text_provenance(mesh)) == canonical(record)


def test_a_lone_surrogate_survives_a_pictures_provenance(tmp_path):
    record = {"prompt": "\ud800 from a stranger's file", "\udfff": [1.5]}
    path = save_png(tmp_path / "art.png", Image.new("L", (2, 2)), record)
    assert read_png_provenance(path) == record


def test_a_lone_surrogate_survives_a_sidecar(tmp_path):
    mesh = tmp_path / "form.glb"
    mesh.write_bytes(b"glTF")
    record = {"prompt": "\ud800", "words": "红心"}  # Chinese stays readable where it can
    save_sidecar(mesh, record)
    assert read_text_provenance(mesh) == record
    save_sidecar(mesh, {"words": "红心"})
    assert "红心" in mesh.with_name("form.glb.json").read_text(encoding="utf-8")


# --- the gallery's index from its files -------------------------------------------------------
MODEL = {"path": "/models/m", "kind": "image-vae", "sha256": "ab" * 32}
NAMES = st.sampled_from(["fox", "moon", "walk", "tune", "狐"])
FOLDERS = st.sampled_from(["a", "b/c", "汉字"])
EXTRA = st.dictionaries(st.text(max_size=6).map(lambda k: f"x-{k}"), JSON, max_size=3)
CREATED = st.none() | st.floats(0, 2e9)


def _provenance(verb: str, seed: int, created: float | None, extra: dict) -> dict[str, Any]:
    prov = {"model": MODEL, "verb": verb, "args": {"seed": seed}, **extra}
    if created is not None:
        prov["created"] = created
    return prov


def everything(gallery: Gallery) -> list[tuple]:
    """All a listing shows, from the files and the user's marks, frames included."""
    rows = []
    for frames in (False, True):
        for r in gallery.list(frames=frames, limit=10_000):
            rows.append((frames, canonical(r.summary()), canonical(r.provenance)))
    return rows


class GalleryFromFiles(RuleBasedStateMachine):
    """Save artworks of every modality, mark them, delete files by hand, sync: after all of
    it the index lists what a reindex of the files lists, and so does a new index."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp())
        self.gallery = Gallery(self.folder / "gallery")
        self.ids: list[str] = []

    def _file(self, pick: int) -> tuple[str, Path | None]:
        """An id saved earlier and its file, None once deleted (and perhaps synced away)."""
        art_id = self.ids[pick % len(self.ids)]
        try:
            path = self.gallery.root / self.gallery.get(art_id).path
        except InputError:
            return art_id, None
        return art_id, path if path.exists() else None

    @rule(folder=FOLDERS, name=NAMES, n=st.integers(1, 3), seed=st.integers(0, 99))
    def save_pictures(self, folder, name, n, seed):
        prov = _provenance("sample", seed, None, {})
        arts = [
            Artwork(f"{name}-{k}", Image.new("RGB", (4, 4), (seed, k, 9)), prov) for k in range(n)
        ]
        self.ids += self.gallery.save(Result(arts, grid=Image.new("RGB", (8, 4))), folder)

    @rule(folder=FOLDERS, name=NAMES, text=st.text(max_size=20), created=CREATED, extra=EXTRA)
    def save_poem(self, folder, name, text, created, extra):
        art = Artwork(name, text=text, provenance=_provenance("poem", 1, created, extra))
        self.ids += self.gallery.save(Result([art]), folder)

    @rule(folder=FOLDERS, name=NAMES, frames=st.integers(2, 3), created=CREATED)
    def save_animation(self, folder, name, frames, created):
        stills = [Image.new("L", (4, 4), 60 * k) for k in range(frames)]
        prov = _provenance("interpolate", 2, created, {})
        arts = [Artwork(f"{name}-{k}", img, {**prov, "t": k}) for k, img in enumerate(stills)]
        self.ids += self.gallery.save(Result(arts, frames=stills, stem=name), folder)

    @rule(folder=FOLDERS, name=NAMES, pitch=st.integers(40, 80), created=CREATED)
    def save_music(self, folder, name, pitch, created):
        piece = Piece(notes=(Note(pitch, 0, 1), Note(pitch + 4, 1, 1)))
        result = MusicResult(pieces=[(name, piece, _provenance("sample", pitch, created, {}))])
        result.wav = False  # audio takes long to render and is a companion only
        self.ids += self.gallery.save(result, folder)

    @rule(name=NAMES, seed=st.integers(0, 99))
    def write_by_hand(self, name, seed):
        prov = _provenance("sample", seed, 1.0, {})
        art = Artwork(name, Image.new("RGB", (4, 4), (0, seed, 0)), prov)
        write_result(Result([art]), self.gallery.root / "hand" / str(seed))

    @precondition(lambda self: self.ids)
    @rule(pick=st.integers(0, 10**6), stars=st.integers(0, 5), like=st.none() | st.booleans())
    def rate(self, pick, stars, like):
        art_id, path = self._file(pick)
        if path is None:
            with pytest.raises(InputError):
                self.gallery.rate(art_id, stars=stars, like=like)
        else:
            self.gallery.rate(art_id, stars=stars, like=like)

    @precondition(lambda self: self.ids)
    @rule(pick=st.integers(0, 10**6), add=st.lists(st.text(min_size=1, max_size=8), max_size=3))
    def tag(self, pick, add):
        art_id, path = self._file(pick)
        if path is None:
            with pytest.raises(InputError):
                self.gallery.tag(art_id, add=add)
        else:
            self.gallery.tag(art_id, add=add)

    @precondition(lambda self: self.ids)
    @rule(pick=st.integers(0, 10**6))
    def delete_by_hand(self, pick):
        _, path = self._file(pick)
        if path is not None:
            path.unlink()

    @rule()
    def sync(self):
        self.gallery.sync()

    @invariant()
    def nothing_half_written(self):
        assert list(self.gallery.root.rglob(".*.tmp*")) == []

    def teardown(self):
        try:
            self.gallery.sync()
            before = everything(self.gallery)
            assert self.gallery.reindex() == self.gallery.count(frames=True)
            assert everything(self.gallery) == before
            self.gallery.close()
            for path in (self.gallery.root / ".museforge").glob("index.sqlite*"):
                path.unlink()
            fresh = Gallery(self.gallery.root)
            try:
                fresh.reindex()
                assert everything(fresh) == before
            finally:
                fresh.close()
        finally:
            self.gallery.close()
            shutil.rmtree(self.folder, ignore_errors=True)


TestGalleryFromFiles = GalleryFromFiles.TestCase
TestGalleryFromFiles.settings = settings(PROPERTY, max_examples=12, stateful_step_count=10)


# --- remix -----------------------------------------------------------------------------------
RENAMED = ("remix_of", "ends", "frame_of", "file")  # what a remix beside the original changes


def twin_of(gallery: Gallery, art_id: str, new_ids: list[str]) -> Path:
    """The remade file of the artwork ``art_id`` among the remix's: its name plus -vN."""
    original = Path(gallery.get(art_id).path)
    for new in new_ids:
        path = Path(gallery.get(new).path)
        stem, _, version = path.stem.rpartition("-v")
        if stem == original.stem and version.isdigit() and path.suffix == original.suffix:
            return gallery.root / path
    raise AssertionError(f"no remake of {original} among {new_ids}")


def content(path: Path) -> Any:
    """What an artwork file holds apart from its provenance: a picture's pixels, a MIDI
    file's events but the provenance text event, any other file's bytes."""
    if path.suffix == ".png":
        picture = Image.open(path)
        return picture.mode, picture.size, picture.tobytes()
    if path.suffix == ".mid":
        tracks = mido.MidiFile(path).tracks
        return [
            [str(m) for m in t if not getattr(m, "text", "").startswith(PREFIX)] for t in tracks
        ]
    return path.read_bytes()


def check_remix(gallery: Gallery, art_id: str, scratch: Path) -> None:
    """The recorded call of ``art_id``, run again, writes the same bytes; and the remix the
    gallery keeps (``gallery remix ID --run``) holds the same picture, poem or piece with
    the same record but for ``remix_of`` and its own name."""
    record = gallery.get(art_id)
    original = gallery.root / record.path
    recipe = gallery.remix(art_id)
    again = call_verb(load_artifact(recipe["model"]), recipe["verb"], **recipe["args"])
    if isinstance(again, MusicResult):
        again.wav = False
    write_result(again, scratch)
    assert (scratch / original.name).read_bytes() == original.read_bytes()

    twin = twin_of(gallery, art_id, remake(gallery, art_id))
    assert content(twin) == content(original)
    remade = gallery.get(gallery.add(twin))
    assert remade.provenance["remix_of"] == {"id": art_id, "sha256": record.sha256}
    kept = [{k: v for k, v in r.provenance.items() if k not in RENAMED} for r in (record, remade)]
    assert canonical(kept[0]) == canonical(kept[1])


CALLS = {  # starter models (real, trained, read only) and the calls drawn for them
    "mnist-vae": lambda seed, n: ("interpolate", {"seed_a": seed, "seed_b": seed + n, "frames": 3}),
    "mnist-gan": lambda seed, n: ("sample", {"n": n, "seed": seed}),
    "verse-poet": lambda seed, n: ("sample", {"n": n, "seed": seed, "max_chars": 40}),
    "folk-vae": lambda seed, n: ("sample", {"n": n, "seed": seed}),
}
# A GAN takes a second to build (spectral norm), a melody's score as long to write.
EXAMPLES = {"mnist-vae": 6, "mnist-gan": 2, "verse-poet": 6, "folk-vae": 2}


@pytest.mark.parametrize("name", list(CALLS))
def test_a_remix_of_any_artwork_makes_the_same_bytes(name):
    loaded = load_artifact(MODELS / name)

    @settings(PROPERTY, max_examples=EXAMPLES[name], phases=[Phase.explicit, Phase.generate])
    @given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 2), pick=st.integers(0, 10))
    def check(seed, n, pick):
        verb, args = CALLS[name](seed, n)
        result = call_verb(loaded, verb, **args)
        if isinstance(result, MusicResult):
            result.wav = False
        with tempfile.TemporaryDirectory() as folder:
            gallery = Gallery(Path(folder) / "gallery")
            try:
                ids = gallery.save(result, "made")
                check_remix(gallery, ids[pick % len(ids)], Path(folder) / "again")
            finally:
                gallery.close()

    check()


def test_the_cli_remix_makes_the_same_picture(tmp_path, monkeypatch, capsys):
    root = tmp_path / "gallery"
    monkeypatch.setenv("MUSEFORGE_GALLERY", str(root))
    gallery = Gallery(root)
    loaded = load_artifact(MODELS / "mnist-vae")
    [first, _] = gallery.save(call_verb(loaded, "sample", n=2, seed=11), "made")
    gallery.close()
    code, out, err = run(monkeypatch, capsys, "gallery", "remix", first, "--run")
    assert code == 0, err
    assert "wrote 2 artworks" in out
    old = Image.open(root / "made" / "sample-s11-0000.png")
    new = Image.open(root / "made" / "sample-s11-0000-v2.png")
    assert new.tobytes() == old.tobytes()
    assert new.text["museforge"] != old.text["museforge"]  # it records what it remixed
