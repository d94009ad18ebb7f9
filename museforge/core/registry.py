"""The one place that maps a model kind's name to its config, model class and verbs.

Modalities register their kinds with :func:`register_kind` and their verbs with the
:func:`verb` decorator; the CLI and the studio discover both from here.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from museforge.errors import ArtifactError, InputError, VerbError

# Every module that registers kinds; importing them fills the registry.
KIND_MODULES = (
    "museforge.image.kinds",
    "museforge.text.kinds",
    "museforge.style.kinds",
    "museforge.music.lm_kind",
    "museforge.music.vae_kind",
    "museforge.music.coconet_kind",
)

VERB_NAMES = frozenset(
    {
        "sample",
        "interpolate",
        "breed",
        "mutate",
        "continue_",
        "infill",
        "condition",
        "encode",
        "decode",
        "reconstruct",
        "project",
        "evaluate",
        "poem",
        "lyrics",
        "stylise",
        "harmonise",
    }
)
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class KindSpec:
    """A registered model kind."""

    name: str
    modality: str
    description: str
    config_cls: type
    model_cls: type[torch.nn.Module]
    task_factory: Callable[..., Any] | None = None
    verbs: dict[str, Callable[..., Any]] = field(default_factory=dict)
    default_run: dict[str, Any] = field(default_factory=dict)  # e.g. a kind's batch size


_KINDS: dict[str, KindSpec] = {}
_loaded = False


def register_kind(
    name: str,
    *,
    modality: str,
    description: str,
    config_cls: type,
    model_cls: type[torch.nn.Module],
    task_factory: Callable[..., Any] | None = None,
    default_run: dict[str, Any] | None = None,
) -> KindSpec:
    """Register a model kind; names are lower-case words joined by hyphens and unique.

    ``task_factory(model: dict, training: dict, data: str, seed: int)`` returns
    ``(task, data_info)`` for the shared Trainer; kinds without one cannot be trained.
    """
    if not _NAME.match(name):
        raise ValueError(f"kind name {name!r} must be lower-case words joined by '-'")
    if name in _KINDS:
        raise ValueError(f"kind {name!r} is already registered")
    if not dataclasses.is_dataclass(config_cls):
        raise TypeError(f"config class of {name!r} must be a dataclass")
    run = dict(default_run or {})
    spec = KindSpec(name, modality, description, config_cls, model_cls, task_factory, {}, run)
    _KINDS[name] = spec
    return spec


def verb(kind: str, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register the function as verb ``name`` (default: its own name) of ``kind``."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        verb_name = name or fn.__name__
        if verb_name not in VERB_NAMES:
            raise ValueError(f"{verb_name!r} is not in the verb vocabulary {sorted(VERB_NAMES)}")
        spec = _KINDS.get(kind)
        if spec is None:
            raise ValueError(f"register kind {kind!r} before its verbs")
        if verb_name in spec.verbs:
            raise ValueError(f"verb {verb_name!r} of {kind!r} is already registered")
        spec.verbs[verb_name] = fn
        return fn

    return decorate


def load_all() -> None:
    """Import every modality module so that its kinds and verbs are registered."""
    global _loaded
    if not _loaded:
        for module in KIND_MODULES:
            importlib.import_module(module)
        _loaded = True


def kinds() -> dict[str, KindSpec]:
    """All registered kinds by name."""
    load_all()
    return dict(_KINDS)


def get_kind(name: str) -> KindSpec:
    """The kind called ``name``, or an error listing the known ones."""
    load_all()
    if name not in _KINDS:
        raise ArtifactError(f"unknown model kind '{name}' (known: {', '.join(sorted(_KINDS))})")
    return _KINDS[name]


def get_verb(kind: str, name: str) -> Callable[..., Any]:
    """The verb ``name`` of ``kind``, or a VerbError naming the verbs it does have."""
    spec = get_kind(kind)
    if name not in spec.verbs:
        have = ", ".join(sorted(spec.verbs)) or "none"
        raise VerbError(f"model kind '{kind}' has no verb '{name}' (it has: {have})")
    return spec.verbs[name]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # paths and the like: recorded as text


def call_verb(loaded: Any, name: str, **kwargs: Any) -> Any:
    """Run verb ``name`` on a loaded model and record its exact arguments in every
    artwork's provenance (``args``), so the gallery can remix it later."""
    result = get_verb(loaded.kind, name)(loaded, **kwargs)
    # Callbacks (live streaming, progress) shape the display, not the artwork.
    args = {k: _jsonable(v) for k, v in kwargs.items() if not callable(v)}
    for art in getattr(result, "artworks", []):
        art.provenance.setdefault("args", args)
        art.provenance.setdefault("created", round(time.time(), 3))
    return result


def config_from_dict(cls: type, values: dict[str, Any], source: str) -> Any:
    """Build the frozen config ``cls`` from a dict, rejecting unknown or ill-typed keys."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ArtifactError(f"{source}: unknown {cls.__name__} settings: {', '.join(unknown)}")
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return cls(**fixed)
    except (TypeError, ValueError) as err:
        raise ArtifactError(f"{source}: invalid {cls.__name__} ({err})") from None


def build_model(kind: str, config: dict[str, Any], source: str = "config") -> torch.nn.Module:
    """A fresh model of ``kind`` built from a config dict (as stored in a manifest)."""
    spec = get_kind(kind)
    return spec.model_cls(config_from_dict(spec.config_cls, config, source))


def verb_parameters(kind: str, name: str) -> list[inspect.Parameter]:
    """The keyword parameters of a verb after the model argument (for forms and --help)."""
    params = list(inspect.signature(get_verb(kind, name)).parameters.values())
    return params[1:]


def apply_preset(
    presets: dict[str, tuple[dict[str, Any], ...]], model: dict[str, Any], training: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Merge ``training['preset']`` (a name in ``presets``) under the given settings.

    A preset is (model settings, training settings, …); explicit settings win.
    """
    model, training = dict(model), dict(training)
    name = training.pop("preset", None)
    if name is None:
        return model, training
    if name not in presets:
        raise InputError(f"unknown training preset '{name}' (known: {sorted(presets)})")
    return {**presets[name][0], **model}, {**presets[name][1], **training}
