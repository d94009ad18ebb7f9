"""Fuzz targets: one per parser of outside input, each fed raw bytes the way museforge
reads them (an upload's bytes, or a file in a private folder), with valid seed inputs
made in code so that fuzzing starts deep inside each format.

The rules (:func:`run_target`): a parser may accept an input or refuse it with a
MuseforgeError whose message is one non-empty line; anything else (another exception, a
message on several lines) is a crash. Hangs and memory are watched by the fuzz worker.
Parser modules are imported inside the targets, so the worker can instrument them first.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from museforge.errors import MuseforgeError


class FuzzCrash(Exception):
    """A parser broke the rules on an input (its message says how)."""


@dataclass(frozen=True)
class FuzzTarget:
    """One parser: ``parse(data, folder)`` feeds ``data`` to it (``folder`` is empty and
    private), ``seeds()`` are valid inputs, ``libraries`` are the top-level packages worth
    instrumenting besides museforge."""

    name: str
    summary: str
    parse: Callable[[bytes, Path], None]
    seeds: Callable[[], list[bytes]]
    libraries: tuple[str, ...] = ()


TARGETS: dict[str, FuzzTarget] = {}
# Kinds of outside input museforge has no parser for, so nothing to fuzz (name → why).
NOT_FUZZED: dict[str, str] = {}
_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


def target(
    name: str, summary: str, seeds: Callable[[], list[bytes]], libraries: tuple[str, ...] = ()
) -> Callable[[Callable[[bytes, Path], None]], Callable[[bytes, Path], None]]:
    """Register the decorated ``parse(data, folder)`` as the fuzz target ``name``."""
    if not _NAME.fullmatch(name) or name in TARGETS or name in NOT_FUZZED:
        raise ValueError(f"fuzz target name {name!r} is malformed or taken")

    def register(parse: Callable[[bytes, Path], None]) -> Callable[[bytes, Path], None]:
        TARGETS[name] = FuzzTarget(name, summary, parse, functools.cache(seeds), libraries)
        return parse

    return register


def check_message(err: MuseforgeError) -> None:
    """Raise FuzzCrash unless ``err``'s message is one non-empty line."""
    message = str(err)
    if not message.strip() or len(message.splitlines()) != 1:
        kind = type(err).__name__
        raise FuzzCrash(f"{kind} whose message is not one line: {message[:300]!r}") from err


def attempt(call: Callable[..., object], *args: object) -> bool:
    """Call a parser; False when it refused the input properly, True when it accepted."""
    try:
        call(*args)
    except MuseforgeError as err:
        check_message(err)
        return False
    return True


