"""English verse forms and song lyrics, enforced character by character while sampling.

An :class:`EnglishForm` (or a preset from :func:`english_form`) says what a poem must meet:
a line count, syllables per line, a rhyme scheme, an acrostic. :func:`make_english_constraint`
turns it into a per-sample :class:`~museforge.text.constraints.Constraint`; the verifiers
accept exactly what the constraints can produce, since both use :mod:`~museforge.text.prosody`.

Decisions worth knowing:

* Layout: one line per text line, no trailing newline; the form is complete (``done``) as
  soon as its last line is, and stays so while the model adds letters that keep it complete
  ("day" -> "days") or closing punctuation, so the model's own end marker picks the moment.
  Stanza breaks are one blank line; the verifiers ignore blank lines.
* Every word is a dictionary word (CMU) that is also common: at least ``min_zipf`` in
  wordfreq's frequency list (:data:`~museforge.text.prosody.DEFAULT_MIN_ZIPF`; 0 lets any
  CMU word in), so the sampler can neither invent a spelling nor reach for the names and
  oddities of the dictionary. Words are separated by one space, with up to three of
  ``, ; : . ! ?`` (those in the vocabulary) straight after a word, where only ``. ! ?``
  follow a mark ("...", "?!", never ",,," or ",."). Letters may be in
  either case at a word start and stay lower-case after, unless the word so far is all
  capitals. No capitalisation is forced except the acrostic letter (upper-case when the
  vocabulary has it).
* Rhyme: a line whose scheme letter appeared before must end in a different word with the
  same rhyming part (:func:`~museforge.text.prosody.rhymes`) as every earlier line of that
  letter, and lines of different letters never share a rhyming part (ABAB: B is another
  sound than A). A letter's first line may only end in a word whose rhyme sound has enough
  other short words for the lines still to come, so later lines never run out of rhymes.
  The final word is known when it starts: with r syllables left, a word of exactly r
  syllables must come from the line's set of allowed final words.
* Lyrics: sections are separated by one blank line; the first chorus is generated under
  the section rules and every later chorus is forced character by character to repeat it.
* Without syllable targets a line holds any number of words; a rhymed line ends on a
  word of the right sound. A word begun past ``FREE_LINE_CHARS`` characters must be one
  that may end the line, and the line closes after it, so nothing runs forever.
* Acrostic: only the ASCII letters of the string count ("Love me" -> L O V E M E); each
  forces the first character of its line. It may be shorter than the poem.
"""

from __future__ import annotations

import re
from collections.abc import Container, Hashable, Sequence
from dataclasses import dataclass, fields
from functools import cache

import torch

from museforge.errors import InputError
from museforge.text.prosody import (
    DEFAULT_MIN_ZIPF,
    MAX_WORD_SYLLABLES,
    MAX_ZIPF,
    Node,
    WordSet,
    count_syllables,
    lexicon,
    line_syllables,
    rhymes,
    rhyming_part,
    stress_pattern,
    words_of,
)

__all__ = [
    "PRESETS",
    "EnglishForm",
    "LyricsForm",
    "annotate_english",
    "count_syllables",
    "english_form",
    "line_syllables",
    "lyrics_sections",
    "make_english_constraint",
    "make_lyrics_constraint",
    "rhymes",
    "rhyming_part",
    "verify_english",
    "verify_lyrics",
]

MAX_SYLLABLES = 30  # per line
MAX_LINES = 100  # per poem
MAX_SECTION_LINES = 32
MAX_SECTIONS = 24
FREE_LINE_CHARS = 100  # a free line past this is steered to its final word
PUNCTUATION = ",;:.!?"
STOPS = ".!?"  # only these run on ("...", "?!"); a comma, semicolon or colon stands alone
MAX_PUNCT_RUN = 3  # "..." or "?!" but not a wall of dots
NO_BUDGET = 99  # rhyme partners without a syllable target

# --- forms --------------------------------------------------------------------------------


def _check_syllables(value: object) -> int | tuple[int, ...] | None:
    if value is None:
        return None
    values = tuple(value) if isinstance(value, list | tuple) else (value,)
    if not values:
        raise InputError("syllables must not be empty")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int):
            raise InputError(f"syllables must be whole numbers (got {v!r})")
        if not 1 <= v <= MAX_SYLLABLES:
            raise InputError(f"syllables per line must be in 1..{MAX_SYLLABLES} (got {v})")
    return values if isinstance(value, list | tuple) else values[0]


def _scheme_keys(scheme: str) -> tuple[str | None, ...]:
    """Rhyme letter per line (upper-case), None for an unrhymed line ("X" or "-")."""
    keys: list[str | None] = []
    for ch in scheme:
        if ch.isspace():
            continue
        if ch == "-" or ch in "xX":
            keys.append(None)
        elif ch.isascii() and ch.isalpha():
            keys.append(ch.upper())
        else:
            raise InputError(
                f"rhyme scheme {scheme!r} may hold only letters, 'X' or '-' (got {ch!r})"
            )
    if not keys:
        raise InputError(f"rhyme scheme {scheme!r} is empty")
    return tuple(keys)


