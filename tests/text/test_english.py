"""English verse forms and lyrics: constraints produce what the verifiers accept."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
import torch

from museforge.errors import InputError
from museforge.text.english import (
    FREE_LINE_CHARS,
    EnglishForm,
    LyricsForm,
    annotate_english,
    english_form,
    lyrics_sections,
    make_english_constraint,
    make_lyrics_constraint,
    verify_english,
    verify_lyrics,
)
from museforge.text.prosody import (
    DEFAULT_MIN_ZIPF,
    lexicon,
    line_syllables,
    rhymes,
    uncommon_words,
    words_of,
    zipf,
)

CORPUS = Path("/usr/share/games/fortunes/songs-poems")
SPECIALS = ["\x03", "\x01"]  # end marker, unknown


@pytest.fixture(scope="module")
def vocab() -> list[str]:
    """The characters of the real English corpus, plus the model's special entries."""
    if CORPUS.is_file():
        chars = set(CORPUS.read_text(encoding="utf-8", errors="replace"))
    else:  # without Debian's fortunes: printable ASCII is what that corpus holds anyway
        chars = set(string.printable) - set("\r\x0b\x0c")
    return sorted(chars) + SPECIALS


def sample(con, vocab: list[str], seed: int, end_bias: float = 0.4, steps: int = 6000) -> str:
    """A stand-in sampler: uniform over the allowed characters, but preferring " " and
    "\\n" when allowed so words stay short; stops at random once the form is done."""
    g = torch.Generator().manual_seed(seed)
    out: list[str] = []
    for _ in range(steps):
        if con.done and torch.rand(1, generator=g).item() < 0.3:
            return "".join(out)
        mask = con.allowed()
        assert mask.dtype == torch.bool and mask.shape == (len(vocab),)
        assert not mask[len(vocab) - 2 :].any(), "a special entry was allowed"
        ids = torch.nonzero(mask).flatten().tolist()
        if not ids:
            assert con.done, f"dead end after {''.join(out)!r}"
            return "".join(out)
        ends = [i for i in ids if vocab[i] in " \n"]
        if ends and torch.rand(1, generator=g).item() < end_bias:
            ids = ends
        char = vocab[ids[int(torch.randint(len(ids), (1,), generator=g))]]
        out.append(char)
        con.advance(char)
    pytest.fail(f"no end after {steps} steps: {''.join(out)[-200:]!r}")


