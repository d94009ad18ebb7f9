"""CMU prosody: syllables, rhymes, stress and the implicit letter trie."""

from __future__ import annotations

import string
import time

import pytest

from museforge.text import prosody
from museforge.text.prosody import (
    WordSet,
    count_syllables,
    lexicon,
    line_syllables,
    rhymes,
    rhyming_part,
    stress_pattern,
    words_of,
)

ALL = frozenset(string.ascii_lowercase + "'")


def test_trie_build_time() -> None:
    prosody._cmu()  # the dictionary itself is pronouncing's; time our part
    prosody._entries.cache_clear()
    prosody.lexicon.cache_clear()
    start = time.perf_counter()
    lex = lexicon(ALL)
    took = time.perf_counter() - start
    print(f"\nlexicon of {len(lex.words)} words built in {took:.2f} s")
    assert len(lex.words) > 100_000


def test_words_and_counts() -> None:
    assert words_of("Shall I compare thee to a summer's day?") == [
        "shall", "i", "compare", "thee", "to", "a", "summer's", "day",
    ]  # fmt: skip
    assert words_of("'Tis light-o'-love, dogs'") == ["tis", "light", "o", "love", "dogs"]
    assert count_syllables("beautiful") == 3
    assert count_syllables("Beautiful!") == 3
    assert count_syllables("every") == 3  # CMU's first pronunciation, not "ev-ry"
    assert count_syllables("well-known") == 2
    assert count_syllables("...") == 0
    assert line_syllables("Shall I compare thee to a summer's day?") == 10


@pytest.mark.parametrize(
    ("word", "expected"),
    [("zorbled", 1), ("flomple", 2), ("brinkstone", 2), ("quoxes", 2), ("grimpling", 2)],
)
def test_out_of_dictionary_heuristic(word: str, expected: int) -> None:
    assert prosody.phones_of(word) is None
    assert count_syllables(word) == expected


def test_rhymes() -> None:
    assert rhymes("day", "away")
    assert rhymes("Day,", "AWAY!")
    assert not rhymes("day", "night")
    assert not rhymes("day", "day")  # the same word is no rhyme
    assert rhymes("birthday", "day")  # secondary stress counts as stress
    assert not rhymes("zorbled", "morbled")  # unknown words have no rhyme
    assert rhyming_part("day") == "EY1"
    assert rhyming_part("purple") == "ER1 P AH0 L"
    assert rhyming_part("zorbled") is None


def test_stress_pattern() -> None:
    assert stress_pattern("compare") == "da-DUM"
    assert stress_pattern("beautiful day") == "DUM-da-da DUM"
    assert stress_pattern("zorbled") == "?"


def test_lexicon_queries() -> None:
    lex = lexicon(ALL)
    node = lex.root
    for ch in "day":
        node = lex.children(node)[ch]
    w = lex.word_at(node)
    assert w is not None and lex.words[w] == "day" and lex.syl[w] == 1
    assert lex.syllable_mask(node) & 0b110  # "day" (1) and "daylight" (2) lie below
    its = lex.child(lex.child(lex.child(lex.root, "i"), "t"), "'")
    assert its is not None and lex.words[lex.word_at(lex.child(its, "s"))] == "it's"
    assert lex.parts[lex.cls[w]] == "EY1"
    away = lex.index["away"]
    assert lex.cls[away] == lex.cls[w]


def test_lexicon_respects_the_character_set() -> None:
    lex = lexicon(frozenset("abcdefghijklmnopqrstuvwy"))  # no x, z, nor "'"
    assert all("x" not in w and "z" not in w and "'" not in w for w in lex.words)
    assert lex.child(lex.root, "z") is None


def test_starters_leave_partners() -> None:
    lex = lexicon(ALL)
    good = lex.starters(3, 2)
    for s, found in good.items():
        for i in found[:: max(1, len(found) // 50)]:
            same = lex.class_words(lex.cls[i])
            short = sum(len(v) for k, v in same.items() if k <= 2)
            assert short - (lex.syl[i] <= 2) >= 3, (lex.words[i], s)


def test_word_sets() -> None:
    lex = lexicon(ALL)
    day, way = lex.index["day"], lex.index["way"]
    rhyme = lex.cls[day]
    node_d = lex.child(lex.root, "d")
    everything = WordSet(lex, None, "any")
    assert everything.has(node_d, 1) and everything.contains(day)
    no_ey = WordSet(lex, None, "no-ey", banned=(rhyme,))
    assert not no_ey.contains(day) and no_ey.contains(lex.index["night"])
    rhymes_day = WordSet(lex, lex.class_words(rhyme), "ey", excluded=(day,))
    assert rhymes_day.contains(way) and not rhymes_day.contains(day)
    node_da = lex.child(node_d, "a")
    node_day = lex.child(node_da, "y")
    # Below "day", "day" and "daye" (a name) have the sound; "day" is excluded.
    assert rhymes_day.count(node_day, 1) == 1
    assert no_ey.count(node_day, 1) == everything.count(node_day, 1) - 2  # "days" etc. stay
    assert rhymes_day.has_any(lex.child(lex.root, "w"))
    assert rhymes_day.min_syllables(5) == 1