def _check_zipf(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_ZIPF:
        raise InputError(
            f"min_zipf (how common every word must be) must be a number in 0..{MAX_ZIPF:g} "
            f"(got {value!r}; 3 = once per million words, 0 = any dictionary word)"
        )


def _check_lines(value: object, what: str, most: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise InputError(f"{what} must be a whole number in 1..{most} (got {value!r})")


@dataclass(frozen=True)
class EnglishForm:
    """What an English poem must meet; see the module docstring for the rules."""

    lines: int
    syllables: int | tuple[int, ...] | None = None
    rhyme_scheme: str | None = None
    acrostic: str | None = None
    stanza_breaks: tuple[int, ...] = ()
    min_zipf: float = DEFAULT_MIN_ZIPF

    def __post_init__(self) -> None:
        _check_lines(self.lines, "lines", MAX_LINES)
        _check_zipf(self.min_zipf)
        syllables = _check_syllables(self.syllables)
        if isinstance(syllables, tuple) and len(syllables) != self.lines:
            raise InputError(
                f"syllables list has {len(syllables)} entries but the form has {self.lines} lines"
            )
        object.__setattr__(self, "syllables", syllables)
        if self.rhyme_scheme is not None:
            keys = _scheme_keys(self.rhyme_scheme)
            if len(keys) != self.lines:
                raise InputError(
                    f"rhyme scheme {self.rhyme_scheme!r} has {len(keys)} lines "
                    f"but the form has {self.lines}"
                )
        if self.acrostic is not None:
            letters = _acrostic_letters(self.acrostic)
            if not letters:
                raise InputError(f"acrostic {self.acrostic!r} has no letters a-z")
            if len(letters) > self.lines:
                raise InputError(
                    f"acrostic {self.acrostic!r} has {len(letters)} letters "
                    f"but the form has only {self.lines} lines"
                )
        breaks = tuple(sorted(set(self.stanza_breaks)))
        for b in breaks:
            if isinstance(b, bool) or not isinstance(b, int) or not 1 <= b < self.lines:
                raise InputError(
                    f"stanza break after line {b!r} is not between lines 1 and {self.lines}"
                )
        object.__setattr__(self, "stanza_breaks", breaks)

    def targets(self) -> tuple[int | None, ...]:
        """Syllable target of each line (None = free)."""
        if isinstance(self.syllables, tuple):
            return self.syllables
        return (self.syllables,) * self.lines

    def rhyme_keys(self) -> tuple[Hashable | None, ...]:
        """Rhyme letter of each line; None = unrhymed."""
        if self.rhyme_scheme is None:
            return (None,) * self.lines
        return _scheme_keys(self.rhyme_scheme)

    def acrostic_letters(self) -> str:
        """Lower-case letter forced at the start of each of the first lines."""
        return _acrostic_letters(self.acrostic or "")


def _acrostic_letters(text: str) -> str:
    return "".join(ch for ch in text.lower() if "a" <= ch <= "z")


PRESETS: dict[str, dict[str, object]] = {
    "couplet": {"lines": 2, "syllables": 10, "rhyme_scheme": "AA"},
    "quatrain": {"lines": 4, "syllables": 8, "rhyme_scheme": "ABAB"},
    "ballad": {"lines": 4, "syllables": (8, 6, 8, 6), "rhyme_scheme": "ABCB"},
    "limerick": {"lines": 5, "syllables": (8, 8, 5, 5, 8), "rhyme_scheme": "AABBA"},
    "sonnet": {
        "lines": 14,
        "syllables": 10,
        "rhyme_scheme": "ABAB CDCD EFEF GG",
        "stanza_breaks": (4, 8, 12),
    },
    "haiku": {"lines": 3, "syllables": (5, 7, 5)},
    "free": {"lines": 8},
}


def english_form(name: str, **overrides: object) -> EnglishForm:
    """A preset form ("couplet", "quatrain", "ballad", "limerick", "sonnet", "haiku",
    "free") with any :class:`EnglishForm` field overridden."""
    key = str(name).strip().lower()
    if key not in PRESETS:
        raise InputError(f"unknown English form {name!r}; choose from {', '.join(PRESETS)}")
    known = {f.name for f in fields(EnglishForm)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise InputError(f"unknown form setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
    return EnglishForm(**{**PRESETS[key], **overrides})


_SECTION_NAMES = {
    "v": "verse",
    "verse": "verse",
    "c": "chorus",
    "chorus": "chorus",
    "r": "chorus",
    "refrain": "chorus",
    "b": "bridge",
    "bridge": "bridge",
}


def _parse_structure(value: str | Sequence[str]) -> tuple[str, ...]:
    tokens = re.split(r"[\s,;|/+-]+", value) if isinstance(value, str) else map(str, value)
    out = []
    for token in tokens:
        if not token.strip():
            continue
        kind = _SECTION_NAMES.get(token.strip().lower())
        if kind is None:
            raise InputError(f"unknown song section {token!r}; use verse, chorus, bridge (V C B)")
        out.append(kind)
    if not 1 <= len(out) <= MAX_SECTIONS:
        raise InputError(f"a song needs 1..{MAX_SECTIONS} sections (got {len(out)})")
    return tuple(out)


@dataclass(frozen=True)
class LyricsForm:
    """Song lyrics: sections (verse/chorus/bridge), lines per kind, and per-section line rules.

    ``syllables`` and ``rhyme_scheme`` apply to each section line by line; for a section
    with another number of lines they repeat (with fresh rhyme letters: "AABB" over six
    lines is AABBCC) or are cut ("AABB" over two lines is AA).
    """

    structure: tuple[str, ...] | str = ("verse", "chorus", "verse", "chorus")
    verse_lines: int = 4
    chorus_lines: int = 4
    bridge_lines: int = 2
    syllables: int | tuple[int, ...] | None = None
    rhyme_scheme: str | None = "AABB"
    min_zipf: float = DEFAULT_MIN_ZIPF

    def __post_init__(self) -> None:
        _check_zipf(self.min_zipf)
        object.__setattr__(self, "structure", _parse_structure(self.structure))
        for kind in ("verse", "chorus", "bridge"):
            _check_lines(getattr(self, f"{kind}_lines"), f"{kind}_lines", MAX_SECTION_LINES)
        object.__setattr__(self, "syllables", _check_syllables(self.syllables))
        if self.rhyme_scheme is not None:
            _scheme_keys(self.rhyme_scheme)

    def section_lines(self, kind: str) -> int:
        return getattr(self, f"{kind}_lines")

    def section_rules(self, kind: str) -> tuple[tuple[int | None, ...], tuple[Hashable, ...]]:
        """(syllable targets, rhyme keys) of one section's lines."""
        n = self.section_lines(kind)
        syl = self.syllables
        values = syl if isinstance(syl, tuple) else (syl,)
        targets = tuple(values[i % len(values)] for i in range(n))
        if self.rhyme_scheme is None:
            return targets, (None,) * n
        keys = _scheme_keys(self.rhyme_scheme)
        cycled = tuple(
            None if keys[i % len(keys)] is None else (keys[i % len(keys)], i // len(keys))
            for i in range(n)
        )
        return targets, cycled


# --- per-vocabulary tables ----------------------------------------------------------------


CACHE_LIMIT = 200_000  # entries per memo table; long sessions start afresh past it


def _remember(table: dict, key: Hashable, value: object) -> None:
    """Memoise, but keep memory bounded: sample after sample adds keys (used rhymes)."""
    if len(table) >= CACHE_LIMIT:
        table.clear()
    table[key] = value


class _Tables:
    """Everything about one vocabulary the constraints need, built once per vocabulary."""

    def __init__(self, vocab: tuple[str, ...], min_zipf: float) -> None:
        self.size = len(vocab)
        bits: dict[str, int] = {}
        for i, ch in enumerate(vocab):
            if len(ch) == 1:  # a multi-character entry can only be a special token
                bits[ch] = bits.get(ch, 0) | 1 << i
        self.bit = bits
        self.space = bits.get(" ", 0)
        self.newline = bits.get("\n", 0)
        self.punct = sum(bits.get(ch, 0) for ch in PUNCTUATION)
        self.stops = sum(bits.get(ch, 0) for ch in STOPS)
        chars = {ch for ch in bits if "a" <= ch <= "z"}
        if not chars:
            raise InputError("the model's vocabulary has no lower-case letters a-z")
        if not self.space or not self.newline:
            raise InputError("the model's vocabulary lacks a space or a line break")
        if "'" in bits:
            chars.add("'")
        self.lex = lexicon(frozenset(chars), min_zipf)
        self._finals: dict[Hashable, WordSet] = {}
        self._letters: dict[tuple, str] = {}
        self._letter_bits: dict[tuple[str, bool], int] = {}
        self._tensors: dict[int, torch.Tensor] = {}

    def letter_bits(self, letters: str, upper: bool) -> int:
        """Vocabulary bits of these lower-case letters (and their capitals if ``upper``)."""
        key = (letters, upper)
        got = self._letter_bits.get(key)
        if got is None:
            got = 0
            for ch in letters:
                got |= self.bit.get(ch, 0)
                if upper:
                    got |= self.bit.get(ch.upper(), 0)
            _remember(self._letter_bits, key, got)
        return got

    def forced_letter(self, letter: str) -> int:
        """The acrostic letter: its capital when the vocabulary has one."""
        return self.bit.get(letter.upper()) or self.bit.get(letter, 0)

    def tensor(self, mask: int) -> torch.Tensor:
        """The bool mask for a bit set (cached; callers must not modify it)."""
        got = self._tensors.get(mask)
        if got is None:
            got = torch.zeros(self.size, dtype=torch.bool)
            ids = [i for i in range(self.size) if mask >> i & 1]
            if ids:
                got[ids] = True
            _remember(self._tensors, mask, got)
        return got

    def finals(self, key: tuple) -> WordSet:
        """Final-word sets: ("any", banned), ("start", partners, budget, initials, banned) and
        ("rhyme", class, used words)."""
        got = self._finals.get(key)
        if got is None:
            lex = self.lex
            if key[0] == "any":
                got = WordSet(lex, None, key, banned=key[1])
            elif key[0] == "start":
                base = self.finals((*key[:4], ())) if key[4] else None
                by_syl = lex.starters(key[1], key[2], key[3])
                # Share the big merged list between the variants that ban other sounds.
                listed = base.listed if base is not None else None
                got = WordSet(lex, by_syl, key, banned=key[4], listed=listed)
            else:
                got = WordSet(lex, lex.class_words(key[1]), key, excluded=key[2])
            _remember(self._finals, key, got)
        return got

    def letters(self, node: Node, remaining: int, fmin: int, fin: WordSet) -> str:
        """Characters extending ``node`` toward a word that fits: a non-final word of at
        most ``remaining - fmin`` syllables (the line's final word still fits after it) or a
        final word of exactly ``remaining`` syllables."""
        key = (node, remaining, fmin, fin.key)
        got = self._letters.get(key)
        if got is None:
            spare = (1 << (remaining - fmin + 1)) - 2 if remaining > fmin else 0
            lex = self.lex
            got = "".join(
                ch
                for ch, child in lex.children(node).items()
                if lex.syllable_mask(child) & spare or fin.has(child, remaining)
            )
            _remember(self._letters, key, got)
        return got

    def free_letters(self, node: Node, fin: WordSet) -> str:
        """Characters extending ``node`` toward a final word (no syllable count)."""
        key = (node, "free", fin.key)
        got = self._letters.get(key)
        if got is None:
            kids = self.lex.children(node).items()
            got = "".join(ch for ch, child in kids if fin.has_any(child))
            _remember(self._letters, key, got)
        return got


@cache
def _tables(vocab: tuple[str, ...], min_zipf: float) -> _Tables:
    return _Tables(vocab, min_zipf)


# --- the verse constraint -----------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    target: int | None
    key: Hashable | None  # rhyme letter; None = unrhymed ("X")
    group: int | None  # index of the first line of this line's rhyme letter; None = unrhymed
    partners: int  # on a group's first line: lines still to rhyme with it
    budget: int  # ... and the fewest syllables one of them may spend on its rhyme word
    initials: str  # ... and the acrostic letters of those that are a single word
    letter: str | None  # acrostic letter (lower-case)
    blank_after: bool


def _plan(
    targets: Sequence[int | None],
    keys: Sequence[Hashable | None],
    acrostic: str,
    breaks: Sequence[int] = (),
) -> list[_Line]:
    members: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        if key is not None:
            members.setdefault(key, []).append(i)
    lines = []
    for i, key in enumerate(keys):
        group = members[key] if key is not None and len(members[key]) > 1 else None
        first = group is not None and group[0] == i
        partners, budget, initials = 0, NO_BUDGET, ""
        if first:
            partners = len(group) - 1
            for j in group[1:]:
                t = targets[j]
                if t is not None:
                    # An acrostic line spends a syllable on its first word before the rhyme.
                    budget = min(budget, t - 1 if j < len(acrostic) and t > 1 else t)
                    if t == 1 and j < len(acrostic):
                        initials += acrostic[j]
        lines.append(
            _Line(
                target=targets[i],
                key=key,
                group=None if group is None else group[0],
                partners=partners,
                budget=budget,
                initials=initials,
                letter=acrostic[i] if i < len(acrostic) else None,
                blank_after=i + 1 in breaks,
            )
        )
    return lines


class _VerseConstraint:
    """One sample's state over a list of lines (a poem, or one song section).

    ``closed``: the last line ends with "\\n" and the form is done after it (song sections
    followed by more); otherwise done whenever the last line is complete. ``kept``: line
    index -> a line the writer wrote, forced character by character; its last word's sound
    is the rhyme its partners follow, even those that come before it.
    """

    def __init__(
        self,
        tables: _Tables,
        lines: list[_Line],
        closed: bool = False,
        kept: dict[int, str] | None = None,
    ) -> None:
        self.t, self.lines, self.closed = tables, lines, closed
        self.kept = kept or {}
        self.chosen: dict[int, list[int]] = {}  # group -> indices of its final words
        self.classes: dict[int, int] = {}  # group -> the rhyme class its words share
        self.sounds: dict[Hashable, str] = {}  # rhyme letter -> its rhyming part
        self._preset()
        self.i = 0
        self.finished = False
        self._start_line()

    def _preset(self) -> None:
        """The rhyme sounds that kept lines fix in advance (and checks that they can)."""
        lex = self.t.lex
        for i, text in sorted(self.kept.items()):
            line = self.lines[i]
            if line.key is None:
                continue
            last = (words_of(text) or [""])[-1]
            part = rhyming_part(last) if last else None
            if part is None:
                raise InputError(
                    f"kept line {i + 1} ends in {last!r}, which the pronouncing dictionary "
                    "cannot rhyme; end it on another word or leave the line unrhymed"
                )
            if self.sounds.setdefault(line.key, part) != part:
                raise InputError(
                    f"kept line {i + 1} ({last!r}) does not rhyme with the other kept line "
                    f"of rhyme {_key_name(line.key)}"
                )
            if line.group is None:
                continue
            if part not in lex.part_index:
                raise InputError(f"no common word rhymes with {last!r} (kept line {i + 1})")
            self.classes[line.group] = lex.part_index[part]
            if last in lex.index:
                self.chosen.setdefault(line.group, []).append(lex.index[last])
        for j, line in enumerate(self.lines):
            if j in self.kept or line.group not in self.classes:
                continue
            fin = self._rhyme_set(line.group)
            most = line.target if line.target is not None else MAX_WORD_SYLLABLES
            if fin.min_syllables(most) is None:
                raise InputError(
                    f"no other common word of at most {most} syllables rhymes with the kept "
                    f"line of rhyme {_key_name(line.key)} (for line {j + 1})"
                )

    def _rhyme_set(self, group: int) -> WordSet:
        return self.t.finals(("rhyme", self.classes[group], tuple(self.chosen.get(group, ()))))

    # state of the current line
    def _start_line(self) -> None:
        line = self.lines[self.i]
        self.line = line
        # Different letters of the scheme must not rhyme: ban the sounds already taken.
        taken = [p for k, p in self.sounds.items() if line.key is not None and k != line.key]
        self.banned_parts = frozenset(taken)
        index = self.t.lex.part_index
        banned = tuple(sorted(index[p] for p in self.banned_parts if p in index))
        if line.group is None:
            self.fin = self.t.finals(("any", banned))
        elif line.group in self.classes:
            self.fin = self._rhyme_set(line.group)
        else:
            self.fin = self.t.finals(("start", line.partners, line.budget, line.initials, banned))
        self.phase = "kept" if self.i in self.kept else "word"  # kept | word | in | punct | break
        self.pos = 0  # characters of a kept line written so far
        self.at_start = True
        self.final = False  # the word just ended (or being punctuated) is the line's last
        self.node: Node = self.t.lex.root
        self.caps = False
        self.run = 0  # punctuation run length
        self.mark = ""  # the last punctuation mark of the run
        if line.target is not None:
            self.remaining = line.target
            self.fmin = self.fin.min_syllables(line.target) or line.target
        else:
            self.chars = 0
            self.last: int | None = None  # the line's last complete word (lexicon index)
            self.forcing = False  # this word was begun past the limit: it must be final

    @property
    def done(self) -> bool:
        if self.finished:
            return True
        if self.closed or self.i != len(self.lines) - 1:
            return False
        if self.phase == "kept":
            return self.pos == len(self.kept[self.i])
        if self.line.target is None:
            return self._free_ok()
        return self.final and (self.phase == "punct" or self._word_final())

    def _word_final(self) -> bool:
        w = self.t.lex.word_at(self.node)
        return (
            self.phase == "in"
            and w is not None
            and self.t.lex.syl[w] == self.remaining
            and self.fin.contains(w)
        )

    def _last_line(self) -> bool:
        return self.i == len(self.lines) - 1

    def _line_end(self) -> int:
        """Bits that close a complete line: "\\n", or nothing on an open poem's last line."""
        return 0 if self._last_line() and not self.closed else self.t.newline

    def allowed(self) -> torch.Tensor:
        return self.t.tensor(self._mask())

    def _mask(self) -> int:
        if self.finished:
            return 0
        if self.phase == "break":
            return self.t.newline
        if self.phase == "kept":
            text = self.kept[self.i]
            return self.t.bit[text[self.pos]] if self.pos < len(text) else self._line_end()
        if self.line.target is None:
            return self._free_mask()
        t = self.t
        if self.phase == "punct":
            more = self._more_marks()
            return more | (self._line_end() if self.final else t.space)
        letters = t.letters(self.node, self.remaining, self.fmin, self.fin)
        if self.phase == "word":
            if self.at_start and self.line.letter is not None:
                return t.forced_letter(self.line.letter) if self.line.letter in letters else 0
            return t.letter_bits(letters, True)
        mask = t.letter_bits(letters, self.caps)
        w = t.lex.word_at(self.node)
        if w is not None:
            syl = t.lex.syl[w]
            if syl <= self.remaining - self.fmin:
                mask |= t.space | t.punct
            elif syl == self.remaining and self.fin.contains(w):
                mask |= t.punct | self._line_end()
        return mask

    def advance(self, char: str) -> None:
        if self.finished:
            return
        if self.phase == "break":
            self._next_line()
        elif self.phase == "kept":
            if self.pos < len(self.kept[self.i]):
                self.pos += 1
            else:
                self._end_line()
        elif self.line.target is None:
            self._free_advance(char)
        elif self.phase in ("word", "in") and (char.isalpha() or char == "'"):
            self._letter(char)
            self.final = self._word_final()
        elif self.phase == "in":
            w = self.t.lex.word_at(self.node)
            if w is None:
                raise ValueError(f"character {char!r} cannot end the word here")
            if self.final:
                self._chose(w, None)
            else:
                self.remaining -= self.t.lex.syl[w]
            self.node = self.t.lex.root
            self._after_word(char)
        else:  # punctuation run
            self._after_word(char)

    def _chose(self, index: int | None, part: str | None) -> None:
        """Record the line's final word (a lexicon index, or the sound of another word)."""
        if index is not None:
            part = self.t.lex.parts[self.t.lex.cls[index]]
            if self.line.group is not None:
                self.chosen.setdefault(self.line.group, []).append(index)
                self.classes.setdefault(self.line.group, self.t.lex.cls[index])
        if self.line.key is not None and part is not None:
            self.sounds.setdefault(self.line.key, part)

    def _letter(self, char: str) -> None:
        """Follow a letter (or "'") of the current word down the lexicon trie."""
        child = self.t.lex.child(self.node, char.lower())
        if child is None:
            raise ValueError(f"character {char!r} was not allowed here")
        # Capitals start a word or continue an all-capitals one ("THE").
        if char != "'":
            self.caps = char.isupper() and (self.phase == "word" or self.caps)
        self.node, self.phase, self.at_start = child, "in", False

    def _more_marks(self) -> int:
        """Marks that may extend a punctuation run: only . ! ? run on, at most three."""
        return self.t.stops if self.run < MAX_PUNCT_RUN and self.mark in STOPS else 0

    def _after_word(self, char: str) -> None:
        if char == "\n":
            self._end_line()
        elif char == " ":
            self.phase, self.run, self.final = "word", 0, False
        else:
            self.phase, self.run, self.mark = "punct", self.run + 1, char

    def _end_line(self) -> None:
        if self._last_line():
            self.finished = True
        elif self.line.blank_after:
            self.phase = "break"
        else:
            self._next_line()

    def _next_line(self) -> None:
        self.i += 1
        self._start_line()

    # free lines (no syllable target): words from the lexicon, any number of them
    def _free_ok(self) -> bool:
        """The line may end here: its last word is complete and may close the line."""
        if self.phase == "in":
            w = self.t.lex.word_at(self.node)
            return w is not None and self.fin.contains(w)
        return self.phase == "punct" and self.last is not None and self.fin.contains(self.last)

    def _free_letters(self, forcing: bool) -> str:
        """Letters extending the current word: toward a final word past the length limit."""
        if forcing:
            return self.t.free_letters(self.node, self.fin)
        return "".join(self.t.lex.children(self.node))

    def _free_mask(self) -> int:
        t = self.t
        if self.phase == "word":
            if self.at_start and self.line.letter is not None:
                return t.forced_letter(self.line.letter)
            return t.letter_bits(self._free_letters(self.chars >= FREE_LINE_CHARS), True)
        ok = self._free_ok()
        end = self._line_end() if ok else 0
        if self.phase == "punct":
            more = self._more_marks()
            # Past the limit a line whose last word may close it must close.
            closing = self.chars >= FREE_LINE_CHARS and ok
            return more | end | (0 if closing else t.space)
        mask = t.letter_bits(self._free_letters(self.forcing), self.caps)
        if ok:
            mask |= t.punct | end
        if not self.forcing and t.lex.word_at(self.node) is not None:
            mask |= t.space | t.punct
        return mask

    def _free_advance(self, char: str) -> None:
        lex = self.t.lex
        if self.phase in ("word", "in") and (char.isalpha() or char == "'"):
            if self.phase == "word":
                self.forcing = self.chars >= FREE_LINE_CHARS
            self._letter(char)
        else:
            if self.phase == "in":
                w = lex.word_at(self.node)
                if w is None:
                    raise ValueError(f"character {char!r} cannot end the word here")
                self.last, self.node = w, lex.root
            if char == "\n":
                self._chose(self.last, None)
            self._after_word(char)
        self.chars += 1


def _check_feasible(t: _Tables, lines: list[_Line], kept: Container[int] = ()) -> None:
    """Fail early, with a clear message, on settings the dictionary cannot meet (kept
    lines, and the rhymes they fix, are checked by the constraint itself)."""
    preset = {line.group for i, line in enumerate(lines) if i in kept}
    lex = t.lex
    for i, line in enumerate(lines):
        if i in kept:
            continue
        if line.letter is not None and lex.child(lex.root, line.letter) is None:
            raise InputError(f"no usable word starts with acrostic letter {line.letter!r}")
        if line.group is None:
            fin = t.finals(("any", ()))
        elif line.group in preset:
            continue
        elif line.group == i:
            fin = t.finals(("start", line.partners, line.budget, line.initials, ()))
            most = line.target if line.target is not None else MAX_WORD_SYLLABLES
            if fin.min_syllables(most) is None:
                raise InputError(
                    f"no rhyme sound has {line.partners + 1} words short enough for the "
                    f"rhyme of line {i + 1}; shorten the scheme or raise the syllables"
                )
        else:
            continue  # a rhyme partner: the planning of its group's first line covers it
        if line.letter is not None and line.target is not None:
            fmin = fin.min_syllables(line.target) or line.target
            if line.letter not in t.letters(lex.root, line.target, fmin, fin):
                raise InputError(
                    f"no word starting with {line.letter.upper()!r} can open line {i + 1} "
                    f"({line.target} syllables) as the form requires"
                )


def make_english_constraint(
    form: EnglishForm,
    vocab: Sequence[str],
    generator: torch.Generator | None = None,
    keep: dict[int, str] | None = None,
) -> _VerseConstraint:
    """A fresh constraint holding one sample to ``form`` over the model's ``vocab``, with
    the lines in ``keep`` (0-based line -> text) written as given.

    ``generator`` is accepted for the common factory signature; the constraint is
    deterministic (all randomness is the sampler's).
    """
    t = _tables(tuple(vocab), form.min_zipf)
    lines = _plan(form.targets(), form.rhyme_keys(), form.acrostic_letters(), form.stanza_breaks)
    kept = _check_kept(t, lines, keep or {})
    _check_feasible(t, lines, kept)
    return _VerseConstraint(t, lines, kept=kept)


def _check_kept(t: _Tables, lines: list[_Line], keep: dict[int, str]) -> dict[int, str]:
    """Kept lines as the constraint forces them: one line each, in the vocabulary, fitting
    the acrostic."""
    out = {}
    for i, text in sorted(keep.items()):
        text = text.strip()
        if not 0 <= i < len(lines):
            raise InputError(f"kept line {i + 1} is outside the poem's {len(lines)} lines")
        if not text or "\n" in text:
            raise InputError(f"kept line {i + 1} must be one non-empty line")
        unseen = "".join(dict.fromkeys(ch for ch in text if ch not in t.bit))
        if unseen:
            raise InputError(
                f"kept line {i + 1} has characters the model has never seen: {unseen!r}"
            )
        letter = lines[i].letter
        first = next((ch.lower() for ch in text if "a" <= ch.lower() <= "z"), None)
        if letter is not None and first != letter:
            raise InputError(
                f"kept line {i + 1} should begin with {letter.upper()!r} for the acrostic"
            )
        out[i] = text
    return out


# --- lyrics -------------------------------------------------------------------------------


class _LyricsConstraint:
    """Sections in order, a blank line between them; later choruses repeat the first."""

    def __init__(self, tables: _Tables, form: LyricsForm) -> None:
        self.t, self.form = tables, form
        self.k = 0
        self.chorus: str | None = None
        self.record: list[str] | None = None
        self.finished = False
        self._start_section()

    def _last(self) -> bool:
        return self.k == len(self.form.structure) - 1

    def _start_section(self) -> None:
        kind = self.form.structure[self.k]
        if kind == "chorus" and self.chorus is not None:
            self.verse = None
            self.forced = self.chorus + ("" if self._last() else "\n\n")
            self.pos = 0
            return
        self.record = [] if kind == "chorus" else None
        targets, keys = self.form.section_rules(kind)
        lines = _plan(targets, keys, "")
        self.verse = _VerseConstraint(self.t, lines, closed=not self._last())
        self.gap = False

    @property
    def done(self) -> bool:
        if self.finished:
            return True
        return self._last() and self.verse is not None and not self.gap and self.verse.done

    def allowed(self) -> torch.Tensor:
        if self.finished:
            return self.t.tensor(0)
        if self.verse is None:
            return self.t.tensor(self.t.bit.get(self.forced[self.pos], 0))
        if self.gap:
            return self.t.tensor(self.t.newline)
        return self.verse.allowed()

    def advance(self, char: str) -> None:
        if self.finished:
            return
        if self.verse is None:
            self.pos += 1
            if self.pos == len(self.forced):
                self._next_section()
        elif self.gap:
            self._next_section()
        else:
            self.verse.advance(char)
            if self.record is not None:
                self.record.append(char)
            if self.verse.done and self.verse.closed:
                if self.record is not None:
                    self.chorus = "".join(self.record[:-1])  # without the closing "\n"
                    self.record = None
                self.gap = True

    def _next_section(self) -> None:
        if self._last():
            self.finished = True
        else:
            self.k += 1
            self._start_section()


def make_lyrics_constraint(
    form: LyricsForm, vocab: Sequence[str], generator: torch.Generator | None = None
) -> _LyricsConstraint:
    """A fresh constraint holding one sample to the song ``form`` (``generator`` unused)."""
    t = _tables(tuple(vocab), form.min_zipf)
    for kind in sorted(set(form.structure)):
        _check_feasible(t, _plan(*form.section_rules(kind), ""))
    return _LyricsConstraint(t, form)


def lyrics_sections(text: str, form: LyricsForm) -> list[tuple[str, str]]:
    """Split lyrics at blank lines into (label, text): "Verse 1", "Chorus", "Bridge"...;
    blocks beyond the structure are labelled "Extra 1", "Extra 2"..."""
    blocks = [b.strip("\n") for b in re.split(r"\n[^\S\n]*\n\s*", text.strip()) if b.strip()]
    counts = {kind: form.structure.count(kind) for kind in set(form.structure)}
    seen: dict[str, int] = {}
    out = []
    for j, block in enumerate(blocks):
        if j < len(form.structure):
            kind = form.structure[j]
            seen[kind] = seen.get(kind, 0) + 1
            label = kind.capitalize()
            if kind == "verse" or (kind == "bridge" and counts[kind] > 1):
                label += f" {seen[kind]}"
        else:
            label = f"Extra {j - len(form.structure) + 1}"
        out.append((label, block))
    return out


# --- verification and annotation ----------------------------------------------------------


def _key_name(key: Hashable) -> str:
    """A rhyme key's letter (lyrics keys are (letter, repetition) pairs)."""
    return str(key[0] if isinstance(key, tuple) else key)


def _verify_lines(
    lines: list[str],
    targets: Sequence[int | None],
    keys: Sequence[Hashable | None],
    acrostic: str,
) -> list[str]:
    problems = []
    n = len(targets)
    if len(lines) != n:
        problems.append(f"expected {n} lines, got {len(lines)}")
    lines = lines[:n]
    for i, line in enumerate(lines):
        target = targets[i]
        if target is not None and (got := line_syllables(line)) != target:
            problems.append(
                f"line {i + 1} has {got} syllables, expected {target}: {line.strip()!r}"
            )
        if i < len(acrostic):
            first = next((ch for ch in line.lower() if "a" <= ch <= "z"), None)
            if first != acrostic[i]:
                problems.append(
                    f"line {i + 1} should start with {acrostic[i].upper()!r} (acrostic), "
                    f"starts with {(first or '').upper()!r}"
                )
    last = [(words_of(line) or [None])[-1] for line in lines]
    groups: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys[: len(lines)]):
        if key is not None:
            groups.setdefault(key, []).append(i)
    for key, members in groups.items():
        for pos, j in enumerate(members[1:], 1):
            for i in members[:pos]:
                if last[i] is None or last[j] is None or not rhymes(last[i], last[j]):
                    problems.append(
                        f"lines {i + 1} and {j + 1} should rhyme ({_key_name(key)}): "
                        f"{last[i] or '(no word)'!r} / {last[j] or '(no word)'!r}"
                    )
                    break
    # Different letters must not rhyme (ABAB: B is another sound than A).
    parts = [None if w is None else rhyming_part(w) for w in last]
    for j in range(len(lines)):
        for i in range(j):
            a, b = keys[i], keys[j]
            if a is not None and b is not None and a != b and parts[i] and parts[i] == parts[j]:
                problems.append(
                    f"lines {i + 1} and {j + 1} rhyme ({last[i]!r} / {last[j]!r}) but the "
                    f"scheme gives them different letters ({_key_name(a)}, {_key_name(b)})"
                )
                break
    return problems


def _text_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


def verify_english(text: str, form: EnglishForm) -> list[str]:
    """One message per way ``text`` misses ``form`` (blank lines are layout, not checked)."""
    return _verify_lines(
        _text_lines(text), form.targets(), form.rhyme_keys(), form.acrostic_letters()
    )


def verify_lyrics(text: str, form: LyricsForm) -> list[str]:
    """One message per way ``text`` misses the song ``form``."""
    sections = lyrics_sections(text, form)
    problems = []
    if len(sections) != len(form.structure):
        problems.append(
            f"expected {len(form.structure)} sections ({' '.join(form.structure)}), "
            f"got {len(sections)}"
        )
    chorus: str | None = None
    for k, (kind, (label, block)) in enumerate(zip(form.structure, sections, strict=False)):
        if kind == "chorus":
            if chorus is not None:
                if block.rstrip() != chorus:
                    problems.append(
                        f"{label} (section {k + 1}) does not repeat the first chorus word for word"
                    )
                continue
            chorus = block.rstrip()
        found = _verify_lines(_text_lines(block), *form.section_rules(kind), "")
        problems.extend(f"{label}: {p}" for p in found)
    return problems


def _letter_name(i: int) -> str:
    # "X" is skipped: in rhyme schemes it means an unrhymed line.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWYZ"
    return alphabet[i] if i < len(alphabet) else f"Z{i - len(alphabet) + 2}"


def annotate_english(text: str, form: EnglishForm | None = None, *, stress: bool = False) -> str:
    """Each line followed by its syllables and rhyme letter, e.g.
    ``Shall I compare thee to a summer's day?   [10] A``; with a form, a line off its target
    shows ``[9/10]``; ``stress=True`` appends CMU stress (``da-DUM``) per word."""
    rows = text.rstrip("\n").split("\n")
    width = max((len(r.rstrip()) for r in rows if r.strip()), default=0)
    targets = form.targets() if form is not None else ()
    sounds: dict[object, str] = {}
    out = []
    k = 0  # index among non-blank lines
    for row in rows:
        if not row.strip():
            out.append("")
            continue
        words = words_of(row)
        syl = line_syllables(row)
        target = targets[k] if k < len(targets) else None
        count = f"[{syl}]" if target in (None, syl) else f"[{syl}/{target}]"
        letter = "-"
        if words:
            sound = rhyming_part(words[-1]) or ("?", words[-1])
            letter = sounds.setdefault(sound, _letter_name(len(sounds)))
        line = f"{row.rstrip().ljust(width)}   {count} {letter}"
        if stress:
            line += f"   {stress_pattern(row)}"
        out.append(line)
        k += 1
    return "\n".join(out)
