"""A verb's settings, declared once, beside the verb.

A verb is a function ``fn(loaded, **settings) -> Result``. Each setting is declared in its
signature as ``Annotated[type, Param(...)]`` with a default::

    def sample(
        loaded: LoadedModel,
        n: Annotated[int, Param("how many outputs", min=1, max=100_000)] = 16,
        seed: Annotated[int, SEED] = 0,
    ) -> Result: ...

From that one declaration the CLI builds its options, the studio its form fields,
``museforge kinds`` and docs/verbs.md their tables, and :func:`resolve` checks the values
before the verb runs, with messages that name the setting (``n must be 1..100000``), not a
flag of one front end. Parameters named ``on_*`` (progress and streaming callbacks) and
``out_dir`` are supplied by the front end, never by the user.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from museforge.errors import InputError, SettingError

INPUTS = frozenset(
    {"image", "images", "music", "text", "mesh", "meshes", "sound", "sounds"}
)  # files a user picks or uploads
FRONT_END = frozenset({"out_dir"})  # supplied by the front end, like on_* callbacks


@dataclass(frozen=True)
class Param:
    """How one setting of a verb is offered and checked.

    ``min``/``max`` bound numbers; ``choices`` lists the allowed words; ``input`` marks a
    file the user picks (``image``, ``images``, ``music``, ``mesh``, ``meshes``, ``sound``,
    ``sounds``);
    ``corpus`` lets a music input name a piece of music21's corpus; ``applies`` names the
    model variants (e.g. languages ``("zh",)``) the setting is for; ``flag`` is the CLI's
    name when the setting's own name reads badly there; ``positional`` makes it a CLI
    argument rather than an option.
    """

    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    input: str | None = None
    corpus: bool = False
    applies: tuple[str, ...] = ()
    flag: str | None = None
    positional: bool = False

    def __post_init__(self) -> None:
        if self.input is not None and self.input not in INPUTS:
            raise ValueError(f"input {self.input!r} is not one of {sorted(INPUTS)}")


SEED = Param("random seed: same seed, same output")

# Settings of the latent verbs every picture generator shares (breed, mutate), declared once.
MAX_DIRECTIONS = 8
PARENTS = Param("parent PNGs made by MODEL", input="images")
CHILDREN = Param("how many children", min=1, max=10_000)
MUTATION = Param("0 = pure crossover, 1 = all new", min=0, max=1)
PARENT = Param("a PNG made by MODEL", input="image", positional=True)
DIRECTION = Param("latent direction 0-7 (0 changes most)", min=0, max=MAX_DIRECTIONS - 1)
AMOUNT = Param("how far, in latent standard deviations", min=-10, max=10)
SWEEP = Param("1: one picture; more: a sweep -amount..+amount", min=1, max=64)


@dataclass(frozen=True)
class Setting:
    """One declared setting of a verb: its name, type, default and :class:`Param`."""

    name: str
    type: type  # int, float, str, bool or Path
    many: bool  # a list of values
    optional: bool  # None is allowed
    default: Any
    required: bool
    param: Param

    @property
    def label(self) -> str:
        return self.name.rstrip("_").replace("_", " ")

    @property
    def flag(self) -> str:
        return self.param.flag or self.name.rstrip("_").replace("_", "-")

    def error(self, message: str) -> SettingError:
        """A one-line error about this setting, for any front end to point at."""
        return SettingError(message, self.name, self.flag)

    def check(self, value: Any) -> Any:
        """``value`` converted to this setting's type and checked against its bounds."""
        if value is None:
            if self.optional:
                return None
            raise self.error(f"{self.label} needs a value")
        if self.many:
            values = value if isinstance(value, list | tuple) else [value]
            return [self._one(v) for v in values]
        return self._one(value)

    def _one(self, value: Any) -> Any:
        p = self.param
        try:
            value = _convert(self.type, value)
        except (TypeError, ValueError):
            kind = {int: "a whole number", float: "a number", bool: "true or false"}
            want = kind.get(self.type, "text")
            raise self.error(f"{self.label} must be {want} (got {value!r})") from None
        low, high = p.min, p.max
        if (low is not None and value < low) or (high is not None and value > high):
            if low is not None and high is not None:
                raise self.error(f"{self.label} must be {_num(low)}..{_num(high)} (got {value})")
            bound = f"at least {_num(low)}" if low is not None else f"at most {_num(high)}"
            raise self.error(f"{self.label} must be {bound} (got {value})")
        if p.choices is not None and value not in p.choices:
            raise self.error(f"{self.label} must be one of {', '.join(p.choices)} (got {value!r})")
        return value


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _convert(kind: type, value: Any) -> Any:
    if kind is bool:
        if isinstance(value, str):
            if value.lower() in {"1", "true", "yes", "on"}:
                return True
            if value.lower() in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(value)
        if not isinstance(value, bool | int):
            raise TypeError(value)
        return bool(value)
    if kind is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        return int(value)
    if kind is float:
        if isinstance(value, bool):
            raise ValueError(value)
        return float(value)
    if kind is Path:
        return Path(value)
    if not isinstance(value, str | int | float):
        raise TypeError(value)
    return str(value)


