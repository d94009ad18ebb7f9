"""The caption words a text-to-image model learnt from, and the words of a prompt it never saw.

A word is a run of letters (lower-cased) outside Chinese script; Chinese has no spaces, so
there a "word" is a pair of neighbouring Chinese characters (a character bigram). The
model's manifest keeps each caption language's words, commonest first, at most
``MAX_WORDS`` of them, so a prompt can be checked and the studio can suggest words. The
studio (static/words.js) marks a prompt's unseen words by the same rules.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

MAX_WORDS = 3000  # per language: keeps model.json small (some 30 KB a language)
_HAN = r"\u3400-\u9fff\uf900-\ufaff"  # as folders.language_of
_WORD = re.compile(rf"[^\W\d_{_HAN}]+|[{_HAN}]+")
_HAN_RUN = re.compile(rf"^[{_HAN}]+$")


def caption_words(text: str) -> list[str]:
    """The words of a caption: letter words lower-cased, and each pair of neighbouring
    Chinese characters (a lone Chinese character is a word of its own)."""
    out = []
    for run in _WORD.findall(text):
        if not _HAN_RUN.match(run):
            out.append(run.lower())
        else:
            out += [run[i : i + 2] for i in range(len(run) - 1)] or [run]
    return out


def caption_vocabulary(captions: list[dict[str, str]]) -> dict[str, Any]:
    """The manifest's record of the words of ``captions`` (one dict language -> caption per
    picture): ``words`` per language, commonest first (ties alphabetical), at most
    MAX_WORDS; ``distinct`` per language, how many there were before the cap."""
    counts: dict[str, Counter] = {}
    for caption in captions:
        for lang, text in caption.items():
            counts.setdefault(lang, Counter()).update(caption_words(text))
    words, distinct = {}, {}
    for lang, counter in sorted(counts.items()):
        ranked = sorted(counter.items(), key=lambda wc: (-wc[1], wc[0]))
        words[lang] = [w for w, _ in ranked[:MAX_WORDS]]
        distinct[lang] = len(ranked)
    return {"words": words, "distinct": distinct}


def unseen_words(prompt: str, vocabulary: dict[str, Any]) -> list[str]:
    """The parts of ``prompt`` the model never saw in its captions (``vocabulary`` as
    recorded by :func:`caption_vocabulary`; a word of any caption language counts), in
    order. A letter word is unseen if it is not recorded; a Chinese character is unseen
    where it forms a recorded pair with neither neighbour (so "白色背景上有一个红色龙"
    names "龙", not the new pairs "上有" and "个红" where known words meet); neighbouring
    unseen characters are named together."""
    seen = {w for words in vocabulary.get("words", {}).values() for w in words}
    if not seen:
        return []
    unseen = [False] * len(prompt)
    for m in _WORD.finditer(prompt):
        run, at = m.group(), m.start()
        if not _HAN_RUN.match(run):
            marks = [run.lower() not in seen] * len(run)
        elif len(run) == 1:
            marks = [run not in seen and not any(run in w for w in seen)]
        else:
            marks = [True] * len(run)
            for i in range(len(run) - 1):
                if run[i : i + 2] in seen:
                    marks[i] = marks[i + 1] = False
        unseen[at : at + len(run)] = marks
    return list(dict.fromkeys(prompt[a:b].lower() for a, b in _spans(unseen)))


def _spans(flags: list[bool]) -> list[tuple[int, int]]:
    """(start, end) of each run of True in ``flags``."""
    text = "".join("1" if f else "0" for f in flags)
    return [m.span() for m in re.finditer("1+", text)]


def unseen_note(prompt: str, vocabulary: dict[str, Any] | None) -> str | None:
    """One line naming the prompt's unseen words, or None (also for models trained before
    vocabularies were recorded). Where the record was capped, a word may have been seen
    rarely, and the line says so."""
    if not vocabulary:
        return None
    missing = unseen_words(prompt, vocabulary)
    if not missing:
        return None
    shown = ", ".join(repr(w) for w in missing[:10])
    capped = any(
        vocabulary.get("distinct", {}).get(lang, 0) > len(words)
        for lang, words in vocabulary.get("words", {}).items()
    )
    if capped:
        return f"the model never saw, or seldom saw: {shown} (it keeps its {MAX_WORDS} commonest)"
    return f"the model never saw: {shown}"
