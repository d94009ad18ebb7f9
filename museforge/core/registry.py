"""The one place that maps a model kind's name to its config, model class and verbs.

Kinds are found through package entry points (group ``museforge.kinds``): each names a
module whose import registers kinds with :func:`register_kind` and their verbs with
:func:`verb`. museforge's own modalities are entry points like any other package's, so
the spine names none of them; the CLI and the studio discover everything from here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import torch

from museforge.core.verbs import VerbSpec, declared_settings
from museforge.errors import ArtifactError, InputError, VerbError, one_line

ENTRY_POINT_GROUP = "museforge.kinds"
# The verb vocabulary every kind draws from, each with what it means for any kind.
VERBS: dict[str, str] = {
    "sample": "Make new artworks from the model's own imagination.",
    "interpolate": "Walk smoothly from one artwork to another through the model's latent space.",
    "breed": "Cross artworks over and mutate them: children of your favourites.",
    "mutate": "Push an artwork along one direction of change.",
    "continue_": "Continue what you give the model.",
    "infill": "Erase part of a piece and let the model fill it in.",
    "condition": "Push an artwork along a named attribute.",
    "encode": "Turn your own files into the model's latents.",
    "decode": "Turn latents back into artworks.",
    "reconstruct": "Encode and decode your files, side by side with the originals.",
    "project": "Find the latent that best re-draws your file.",
    "evaluate": "Measure the model: quality, variety and copies of its training data.",
    "poem": "Write a poem in a strict form.",
    "lyrics": "Write or set song lyrics.",
    "stylise": "Redraw a picture in the model's style.",
    "harmonise": "Write harmony under a melody.",
    "chords": "Write chord symbols over a melody: a lead sheet, with an accompaniment if asked.",
    "imagine": "Draw what the words say.",
    "sheet": "Lay variations or a walk out as a sprite sheet with an atlas for game engines.",
    "scene": "Stand the model's characters on a generated ground: a game-scene mock-up.",
    "typeset": "Set words in a typeface the model draws, as a picture and an SVG outline.",
    "play": "Play a MIDI file with the model's own instrument.",
    "instrument": "Export one of the model's timbres as a sampler instrument (SFZ).",
}
VERB_NAMES = frozenset(VERBS)
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_COMMAND = re.compile(r"^[a-z][a-z0-9-]*( [a-z][a-z0-9-]*)?$")


@dataclass(frozen=True)
class KindSpec:
    """A registered model kind.

    ``variant(config)`` names a model's variant from its manifest config (a text model's
    language), for settings declared to apply to some variants only; front ends can tell
    it without loading the weights.
    """

    name: str
    modality: str
    description: str
    config_cls: type
    model_cls: type[torch.nn.Module]
    task_factory: Callable[..., Any] | None = None
    verbs: dict[str, VerbSpec] = field(default_factory=dict)
    default_run: dict[str, Any] = field(default_factory=dict)  # e.g. a kind's batch size
    variant: Callable[[Any], str | None] | None = None


_KINDS: dict[str, KindSpec] = {}
_loaded_entry_points: set[str] = set()
_scanned = False


def register_kind(
    name: str,
    *,
    modality: str,
    description: str,
    config_cls: type,
    model_cls: type[torch.nn.Module],
    task_factory: Callable[..., Any] | None = None,
    default_run: dict[str, Any] | None = None,
    variant: Callable[[Any], str | None] | None = None,
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
    spec = KindSpec(
        name, modality, description, config_cls, model_cls, task_factory, {}, run, variant
    )
    _KINDS[name] = spec
    return spec


def verb(
    kind: str, name: str | None = None, *, command: str | None = None, studio: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register the function as verb ``name`` (default: its own name) of
    ``kind``, offered by the CLI as ``command`` (default: the verb's name; two words make
    a group, e.g. ``"phrase blend"``) and, unless ``studio`` is False, by the studio."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        verb_name = name or fn.__name__
        if verb_name not in VERB_NAMES:
            raise ValueError(f"{verb_name!r} is not in the verb vocabulary {sorted(VERB_NAMES)}")
        spec = _KINDS.get(kind)
        if spec is None:
            raise ValueError(f"register kind {kind!r} before its verbs")
        if verb_name in spec.verbs:
            raise ValueError(f"verb {verb_name!r} of {kind!r} is already registered")
        cli = command or verb_name.rstrip("_")
        if not _COMMAND.match(cli):
            raise ValueError(f"command {cli!r} must be one or two lower-case words")
        settings = declared_settings(fn)
        spec.verbs[verb_name] = VerbSpec(kind, verb_name, fn, settings, cli, studio)
        return fn

    return decorate


def load_all() -> None:
    """Import every module the ``museforge.kinds`` entry points name (once each), so that
    their kinds and verbs are registered."""
    global _scanned
    if _scanned:
        return
    found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    if not found:
        raise ArtifactError(
            "no model kinds are installed: install museforge (pip install -e .) so that its "
            f"'{ENTRY_POINT_GROUP}' entry points exist"
        )
    for ep in found:
        if ep.value in _loaded_entry_points:
            continue
        try:
            ep.load()
        except ImportError as err:
            raise ArtifactError(f"model kinds '{ep.name}' ({ep.value}) cannot load: {err}") from err
        _loaded_entry_points.add(ep.value)
    _scanned = True


def rescan() -> None:
    """Look for entry points again (a package installed since the first look)."""
    global _scanned
    _scanned = False
    load_all()


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


def get_verb(kind: str, name: str) -> VerbSpec:
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


def resolve_args(loaded: Any, name: str, values: dict[str, Any]) -> dict[str, Any]:
    """The verb's settings for ``loaded`` after defaults, checked (see VerbSpec.resolve)."""
    spec = get_kind(loaded.kind)
    variant = spec.variant(loaded.manifest.get("config", {})) if spec.variant else None
    return get_verb(loaded.kind, name).resolve(values, variant)


