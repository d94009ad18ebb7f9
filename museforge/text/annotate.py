"""A poem annotated line by line for its language: 平仄 and rhyme, or syllables and rhyme."""

from __future__ import annotations

from typing import Any


def annotate_poem(text: str, language: str | None, rhyme_book: str | None = None) -> str:
    """``text`` with per-line form marks: Chinese gets 平仄 (○ ● ◐) and the rhyme of each
    line's last character by ``rhyme_book`` (default 中华新韵), anything else syllable
    counts and rhyme letters (CMU)."""
    if language == "zh":
        from museforge.text.chinese import annotate_chinese

        body = text.split("\n", 1)[1] if text.startswith("《") else text  # drop the title
        return annotate_chinese(body, rhyme_book or "xinyun")
    from museforge.text.english import annotate_english

    return annotate_english(text)


def verse_marks(
    language: str, form: str | None, lines: list[str], rhyme_book: str = "xinyun"
) -> dict[str, Any]:
    """Form marks for a poem being written line by line (Chinese lines are 句): how many
    lines the form has, a mark per line (平仄 and rhyme, or syllables against the target
    and a rhyme letter), and, once every line is written, the verifier's verdict."""
    if language == "zh":
        return _chinese_marks(form or "qijue", lines, rhyme_book)
    return _english_marks(form or "quatrain", lines)


def _chinese_marks(form: str, lines: list[str], rhyme_book: str) -> dict[str, Any]:
    from museforge.text.chinese import FORMS, ChineseForm, annotate_chinese, verify_chinese

    spec = ChineseForm(form, rhyme_book=rhyme_book)
    rows = FORMS[spec.form].lines
    lines = _rows(lines, rows)
    # The annotation repeats the 句 before its marks: keep only the marks.
    marks = [
        annotate_chinese(line, spec.rhyme_book)[len(line) :].strip() if line else ""
        for line in lines
    ]
    verdict = None
    if all(lines):
        couplets = [f"{lines[i]}，{lines[i + 1]}。" for i in range(0, rows, 2)]
        verdict = verify_chinese("\n".join(couplets), spec)
    return {"rows": rows, "marks": marks, "violations": verdict}


def _english_marks(form: str, lines: list[str]) -> dict[str, Any]:
    from museforge.text.english import english_form, verify_english
    from museforge.text.prosody import line_syllables, rhymes, rhyming_part, words_of

    spec = english_form(form)
    targets, keys = spec.targets(), spec.rhyme_keys()
    lines = _rows(lines, spec.lines)
    marks = []
    first: dict[object, str] = {}  # rhyme letter -> the first written line's last word
    for line, target, key in zip(lines, targets, keys, strict=True):
        if not line:
            marks.append("")
            continue
        syllables = line_syllables(line)
        count = f"{syllables}" if target is None else f"{syllables}/{target}"
        last = (words_of(line) or [""])[-1]
        rhyme = ""
        if key is not None:
            rhyme = f" · {key} ({last})"
            partner = first.setdefault(key, last)
            if partner != last and not rhymes(partner, last):
                rhyme += f" ✗ no rhyme with {partner!r}"
            elif rhyming_part(last) is None:
                rhyme += " ✗ no rhyme sound"
        marks.append(f"{count} syllables{rhyme}")
    verdict = verify_english("\n".join(lines), spec) if all(lines) else None
    return {"rows": spec.lines, "marks": marks, "violations": verdict}


def _rows(lines: list[str], rows: int) -> list[str]:
    """The lines, stripped, padded or cut to the form's number of rows."""
    found = [str(line).strip() for line in lines[:rows]]
    return found + [""] * (rows - len(found))
