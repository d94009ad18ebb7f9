"""Training recipes: TOML files naming a kind, its data, model and training settings.

```toml
kind = "image-gan"
data = "mnist5k"
out = "models/mnist-gan"

[model]        # the kind's config dataclass
z_dim = 64

[training]     # the kind's training dataclass
loss = "hinge"

[run]          # TrainSettings: steps / time_budget / batch_size / seed ...
time_budget = "4m"
```
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from museforge.core.data import SKIPPED_KEPT
from museforge.core.media import one_line
from museforge.core.train import StepCallback, Trainer, TrainResult, TrainSettings, parse_duration
from museforge.errors import InputError

MAX_RECIPE_BYTES = 1_000_000  # a recipe is a few lines of settings


@dataclass(frozen=True)
class Recipe:
    """Everything one training run needs, as plain values."""

    kind: str
    data: str
    out: str | None = None
    model: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)

    def settings(self) -> TrainSettings:
        """The run table as TrainSettings (durations like "5m" accepted)."""
        known = {f.name for f in fields(TrainSettings)}
        unknown = sorted(set(self.run) - known)
        if unknown:
            names = one_line(", ".join(unknown))
            raise InputError(f"unknown run settings: {names} (known: {sorted(known)})")
        run = dict(self.run)
        try:
            if isinstance(run.get("time_budget"), str):
                run["time_budget"] = parse_duration(run["time_budget"])
            return TrainSettings(**run)
        except InputError as err:
            raise InputError(one_line(str(err))) from None  # it may quote the recipe's text
        # a value of the wrong type (steps = "ten") fails a comparison in the checks
        except (TypeError, ValueError) as err:
            raise InputError(f"run settings are not valid ({one_line(err)})") from None


def load_recipe(path: str | Path) -> Recipe:
    """Read a recipe TOML file; every problem is reported with the file's name."""
    path = Path(path)
    if not path.is_file():
        raise InputError(one_line(f"recipe '{path}' does not exist"))
    try:
        size = path.stat().st_size
        if size > MAX_RECIPE_BYTES:
            limit = f"{size:,} bytes, limit {MAX_RECIPE_BYTES:,}"
            raise InputError(one_line(f"recipe '{path}' is too large ({limit})"))
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise InputError(one_line(f"recipe '{path}' is not valid TOML ({err})")) from None
    except OSError as err:
        raise InputError(one_line(f"recipe '{path}' cannot be read ({err.strerror})")) from None
    allowed = {"kind", "data", "out", "model", "training", "run"}
    unknown = sorted(set(doc) - allowed)
    if unknown:
        keys = f"unknown keys {unknown} (allowed: {sorted(allowed)})"
        raise InputError(one_line(f"recipe '{path}': {keys}"))
    for key in ("kind", "data"):
        if not isinstance(doc.get(key), str):
            raise InputError(one_line(f"recipe '{path}' needs a '{key}' string"))
    if not isinstance(doc.get("out", ""), str):
        raise InputError(one_line(f"recipe '{path}': 'out' must be a string (a folder)"))
    for table in ("model", "training", "run"):
        if not isinstance(doc.get(table, {}), dict):
            raise InputError(one_line(f"recipe '{path}': [{table}] must be a table of settings"))
    return Recipe(
        kind=doc["kind"],
        data=doc["data"],
        out=doc.get("out"),
        model=dict(doc.get("model", {})),
        training=dict(doc.get("training", {})),
        run=dict(doc.get("run", {})),
    )


def _parse_value(text: str) -> Any:
    lowered = text.strip().lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def apply_overrides(recipe: Recipe, overrides: list[str]) -> Recipe:
    """Apply ``table.key=value`` overrides (``model.z_dim=32``, ``training.loss=bce``)."""
    tables = {
        "model": dict(recipe.model),
        "training": dict(recipe.training),
        "run": dict(recipe.run),
    }
    for item in overrides:
        key, sep, value = item.partition("=")
        table, dot, name = key.strip().partition(".")
        if not sep or not dot or table not in tables or not name:
            raise InputError(
                f"setting '{item}' must look like TABLE.KEY=VALUE (TABLE: model, training, run)"
            )
        tables[table][name] = _parse_value(value)
    return replace(recipe, **tables)


def train_from_recipe(
    recipe: Recipe,
    out: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    callbacks: list[StepCallback] | None = None,
    notify: Callable[[str], None] | None = None,
    adjust: Callable[[Any], None] | None = None,
) -> TrainResult:
    """Build the kind's task from ``recipe`` and run the shared Trainer into ``out``.

    ``notify`` receives one-line notices for the user (files skipped in the data set);
    ``adjust`` may change the task before it trains (a benchmark's baseline).
    """
    from museforge.core.registry import get_kind

    spec = get_kind(recipe.kind)
    if spec.task_factory is None:
        raise InputError(f"model kind '{recipe.kind}' cannot be trained")
    out = out or recipe.out
    if not out:
        raise InputError("say where the model goes: an out folder (or 'out' in the recipe)")
    user_run = recipe.run
    recipe = replace(recipe, run={**spec.default_run, **user_run})
    settings = recipe.settings()
    factory = spec.task_factory
    # A factory that plans for the budget (steps or time) takes the user's run table too.
    extra = {"run": dict(user_run)} if "run" in inspect.signature(factory).parameters else {}
    task, data_info = factory(recipe.model, recipe.training, recipe.data, settings.seed, **extra)
    suggested = getattr(task, "run_defaults", None)  # data-aware, e.g. a larger batch
    if suggested:
        recipe = replace(recipe, run={**spec.default_run, **suggested, **user_run})
        settings = recipe.settings()
    for notice in data_info.get("notices", []) if notify is not None else []:
        notify(notice)  # choices made from the data, e.g. the picture size of a folder
    skipped = data_info.get("skipped_files", 0)
    if skipped and notify is not None:
        shown = "; ".join(data_info.get("skipped", [])[:3])
        listed = Path(out) / "model.json"
        more = f"; … (the first {SKIPPED_KEPT} are in {listed})" if skipped > 3 else ""
        notify(f"skipped {skipped} unusable file(s) in {recipe.data}: {shown}{more}")
    if adjust is not None:
        adjust(task)
    record = {
        "data": recipe.data,
        "model": recipe.model,
        "training": dataclasses.asdict(task.training),
    }
    trainer = Trainer(
        task, settings, out, record, data_info, progress=progress, callbacks=callbacks
    )
    return trainer.fit(resume=resume)
