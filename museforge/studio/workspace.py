"""The studio's places on disk and the models it may use, all chosen by the server.

The client names models and the files it picks (model names, gallery ids, upload ids); only
this module turns those names into paths, so no path ever comes from the browser.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from museforge.core.artifact import MANIFEST_FILE, WEIGHTS_FILE, LoadedModel, load_artifact
from museforge.core.atomic import atomic_write_bytes
from museforge.core.data import datasets
from museforge.core.media import AUDIO_SUFFIXES, IMAGE_SUFFIXES, MESH_SUFFIXES, MUSIC_SUFFIXES
from museforge.design.typeset import draws_letters
from museforge.errors import ArtifactError, InputError
from museforge.gallery.store import INDEX_DIR, Gallery, artwork_id
from museforge.studio.forms import CORPUS_NAME, CORPUS_PREFIX
from museforge.studio.uploads import (
    check_image_bytes,
    check_mesh_upload,
    check_music_bytes,
    check_sound_bytes,
)

TRAINED = "trained/"  # prefix of the names of models trained in the studio
# What museforge.core.atomic leaves behind when its process dies mid-write: ".STEM.XXXXXXXX.tmpSUF"
_ATOMIC_TMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?$")


def model_variant(manifest: dict[str, Any]) -> str | None:
    """The model's variant (e.g. a text model's language), which decides the settings its
    forms show; None for kinds without variants or unknown kinds."""
    from museforge.core.registry import kinds

    spec = kinds().get(str(manifest.get("kind")))
    if spec is None or spec.variant is None:
        return None
    config = manifest.get("config")
    return spec.variant(config) if isinstance(config, dict) else None


def model_licence(manifest: dict[str, Any]) -> str:
    """The licence of the data a model learnt from: as its manifest records it, else the
    built-in data set's (models trained before licences were recorded), else ''."""
    data = manifest.get("data") or {}
    if data.get("licence"):
        return str(data["licence"])
    name = str(data.get("source") or (manifest.get("recipe") or {}).get("data") or "")
    found = next((d for d in datasets() if d.name == name.split(":")[0]), None)
    return found.licence if found else ""


def model_identity(folder: Path) -> tuple[tuple[int, ...], ...]:
    """What changes whenever a model folder's files are replaced, even by a copy that keeps
    their times: each file's device, inode, size and change times. An OSError if a file is
    missing."""
    out = []
    for name in (MANIFEST_FILE, WEIGHTS_FILE):
        st = (folder / name).stat()
        out.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return tuple(out)


def load_fresh(folder: Path) -> LoadedModel:
    """The model in ``folder`` as its files are now: a folder replaced or removed while it
    is read gives a one-line ArtifactError (the weights' hash ties them to the manifest)."""
    try:
        return load_artifact(folder)
    except OSError as err:
        reason = err.strerror or str(err)
        raise ArtifactError(f"model '{folder}' changed while it was read ({reason})") from None


def _class_names(manifest: dict[str, Any]) -> list[str]:
    """The names of a conditional model's classes, as its data record keeps them (the
    form suggests them for a class setting); [] when it records none."""
    names = manifest.get("data", {}).get("class_names")
    if not isinstance(names, list):
        return []
    return [n for n in names if isinstance(n, str) and len(n) <= 80][:500]


def _well_formed(manifest: Any) -> bool:
    """Whether a manifest has the shape the Models page reads (a kind, and objects where
    objects belong); a folder someone else's tool wrote otherwise is not offered."""
    return (
        isinstance(manifest, dict)
        and isinstance(manifest.get("kind"), str)
        and all(isinstance(manifest.get(k, {}), dict) for k in ("data", "weights", "metrics"))
    )


def staging_dir(gallery: Gallery) -> Path:
    """Where generate jobs stage their outputs before moving them into the gallery."""
    return gallery.root / INDEX_DIR / "staging"


