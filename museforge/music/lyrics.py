"""Lyrics meet music: a poem's syllables, one note each.

Syllables come from the text modality's prosody: the CMU dictionary (with a fallback
guess) for English, one syllable per Han character for Chinese. The ``lyrics`` verb of a
music LM (:mod:`museforge.music.verbs_lm`) samples a melody with exactly that many notes,
so every syllable has its note; the MusicXML carries the lyrics.
"""

from __future__ import annotations

import re

from museforge.text.prosody import count_syllables

MAX_SYLLABLES = 120
EXTENSION = "_"  # a word's later syllables: the word is printed once, under its first note
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def syllables_of(text: str) -> list[str]:
    """One entry per sung syllable: Han characters one each; an English word of k
    syllables gives the word then k-1 extension marks."""
    if _HAN.search(text):
        return _HAN.findall(text)
    out: list[str] = []
    for word in _WORD.findall(text):  # as written (the prosody helpers lower-case)
        out += [word] + [EXTENSION] * (max(1, count_syllables(word)) - 1)
    return out