def lines_of(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


def check_rhymes(lines: list[str], scheme: str) -> None:
    letters = scheme.replace(" ", "")
    last = [words_of(line)[-1] for line in lines]
    for j, b in enumerate(letters):
        for i, a in enumerate(letters[:j]):
            if a == b and a not in "X-":
                assert rhymes(last[i], last[j]), (last[i], last[j])
            elif a != b and "X" not in (a, b):
                assert not rhymes(last[i], last[j]) and last[i] != last[j], (last[i], last[j])


@pytest.mark.parametrize("name", ["couplet", "quatrain", "ballad", "limerick", "sonnet", "haiku"])
def test_presets_hold_by_construction(vocab: list[str], name: str) -> None:
    form = english_form(name)
    for seed in range(4):
        # Both short and long words: the second pass walks deep into the trie.
        text = sample(
            make_english_constraint(form, vocab), vocab, seed, end_bias=0.4 if seed % 2 else 0.05
        )
        assert verify_english(text, form) == [], text
        assert not text.endswith("\n")
        lines = lines_of(text)
        assert len(lines) == form.lines
        assert [line_syllables(line) for line in lines] == list(form.targets())
        if form.rhyme_scheme:
            check_rhymes(lines, form.rhyme_scheme)
        assert uncommon_words(text) == [], text
        assert not re.search(r"[,;:][,;:.!?]", text), text  # only . ! ? run on


def test_every_word_is_common_in_free_lines_too(vocab: list[str]) -> None:
    """Free lines hold only dictionary words common enough, whatever the sampler picks."""
    form = english_form("free")
    for seed, bias in [(0, 0.3), (1, 0.05)]:
        text = sample(make_english_constraint(form, vocab), vocab, seed, end_bias=bias)
        assert verify_english(text, form) == [], text
        assert len(words_of(text)) >= 8
        assert uncommon_words(text) == [], text


def test_min_zipf_sets_how_common_words_must_be(vocab: list[str]) -> None:
    chars = frozenset("abcdefghijklmnopqrstuvwxyz'")
    assert zipf("schaum") < DEFAULT_MIN_ZIPF <= zipf("ere")
    assert "schaum" in lexicon(chars, 0.0).index
    assert "schaum" not in lexicon(chars, DEFAULT_MIN_ZIPF).index
    assert "ere" in lexicon(chars, DEFAULT_MIN_ZIPF).index
    strict = english_form("couplet", min_zipf=5.0)
    text = sample(make_english_constraint(strict, vocab), vocab, 3)
    assert verify_english(text, strict) == []
    assert uncommon_words(text, 5.0) == [], text
    with pytest.raises(InputError, match="min_zipf"):
        english_form("couplet", min_zipf=-1)
    with pytest.raises(InputError, match="min_zipf"):
        LyricsForm(min_zipf=9)


def test_names_need_to_be_very_common(monkeypatch: pytest.MonkeyPatch) -> None:
    from museforge.text import prosody

    monkeypatch.setattr(prosody, "_lower_case_words", lambda: frozenset({"moon", "stun"}))
    assert prosody.is_common("moon") and prosody.is_common("stun")
    assert not prosody.is_common("anne")  # listed only as a name, and not common enough
    assert prosody.is_common("london")  # a name common enough to pass
    assert prosody.is_common("i'm")  # "I'm" is capitalised in every dictionary
    assert prosody.is_common("anne", 0.0)  # 0: any dictionary word
    monkeypatch.setattr(prosody, "_lower_case_words", lambda: None)  # no word list installed
    assert prosody.is_common("anne")


def test_sonnet_layout(vocab: list[str]) -> None:
    text = sample(make_english_constraint(english_form("sonnet"), vocab), vocab, 7)
    rows = text.split("\n")
    assert len(rows) == 14 + 3
    assert [i for i, row in enumerate(rows) if not row] == [4, 9, 14]  # after 4, 8, 12


def test_acrostic(vocab: list[str]) -> None:
    for name, word in [("quatrain", "Love"), ("sonnet", "Shakespeare ok"), ("free", "Poetry!")]:
        form = english_form(name, acrostic=word)
        letters = "".join(ch for ch in word if ch.isalpha())
        for seed in range(3):
            text = sample(make_english_constraint(form, vocab), vocab, seed)
            assert verify_english(text, form) == [], text
            starts = "".join(line[0] for line in lines_of(text))
            assert starts.startswith(letters.upper())  # forced in capitals


def test_free_verse_with_rhymes(vocab: list[str]) -> None:
    form = english_form("free", rhyme_scheme="AABB CCDD", acrostic="quixotic")
    for seed, bias in [(0, 0.4), (1, 0.05), (2, 0.0)]:
        text = sample(make_english_constraint(form, vocab), vocab, seed, end_bias=bias)
        assert verify_english(text, form) == [], text
        lines = lines_of(text)
        assert len(lines) == 8
        # Long lines are steered to a rhyme word and closed.
        assert max(len(line) for line in lines) <= FREE_LINE_CHARS + 40
        check_rhymes(lines, "AABBCCDD")


def test_done_mask_is_empty_and_letters_keep_the_form(vocab: list[str]) -> None:
    con = make_english_constraint(EnglishForm(lines=1, syllables=1), vocab)
    assert not con.done
    for char in "Day":
        con.advance(char)
    assert con.done  # complete, and "days" would be too: the model's end marker decides
    allowed = {vocab[i] for i in torch.nonzero(con.allowed()).flatten().tolist()}
    assert "s" in allowed and "." in allowed and "\n" not in allowed and " " not in allowed


def test_lyrics_repeat_the_chorus(vocab: list[str]) -> None:
    for form in [
        LyricsForm("V C V C B C", syllables=8),
        LyricsForm("verse chorus verse chorus", syllables=(7, 5), rhyme_scheme="ABAB"),
        LyricsForm("chorus verse chorus"),  # free lines, rhymed
    ]:
        for seed in range(2):
            text = sample(make_lyrics_constraint(form, vocab), vocab, seed)
            assert verify_lyrics(text, form) == [], text
            sections = lyrics_sections(text, form)
            assert len(sections) == len(form.structure)
            assert uncommon_words(text) == [], text
            choruses = [body for label, body in sections if label == "Chorus"]
            assert len(set(choruses)) == 1
            verses = [body for label, body in sections if label.startswith("Verse")]
            assert all(len(lines_of(v)) == form.verse_lines for v in verses)


def test_lyrics_sections_labels() -> None:
    form = LyricsForm("V C V C B C", verse_lines=1, chorus_lines=1, bridge_lines=1)
    text = "a\n\nb\n\nc\n\nb\n\nd\n\nb\n\nextra"
    labels = [label for label, _ in lyrics_sections(text, form)]
    assert labels == ["Verse 1", "Chorus", "Verse 2", "Chorus", "Bridge", "Chorus", "Extra 1"]


SONNET_18 = """\
Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:
Rough winds do shake the darling buds of May,
And summer's lease hath all too short a date:

Sometime too hot the eye of heaven shines,
And often is his gold complexion dimm'd;
And every fair from fair sometime declines,
By chance or nature's changing course untrimm'd;

But thy eternal summer shall not fade
Nor lose possession of that fair thou owest;
Nor shall Death brag thou wander'st in his shade,
When in eternal lines to time thou growest:

So long as men can breathe or eyes can see,
So long lives this and this gives life to thee."""


QUATRAIN = """\
The morning light is soft and gray,
The river runs beneath the hill;
I walk alone along the way,
And all the world is very still."""


def test_verifier_catches_violations() -> None:
    form = english_form("quatrain")
    good = QUATRAIN
    assert verify_english(good, form) == []
    seven = good.replace("I walk alone", "I walk")
    assert verify_english(seven, form) == [
        "line 3 has 6 syllables, expected 8: 'I walk along the way,'"
    ]
    norhyme = good.replace("along the way", "along the road")
    problems = verify_english(norhyme, form)
    assert len(problems) == 1 and "lines 1 and 3 should rhyme (A)" in problems[0]
    samewords = good.replace("along the way", "along the gray")
    assert "should rhyme" in verify_english(samewords, form)[0]  # a word is no rhyme to itself
    sonnet_line = "Shall I compare thee to a summer's day"
    nine = "Shall I compare thee to summer's day"
    sonnet = english_form("sonnet", rhyme_scheme=None)
    assert verify_english("\n".join([sonnet_line] * 14), sonnet) == []
    problems = verify_english("\n".join([sonnet_line] * 13 + [nine]), sonnet)
    assert problems == [f"line 14 has 9 syllables, expected 10: {nine!r}"]
    same = EnglishForm(lines=2, rhyme_scheme="AB")
    assert "different letters" in verify_english("a day\nthe bay", same)[0]
    assert verify_english(good + "\nOne more line", form) == ["expected 4 lines, got 5"]


def test_verifier_acrostic_and_sonnet_18() -> None:
    assert verify_english(SONNET_18, english_form("sonnet")) != []  # Shakespeare bends metre
    first4 = "\n".join(SONNET_18.split("\n")[:4])
    assert verify_english(first4, EnglishForm(lines=4, acrostic="STRA")) == []
    problems = verify_english(first4, EnglishForm(lines=4, acrostic="STRB"))
    assert problems == ["line 4 should start with 'B' (acrostic), starts with 'A'"]


def test_verifier_catches_a_changed_chorus() -> None:
    form = LyricsForm("V C V C", verse_lines=1, chorus_lines=2, rhyme_scheme=None)
    chorus = "la la away\nthe night is young"
    text = f"we sing all day\n\n{chorus}\n\nwe play\n\n{chorus}"
    assert verify_lyrics(text, form) == []
    changed = text[: text.rindex("young")] + "done"
    assert verify_lyrics(changed, form) == [
        "Chorus (section 4) does not repeat the first chorus word for word"
    ]
    assert "expected 4 sections" in verify_lyrics("one\n\ntwo", form)[0]


def test_annotate() -> None:
    out = annotate_english(SONNET_18).split("\n")
    assert out[0].startswith("Shall I compare thee to a summer's day?   ")
    assert out[0].endswith("[10] A")
    assert out[4] == ""  # stanza breaks stay
    out = annotate_english(QUATRAIN, english_form("quatrain")).split("\n")
    assert [line[-5:] for line in out] == ["[8] A", "[8] B", "[8] A", "[8] B"]
    off = annotate_english("Rough winds shake the darling buds of May", english_form("couplet"))
    assert "[9/10]" in off
    stressed = annotate_english("Shall I compare thee", stress=True)
    assert stressed.endswith("DUM DUM da-DUM DUM")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"lines": 4, "rhyme_scheme": "ABA"}, "has 3 lines but the form has 4"),
        ({"lines": 4, "syllables": (8, 6, 8)}, "3 entries but the form has 4"),
        ({"lines": 2, "syllables": 0}, "in 1..30"),
        ({"lines": 2, "syllables": -3}, "in 1..30"),
        ({"lines": 2, "syllables": 31}, "in 1..30"),
        ({"lines": 2, "syllables": (8, 99)}, "in 1..30"),
        ({"lines": 2, "acrostic": "abc"}, "has 3 letters but the form has only 2 lines"),
        ({"lines": 2, "acrostic": "123"}, "no letters"),
        ({"lines": 2, "rhyme_scheme": "A1"}, "may hold only letters"),
        ({"lines": 2, "stanza_breaks": (2,)}, "stanza break after line 2"),
        ({"lines": 0}, "lines must be a whole number"),
    ],
)
def test_form_errors(settings: dict, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        EnglishForm(**settings)


def test_preset_and_lyrics_errors(vocab: list[str]) -> None:
    with pytest.raises(InputError, match="unknown English form"):
        english_form("villanelle")
    with pytest.raises(InputError, match="unknown form setting"):
        english_form("sonnet", meter="iambic")
    with pytest.raises(InputError, match="has 4 lines but the form has 8"):
        english_form("quatrain", lines=8)
    with pytest.raises(InputError, match="unknown song section"):
        LyricsForm("verse hook")
    with pytest.raises(InputError, match=r"1\.\.24 sections"):
        LyricsForm("")
    with pytest.raises(InputError, match="no lower-case letters"):
        make_english_constraint(english_form("haiku"), ["A", "B", " ", "\n"])
    with pytest.raises(InputError, match="acrostic letter 'z'"):
        make_english_constraint(english_form("quatrain", acrostic="zoo"), [*"abcdo \n"])
    assert english_form("Quatrain", lines=8, rhyme_scheme="ABAB CDCD").lines == 8


def test_kept_lines_are_written_as_given_and_set_the_rhyme(vocab: list[str]) -> None:
    form = english_form("quatrain")  # ABAB, 8 syllables
    kept = "I walk alone along the way,"
    for keep in ({2: kept}, {0: kept}):  # line 3: line 1 must already rhyme with "way"
        for seed in range(3):
            text = sample(make_english_constraint(form, vocab, keep=keep), vocab, seed)
            lines = lines_of(text)
            (index,) = keep
            assert lines[index] == kept, text
            partner = 2 if index == 0 else 0
            assert rhymes(words_of(lines[partner])[-1], "way"), text
            assert words_of(lines[partner])[-1] != "way"
            assert verify_english(text, form) == [], text
    free = english_form("free", rhyme_scheme="AABB CCDD")
    text = sample(make_english_constraint(free, vocab, keep={7: "Under the sea"}), vocab, 1)
    assert lines_of(text)[-1] == "Under the sea" and rhymes(words_of(lines_of(text)[6])[-1], "sea")


def test_kept_lines_that_cannot_be_kept_are_refused(vocab: list[str]) -> None:
    form = english_form("quatrain")
    for keep, message in [
        ({4: "One line too many"}, "outside the poem's 4 lines"),
        ({1: "It ends on a word like xqzt"}, "cannot rhyme"),
        ({1: "Snow ☃ falls"}, "never seen"),
        ({0: "Hello there", 2: "A cat on the mat"}, "does not rhyme with the other kept line"),
    ]:
        with pytest.raises(InputError, match=message):
            make_english_constraint(form, vocab, keep=keep)
    acrostic = english_form("quatrain", acrostic="LOVE")
    with pytest.raises(InputError, match="should begin with 'O'"):
        make_english_constraint(acrostic, vocab, keep={1: "Never mind"})
