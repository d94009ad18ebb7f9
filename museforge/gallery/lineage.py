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


def parent_refs(provenance: dict[str, Any]) -> list[Ref]:
    """Every parent that ``provenance`` records, with its role (parent, end, animation,
    content...)."""
    refs: list[Ref] = []
    for parent in provenance.get("parents") or []:
        if isinstance(parent, dict):
            name = str(parent.get("file", ""))
            refs.append(Ref("parent", sha256=parent.get("sha256"), file=name or None, label=name))
    for end in provenance.get("ends") or []:
        refs.append(Ref("end", file=str(end), label=str(end)))
    lineage = provenance.get("lineage") or {}
    if isinstance(lineage, dict):
        for role in ("content", "style", "mask"):
            ref = _source_ref(role, lineage.get(role))
            if ref is not None:
                refs.append(ref)
        for entry in lineage.get("styles") or []:
            ref = _source_ref("style", entry)
            if ref is not None:
                refs.append(ref)
    animation = frame_of(provenance)
    if animation is not None:  # by place, not hash: two equal walks make equal GIFs
        refs.append(Ref("animation", file=animation[0], label=animation[0]))
    remix = provenance.get("remix_of")
    if isinstance(remix, dict):
        refs.append(Ref("remix", sha256=remix.get("sha256"), label=str(remix.get("id", ""))))
    return refs
