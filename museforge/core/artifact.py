"""Model artifacts: a directory with ``model.safetensors`` and a ``model.json`` manifest.

The manifest records what the model is (kind, config), how it was made (recipe, data
fingerprint, library versions), how good it is (metrics) and the sha256 of the weights,
which is checked on every load. Weights are read with safetensors only: no pickle.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

import museforge
from museforge.core.atomic import atomic_write_bytes, atomic_write_text
from museforge.core.media import one_line
from museforge.errors import ArtifactError

FORMAT = "museforge-artifact/1"
WEIGHTS_FILE = "model.safetensors"
MANIFEST_FILE = "model.json"
# Far above anything museforge trains on a CPU (the largest starter has 29 MB of weights
# and a 127 KB manifest), so an artifact from a stranger cannot fill the memory on load.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_WEIGHTS_BYTES = 2 * 1024**3
# manifest entries that must be JSON objects when present (code reads them with .get)
_TABLES = ("config", "weights", "recipe", "data", "metrics", "versions")


@dataclass(frozen=True)
class LoadedModel:
    """A model rebuilt from an artifact, with its manifest and identity."""

    model: torch.nn.Module
    manifest: dict[str, Any]
    path: Path

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def sha256(self) -> str:
        return self.manifest["weights"]["sha256"]

    @property
    def short_hash(self) -> str:
        return self.sha256[:12]

    def provenance(self, verb: str, modality: str | None = None, **fields: Any) -> dict[str, Any]:
        """The provenance every output of this model starts from: the model's identity,
        the verb, the library versions, then ``fields`` (seed, settings, lineage...)."""
        head: dict[str, Any] = {
            "model": {"sha256": self.sha256, "kind": self.kind, "path": str(self.path)},
            "verb": verb,
        }
        if modality is not None:
            head["modality"] = modality
        return {**head, "versions": self.manifest.get("versions", {}), **fields}


def library_versions() -> dict[str, str]:
    """Versions that decide whether an output can be re-made bit for bit."""
    return {
        "museforge": museforge.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def save_artifact(
    path: str | Path,
    kind: str,
    config: Any,
    state_dict: dict[str, torch.Tensor],
    recipe: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Write the weights, then the manifest that names their hash; both atomically.

    ``config`` is the kind's frozen config dataclass. ``data`` describes the training set
    (``source``, ``fingerprint``...). Returns the artifact directory.
    """
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    blob = save_safetensors(tensors, metadata={"kind": kind, "format": FORMAT})
    manifest = {
        "format": FORMAT,
        "kind": kind,
        "config": dataclasses.asdict(config),
        "recipe": recipe or {},
        "data": data or {},
        "metrics": metrics or {},
        "versions": library_versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "weights": {"file": WEIGHTS_FILE, "sha256": hashlib.sha256(blob).hexdigest()},
    }
    atomic_write_bytes(path / WEIGHTS_FILE, blob)
    atomic_write_text(path / MANIFEST_FILE, json.dumps(manifest, indent=2, sort_keys=True))
    return path


def _refusal(message: str) -> ArtifactError:
    # paths and manifest values are anyone's text: keep the message on one line
    return ArtifactError(one_line(message))


