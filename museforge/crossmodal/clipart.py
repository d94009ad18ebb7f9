"""``clipart``: Open Clip Art (public domain) with captions made from folders and names.

Files lie under category folders (``animals/bugs/flying_wasp_gerald_g._02.png``); the
caption is the file name's words, then its folders (``"flying wasp (animals, bugs)"``).
Names often end in a cut-off author's name; words that are neither real English words
(a Zipf frequency of at least :data:`WORD_FLOOR` in wordfreq) nor folder words are left
out, which drops most of those without dropping the subject.
"""

from __future__ import annotations

import re
from pathlib import Path

from museforge.core.media import UnusableFile, decode_image, one_line
from museforge.crossmodal.captioned import CaptionedImages, cached, captioned
from museforge.errors import DataError

ROOT = Path("/usr/share/openclipart/png")
LICENCE = "public domain (Open Clip Art Library, Debian openclipart-png)"
WORD_FLOOR = 3.0  # "wasp" 3.4, "flask" 3.2 stay; "buculei" 0, "ganson" 1.3 go
RECIPE = 1
_SPLIT = re.compile(r"[_\-.\s]+")


def _needs(root: Path) -> Path:
    """``root``, or a DataError saying which package brings it."""
    if not root.is_dir():
        package = "the Debian package openclipart-png (make installs it)"
        raise DataError(f"clipart needs '{root}' from {package}")
    return root


def words(text: str) -> list[str]:
    """Lower-case words of a file or folder name, without numbers and one-letter bits."""
    return [w for w in _SPLIT.split(text.lower()) if len(w) > 1 and w.isalpha()]


def caption(relative: Path) -> str:
    """The caption of a clip-art file from its path below the collection's root."""
    # wordfreq takes 0.17 s to import, which every CLI start would pay: only captions need it.
    from wordfreq import zipf_frequency

    folders = [w for part in relative.parts[:-1] for w in [" ".join(words(part))] if w]
    known = {w for part in relative.parts[:-1] for w in words(part)}
    name = [
        w
        for w in words(relative.stem.removesuffix(".svg"))
        if w in known or (len(w) > 2 and w != "svg" and zipf_frequency(w, "en") >= WORD_FLOOR)
    ]
    subject = " ".join(dict.fromkeys(name)) or (folders[-1] if folders else "clip art")
    return f"{subject} ({', '.join(folders)})" if folders else subject


def build(image_size: int, root: Path = ROOT, limit: int | None = None) -> CaptionedImages:
    """Every readable picture below ``root`` (sorted by path, at most ``limit``), padded to
    a square on white and reduced to ``image_size``."""
    files = sorted(p for p in _needs(root).rglob("*.png") if not p.name.startswith("."))[:limit]
    pictures, captions, skipped = [], [], []
    for path in files:
        try:
            picture, grey = decode_image(path, square=image_size, pad=True)
        except UnusableFile as err:
            skipped.append(one_line(f"{path.relative_to(root)} {err}"))
            continue
        if grey:
            picture = picture[..., None].repeat(3, axis=2)
        pictures.append(picture)
        captions.append({"en": caption(path.relative_to(root))})
    if not pictures:
        raise DataError(f"clipart: no readable picture below '{root}'")
    return captioned(pictures, captions, f"clipart:{image_size}", LICENCE, skipped)


def clipart(
    image_size: int = 64, limit: int | None = None, cache_dir: Path | None = None
) -> CaptionedImages:
    """The ``clipart`` set at ``image_size`` px (the first ``limit`` files), cached."""
    stamp = int(_needs(ROOT).stat().st_mtime)
    key = f"clipart-{image_size}-{limit or 'all'}-r{RECIPE}-{stamp}"
    return cached(key, lambda: build(image_size, limit=limit), cache_dir)
