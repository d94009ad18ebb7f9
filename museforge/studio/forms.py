"""Forms for the studio, read from the verbs' declarations (nothing to wire per kind).

Each declared setting becomes a field with a type the page knows how to draw: int, float,
text, bool, a choice, image / images, music, mesh / meshes or sound / sounds (pictures,
music and meshes chosen from the gallery or uploaded, sounds from the gallery; the client
never sends a file path). Verbs declared
``studio=False`` (``evaluate``: long-running, its figures are on the Models page) are left
out. The Train page's few model settings (text-to-image's encoder and architecture) are
listed here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from museforge.core.registry import get_kind, kinds
from museforge.core.verbs import Setting, VerbSpec
from museforge.errors import InputError

CORPUS_PREFIX = "corpus:"
CORPUS_NAME = re.compile(r"^bwv[0-9.]+$")  # Bach chorales in music21's corpus, nothing else
_TYPES = {int: "int", float: "float", bool: "bool", str: "text", Path: "text"}
# Files picked by gallery id or upload id (the runner resolves them), never by path.
FILE_INPUTS = ("image", "images", "mesh", "meshes", "sound", "sounds")
# A mesh "made by MODEL" carries its latent in its gallery sidecar, which an upload lacks:
# such a field offers this model's meshes only.
MADE_BY_MODEL = "made by MODEL"


def field_of(setting: Setting) -> dict[str, Any]:
    """The form field of one declared setting (the same default the CLI uses)."""
    p = setting.param
    if p.input in ("image", "images"):
        ftype = "images" if setting.many else "image"
    elif p.input in ("mesh", "meshes"):
        ftype = "meshes" if setting.many else "mesh"
    elif p.input in ("sound", "sounds"):
        ftype = "sounds" if setting.many else "sound"
    elif p.input is not None:
        ftype = p.input
    elif p.choices:
        ftype = "choice"
    else:
        ftype = _TYPES[setting.type]
    field: dict[str, Any] = {
        "name": setting.name,
        "label": setting.label,
        "type": ftype,
        "default": setting.default,
        "required": setting.required,
        "optional": setting.optional,
        "help": p.help,
    }
    if p.min is not None:
        field["min"] = p.min
    if p.max is not None:
        field["max"] = p.max
    if p.choices:
        field["choices"] = list(p.choices)
    if p.applies:
        field["applies"] = list(p.applies)
    if ftype == "music":
        field["corpus"] = p.corpus
    if ftype == "text" and p.help.startswith("class:"):  # a class by name: the model's own
        field["classes"] = True
    if ftype in ("mesh", "meshes", "sound", "sounds"):
        field["own_model"] = MADE_BY_MODEL in p.help  # then no uploads
    return field


def studio_verb(kind: str, verb: str) -> VerbSpec:
    """The declared verb the studio offers, or a one-line error."""
    found = get_kind(kind).verbs.get(verb)
    if found is None or not found.studio:
        raise InputError(f"model kind '{kind}' has no studio verb '{verb}'")
    return found


def verb_form(kind: str, verb: str) -> dict[str, Any]:
    """The form of ``verb`` of ``kind``: its description and one field per setting."""
    found = studio_verb(kind, verb)
    fields = [field_of(s) for s in found.settings]
    label = verb.rstrip("_").replace("_", " ")
    return {"verb": verb, "label": label, "doc": found.doc, "fields": fields}


@dataclass(frozen=True)
class TrainField:
    """A model setting the Train page offers for a kind (``model.NAME`` of its recipe):
    one of ``choices``, or a model of ``model_kind`` that the client names as the studio
    does (the runner passes its folder)."""

    name: str
    label: str
    choices: tuple[str, ...] = ()
    default: str | None = None
    model_kind: str | None = None
    missing: str | None = None  # required: the one-line error when it is left empty

    def form(self) -> dict[str, Any]:
        """The field as the page draws it: a "model" select or a "choice" select."""
        field: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": "model" if self.model_kind else "choice",
            "required": self.missing is not None,
        }
        if self.model_kind:
            field["model_kind"] = self.model_kind
        else:
            field |= {"choices": list(self.choices), "default": self.default}
        return field


def train_fields(kind: str) -> tuple[TrainField, ...]:
    """The model settings the Train page offers for ``kind``; most kinds have none."""
    # A kind declares no settings that name another model, so the studio lists the one it
    # offers: text-to-image's text tower, a trained text–image encoder.
    from museforge.crossmodal.imagine import ARCHS, TRAIN_ARCH
    from museforge.crossmodal.kinds import IMAGINE
    from museforge.crossmodal.kinds import KIND as ENCODER

    if kind != IMAGINE:
        return ()
    missing = (
        f"{IMAGINE} learns from a text–image encoder's sentences: choose one as 'Encoder' "
        f"(train a {ENCODER} on the same data first if there is none)"
    )
    return (
        TrainField("encoder", "Encoder", model_kind=ENCODER, missing=missing),
        TrainField("arch", "Architecture", choices=ARCHS, default=TRAIN_ARCH),
    )


def kind_forms() -> list[dict[str, Any]]:
    """Every kind with its studio verbs' forms, and whether the studio can train it."""
    out = []
    for name, spec in sorted(kinds().items()):
        verbs = [verb_form(name, v) for v, found in sorted(spec.verbs.items()) if found.studio]
        out.append(
            {
                "kind": name,
                "modality": spec.modality,
                "description": spec.description,
                "trainable": spec.task_factory is not None,
                "train_fields": [f.form() for f in train_fields(name)],
                "verbs": verbs,
            }
        )
    return out


def coerce_args(kind: str, verb: str, args: dict[str, Any]) -> dict[str, Any]:
    """Check and convert submitted values against the declaration; picture, music and mesh
    fields are left as the ids the client sent (the runner resolves them). Empty values
    take the declared default. One-line errors name the setting."""
    found = studio_verb(kind, verb)
    known = {s.name: s for s in found.settings}
    unknown = sorted(set(args) - set(known))
    if unknown:
        raise InputError(f"{verb} has no setting(s) {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for name, setting in known.items():
        value = args.get(name)
        if value is None or value == "" or value == []:
            if setting.required:
                raise InputError(f"{verb} needs '{setting.label}'")
            continue
        if setting.param.input in FILE_INPUTS:
            values = value if isinstance(value, list) else [value]
            refs = [file_ref(setting, v, verb) for v in values]
            out[name] = refs if setting.many else refs[0]
        elif setting.param.input == "music":
            out[name] = music_ref(field_of(setting), value, verb)
        else:
            out[name] = setting.check(value)
    return out


def file_ref(setting: Setting, value: Any, verb: str) -> str:
    """A picture or mesh field's value: a gallery id or an ``upload:ID``, never a path."""
    if not isinstance(value, str) or "/" in value or "\\" in value or value.startswith("."):
        raise InputError(f"{verb}: '{setting.label}' must be a gallery id or an upload")
    return value


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