def _read_capped(file: Path, limit: int) -> bytes:
    """The bytes of ``file``, refused (ArtifactError) past ``limit`` bytes or unreadable."""
    try:
        size = file.stat().st_size
        if size > limit:
            raise _refusal(f"{file} is too large ({size:,} bytes, limit {limit:,})")
        with file.open("rb") as fh:
            # read(n) allocates n bytes up front: ask for what stat() saw, plus one byte
            # to notice a file that grew since (capped all the same)
            blob = fh.read(size + 1)
    except OSError as err:
        raise _refusal(f"{file} cannot be read ({err.strerror or err})") from None
    if len(blob) > limit:
        raise _refusal(f"{file} is too large (over {limit:,} bytes)")
    return blob


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read and sanity-check ``model.json`` in the artifact directory ``path``."""
    path = Path(path)
    if not path.exists():
        raise _refusal(f"model '{path}' does not exist")
    if not path.is_dir():
        raise _refusal(f"model '{path}' is not a directory (expected {MANIFEST_FILE} inside)")
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.is_file():
        raise _refusal(f"model '{path}' has no {MANIFEST_FILE}: not a museforge model")
    try:
        manifest = json.loads(_read_capped(manifest_path, MAX_MANIFEST_BYTES).decode("utf-8"))
    except (ValueError, RecursionError) as err:  # bad JSON or UTF-8; nesting too deep
        raise _refusal(f"{manifest_path}: manifest is not valid JSON ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refusal(f"{manifest_path}: not a {FORMAT} manifest")
    for key in ("kind", "config", "weights"):
        if key not in manifest:
            raise _refusal(f"{manifest_path}: manifest lacks '{key}'")
    if not isinstance(manifest["kind"], str):
        raise _refusal(f"{manifest_path}: the manifest's 'kind' is not a string")
    for key in _TABLES:
        if not isinstance(manifest.get(key, {}), dict):
            raise _refusal(f"{manifest_path}: the manifest's '{key}' is not a JSON object")
    return manifest


def load_weights(path: str | Path, manifest: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Read the weights after checking their sha256 against the manifest."""
    weights_path = Path(path) / WEIGHTS_FILE
    if not weights_path.is_file():
        raise _refusal(f"model '{path}' has no {WEIGHTS_FILE}")
    blob = _read_capped(weights_path, MAX_WEIGHTS_BYTES)
    digest = hashlib.sha256(blob).hexdigest()
    if digest != manifest["weights"].get("sha256"):
        raise _refusal(
            f"{weights_path}: sha256 {digest[:12]}… does not match the manifest's "
            f"{str(manifest['weights'].get('sha256'))[:12]}… (file changed or corrupted)"
        )
    try:
        return load_safetensors(blob)
    except (SafetensorError, ValueError) as err:
        raise _refusal(f"{weights_path}: unreadable safetensors file ({err})") from None


def _misfit(err: RuntimeError) -> str:
    """The first specific line of load_state_dict's error (its first only names the class)."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    return (lines[1] if len(lines) > 1 else lines[0] if lines else type(err).__name__)[:300]


def _build(path: Path, manifest: dict[str, Any], state: dict[str, torch.Tensor]) -> torch.nn.Module:
    """The model the manifest describes, holding ``state``. It is first built on the meta
    device, where no memory is allocated, and the weights are checked against it there: a
    config that would build a huge model, or none at all, fails before anything is made."""
    from museforge.core.registry import build_model  # the registry imports modality code

    kind = manifest["kind"]
    for device in ("meta", "cpu"):
        with torch.device(device):
            try:
                model = build_model(kind, manifest["config"], source=str(path))
            except ArtifactError as err:
                raise _refusal(str(err)) from None
            # A hostile config reaches the kind's constructor, which raises what it raises.
            except Exception as err:
                reason = f"its config does not build a '{kind}' model ({err})"
                raise _refusal(f"{path}: {reason}") from None
            try:
                # on meta tensors a copy is a no-op (and a warning): assign, then drop them
                model.load_state_dict(state, strict=True, assign=device == "meta")
            except RuntimeError as err:
                reason = f"weights do not fit a '{kind}' model ({_misfit(err)})"
                raise _refusal(f"{path}: {reason}") from None
    return model


def load_artifact(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Load the artifact at ``path``: manifest, hash check, model built by its registered kind."""
    path = Path(path)
    manifest = read_manifest(path)
    state = load_weights(path, manifest)
    model = _build(path, manifest, state)
    model.to(device).eval()
    return LoadedModel(model=model, manifest=manifest, path=path)
