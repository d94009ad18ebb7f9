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
from museforge.errors import ArtifactError

FORMAT = "museforge-artifact/1"
WEIGHTS_FILE = "model.safetensors"
MANIFEST_FILE = "model.json"


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


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read and sanity-check ``model.json`` in the artifact directory ``path``."""
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"model '{path}' does not exist")
    if not path.is_dir():
        raise ArtifactError(f"model '{path}' is not a directory (expected {MANIFEST_FILE} inside)")
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.is_file():
        raise ArtifactError(f"model '{path}' has no {MANIFEST_FILE}: not a museforge model")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{manifest_path}: manifest is not valid JSON ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"{manifest_path}: not a {FORMAT} manifest")
    for key in ("kind", "config", "weights"):
        if key not in manifest:
            raise ArtifactError(f"{manifest_path}: manifest lacks '{key}'")
    return manifest


def load_weights(path: str | Path, manifest: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Read the weights after checking their sha256 against the manifest."""
    weights_path = Path(path) / WEIGHTS_FILE
    if not weights_path.is_file():
        raise ArtifactError(f"model '{path}' has no {WEIGHTS_FILE}")
    blob = weights_path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != manifest["weights"].get("sha256"):
        raise ArtifactError(
            f"{weights_path}: sha256 {digest[:12]}… does not match the manifest's "
            f"{str(manifest['weights'].get('sha256'))[:12]}… (file changed or corrupted)"
        )
    try:
        return load_safetensors(blob)
    except (SafetensorError, ValueError) as err:
        raise ArtifactError(f"{weights_path}: unreadable safetensors file ({err})") from None


def load_artifact(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Load the artifact at ``path``: manifest, hash check, model built by its registered kind."""
    from museforge.core.registry import build_model  # the registry imports modality code

    path = Path(path)
    manifest = read_manifest(path)
    state = load_weights(path, manifest)
    model = build_model(manifest["kind"], manifest["config"], source=str(path))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        kind = manifest["kind"]
        raise ArtifactError(f"{path}: weights do not fit a '{kind}' model ({first})") from None
    model.to(device).eval()
    return LoadedModel(model=model, manifest=manifest, path=path)
