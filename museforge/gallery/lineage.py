"""Parent references read from an artwork's provenance, in one normalised shape.

Verbs record where an artwork came from in the way natural to them: a breed lists its
parent files with their sha256, a melody interpolation names the two ends of its walk, a
style transfer names its content and style pictures, a remix the artwork it re-made, and a
still of an animation (a frame of an interpolation or prompt walk) names the animation it
is a frame of. :func:`parent_refs` turns all of these into ``Ref`` rows the gallery index
can join on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ref:
    """One parent: matched to a gallery file by ``sha256``, by ``file`` (a name in the
    child's folder) or by ``source`` (a path), else shown by its ``label`` only."""

    role: str
    sha256: str | None = None
    file: str | None = None
    source: str | None = None
    label: str = ""


def _source_ref(role: str, entry: Any) -> Ref | None:
    if not isinstance(entry, dict):
        return None
    source = entry.get("source") or entry.get("name")
    if not source:
        return None
    return Ref(role, source=str(source), label=str(source))


def frame_of(provenance: dict[str, Any]) -> tuple[str, int] | None:
    """(animation file name, frame number) when the artwork is a frame of an animation."""
    entry = provenance.get("frame_of")
    if not isinstance(entry, dict) or not entry.get("file"):
        return None
    index = entry.get("index")
    return str(entry["file"]), index if isinstance(index, int) else 0


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _sha(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def lineage_problem(provenance: dict[str, Any]) -> str | None:
    """What is wrong with the parent references ``provenance`` records, as museforge never
    writes them (a list that is not one, a hash that is not text), or None."""
    lineage = provenance.get("lineage")
    lists = {
        "parents": provenance.get("parents"),
        "ends": provenance.get("ends"),
        "lineage.styles": lineage.get("styles") if isinstance(lineage, dict) else None,
    }
    for name, value in lists.items():
        if value is not None and not isinstance(value, list):
            return f"'{name}' is not a list"
    hashes = [p.get("sha256") for p in _list(lists["parents"]) if isinstance(p, dict)]
    remix = provenance.get("remix_of")
    if isinstance(remix, dict):
        hashes.append(remix.get("sha256"))
    if any(h is not None and not isinstance(h, str) for h in hashes):
        return "parent's sha256 is not text"
    return None


def parent_refs(provenance: dict[str, Any]) -> list[Ref]:
    """Every parent that ``provenance`` records, with its role (parent, end, animation,
    content...); entries of the wrong shape are left out (see :func:`lineage_problem`)."""
    refs: list[Ref] = []
    for parent in _list(provenance.get("parents")):
        if isinstance(parent, dict):
            name = str(parent.get("file") or "")
            refs.append(Ref("parent", _sha(parent.get("sha256")), name or None, label=name))
    for end in _list(provenance.get("ends")):
        refs.append(Ref("end", file=str(end), label=str(end)))
    lineage = provenance.get("lineage") or {}
    if isinstance(lineage, dict):
        for role in ("content", "style", "mask"):
            ref = _source_ref(role, lineage.get(role))
            if ref is not None:
                refs.append(ref)
        for entry in _list(lineage.get("styles")):
            ref = _source_ref("style", entry)
            if ref is not None:
                refs.append(ref)
    animation = frame_of(provenance)
    if animation is not None:  # by place, not hash: two equal walks make equal GIFs
        refs.append(Ref("animation", file=animation[0], label=animation[0]))
    remix = provenance.get("remix_of")
    if isinstance(remix, dict):
        refs.append(Ref("remix", sha256=_sha(remix.get("sha256")), label=str(remix.get("id", ""))))
    return refs
