"""One front door: every verb is declared once, and the CLI and the studio both derive from
that declaration; a kind from another package appears everywhere through its entry point."""

import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from PIL import Image

from museforge.cli import build_app, main
from museforge.cli import verbs as cli_verbs
from museforge.cli.catalog import data_table, verb_table
from museforge.core import registry
from museforge.core.artifact import save_artifact
from museforge.studio.forms import coerce_args, kind_forms, verb_form

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class SimpleConfig:
    width: int = 1


def _command(path: str):
    group = typer.main.get_command(build_app())
    command = group
    for word in path.split():
        command = command.commands[word]  # type: ignore[attr-defined]
    return command


def _studio_verbs() -> list[tuple[str, str]]:
    return [
        (kind, name)
        for kind, spec in sorted(registry.kinds().items())
        for name, verb in sorted(spec.verbs.items())
        if verb.studio
    ]


def _placeholder(setting) -> str:
    return {"music": "tune.mid", "text": "words"}.get(setting.param.input or "", "a.png")


@pytest.mark.parametrize(("kind", "verb"), _studio_verbs())
def test_cli_and_studio_offer_the_same_settings(kind, verb, monkeypatch, capsys) -> None:
    spec = registry.get_verb(kind, verb)
    form = verb_form(kind, verb)
    params = {p.name: p for p in _command(spec.command).params}
    assert [f["name"] for f in form["fields"]] == [s.name for s in spec.settings]
    for setting, field in zip(spec.settings, form["fields"], strict=True):
        assert setting.name in params, f"{spec.command} lacks {setting.name}"
        option = params[setting.name]
        assert field["default"] == setting.default
        # A default the CLI shows is the declared one (no CLI of its own).
        if option.default is not None and not setting.many:
            assert option.default == setting.default, setting.name
    # Run the command with only what is required: the verb must receive nothing else, so
    # every other setting takes its declared default — the studio does the same.
    fake = SimpleNamespace(kind=kind, path=Path("m"), model=SimpleNamespace(cfg=None))
    seen = {}
    monkeypatch.setattr(cli_verbs, "load_model", lambda name: fake)
    monkeypatch.setattr(
        cli_verbs, "run_and_show", lambda loaded, v, given, target: seen.update(verb=v, given=given)
    )
    args = []
    required = {}
    for setting in spec.settings:
        if setting.required:
            value = _placeholder(setting)
            required[setting.name] = [value] if setting.many else value
            args += [value] if setting.param.positional else [f"--{setting.flag}", value]
    monkeypatch.setattr(sys, "argv", ["museforge", *spec.command.split(), "m", *args])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code in (0, None), capsys.readouterr().err
    assert seen["verb"] is spec
    as_text = {
        k: [str(x) for x in v] if isinstance(v, list) else str(v) for k, v in seen["given"].items()
    }
    assert as_text == required
    studio_ids = {
        k: ("upload:ab12" if not isinstance(v, list) else ["upload:ab12"])
        for k, v in required.items()
    }
    studio_given = {k: v for k, v in studio_ids.items() if spec.setting(k).param.input}
    studio_given |= {k: v for k, v in required.items() if not spec.setting(k).param.input}
    assert set(coerce_args(kind, verb, studio_given)) == set(required)


def test_docs_tables_are_generated_from_the_registries() -> None:
    assert (REPO / "docs" / "verbs.md").read_text(encoding="utf-8") == verb_table()
    assert (REPO / "docs" / "data.md").read_text(encoding="utf-8") == data_table()


def test_a_command_loads_and_checks_its_model_once(monkeypatch, capsys, tmp_path) -> None:
    import museforge.core.artifact as artifact

    loads = []
    real = artifact.load_artifact
    monkeypatch.setattr(
        artifact, "load_artifact", lambda path, **kw: loads.append(path) or real(path, **kw)
    )
    code, _, err = _run(
        monkeypatch,
        capsys,
        "harmonise",
        "chorale-coconet",
        "bwv66.6",
        "--steps",
        2,
        "--out",
        tmp_path,
    )
    assert code == 0, err
    assert len(loads) == 1


TOY_MODULE = '''
from dataclasses import dataclass
from typing import Annotated

import torch
from PIL import Image

from museforge.core.artwork import Artwork, Result
from museforge.core.registry import register_kind, verb
from museforge.core.verbs import SEED, Param


@dataclass(frozen=True)
class ToyConfig:
    width: int = 4


class Toy(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.weight = torch.nn.Parameter(torch.zeros(cfg.width))


register_kind(
    "toy-kind", modality="toy", description="a kind from another package",
    config_cls=ToyConfig, model_cls=Toy,
)


@verb("toy-kind", command="doodle")
def sample(
    loaded,
    n: Annotated[int, Param("how many squares", min=1, max=9)] = 2,
    colour: Annotated[str, Param("their fill", choices=("red", "blue"))] = "red",
    seed: Annotated[int, SEED] = 0,
) -> Result:
    """Plain squares in one colour."""
    arts = [
        Artwork(f"toy-{seed}-{i}", Image.new("RGB", (4, 4), colour), loaded.provenance("sample"))
        for i in range(n)
    ]
    return Result(arts, stem=f"toy-{seed}")
'''