def _input_file(verb_spec: VerbSpec, name: str, value: Any) -> Any:
    """An input file as an absolute path, so a remix finds it from any folder; other values
    (and names that are no file, like a corpus piece) as they are."""
    setting = verb_spec.setting(name)
    if setting is None or setting.param.input is None or value is None:
        return value
    if isinstance(value, list):
        return [_input_file(verb_spec, name, v) for v in value]
    path = Path(value)
    return str(path.resolve()) if path.is_file() else value


def call_verb(loaded: Any, name: str, **kwargs: Any) -> Any:
    """Run verb ``name`` on a loaded model with the given settings (the rest take their
    declared defaults) and record them, after defaults, once in every artwork's
    provenance (``args``): the one record of the call, which remix re-runs.

    Callbacks (``on_*``) and ``out_dir`` shape the display, not the artwork, and are
    passed through unrecorded."""
    verb_spec = get_verb(loaded.kind, name)
    hooks = {k: v for k, v in kwargs.items() if k.startswith("on_") or k == "out_dir"}
    values = {k: v for k, v in kwargs.items() if k not in hooks}
    args = resolve_args(loaded, name, values)
    result = verb_spec.fn(loaded, **args, **hooks)
    record = {k: _jsonable(_input_file(verb_spec, k, v)) for k, v in args.items()}
    for art in getattr(result, "artworks", []):
        art.provenance["verb"] = name
        art.provenance["args"] = record
    return result


def config_from_dict(cls: type, values: dict[str, Any], source: str) -> Any:
    """Build the frozen config ``cls`` from a dict, rejecting unknown or ill-typed keys."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        names = one_line(", ".join(unknown))
        raise ArtifactError(f"{source}: unknown {cls.__name__} settings: {names}")
    fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return cls(**fixed)
    except (TypeError, ValueError) as err:
        raise ArtifactError(f"{source}: invalid {cls.__name__} ({one_line(err)})") from None


def build_model(kind: str, config: dict[str, Any], source: str = "config") -> torch.nn.Module:
    """A fresh model of ``kind`` built from a config dict (as stored in a manifest)."""
    spec = get_kind(kind)
    return spec.model_cls(config_from_dict(spec.config_cls, config, source))


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