def run_target(name: str, data: bytes, scratch: Path) -> None:
    """Feed ``data`` to target ``name`` in a fresh folder under ``scratch``; returns when
    the parser accepted or properly refused it, raises anything else (a crash)."""
    folder = Path(tempfile.mkdtemp(dir=scratch))
    try:
        attempt(TARGETS[name].parse, data, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _pick(data: bytes, choices: tuple[str, ...]) -> tuple[str, bytes]:
    """The first byte picks one of ``choices`` (a file suffix); the rest is the content."""
    return (choices[data[0] % len(choices)], data[1:]) if data else (choices[0], b"")


def _png(size: tuple[int, int] = (4, 3), mode: str = "RGB") -> bytes:
    from PIL import Image

    picture = Image.new(mode, size)
    picture.putdata([(i * 37 % 256, i * 11 % 256, 90, 255)[: len(mode)] for i in range(12)])
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def _files(write: Callable[[Path], object], name: str) -> bytes:
    """The bytes of a file that ``write(path)`` makes (for writers that take a path)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        write(path)
        return path.read_bytes()


# --- provenance --------------------------------------------------------------------------

MODEL_SHA = "5eed" * 16  # the model the seed artworks say made them
Z_DIM = 4
HINT = "breed artworks of one model"


def _provenance(extra: dict[str, object] | None = None) -> dict[str, object]:
    import torch

    from museforge.core.latent import encode_latent

    record: dict[str, object] = {
        "model": {"sha256": MODEL_SHA, "kind": "image-vae", "path": "/models/x"},
        "verb": "sample",
        "latent": encode_latent(torch.linspace(-1, 1, Z_DIM)),
        "seed": 3,
    }
    return {**record, **(extra or {})}


def _provenance_seeds() -> list[bytes]:
    from PIL import Image

    from museforge.gallery.provenance import save_png

    picture = Image.new("RGB", (4, 4), (200, 30, 60))
    return [
        _files(lambda p: save_png(p, picture, _provenance()), "art.png"),
        _files(lambda p: save_png(p, picture, _provenance({"args": {"n": 1}}), dpi=300), "a.png"),
    ]


@target(
    "png-provenance",
    "read_latent_parent on a PNG (read_png_provenance)",
    _provenance_seeds,
    ("PIL",),
)
def _png_provenance(data: bytes, folder: Path) -> None:
    from museforge.gallery.provenance import read_latent_parent

    path = folder / "art.png"
    path.write_bytes(data)
    read_latent_parent(path, MODEL_SHA, MODEL_SHA[:12], Z_DIM, HINT)


def _sidecar_seeds() -> list[bytes]:
    return [json.dumps(_provenance(), indent=2).encode(), json.dumps(_provenance()).encode()]


@target(
    "provenance-sidecar",
    "read_latent_parent on a GLB's .json (read_text_provenance)",
    _sidecar_seeds,
)
def _provenance_sidecar(data: bytes, folder: Path) -> None:
    from museforge.gallery.provenance import read_latent_parent

    (folder / "form.glb").write_bytes(b"glTF")
    (folder / "form.glb.json").write_bytes(data)
    read_latent_parent(folder / "form.glb", MODEL_SHA, MODEL_SHA[:12], Z_DIM, HINT)


# --- pictures ----------------------------------------------------------------------------


def _image_seeds() -> list[bytes]:
    from PIL import Image

    rgb = Image.frombytes("RGB", (6, 5), bytes(range(90)))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotated, so exif_transpose has work to do
    frames = [rgb.convert("P"), rgb.rotate(90).convert("P")]
    saves: list[tuple[Image.Image, str, dict[str, object]]] = [
        (rgb, "PNG", {}),
        (rgb.convert("RGBA"), "PNG", {}),
        (rgb.convert("I;16"), "PNG", {}),
        (rgb.convert("P"), "PNG", {"transparency": 3}),
        (rgb, "JPEG", {"quality": 80, "exif": exif}),
        (rgb.convert("L"), "JPEG", {"progressive": True}),
        (frames[0], "GIF", {"save_all": True, "append_images": frames[1:], "duration": 50}),
        (rgb, "WEBP", {"lossless": True}),
        (rgb.convert("RGBA"), "WEBP", {"quality": 50}),
        (rgb, "BMP", {}),
        (rgb, "TIFF", {}),
        (rgb.convert("CMYK"), "TIFF", {"compression": "tiff_deflate"}),
    ]
    seeds = []
    for picture, kind, options in saves:
        out = io.BytesIO()
        picture.save(out, format=kind, **options)
        seeds.append(out.getvalue())
    return seeds


@target(
    "image",
    "check_image_bytes and read_image (PNG, JPEG, GIF, WebP, BMP, TIFF)",
    _image_seeds,
    ("PIL",),
)
def _image(data: bytes, folder: Path) -> None:
    from museforge.core.media import check_image_bytes, read_image

    attempt(check_image_bytes, "upload.png", data)
    path = folder / "picture.img"
    path.write_bytes(data)
    attempt(read_image, path)
    read_image(path, 8, 4)  # resampled, transparency kept: the captioned-folder path


# --- music -------------------------------------------------------------------------------


def _midi_seeds() -> list[bytes]:
    import mido

    def song(kind: int) -> bytes:
        meta = mido.MidiTrack(
            [
                mido.MetaMessage("set_tempo", tempo=500_000),
                mido.MetaMessage("time_signature", numerator=3, denominator=4),
                mido.MetaMessage("key_signature", key="Em"),
            ]
        )
        notes = mido.MidiTrack(
            [
                mido.MetaMessage("track_name", name="flute"),
                mido.Message("program_change", program=73),
            ]
        )
        for i, pitch in enumerate((64, 67, 71, 64)):
            notes.append(mido.Message("note_on", note=pitch, velocity=90, time=0 if i else 10))
            notes.append(mido.Message("note_on", channel=9, note=36, velocity=60))
            notes.append(mido.Message("note_off", note=pitch, time=240))
        midi = mido.MidiFile(type=kind, ticks_per_beat=480)
        midi.tracks += [mido.merge_tracks([meta, notes])] if kind == 0 else [meta, notes]
        out = io.BytesIO()
        midi.save(file=out)
        return out.getvalue()

    return [song(0), song(1)]


@target("midi", "check_music_bytes (upload) and read_music_file on a .mid", _midi_seeds, ("mido",))
def _midi(data: bytes, folder: Path) -> None:
    from museforge.music.readers import read_music_file
    from museforge.studio.uploads import check_music_bytes

    attempt(check_music_bytes, "upload.mid", data)
    path = folder / "tune.mid"
    path.write_bytes(data)
    read_music_file(path)


MUSICXML = """<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="4.0">
  <part-list><score-part id="P1"><part-name>Flute</part-name></score-part></part-list>
  <part id="P1">
    <measure number="1">
      <attributes><divisions>2</divisions><key><fifths>1</fifths><mode>major</mode></key>
        <time><beats>3</beats><beat-type>4</beat-type></time></attributes>
      <direction><sound tempo="96"/></direction>
      <note><pitch><step>G</step><octave>4</octave></pitch><duration>2</duration></note>
      <note><pitch><step>B</step><octave>4</octave></pitch><duration>1</duration></note>
      <note><chord/><pitch><step>D</step><octave>5</octave></pitch><duration>1</duration></note>
      <note><pitch><step>A</step><alter>1</alter><octave>4</octave></pitch><duration>3</duration>
        <tie type="start"/></note>
    </measure>
    <measure number="2">
      <note><pitch><step>A</step><alter>1</alter><octave>4</octave></pitch><duration>2</duration>
        <tie type="stop"/></note>
      <note><rest/><duration>4</duration></note>
    </measure>
  </part>
</score-partwise>
"""
MXL_CONTAINER = """<?xml version="1.0" encoding="UTF-8"?>
<container><rootfiles><rootfile full-path="score.musicxml"/></rootfiles></container>
"""


def _musicxml_seeds() -> list[bytes]:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("META-INF/container.xml", MXL_CONTAINER)
        zf.writestr("score.musicxml", MUSICXML)
    return [MUSICXML.encode(), packed.getvalue()]


@target(
    "musicxml",
    "check_music_bytes and read_music_file on .musicxml, or .mxl when the input is a zip",
    _musicxml_seeds,
    ("music21", "zipfile"),
)
def _musicxml(data: bytes, folder: Path) -> None:
    from museforge.music.readers import read_music_file
    from museforge.studio.uploads import check_music_bytes

    suffix = ".mxl" if data.startswith(b"PK") else ".musicxml"
    attempt(check_music_bytes, f"upload{suffix}", data)
    path = folder / f"score{suffix}"
    path.write_bytes(data)
    read_music_file(path)


ABC = """X:1
T:Seed jig
M:6/8
L:1/8
Q:1/4=100
K:D
A|dfa afd|e2c A2G|FAd (gec)|d3 d2:|

X:2
T:Seed waltz
M:3/4
L:1/4
K:Am
A B c|e2 d|[ce] B A|A3|]
"""


@target("abc", "read_pieces on an .abc file (every tune)", lambda: [ABC.encode()], ("music21",))
def _abc(data: bytes, folder: Path) -> None:
    from museforge.music.readers import read_pieces

    path = folder / "tunes.abc"
    path.write_bytes(data)
    read_pieces(path)


# --- uploads, artifacts, recipes, captions -----------------------------------------------


def _zip_seeds() -> list[bytes]:
    seeds = []
    for method in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", method) as zf:
            zf.writestr("set/a.png", _png())
            zf.writestr("set/a.txt", "a small picture")
            zf.writestr("set/metadata.jsonl", '{"file_name": "a.png", "text": "red"}\n')
            zf.writestr("__MACOSX/set/._a.png", b"junk")
            zf.writestr("set/notes.doc", b"skipped")
        seeds.append(out.getvalue())
    return seeds


@target("zip-upload", "safe_extract_zip of a data-set upload", _zip_seeds, ("zipfile",))
def _zip_upload(data: bytes, folder: Path) -> None:
    from museforge.studio.runners import DATA_SUFFIXES
    from museforge.studio.uploads import safe_extract_zip

    safe_extract_zip("upload.zip", data, folder / "dataset", DATA_SUFFIXES)


# The artifact input is manifest + SPLIT + weights; SHA_MARK in the manifest becomes the
# weights' real sha256, so mutated weights still get past the hash check into safetensors.
SPLIT = b"\n--museforge-weights--\n"
SHA_MARK = b"@weights-sha256@"
TINY_MODELS = {
    "image-vae": {"image_size": 8, "channels": 1, "z_dim": 2, "width": 4},
    "image-gan": {"image_size": 8, "channels": 1, "z_dim": 2, "g_width": 4, "d_width": 4},
}


def _artifact_seeds() -> list[bytes]:
    import torch

    from museforge.core.artifact import MANIFEST_FILE, WEIGHTS_FILE, save_artifact
    from museforge.core.registry import build_model, config_from_dict, get_kind, load_all

    load_all()
    seeds = []
    torch.manual_seed(0)
    for kind, values in TINY_MODELS.items():
        config = config_from_dict(get_kind(kind).config_cls, values, kind)
        model = build_model(kind, values)
        with tempfile.TemporaryDirectory() as tmp:
            save_artifact(tmp, kind, config, model.state_dict(), data={"source": "mnist5k"})
            weights = (Path(tmp) / WEIGHTS_FILE).read_bytes()
            manifest = (Path(tmp) / MANIFEST_FILE).read_bytes()
        sha = hashlib.sha256(weights).hexdigest().encode()
        seeds.append(manifest.replace(sha, SHA_MARK) + SPLIT + weights)
    return seeds


@target("artifact", "load_artifact of model.json + model.safetensors", _artifact_seeds)
def _artifact(data: bytes, folder: Path) -> None:
    from museforge.core.artifact import MANIFEST_FILE, WEIGHTS_FILE, load_artifact

    manifest, _, weights = data.partition(SPLIT)
    sha = hashlib.sha256(weights).hexdigest().encode()
    model = folder / "model"
    model.mkdir()
    (model / MANIFEST_FILE).write_bytes(manifest.replace(SHA_MARK, sha))
    (model / WEIGHTS_FILE).write_bytes(weights)
    load_artifact(model)


RECIPES = (
    'kind = "image-gan"\ndata = "mnist5k"\nout = "models/g"\n\n[model]\nz_dim = 64\n\n'
    '[training]\nloss = "hinge"\n\n[run]\ntime_budget = "4m"\n',
    'kind = "text-lm"\ndata = "folder:poems"\n[model]\nlayers = [2, 3]\n'
    "[run]\nsteps = 10\nbatch_size = 8\nseed = 1\ncheckpoint_every = 5.5\n",
)


@target(
    "recipe",
    "load_recipe and its run settings",
    lambda: [r.encode() for r in RECIPES],
    ("tomllib",),
)
def _recipe(data: bytes, folder: Path) -> None:
    from museforge.core.recipe import load_recipe

    path = folder / "recipe.toml"
    path.write_bytes(data)
    load_recipe(path).settings()


CAPTION_FILES = ("metadata.jsonl", "metadata.csv", "a.txt")
CAPTIONS = (
    '{"file_name": "a.png", "text": "a red square"}\n{"file_name": "sub/b.png", "text": "蓝"}\n',
    'file_name,text\na.png,"red, square"\nsub/b.png,blue\n',
    "a red square\n",
)


@target(
    "captions",
    "captioned_folder with metadata.jsonl, metadata.csv or a .txt beside a picture",
    lambda: [bytes([i]) + text.encode() for i, text in enumerate(CAPTIONS)],
    ("PIL",),
)
def _captions(data: bytes, folder: Path) -> None:
    from museforge.crossmodal.folders import captioned_folder

    name, content = _pick(data, CAPTION_FILES)
    (folder / "sub").mkdir()
    (folder / "a.png").write_bytes(_tiny_png())
    (folder / "sub" / "b.png").write_bytes(_tiny_png())
    (folder / name).write_bytes(content)
    captioned_folder(folder, image_size=8)


@functools.cache
def _tiny_png() -> bytes:
    return _png()


# --- meshes, palettes, text --------------------------------------------------------------

MESH_SUFFIXES = (".stl", ".obj", ".ply", ".off", ".glb", ".gltf")


def _mesh_seeds() -> list[bytes]:
    import trimesh

    box = trimesh.creation.box()
    exports = {
        ".stl": [box.export(file_type="stl"), box.export(file_type="stl_ascii")],
        ".obj": [box.export(file_type="obj")],
        ".ply": [box.export(file_type="ply"), box.export(file_type="ply", encoding="ascii")],
        ".off": [box.export(file_type="off")],
        ".glb": [box.export(file_type="glb")],
        ".gltf": [box.export(file_type="gltf", embed_buffers=True)["model.gltf"]],
    }
    return [
        bytes([MESH_SUFFIXES.index(suffix)]) + (d.encode() if isinstance(d, str) else d)
        for suffix, found in exports.items()
        for d in found
    ]


@target("mesh", "mesh_from_bytes (STL, OBJ, PLY, OFF, GLB, glTF)", _mesh_seeds, ("trimesh",))
def _mesh(data: bytes, folder: Path) -> None:
    from museforge.sculpture.meshfile import mesh_from_bytes

    suffix, content = _pick(data, MESH_SUFFIXES)
    mesh_from_bytes(f"upload{suffix}", content)


PALETTE_SUFFIXES = (".gpl", ".hex", ".txt")
PALETTES = (
    "GIMP Palette\nName: Seed\nColumns: 3\n#\n255   0   0\tRed\n  0 128 255\tBlue\n9 9 9\n",
    "#aa0000\n00bb11\n# a comment\n\n#0000ff\n",
    "ff8800\n",
)


@target(
    "palette",
    "read_palette on a .gpl, .hex or .txt file",
    lambda: [bytes([i]) + text.encode() for i, text in enumerate(PALETTES)],
)
def _palette(data: bytes, folder: Path) -> None:
    from museforge.design.palette import read_palette

    suffix, content = _pick(data, PALETTE_SUFFIXES)
    path = folder / f"colours{suffix}"
    path.write_bytes(content)
    read_palette(str(path))


TEXTS = (
    "The sea at night\nis a field of small lights.\n\nThe wind keeps\nno count of them.\n",
    "床前明月光，\r\n疑是地上霜。\r\n举头望明月，\r\n低头思故乡。\r\n",
)


@target(
    "text-corpus", "load_text_corpus('file:…') of a text file", lambda: [t.encode() for t in TEXTS]
)
def _text_corpus(data: bytes, folder: Path) -> None:
    from museforge.text.corpus import load_text_corpus

    path = folder / "poems.txt"
    path.write_bytes(data)
    load_text_corpus(f"file:{path}")


# --- sounds ------------------------------------------------------------------------------


def _audio_seeds() -> list[bytes]:
    import numpy as np
    import soundfile

    t = np.arange(800) / 8000
    tone = (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    seeds = []
    for fmt, subtype in (("WAV", "PCM_16"), ("FLAC", "PCM_16"), ("OGG", "VORBIS")):
        out = io.BytesIO()
        soundfile.write(out, tone, 8000, format=fmt, subtype=subtype)
        seeds.append(out.getvalue())
    return seeds


@target("audio", "load_sound_file: WAV, FLAC, OGG (soundfile), mono at one rate", _audio_seeds)
def _audio(data: bytes, folder: Path) -> None:
    from museforge.sound.audio import load_sound_file

    path = folder / "sound.wav"
    path.write_bytes(data)
    load_sound_file(path, 8000)