@pytest.fixture
def toy_kind(tmp_path, monkeypatch):
    """A package outside museforge that declares a kind through the entry point group."""
    site = tmp_path / "site"
    (site / "museforge_toy").mkdir(parents=True)
    (site / "museforge_toy" / "__init__.py").write_text(TOY_MODULE)
    info = site / "museforge_toy-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: museforge-toy\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[museforge.kinds]\ntoy = museforge_toy\n")
    monkeypatch.syspath_prepend(str(site))
    registry.rescan()
    yield site
    registry._KINDS.pop("toy-kind", None)
    registry._loaded_entry_points.discard("museforge_toy")
    sys.modules.pop("museforge_toy", None)


def _run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["museforge", *map(str, args)])
    with pytest.raises(SystemExit) as info:
        main()
    captured = capsys.readouterr()
    return info.value.code or 0, captured.out, captured.err


def test_a_kind_from_another_package_appears_everywhere(toy_kind, tmp_path, monkeypatch, capsys):
    from museforge_toy import Toy, ToyConfig

    model = save_artifact(
        tmp_path / "toy-model", "toy-kind", ToyConfig(), Toy(ToyConfig()).state_dict()
    )
    code, out, _ = _run(monkeypatch, capsys, "kinds")
    assert code == 0 and "toy-kind" in out and "museforge doodle" in out
    code, out, _ = _run(monkeypatch, capsys, "doodle", "--help")
    assert code == 0 and "--colour" in out and "their fill" in out
    code, out, err = _run(
        monkeypatch, capsys, "doodle", model, "--n", 3, "--colour", "blue", "--out", tmp_path / "o"
    )
    assert code == 0, err
    files = sorted((tmp_path / "o").glob("toy-0-*.png"))
    assert len(files) == 3
    assert Image.open(files[0]).convert("RGB").getpixel((0, 0)) == (0, 0, 255)
    code, _, err = _run(monkeypatch, capsys, "doodle", model, "--colour", "green")
    assert code == 1 and "colour must be one of red, blue" in err and "Traceback" not in err
    code, _, err = _run(monkeypatch, capsys, "doodle", model, "--n", 10)
    assert code == 1 and "n must be 1..9" in err
    _studio_offers_the_toy(tmp_path, model)
    forms = {k["kind"]: k for k in kind_forms()}
    fields = {f["name"]: f for f in forms["toy-kind"]["verbs"][0]["fields"]}
    assert fields["n"]["default"] == 2 and fields["colour"]["choices"] == ["red", "blue"]
    assert coerce_args("toy-kind", "sample", {"n": "3"}) == {"n": 3}
    assert "toy-kind" in verb_table() and "their fill" in verb_table()


def test_an_undeclared_setting_is_refused_at_registration() -> None:
    registry.load_all()
    registry.register_kind(
        "undeclared-kind",
        modality="toy",
        description="x",
        config_cls=SimpleConfig,
        model_cls=Image.Image,
    )
    try:
        with pytest.raises(TypeError, match="lacks Annotated"):
            registry.verb("undeclared-kind", "sample")(lambda loaded, n=3: None)
    finally:
        registry._KINDS.pop("undeclared-kind")


def _studio_offers_the_toy(tmp_path: Path, model: Path) -> None:
    """The studio lists the toy kind, draws its form and runs it, with no wiring of its own."""
    from fastapi.testclient import TestClient

    from museforge.studio.app import StudioConfig, create_app
    from tests.studio.test_api import AUTH, BASE, TOKEN, _wait

    config = StudioConfig(tmp_path / "g", model.parent, port=8765, token=TOKEN)
    with TestClient(create_app(config), base_url=BASE) as client:
        kinds = {k["kind"]: k for k in client.get("/api/kinds").json()}
        [form] = kinds["toy-kind"]["verbs"]
        assert [f["name"] for f in form["fields"]] == ["n", "colour", "seed"]
        body = {"model": model.name, "verb": "sample", "args": {"n": 2, "colour": "blue"}}
        job = client.post("/api/generate", json=body, headers=AUTH).json()["job"]
        done = _wait(client, job)
        assert done["state"] == "done", done
        assert len(done["result"]["ids"]) == 2
