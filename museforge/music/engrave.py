"""Engraved scores: a piece's MusicXML set by LilyPond as PDF, PNG and SVG.

``musicxml2ly`` (shipped with LilyPond) turns the MusicXML that music21 writes into
LilyPond input — parts with their instrument names, key, metre, tempo, lyrics under the
notes, chord symbols above them — and ``lilypond`` engraves it, cropped to the music (one
image for the whole piece, not pages). Without LilyPond, or when it fails, the piece keeps
its other files and the caller is told why in one line.

LilyPond input can run Scheme, and LilyPond 2.24 dropped its safe mode; the input here is
only what museforge writes: MusicXML of its own pieces (lyrics are syllables of letters,
part names its own) and a header whose strings are quoted here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from museforge.gallery.provenance import SCORE_COMPANIONS

INSTALL_HINT = "apt install lilypond"
ENGRAVE_ENV = "MUSEFORGE_ENGRAVE"  # "0" turns engraving off (the test suite does, for speed)
TIMEOUT_S = 120
RESOLUTION = 150  # PNG dots per inch


class EngraveError(Exception):
    """LilyPond could not engrave a score (the message is one line)."""


def engraving_wanted() -> bool:
    """Whether pieces are engraved: unless ``MUSEFORGE_ENGRAVE=0``."""
    return os.environ.get(ENGRAVE_ENV, "1") != "0"


def engraving_missing() -> str | None:
    """Why scores cannot be engraved here (None when they can)."""
    for tool in ("musicxml2ly", "lilypond"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed ({INSTALL_HINT})"
    return None


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _with_header(ly: str, title: str, subtitle: str) -> str:
    """The LilyPond text with its header replaced by ours (musicxml2ly copies music21's
    defaults: the title twice and "Music21" as the composer) and no tagline."""
    fields = f"    title = {_quote(title)}\n    subtitle = {_quote(subtitle)}\n    tagline = ##f\n"
    header = "\\header {\n" + fields + "}\n"
    body, found = re.subn(r"\\header\s*\{.*?\n\s*\}\n", lambda _m: header, ly, count=1, flags=re.S)
    return body if found else ly.replace("\\version", header + "\\version", 1)


_TRIAD_FIVE = re.compile(r":(m|dim|aug)?5\b")


def _fix_chord_names(ly: str) -> str:
    """musicxml2ly (2.24) writes a triad as ``d:5`` / ``e:m5``, which LilyPond names a
    power chord (D⁵); plain ``d`` / ``e:m`` name the triads."""
    return _TRIAD_FIVE.sub(lambda m: f":{m.group(1)}" if m.group(1) else "", ly)


def _run(*commands: list[str], cwd: Path) -> None:
    """Run ``commands`` side by side (LilyPond's start-up dominates a short piece) and
    raise EngraveError with the first one's reason if any fails."""
    procs = [
        subprocess.Popen(
            args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        for args in commands
    ]
    failures = []
    for args, proc in zip(commands, procs, strict=True):
        try:
            _, stderr = proc.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            for other in procs:
                other.kill()
            raise EngraveError(f"{args[0]} took longer than {TIMEOUT_S} s") from None
        if proc.returncode != 0:
            errors = [line for line in stderr.splitlines() if "error" in line.lower()]
            last = (errors or stderr.strip().splitlines() or ["no message"])[-1]
            failures.append(f"{args[0]} failed: {last.strip()[:200]}")
    if failures:
        raise EngraveError(failures[0])


def engrave(musicxml: Path, title: str, subtitle: str = "") -> dict[str, bytes]:
    """The engraving of ``musicxml`` as ``{role: file bytes}`` for the roles of
    :data:`~museforge.gallery.provenance.SCORE_COMPANIONS`; raises EngraveError with the
    reason when it cannot be made."""
    missing = engraving_missing()
    if missing is not None:
        raise EngraveError(missing)
    with tempfile.TemporaryDirectory(prefix="museforge-engrave-") as tmp:
        work = Path(tmp)
        shutil.copyfile(musicxml, work / "piece.musicxml")
        _run(["musicxml2ly", "--output=piece.ly", "piece.musicxml"], cwd=work)
        ly = work / "piece.ly"
        text = _fix_chord_names(ly.read_text(encoding="utf-8"))
        ly.write_text(_with_header(text, title, subtitle), "utf-8")
        common = ["lilypond", "-dno-point-and-click", "-dcrop"]
        _run(  # apart: two runs side by side must not write the same files
            [*common, "-o", "paged", "--pdf", "--png", f"-dresolution={RESOLUTION}", "piece.ly"],
            [*common, "-o", "vector", "-dbackend=svg", "piece.ly"],
            cwd=work,
        )
        out = {}
        for role, suffix in SCORE_COMPANIONS.items():
            ext = Path(suffix).suffix
            made = work / f"{'vector' if ext == '.svg' else 'paged'}.cropped{ext}"
            if not made.is_file():
                raise EngraveError(f"lilypond wrote no {made.suffix} file")
            out[role] = made.read_bytes()
        return out