@dataclass
class Workspace:
    """Starter models (read-only), the gallery, and the studio's own folders."""

    gallery: Gallery
    models_dir: Path
    trained_dir: Path
    uploads_dir: Path
    # Encoders loaded once, each with the identity of its files: a replaced model reloads.
    _embedders: dict[Path, tuple[Any, Any]] = field(default_factory=dict, repr=False)
    _embedders_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def at(cls, gallery_root: Path, models_dir: Path) -> Workspace:
        gallery = Gallery(gallery_root)
        state = gallery.root / ".museforge"
        return cls(gallery, Path(models_dir), state / "trained", state / "uploads")

    def remove_stale_temp_files(self) -> int:
        """Delete the temporary files of atomic writes cut short (a killed server) from the
        gallery's artwork folders, and jobs' staged outputs; how many. Run at startup,
        before any job writes; under the gallery's lock, so a CLI saving meanwhile keeps
        its own temporary files."""
        removed = 0
        with self.gallery.exclusive():
            # generate jobs stage their outputs here (studio/runners.py); a job run again
            # after a kill writes them afresh, so whatever is left is stale
            staging = staging_dir(self.gallery)
            if staging.is_dir():
                removed += sum(1 for p in staging.rglob("*") if p.is_file())
                shutil.rmtree(staging, ignore_errors=True)
            for dirpath, dirnames, filenames in os.walk(self.gallery.root):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                for name in filenames:
                    if _ATOMIC_TMP.match(name):
                        (Path(dirpath) / name).unlink(missing_ok=True)
                        removed += 1
        return removed

    # --- models -------------------------------------------------------------------------
    def _scan(self) -> list[tuple[Path, dict[str, Any]]]:
        """(folder, public entry) of every usable model, starters first."""
        found = []
        for prefix, folder in (("", self.models_dir), (TRAINED, self.trained_dir)):
            for manifest in sorted(folder.glob("*/model.json")) if folder.is_dir() else []:
                try:
                    data = json.loads(manifest.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue  # a half-trained or damaged folder is not offered
                if not _well_formed(data):
                    continue
                entry = {
                    "name": prefix + manifest.parent.name,
                    "kind": data.get("kind"),
                    "variant": model_variant(data),
                    "trained_in_studio": bool(prefix),
                    "data": data.get("data", {}).get("source") or data.get("data", {}),
                    "licence": model_licence(data),
                    "letters": draws_letters(data),  # a type model: the Design page
                    "classes": _class_names(data),
                    "metrics": data.get("metrics", {}),
                    "created": data.get("created"),
                    "sha256": data.get("weights", {}).get("sha256"),
                }
                found.append((manifest.parent, entry))
        return found

    def models(self) -> list[dict[str, Any]]:
        """Every usable model: name, kind, folder, and its manifest's data and metrics."""
        return [entry for _, entry in self._scan()]

    def model_path(self, name: str, kind: str | None = None) -> Path:
        """The folder of the model called ``name`` (one listed by :meth:`models`); with
        ``kind``, a model of another kind is refused."""
        for folder, entry in self._scan():
            if entry["name"] == name:
                if kind is not None and entry["kind"] != kind:
                    raise InputError(f"'{name}' is a {entry['kind']}, not a {kind}")
                return folder
        raise InputError(f"no model called '{name}' (see the Models page)")

    def load_model(self, name: str, kind: str | None = None) -> LoadedModel:
        """The model called ``name`` (see :meth:`model_path`) loaded from its files as they
        are now, never a copy from before its folder was replaced."""
        return load_fresh(self.model_path(name, kind))

    def embedder(self, encoder: str | None = None) -> Any:
        """The text–image encoder the studio model ``encoder`` names, else the best
        starter; an InputError when there is none. Loaded once, and again whenever its
        folder's files change."""
        from museforge.crossmodal.embedder import EncoderEmbedder, default_encoder

        folder = self.model_path(encoder) if encoder else default_encoder(self.models_dir)
        folder = folder.resolve()
        with self._embedders_lock:
            try:
                before = model_identity(folder)
            except OSError:
                before = None  # being replaced or removed: the loader says so in one line
            cached = self._embedders.get(folder)
            if cached is not None and before is not None and cached[0] == before:
                return cached[1]
            found = EncoderEmbedder(load_fresh(folder))
            try:
                unchanged = before is not None and model_identity(folder) == before
            except OSError:
                unchanged = False
            if unchanged:  # not replaced while it loaded: safe to keep
                self._embedders[folder] = (before, found)
            return found

    def taste_embedder(self) -> Any | None:
        """The starter encoder whose picture vectors the taste model adds to its own
        descriptors, or None when there is none (the descriptors alone)."""
        try:
            return self.embedder()
        except InputError:
            return None

    def model_name(self, path: str | Path | None) -> str | None:
        """The studio name of a model folder recorded in a provenance, if it is one of ours."""
        if not path:
            return None
        resolved = Path(path).resolve()
        for folder, entry in self._scan():
            if folder.resolve() == resolved:
                return entry["name"]
        return None

    # --- pictures the user picks ---------------------------------------------------------
    def save_upload(self, filename: str, data: bytes) -> str:
        """Keep an uploaded picture (checked first); its upload id."""
        check_image_bytes(filename, data)
        suffix = Path(filename).suffix.lower()
        if suffix not in IMAGE_SUFFIXES:
            suffix = ".png"
        return self._keep(data, suffix)

    def picture_path(self, ref: str) -> Path:
        """A gallery id or an ``upload:ID`` as a file the verbs can read; ``model:NAME`` as
        that model's folder, for a setting that can draw its picture (a logo's mark)."""
        if ref.startswith("model:"):
            return self.model_path(ref.removeprefix("model:"))
        if ref.startswith("upload:"):
            found = self._upload(ref, IMAGE_SUFFIXES)
            if found is None:
                raise InputError(f"no uploaded picture '{ref}'")
            return found
        return self.gallery.file_path(ref)

    def _keep(self, data: bytes, suffix: str) -> str:
        """Write checked upload bytes under a new upload id; the ``upload:ID`` ref."""
        upload_id = secrets.token_hex(8)
        atomic_write_bytes(self.uploads_dir / f"{upload_id}{suffix}", data)
        return f"upload:{upload_id}"

    def _artwork_file(
        self, ref: str, suffixes: frozenset[str], modalities: str, missing: str, wrong: str
    ) -> Path:
        """An uploaded file's ``upload:ID`` or a gallery artwork's id of one of
        ``modalities`` ("music", or "music sound") as a file; InputError ``missing`` /
        ``wrong`` (formatted with ``ref``) otherwise."""
        if ref.startswith("upload:"):
            found = self._upload(ref, suffixes)
            if found is None:
                raise InputError(missing.format(ref=ref))
            return found
        record = self.gallery.get(ref)
        if record.modality not in modalities.split():
            raise InputError(wrong.format(ref=ref))
        return self.gallery.root / record.path

    def _upload(self, ref: str, suffixes: frozenset[str]) -> Path | None:
        upload_id = ref.removeprefix("upload:")
        if not upload_id.isalnum():
            return None
        matches = sorted(self.uploads_dir.glob(f"{upload_id}.*"))
        return next((m for m in matches if m.suffix.lower() in suffixes), None)

    def refs_for_inputs(self, kind: str, verb: str, args: dict[str, Any]) -> dict[str, Any]:
        """A recorded call's arguments with its input files named as the studio names them:
        gallery ids, ``upload:ID`` or ``corpus:NAME``; a file from elsewhere is left out
        (the form then asks for it)."""
        from museforge.core.registry import get_verb

        out = dict(args)
        for setting in get_verb(kind, verb).settings:
            value = out.get(setting.name)
            if value is None or setting.param.input is None:
                continue
            refs = [self._ref(str(v)) for v in (value if isinstance(value, list) else [value])]
            if None in refs:
                out.pop(setting.name)
            else:
                out[setting.name] = refs if setting.many else refs[0]
        return out

    def _ref(self, path: str) -> str | None:
        if CORPUS_NAME.match(path):  # a piece of music21's corpus such as bwv66.6
            return f"{CORPUS_PREFIX}{path}"
        resolved = Path(path).resolve()
        if resolved.parent == self.uploads_dir.resolve():
            return f"upload:{resolved.stem}"
        try:
            rel = resolved.relative_to(self.gallery.root.resolve()).as_posix()
        except ValueError:
            return None
        return artwork_id(rel)

    # --- music the user picks --------------------------------------------------------------
    def save_music_upload(self, filename: str, data: bytes) -> str:
        """Keep an uploaded MIDI or MusicXML file (checked first); its upload id."""
        suffix = check_music_bytes(filename, data)
        return self._keep(data, suffix)

    def music_path(self, ref: str) -> Path:
        """A gallery music artwork's id or an uploaded music file's ``upload:ID`` as a file
        the music verbs can read."""
        return self._artwork_file(
            ref,
            MUSIC_SUFFIXES,
            "music",
            "no uploaded music file '{ref}'",
            "artwork {ref} is not music",
        )

    # --- sounds the user picks: notes a sound model made (from the gallery, their latents
    # in their sidecars) or recordings uploaded to encode or visualise ----------------------
    def save_sound_upload(self, filename: str, data: bytes) -> str:
        """Keep an uploaded recording (WAV, FLAC, OGG or MP3, decoded first); its upload id."""
        suffix = check_sound_bytes(filename, data)
        return self._keep(data, suffix)

    def sound_path(self, ref: str) -> Path:
        """A gallery sound artwork's id as its WAV file, or an uploaded recording's
        ``upload:ID`` as its file."""
        return self._artwork_file(
            ref,
            AUDIO_SUFFIXES,
            "sound",
            "no uploaded sound '{ref}'",
            "artwork {ref} is not a sound",
        )

    # --- music to see: a piece or a sound from the gallery, or an uploaded file of either,
    # and the words typed for it ----------------------------------------------------------
    def heard_path(self, ref: str) -> Path:
        """A gallery music or sound artwork's id, or an uploaded music file's or
        recording's ``upload:ID``, as a file visualise can hear."""
        return self._artwork_file(
            ref,
            MUSIC_SUFFIXES | AUDIO_SUFFIXES,
            "music sound",
            "no uploaded music or recording '{ref}'",
            "artwork {ref} is not music or a sound",
        )

    def save_lyrics(self, text: str) -> str:
        """Keep lyrics typed in the studio (LRC or plain lines) as a file; its upload id."""
        return self._keep(text.encode("utf-8"), ".txt")

    def lyrics_path(self, ref: str) -> Path:
        """Lyrics kept by :meth:`save_lyrics`."""
        found = self._upload(ref, frozenset({".txt"})) if ref.startswith("upload:") else None
        if found is None:
            raise InputError(f"no lyrics '{ref}'")
        return found

    # --- meshes the user picks -------------------------------------------------------------
    def save_mesh_upload(self, filename: str, data: bytes) -> str:
        """Keep an uploaded mesh (STL, OBJ, PLY, OFF or GLB; checked first); its upload id."""
        suffix = check_mesh_upload(filename, data)
        return self._keep(data, suffix)

    def mesh_path(self, ref: str) -> Path:
        """A gallery mesh artwork's id (its GLB) or an uploaded mesh's ``upload:ID`` as a
        file the sculpture verbs can read."""
        return self._artwork_file(
            ref, MESH_SUFFIXES, "mesh", "no uploaded mesh '{ref}'", "artwork {ref} is not a mesh"
        )
