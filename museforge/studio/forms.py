"""Forms for the studio, read from the verbs' own signatures (nothing to wire per kind).

Each keyword parameter after the model becomes a field with a type the page knows how to
draw: int, float, text, bool, image / images, or music (pictures and music chosen from the
gallery or uploaded; the client never sends a file path). Callbacks and output folders are
the CLI's business and are left out, as is ``evaluate`` (long-running; its figures are on
the Models page).
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from pathlib import Path
from typing import Any

from museforge.core.registry import get_kind, kinds
from museforge.errors import InputError

HIDDEN_VERBS = frozenset({"evaluate"})
HIDDEN_PARAMS = frozenset({"out_dir", "on_token", "on_step"})
IMAGE_PARAMS = frozenset({"image", "images", "parent", "parents"})  # pictures the user picks
# Music files the user picks (gallery music or an uploaded MIDI/MusicXML) in music kinds' verbs.
MUSIC_PARAMS = frozenset({"prime_file", "melody", "melody_a", "melody_b", "chorale"})
# Kinds whose music inputs may also name a piece of music21's corpus ("corpus:bwv66.6").
CORPUS_KINDS = frozenset({"chorale-coconet"})
CORPUS_PREFIX = "corpus:"
CORPUS_NAME = re.compile(r"^bwv[0-9.]+$")  # Bach chorales in music21's corpus, nothing else


def _field_type(name: str, hint: Any, music: bool = False) -> tuple[str, bool] | None:
    """(field type, optional) for a parameter, or None when the page cannot offer it."""
    optional = False
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0] if len(args) == 1 else hint
        origin = typing.get_origin(hint)
    if name in IMAGE_PARAMS:
        return ("images" if origin is list else "image"), optional
    if music and name in MUSIC_PARAMS:
        return "music", optional
    if hint is bool:
        return "bool", optional
    if hint is int:
        return "int", optional
    if hint is float:
        return "float", optional
    if hint is str:
        return "text", optional
    if hint is Path:
        return "image", optional
    return None


def _label(name: str) -> str:
    return name.rstrip("_").replace("_", " ")


def verb_form(kind: str, verb: str) -> dict[str, Any]:
    """The form of ``verb`` of ``kind``: its description and fields (name, type, default,
    required, label; music fields say whether they take corpus names)."""
    spec = get_kind(kind)
    if verb not in spec.verbs or verb in HIDDEN_VERBS:
        raise InputError(f"model kind '{kind}' has no studio verb '{verb}'")
    fn = spec.verbs[verb]
    hints = typing.get_type_hints(fn)
    fields = []
    for param in list(inspect.signature(fn).parameters.values())[1:]:
        if param.kind is inspect.Parameter.VAR_KEYWORD or param.name in HIDDEN_PARAMS:
            continue
        typed = _field_type(param.name, hints.get(param.name), spec.modality == "music")
        if typed is None:
            continue
        ftype, optional = typed
        required = param.default is inspect.Parameter.empty
        default = None if required else param.default
        field = {
            "name": param.name,
            "label": _label(param.name),
            "type": ftype,
            "default": default,
            "required": required,
            "optional": optional,
        }
        if ftype == "music":
            field["corpus"] = kind in CORPUS_KINDS
        fields.append(field)
    # The docstring's first paragraph, without reStructuredText's double backticks.
    doc = " ".join((inspect.getdoc(fn) or "").split("\n\n")[0].replace("``", "").split())
    return {"verb": verb, "label": _label(verb), "doc": doc, "fields": fields}


def kind_forms() -> list[dict[str, Any]]:
    """Every kind with its studio verbs' forms, and whether the studio can train it."""
    out = []
    for name, spec in sorted(kinds().items()):
        verbs = [verb_form(name, v) for v in sorted(spec.verbs) if v not in HIDDEN_VERBS]
        out.append(
            {
                "kind": name,
                "modality": spec.modality,
                "description": spec.description,
                "trainable": spec.task_factory is not None,
                "verbs": verbs,
            }
        )
    return out


def coerce_args(kind: str, verb: str, args: dict[str, Any]) -> dict[str, Any]:
    """Check and convert submitted values against the form; picture and music fields are
    left as the ids the client sent (the runner resolves them). One-line errors name the
    field."""
    form = verb_form(kind, verb)
    known = {f["name"]: f for f in form["fields"]}
    unknown = sorted(set(args) - set(known))
    if unknown:
        raise InputError(f"{verb} has no setting(s) {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for name, field in known.items():
        value = args.get(name)
        if value is None or value == "":
            if field["required"]:
                raise InputError(f"{verb} needs '{field['label']}'")
            if field["optional"] or name in args:
                out[name] = None if field["optional"] else field["default"]
            continue
        out[name] = _coerce(field, value, verb)
    return out


def _coerce(field: dict[str, Any], value: Any, verb: str) -> Any:
    ftype, label = field["type"], field["label"]
    try:
        if ftype == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if ftype == "float":
            return float(value)
        if ftype == "bool":
            if isinstance(value, str):
                return value.lower() in {"1", "true", "yes", "on"}
            return bool(value)
        if ftype == "images":
            values = value if isinstance(value, list) else [value]
            return [str(v) for v in values]
        if ftype == "music":
            return music_ref(field, value, verb)
        return str(value)
    except (TypeError, ValueError):
        raise InputError(f"{verb}: '{label}' must be {ftype} (got {value!r})") from None


def music_ref(field: dict[str, Any], value: Any, verb: str) -> str:
    """A music field's value: a gallery id, an ``upload:ID``, or (where the field takes
    them) ``corpus:NAME`` naming a Bach chorale in music21's corpus. Never a path."""
    label = field["label"]
    if not isinstance(value, str):
        raise InputError(f"{verb}: '{label}' must be a gallery id or an upload (got {value!r})")
    if value.startswith(CORPUS_PREFIX):
        name = value.removeprefix(CORPUS_PREFIX)
        if not field.get("corpus"):
            raise InputError(f"{verb}: '{label}' does not take music21 corpus pieces")
        if not CORPUS_NAME.match(name):
            raise InputError(
                f"{verb}: '{label}': '{name}' is not a Bach chorale of music21's corpus "
                "(like bwv66.6)"
            )
        return value
    if "/" in value or "\\" in value or value.startswith("."):
        raise InputError(f"{verb}: '{label}' must be a gallery id or an upload, not a path")
    return value