def declared_settings(fn: Callable[..., Any]) -> tuple[Setting, ...]:
    """The settings declared in ``fn``'s signature after its first (model) parameter.

    Raises TypeError for a parameter that is neither declared with a :class:`Param` nor
    supplied by the front end, so an undeclared setting cannot slip into a verb.
    """
    hints = typing.get_type_hints(fn, include_extras=True)
    out = []
    for p in list(inspect.signature(fn).parameters.values())[1:]:
        if p.name.startswith("on_") or p.name in FRONT_END:
            continue
        if p.kind in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL):
            raise TypeError(f"{fn.__qualname__}: declare every setting (no *{p.name})")
        hint = hints.get(p.name)
        if typing.get_origin(hint) is not typing.Annotated:
            raise TypeError(f"{fn.__qualname__}: setting {p.name!r} lacks Annotated[…, Param]")
        base, *extras = typing.get_args(hint)
        params = [e for e in extras if isinstance(e, Param)]
        if len(params) != 1:
            raise TypeError(f"{fn.__qualname__}: setting {p.name!r} needs exactly one Param")
        kind, many, optional = _unwrap(base, f"{fn.__qualname__}.{p.name}")
        required = p.default is inspect.Parameter.empty
        default = None if required else p.default
        out.append(Setting(p.name, kind, many, optional, default, required, params[0]))
    return tuple(out)


def _unwrap(hint: Any, where: str) -> tuple[type, bool, bool]:
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            raise TypeError(f"{where}: one type per setting, not {hint}")
        hint = args[0]
    many = typing.get_origin(hint) is list
    if many:
        hint = typing.get_args(hint)[0]
    if hint not in (int, float, str, bool, Path):
        raise TypeError(f"{where}: type {hint} is not int, float, str, bool or Path")
    return hint, many, optional


@dataclass(frozen=True)
class VerbSpec:
    """A verb of a kind: its function, its settings and the CLI command that offers it."""

    kind: str
    name: str  # in the vocabulary: sample, interpolate, continue_, …
    fn: Callable[..., Any]
    settings: tuple[Setting, ...]
    command: str  # e.g. "sample", "compose", "phrase blend"
    studio: bool = True  # offered as a form in the studio

    @property
    def doc(self) -> str:
        """The docstring's first paragraph on one line."""
        text = (inspect.getdoc(self.fn) or "").split("\n\n")[0]
        return " ".join(text.replace("``", "").split())

    def setting(self, name: str) -> Setting | None:
        return next((s for s in self.settings if s.name == name), None)

    def resolve(self, values: dict[str, Any], variant: str | None = None) -> dict[str, Any]:
        """Every setting after defaults, checked: the one record of a call.

        ``values`` holds what the user gave (unknown names are refused); ``variant`` is the
        model's variant (e.g. its language) for settings that apply to some variants only.
        """
        known = {s.name for s in self.settings}
        unknown = sorted(set(values) - known)
        if unknown:
            have = ", ".join(s.label for s in self.settings) or "none"
            what = ", ".join(n.replace("_", " ") for n in unknown)
            raise InputError(f"{self.name.rstrip('_')} has no setting {what} (it has: {have})")
        out: dict[str, Any] = {}
        for s in self.settings:
            given = values.get(s.name)
            if given is None and s.required:
                raise s.error(f"{self.name.rstrip('_')} needs {s.label}")
            elsewhere = variant and s.param.applies and variant not in s.param.applies
            if given is not None and elsewhere and given != s.default:
                raise s.error(
                    f"{s.label} applies to {'/'.join(s.param.applies)} models, "
                    f"not to this {variant} model"
                )
            out[s.name] = s.default if given is None else s.check(given)
        return out
