"""The substring index behind every originality check."""

from __future__ import annotations

import random

from museforge.core.copying import SEPARATOR, SubstringIndex


def brute_force(training: str, text: str) -> int:
    docs = training.split(SEPARATOR)
    best = 0
    for i in range(len(text)):
        for j in range(i + best + 1, len(text) + 1):
            if SEPARATOR in text[i:j] or not any(text[i:j] in d for d in docs):
                break
            best = j - i
    return best


def test_longest_match_agrees_with_brute_force_on_random_strings():
    rng = random.Random(0)
    for _ in range(50):
        training = "".join(rng.choice("abc" + SEPARATOR) for _ in range(rng.randint(0, 40)))
        text = "".join(rng.choice("abcd") for _ in range(rng.randint(0, 30)))
        length, span = SubstringIndex(training).longest_match(text)
        assert length == brute_force(training, text) == len(span)
        assert span in text and (not span or any(span in d for d in training.split(SEPARATOR)))


def test_matches_never_cross_a_separator_and_states_stay_linear():
    index = SubstringIndex(f"hello{SEPARATOR}world")
    assert index.longest_match("helloworld") == (5, "hello")
    assert index.longest_match(f"lo{SEPARATOR}wo") == (2, "lo")
    assert SubstringIndex("abracadabra" * 20).num_states <= 2 * 220
