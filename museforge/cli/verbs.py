"""CLI commands generated from the verbs' declarations (nothing re-typed per verb).

Every registered verb names the command that offers it (``sample``, ``compose``,
``phrase blend``…). One command may serve several kinds; its options are the union of
their declared settings, grouped in ``--help`` by the kinds they belong to. Only the
options the user actually gives are passed on: the rest take the verb's own declared
defaults, exactly as in the studio.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from museforge.cli.app import ModelArg, err, load_model, out, save_result
from museforge.core.registry import VERBS
from museforge.core.verbs import Setting, VerbSpec
from museforge.errors import InputError

OUT_NAME = "out_dir"
_EXTRA = "extra_"  # a hidden argument that lets `--parents A.png B.png` take both files


def commands() -> dict[str, list[VerbSpec]]:
    """Every CLI command path and the verbs (one per kind) it offers, sorted."""
    from museforge.core.registry import kinds

    table: dict[str, list[VerbSpec]] = {}
    for _, spec in sorted(kinds().items()):
        for _, verb in sorted(spec.verbs.items()):
            table.setdefault(verb.command, []).append(verb)
    return dict(sorted(table.items()))


def merged_settings(verbs: list[VerbSpec]) -> list[tuple[Setting, list[VerbSpec]]]:
    """The union of the verbs' settings by name, in declaration order, each with the verbs
    that declare it."""
    merged: dict[str, tuple[Setting, list[VerbSpec]]] = {}
    for verb in verbs:
        for s in verb.settings:
            if s.name in merged:
                merged[s.name][1].append(verb)
            else:
                merged[s.name] = (s, [verb])
    return list(merged.values())


def shared_default(name: str, owners: list[VerbSpec]) -> tuple[bool, Any]:
    """(True, default) when every verb declaring ``name`` has the same default."""
    defaults = {repr(v.setting(name).default) for v in owners}  # type: ignore[union-attr]
    first = owners[0].setting(name)
    return len(defaults) == 1, first.default if first else None


def _help(setting: Setting, owners: list[VerbSpec], everyone: list[VerbSpec]) -> str:
    helps = list(dict.fromkeys(v.setting(setting.name).param.help for v in owners))  # type: ignore[union-attr]
    # One help per meaning: a help that another one extends says nothing of its own.
    helps = [h for h in helps if not any(o != h and o.startswith(h) for o in helps)]
    text = " / ".join(helps[:2])
    same, _ = shared_default(setting.name, owners)
    if not same:
        kinds_by_default: dict[str, list[str]] = {}
        for v in owners:
            shown = str(v.setting(setting.name).default)  # type: ignore[union-attr]
            kinds_by_default.setdefault(shown, []).append(v.kind)
        per = "; ".join(f"{d} for {', '.join(k)}" for d, k in kinds_by_default.items())
        text += f" (default {per})"
    if setting.param.applies:
        text += f" ({'/'.join(setting.param.applies)} models)"
    if setting.param.choices:
        text += f" (one of: {', '.join(setting.param.choices)})"
    return text


def _panel(owners: list[VerbSpec], everyone: list[VerbSpec]) -> str | None:
    if len(owners) == len(everyone):
        return None
    return "For " + ", ".join(v.kind for v in owners)


def _annotation(setting: Setting, owners: list[VerbSpec], everyone: list[VerbSpec]) -> Any:
    kind = setting.type
    hint: Any = list[kind] if setting.many else kind
    same, _ = shared_default(setting.name, owners)
    optional = setting.optional or not same or setting.required or len(owners) < len(everyone)
    if optional and not setting.many:
        hint = hint | None
    help_text = escape(_help(setting, owners, everyone))
    if setting.param.positional:
        info = typer.Argument(help=help_text, show_default=False)
    else:
        flag = "--" + setting.flag
        decls = [flag] if kind is not bool else [f"{flag}/--no-{setting.flag}"]
        info = typer.Option(
            *decls,
            help=help_text,
            rich_help_panel=_panel(owners, everyone),
            show_default=same and not setting.required,
        )
    return Annotated[hint, info]


def _cli_default(setting: Setting, owners: list[VerbSpec], everyone: list[VerbSpec]) -> Any:
    same, default = shared_default(setting.name, owners)
    if setting.many:
        return None
    if setting.required and setting.param.positional and len(owners) == len(everyone):
        return inspect.Parameter.empty
    return default if same and not setting.required else None


def build_signature(verbs: list[VerbSpec]) -> tuple[inspect.Signature, list[str]]:
    """The Typer signature of a command serving ``verbs``, and the names of its settings."""
    ctx = inspect.Parameter(
        "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
    )
    model = inspect.Parameter("model", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=ModelArg)
    params, names, variadic = [ctx, model], [], False
    merged = merged_settings(verbs)
    # Positional settings first, then options (click takes arguments in order).
    for setting, owners in sorted(merged, key=lambda m: not m[0].param.positional):
        variadic = variadic or (setting.param.positional and setting.many)
        params.append(
            inspect.Parameter(
                setting.name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=_cli_default(setting, owners, verbs),
                annotation=_annotation(setting, owners, verbs),
            )
        )
        names.append(setting.name)
    # Without a list argument of its own, a command lets a list option take several files
    # after one flag, as in `breed … --parents A.png B.png`.
    many = [s for s, _ in merged if s.many and not s.param.positional]
    if many and not variadic:
        s = many[0]
        hint = Annotated[list[s.type] | None, typer.Argument(hidden=True)]  # type: ignore[name-defined]
        params.append(
            inspect.Parameter(
                _EXTRA + s.name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=None,
                annotation=hint,
            )
        )
    out_hint = Annotated[
        Path | None,
        typer.Option(
            "--out", help="output folder, or a .png file for one picture [default: gallery/MODEL]"
        ),
    ]
    params.append(
        inspect.Parameter(
            OUT_NAME, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=out_hint
        )
    )
    return inspect.Signature(params), names


def given_settings(ctx: typer.Context, names: list[str], values: dict[str, Any]) -> dict[str, Any]:
    """The settings the user typed (defaults left to the verb's declaration)."""
    given: dict[str, Any] = {}
    for name in names:
        source = ctx.get_parameter_source(name)
        value = values.get(name)
        if (
            source is not None
            and source.name in ("COMMANDLINE", "ENVIRONMENT")
            and value is not None
        ):
            given[name] = list(value) if isinstance(value, list | tuple) else value
    for key, value in values.items():
        if key.startswith(_EXTRA) and value:
            name = key.removeprefix(_EXTRA)
            given[name] = list(given.get(name, [])) + list(value)
    return given


def pick_verb(command: str, verbs: list[VerbSpec], loaded: Any, model: str) -> VerbSpec:
    """The verb of ``command`` for the loaded model's kind, or a one-line error that says
    which command does what the user wanted."""
    for verb in verbs:
        if verb.kind == loaded.kind:
            return verb
    from museforge.core.registry import get_kind

    served = ", ".join(sorted({v.kind for v in verbs}))
    offered = ", ".join(sorted({v.command for v in get_kind(loaded.kind).verbs.values()}))
    raise InputError(
        f"model '{model}' is of kind {loaded.kind}, which has no verb '{command}' "
        f"(that is for {served} models; it has: {offered or 'none'})"
    )


def run_and_show(loaded: Any, verb: VerbSpec, given: dict[str, Any], target: Path | None) -> Any:
    """Run ``verb`` with the user's settings, save the result and tell the user."""
    from museforge.core.registry import call_verb, resolve_args

    hooks: dict[str, Any] = {}
    streaming = "on_token" in inspect.signature(verb.fn).parameters
    args = resolve_args(loaded, verb.name, given)
    stream_live = streaming and args.get("n", 1) == 1
    if stream_live:
        # A streamed continuation starts with its prompt, as the finished text does.
        out.print(escape(str(args.get("prompt") or "")), end="", highlight=False)
        hooks["on_token"] = lambda _i, char: out.print(escape(char), end="", highlight=False)
    result = call_verb(loaded, verb.name, **args, **hooks)
    upscale = max(1, 256 // max(1, getattr(loaded.model.cfg, "image_size", 256)))
    paths = save_result(result, target, loaded.path.name, upscale=upscale)
    if stream_live:
        out.print()
    show_result(result, paths, target, stream_live)
    return result


def show_result(result: Any, paths: list[Path], target: Path | None, streamed: bool) -> None:
    """Texts on the terminal (annotated when asked), then where every file went."""
    arts = result.artworks
    texts = [a for a in arts if getattr(a, "text", None) is not None and a.image is None]
    if texts and len(texts) == len(arts):
        for art, path in zip(arts, paths, strict=False):
            if not streamed:
                shown = art.provenance.get("annotation") or art.text or ""
                out.print(escape(shown), highlight=False)
            broken = art.provenance.get("violations")
            if broken:
                out.print(f"[yellow]form not met:[/yellow] {escape('; '.join(broken))}")
            out.print(f"[dim]→ {path}[/dim]\n", highlight=False)
        rest = paths[len(arts) :]
    elif len(arts) > 1:
        where = paths[0].parent if paths else target
        what = "frames" if getattr(result, "frames", None) else "artworks"  # of the GIF below
        out.print(f"wrote {len(arts)} {what} with provenance into {where}/")
        rest = paths[len(arts) :]
    else:
        rest = paths
    for path in rest:
        out.print(f"wrote {path}")
    if getattr(result, "message", None):
        out.print(result.message)


Action = Callable[[str, dict[str, Any], Path | None, dict[str, Any]], None]


def run_verb_command(command: str, verbs: list[VerbSpec]) -> Action:
    """The usual action: load the model once, pick its kind's verb, run, save, show."""

    def act(model: str, given: dict[str, Any], target: Path | None, _: dict[str, Any]) -> None:
        loaded = load_model(model)
        run_and_show(loaded, pick_verb(command, verbs, loaded, model), given, target)

    return act


def make_command(
    command: str,
    verbs: list[VerbSpec],
    act: Action | None = None,
    extra: tuple[inspect.Parameter, ...] = (),
) -> Callable[..., None]:
    """A Typer command function for ``command`` with a signature built from the verbs'
    declarations (plus ``extra`` front-end options, handed to ``act`` by name)."""
    signature, names = build_signature(verbs)
    signature = signature.replace(parameters=[*signature.parameters.values(), *extra])
    action = act or run_verb_command(command, verbs)
    extra_names = {p.name for p in extra}

    def run(ctx: typer.Context, model: str, **values: Any) -> None:
        target = values.pop(OUT_NAME, None)
        odd = target is not None and target.suffix.lower() not in ("", ".png")
        if odd and not target.is_dir():
            raise InputError(f"out '{target}' must be a folder, or a .png file for one picture")
        options = {k: values.pop(k) for k in list(values) if k in extra_names}
        action(model, given_settings(ctx, names, values), target, options)

    run.__signature__ = signature  # type: ignore[attr-defined]
    run.__annotations__ = {}
    run.__name__ = command.replace(" ", "_").replace("-", "_")
    kinds = ", ".join(sorted({v.kind for v in verbs}))
    docs = {v.doc for v in verbs}
    summary = docs.pop() if len(docs) == 1 else VERBS.get(verbs[0].name, verbs[0].name)
    run.__doc__ = f"{summary}\n\nModels: {kinds}."
    return run


def add_verb_commands(app: typer.Typer, skip: frozenset[str] = frozenset()) -> None:
    """Register a command on ``app`` for every verb command path (groups for two words)."""
    groups: dict[str, typer.Typer] = {}
    for path, verbs in commands().items():
        if path in skip:
            continue
        fn = make_command(path, verbs)
        if " " in path:
            group, name = path.split(" ", 1)
            if group not in groups:
                kinds = ", ".join(sorted({v.kind for v in verbs}))
                groups[group] = typer.Typer(help=f"The {group} verbs of {kinds} models.")
                app.add_typer(groups[group], name=group)
            groups[group].command(name)(fn)
        else:
            app.command(path)(fn)


__all__ = ["add_verb_commands", "commands", "err"]
