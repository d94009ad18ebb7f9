"""Every ``museforge …`` command shown in the README and docs names a command that exists
and only options it offers, so a generated CLI cannot drift away from its documentation."""

import re
import shlex
from pathlib import Path

import pytest
import typer

from museforge.cli import build_app

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCE = re.compile(r"```(?:sh|bash|console)?\n(.*?)```", re.S)


def _documented() -> list[tuple[str, list[str]]]:
    """(where, words after 'museforge') for every command line in a shell block."""
    found = []
    for doc in DOCS:
        for block in _FENCE.findall(doc.read_text(encoding="utf-8")):
            text = block.replace("\\\n", " ")
            for line in text.splitlines():
                line = line.strip().removeprefix("$ ")
                if line.startswith("museforge "):
                    words = shlex.split(line, comments=True)[1:]
                    found.append((f"{doc.name}: {line[:60]}", words))
    return found


COMMANDS = _documented()


def test_the_docs_show_commands():
    assert len(COMMANDS) > 50


@pytest.fixture(scope="module")
def cli():
    return typer.main.get_command(build_app())


@pytest.mark.parametrize(("where", "words"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_documented_command_exists_with_its_options(cli, where, words):
    command, rest = cli, list(words)
    while rest and hasattr(command, "commands") and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    assert not hasattr(command, "commands"), f"{where}: no such command"
    offered = {
        o
        for p in command.params
        for o in (*getattr(p, "opts", ()), *getattr(p, "secondary_opts", ()))
    }
    flags = {w.split("=", 1)[0] for w in rest if w.startswith("--")}
    assert flags <= offered, f"{where}: {sorted(flags - offered)} not offered"
