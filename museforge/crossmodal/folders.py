"""Your own captioned pictures: ``folder:PATH`` in either of two common layouts.

- The Hugging Face imagefolder convention: ``metadata.jsonl`` (one JSON object a line) or
  ``metadata.csv`` (a header row) at the top of the folder, each row with ``file_name``
  (relative to the folder) and ``text``.
- A picture and a text file of the same name side by side: ``cat.png`` + ``cat.txt``.

A bad row is reported with its line number and left out; pictures without a caption are
skipped and counted; a folder with no caption at all is a one-line error saying how to
give them. A caption's language is told by its script (Chinese characters: ``zh``).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from museforge.core.files import list_files
from museforge.core.media import IMAGE_SUFFIXES, UnusableFile, decode_image, no_usable, one_line
from museforge.crossmodal.captioned import CaptionedImages, captioned
from museforge.errors import DataError

METADATA = ("metadata.jsonl", "metadata.csv")
MAX_CAPTION_CHARS = 1000
# Read whole into memory: a metadata file of 100k rows is a few MB; a caption file beside
# a picture holds one caption (cut to MAX_CAPTION_CHARS anyway).
MAX_METADATA_BYTES = 100_000_000
MAX_CAPTION_FILE_BYTES = 1_000_000
LICENCE = "the user's own"
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def language_of(text: str) -> str:
    """``zh`` for a caption with Chinese characters, else ``en``."""
    return "zh" if _HAN.search(text) else "en"


def _read(path: Path, limit: int) -> str:
    """A text file (UTF-8, BOM dropped) of at most ``limit`` bytes; ValueError or OSError."""
    if path.stat().st_size > limit:
        raise ValueError(f"larger than {limit:,} bytes")
    return path.read_text(encoding="utf-8-sig")


def _rows(path: Path, problems: list[str]) -> list[tuple[int, str, str]]:
    """(line, file_name, text) of a metadata file; bad rows go to ``problems``."""
    try:
        text = _read(path, MAX_METADATA_BYTES)
    except (OSError, ValueError) as err:  # UnicodeDecodeError is a ValueError
        raise DataError(f"'{path}' cannot be read as UTF-8 text ({one_line(err)})") from None
    rows: list[tuple[int, dict]] = []
    if path.suffix == ".jsonl":
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append((number, json.loads(line)))
            except json.JSONDecodeError as err:
                problems.append(f"{path.name} line {number}: not JSON ({err.msg})")
            except RecursionError:
                problems.append(f"{path.name} line {number}: JSON nested too deep")
    else:
        reader = csv.DictReader(text.splitlines())
        try:
            if not reader.fieldnames or not {"file_name", "text"} <= set(reader.fieldnames):
                raise DataError(f"'{path}' needs a header row with file_name and text")
            rows = [(reader.line_num, row) for row in reader]
        # a field over csv's limit (128 KiB), a NUL byte...: the rest cannot be trusted
        except csv.Error as err:
            where = f"line {reader.line_num}: " if reader.line_num else ""
            raise DataError(f"'{path}' is not valid CSV ({where}{one_line(err)})") from None
    out = []
    for number, row in rows:
        name = row.get("file_name") if isinstance(row, dict) else None
        caption = row.get("text") if isinstance(row, dict) else None
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{path.name} line {number}: no file_name")
        elif not isinstance(caption, str) or not caption.strip():
            problems.append(f"{path.name} line {number}: no text for '{name}'")
        else:
            out.append((number, name.strip(), caption.strip()))
    return out


def captions_of(root: Path, problems: list[str]) -> dict[Path, str]:
    """Picture (relative to ``root``) → caption, from the metadata file or the side files."""
    found: dict[Path, str] = {}
    for meta in (root / name for name in METADATA):
        if not meta.is_file():
            continue
        for number, name, text in _rows(meta, problems):
            rel = Path(name)
            if rel.is_absolute() or ".." in rel.parts:
                problems.append(f"{meta.name} line {number}: '{name}' is outside the folder")
            elif not (root / rel).is_file():
                problems.append(f"{meta.name} line {number}: no file '{name}'")
            else:
                found.setdefault(rel, text)
        return found  # one metadata file is the whole truth, as in imagefolder
    for rel in list_files(root, problems, IMAGE_SUFFIXES):
        side = (root / rel).with_suffix(".txt")
        if side.is_file():
            try:
                text = _read(side, MAX_CAPTION_FILE_BYTES).strip()
            except (OSError, ValueError) as err:  # UnicodeDecodeError is a ValueError
                problems.append(f"{rel.with_suffix('.txt')}: not UTF-8 text ({one_line(err)})")
                continue
            if text:
                found[rel] = text
    return found


def captioned_folder(root: Path, image_size: int = 64) -> CaptionedImages:
    """The captioned pictures below ``root`` at ``image_size`` px (padded to squares)."""
    problems: list[str] = []
    captions = captions_of(root, problems)
    if not captions:
        detail = f" ({'; '.join(problems[:3])})" if problems else ""
        raise DataError(
            one_line(  # the problems quote file names from the metadata
                f"folder '{root}' has no captions: give metadata.jsonl or metadata.csv "
                f"(file_name, text) or a .txt beside each picture{detail}"
            )
        )
    uncaptioned = [r for r in list_files(root, [], IMAGE_SUFFIXES) if r not in captions]
    if uncaptioned:
        problems.append(f"{len(uncaptioned)} picture(s) without a caption, e.g. {uncaptioned[0]}")
    pictures, texts = [], []
    for rel, text in sorted(captions.items()):
        try:
            picture, grey = decode_image(root / rel, square=image_size, pad=True)
        except UnusableFile as err:
            problems.append(one_line(f"{rel} {err}"))
            continue
        pictures.append(picture[..., None].repeat(3, axis=2) if grey else picture)
        caption = text[:MAX_CAPTION_CHARS]
        if len(text) > MAX_CAPTION_CHARS:
            problems.append(f"{rel}: caption cut to {MAX_CAPTION_CHARS} characters")
        texts.append({language_of(caption): caption})
    if not pictures:
        raise DataError(
            no_usable(f"folder '{root}'", "captioned pictures", problems, IMAGE_SUFFIXES)
        )
    source = f"folder:{root.resolve()}"
    return captioned(pictures, texts, source, LICENCE, problems)
