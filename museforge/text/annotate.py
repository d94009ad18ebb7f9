"""A poem annotated line by line for its language: 平仄 and rhyme, or syllables and rhyme."""

from __future__ import annotations


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
