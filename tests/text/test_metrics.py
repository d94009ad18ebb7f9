import math
import random

import pytest

from museforge.bench.constraints import brute_longest
from museforge.text.metrics import (
    DOC_SEPARATOR,
    CopyIndex,
    bits_per_char,
    distinct_n,
    non_word_share,
    repeated_line_share,
)

POEM = "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。\n"


def random_text(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def test_bits_per_char():
    assert bits_per_char(math.log(2) * 37, 37) == pytest.approx(1.0)
    assert bits_per_char(0.0, 5) == 0.0
    with pytest.raises(ValueError):
        bits_per_char(1.0, 0)


def test_distinct_n_known_counts():
    assert distinct_n(["aaaa"], 1) == pytest.approx(1 / 4)
    assert distinct_n(["aaaa"], 2) == pytest.approx(1 / 3)
    assert distinct_n(["abcd"], 2) == 1.0
    # Unique n-grams are pooled across texts: {ab, ba} out of 3 + 2.
    assert distinct_n(["abab", "aba"], 2) == pytest.approx(2 / 5)
    assert distinct_n([], 1) == 0.0
    assert distinct_n(["ab"], 3) == 0.0
    with pytest.raises(ValueError):
        distinct_n(["ab"], 0)


def test_distinct_n_never_spans_lines():
    # "ab" and "cd": 2 bigrams, no "b\n", "\nc" or "bc".
    assert distinct_n(["ab\ncd"], 2) == 1.0
    assert distinct_n(["ab\ncd"], 3) == 0.0
    assert distinct_n(["ab\r\nab\n\n"], 2) == pytest.approx(1 / 2)
    assert distinct_n(["床前\n床前"], 1) == pytest.approx(2 / 4)


@pytest.mark.parametrize("alphabet", ["ab", "abc\n", "月光霜明", "ab" + DOC_SEPARATOR])
def test_longest_copied_span_matches_brute_force(alphabet):
    for seed in range(60):
        rng = random.Random(seed)
        training = random_text(rng, alphabet, rng.randint(0, 60))
        index = CopyIndex(training)
        for _ in range(5):
            text = random_text(rng, alphabet, rng.randint(0, 30))
            length, span = index.longest_copied_span(text)
            assert length == brute_longest(training, text), (training, text)
            assert len(span) == length and span in text and span in training
            assert DOC_SEPARATOR not in span


def test_runs_of_spaces_count_as_one_in_copied_spans():
    index = CopyIndex("centred:" + " " * 30 + "the sea at night\n")
    assert index.longest_copied_span(" " * 40) == (1, " ")  # indentation is no copy
    assert index.longest_copied_span("xthe  sea\tat night") == (16, "the sea at night")


def test_automaton_state_bound():
    rng = random.Random(1)
    training = random_text(rng, "abc", 2000)
    assert CopyIndex(training).num_states <= 2 * len(training)


def test_longest_copied_span_chinese():
    index = CopyIndex(POEM)
    assert index.longest_copied_span("我看明月光，疑是地上霜吗") == (9, "明月光，疑是地上霜")
    assert index.longest_copied_span("") == (0, "")
    assert index.longest_copied_span("春眠不觉晓") == (0, "")


def test_separator_breaks_spans():
    index = CopyIndex(f"hello{DOC_SEPARATOR}world")
    # The separator neither joins training documents nor generated text.
    assert index.longest_copied_span("helloworld") == (5, "hello")
    length, span = index.longest_copied_span(f"xhello{DOC_SEPARATOR}worldx")
    assert (length, span) == (5, "hello")
    assert index.longest_copied_span(DOC_SEPARATOR * 3) == (0, "")


def test_verbatim_lines():
    training = f"The moon is bright tonight,\nover the sea.\nok\n{DOC_SEPARATOR}{POEM}"
    index = CopyIndex(training)
    text = "\n".join(
        [
            "  The moon is bright tonight.  ",  # copied: whitespace, final punctuation differ
            "The moon is bright tonite,",  # one character differs
            "ok",  # too short to count
            "举头望明月，思念我故乡。",  # one copied clause
            "疑是地上霜",  # a training clause as a whole line
            "疑是地上雪。",  # one character differs
            "明月，光。",  # short clauses only
        ]
    )
    assert index.verbatim_lines(text) == [
        "The moon is bright tonight.",
        "举头望明月，思念我故乡。",
        "疑是地上霜",
    ]


def test_verbatim_lines_ignores_short_lines():
    index = CopyIndex("abc\nabcd\n", min_line_chars=4)
    assert index.verbatim_lines("abc\nabcd!\n") == ["abcd!"]
    assert CopyIndex("abc\n", min_line_chars=3).verbatim_lines("abc") == ["abc"]


def test_report_aggregates():
    index = CopyIndex(POEM)
    texts = ["举头望明月，低头看星星。\n春眠不觉晓", "床前明月光\n处处闻啼鸟\n风雨", ""]
    report = index.report(texts)
    assert report == {
        "longest_copied_span": 8,
        "longest_copied_text": "举头望明月，低头",
        "mean_longest_copied_span": pytest.approx((8 + 5 + 0) / 3),
        # Checked: 4 lines ("风雨" is too short); copied: the first and third.
        "verbatim_line_share": pytest.approx(2 / 4),
        "lines_checked": 4,
        "lines_copied": 2,
    }


def test_report_empty():
    report = CopyIndex("abc").report([])
    assert report["longest_copied_span"] == 0
    assert report["longest_copied_text"] == ""
    assert report["mean_longest_copied_span"] == 0.0
    assert report["verbatim_line_share"] == 0.0
    assert report["lines_checked"] == 0


def test_non_word_share_counts_rare_words_and_lone_letters():
    assert non_word_share(["the moon is bright"], 3.0) == 0.0
    assert non_word_share(["the schaum is d"], 3.0) == 0.5  # "schaum" rare, "d" a letter
    assert non_word_share(["", "..."], 3.0) == 0.0
    assert non_word_share(["whither the moon"], 2.0) == 0.0  # a lower bar lets it in
    assert non_word_share(["whither the moon"], 3.0) == 1 / 3


def test_repeated_line_share():
    texts = ["Rain falls,\nthe sun\nrain falls.\n\n", "one\ntwo"]
    assert repeated_line_share(texts) == 1 / 5  # line 3 repeats line 1; blanks not counted
    assert repeated_line_share(["a\nb", "a\nb"]) == 0.0  # only within one text
    assert repeated_line_share([]) == 0.0
