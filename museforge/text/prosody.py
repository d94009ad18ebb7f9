"""English prosody from the CMU Pronouncing Dictionary: syllables, rhymes, stress, lexicon.

Counting rules shared by the verse constraints and their verifiers (so the two never
disagree): a *word* is a run of ASCII letters with internal apostrophes (``don't``,
``summer's``), lower-cased; surrounding punctuation is stripped and hyphens split words.
A word's syllables and rhyme come from CMU's *first* pronunciation only. Words CMU lacks
get a vowel-group estimate (see :func:`count_syllables`) and no rhyme.

:class:`Lexicon` is the letter trie the constraints walk, one character at a time. It is
kept implicit: the dictionary words are sorted, and a trie node (a prefix) is the range
of words ``[lo, hi)`` sharing it, so per-node facts (which syllable counts lie below,
whether a word of a rhyme sound lies below) are range queries over prefix counts and
sorted index lists. That builds in well under a second and uses a few megabytes, where a
dict-of-dicts trie of ~125k words takes longer and ten times the memory. A :class:`WordSet`
(say, the words rhyming with "day" bar "day" itself) answers the same questions for a subset.
"""

from __future__ import annotations

import logging
import math
import re
from array import array
from bisect import bisect_left
from collections.abc import Hashable
from functools import cache
from heapq import merge
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

WORD_RE = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
_FULL_WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)*\Z")
_VOWEL_GROUP_RE = re.compile(r"[aeiouy]+")
MAX_WORD_SYLLABLES = 15  # CMU's longest word has 12
# How common a word must be for verse to use it: a Zipf frequency (log10 of uses per
# billion words) from wordfreq. 3 is once per million words: "ere" (3.1) and "thee" (4.0)
# pass; names and oddities of the CMU dictionary such as "schaum" (1.5) and "aix" (2.7)
# do not; poetic rarities such as "whither" (2.5) need a lower setting.
DEFAULT_MIN_ZIPF = 3.0
MAX_ZIPF = 8.0  # "the" is 7.7
NAME_ZIPF = 4.5  # names and unlisted spellings need this much (see is_common)
DICTIONARY = Path("/usr/share/dict/words")
NODE_CACHE_LIMIT = 400_000  # memoised trie nodes (the full trie has about 290k)


def words_of(text: str) -> list[str]:
    """The words of ``text``, lower-cased, in order (the counting rule of this module).

    Only ASCII letters make words, so a character whose lower case is ASCII (the Kelvin
    sign) cannot sneak in: the constraints tokenise character by character the same way.
    """
    return [w.lower() for w in WORD_RE.findall(text)]


@cache
def _cmu() -> dict[str, str]:
    """Word -> first CMU pronunciation, loaded once per process."""
    import pronouncing

    pronouncing.init_cmu()
    return {word: phones[0] for word, phones in pronouncing.lookup.items() if phones}


def phones_of(word: str) -> str | None:
    """CMU's first pronunciation of a (normalised) word, or None if it is not in CMU."""
    return _cmu().get(word)


def _phone_syllables(phones: str) -> int:
    return sum(ch.isdigit() for ch in phones)


def _guess_syllables(word: str) -> int:
    """Vowel groups (a e i o u y), less a silent final -e, -ed or -es; at least 1."""
    letters = word.replace("'", "")
    n = len(_VOWEL_GROUP_RE.findall(letters))
    if n > 1:
        if letters.endswith("e") and not re.search(r"[^aeiouy]le\Z|[aeiouy]e\Z", letters):
            n -= 1  # "stone", "shine" — but "table" and "free" keep their vowel
        elif letters.endswith("ed") and not letters.endswith(("ted", "ded")):
            n -= 1  # "jumped", "rolled"
        elif letters.endswith("es") and not re.search(r"(?:[sxzg]|ch|sh|c)es\Z", letters):
            n -= 1  # "likes" — but "boxes", "wishes", "pages" keep it
    return max(n, 1)


def _word_syllables(word: str) -> int:
    phones = phones_of(word)
    return _phone_syllables(phones) if phones is not None else _guess_syllables(word)


def count_syllables(word: str) -> int:
    """Syllables of ``word``: CMU's first pronunciation, else a vowel-group estimate.

    Surrounding punctuation is ignored and a hyphenated compound counts as its parts;
    a string without letters has 0 syllables.
    """
    return sum(_word_syllables(w) for w in words_of(word))


def line_syllables(line: str) -> int:
    """Total syllables of the words of ``line``."""
    return sum(_word_syllables(w) for w in words_of(line))


def _rhyme_of_phones(phones: str) -> str:
    """From the last stressed vowel to the end; secondary stress counts as stress.

    Stress digits 2 are written as 1 so "birthday" (…D EY2) rhymes with "day" (D EY1);
    a word without stress (e.g. "the") keeps all its phones, rhyming only with homophones.
    """
    parts = phones.split()
    for i in range(len(parts) - 1, -1, -1):
        if parts[i][-1] in "12":
            return " ".join(parts[i:]).replace("2", "1")
    return phones


def rhyming_part(word: str) -> str | None:
    """The rhyme sound of ``word`` (e.g. ``"EY1"`` for "day"), or None if CMU lacks it."""
    found = words_of(word)
    if len(found) != 1:
        return None
    phones = phones_of(found[0])
    return None if phones is None else _rhyme_of_phones(phones)


def rhymes(a: str, b: str) -> bool:
    """True when both words are in CMU, differ, and share their rhyming part."""
    wa, wb = words_of(a), words_of(b)
    if len(wa) != 1 or len(wb) != 1 or wa[0] == wb[0]:
        return False
    ra = rhyming_part(wa[0])
    return ra is not None and ra == rhyming_part(wb[0])


def stress_pattern(word: str) -> str:
    """Stress of ``word`` as ``da``/``DUM`` per syllable (CMU 1 or 2 = stressed), e.g.
    "compare" -> ``da-DUM``; ``?`` per guessed syllable for words CMU lacks."""
    out = []
    for w in words_of(word):
        phones = phones_of(w)
        if phones is None:
            out.append("-".join("?" * _guess_syllables(w)))
        else:
            digits = [ch for ch in phones if ch.isdigit()]
            out.append("-".join("DUM" if d in "12" else "da" for d in digits))
    return " ".join(out)


# --- the lexicon the constraints walk ----------------------------------------------------


@cache
def _frequencies() -> dict[str, float]:
    """Word -> share of English text (wordfreq's list, loaded once; about 0.2 s). Read as a
    whole rather than through ``wordfreq.zipf_frequency``, which tokenises its argument on
    every call: the lexicon asks about 125k words."""
    from wordfreq import get_frequency_dict

    return get_frequency_dict("en")


def zipf(word: str) -> float:
    """Zipf frequency of a (lower-case) word: log10 of its uses per billion words, 0 if
    wordfreq has never seen it."""
    share = _frequencies().get(word, 0.0)
    return math.log10(share * 1e9) if share > 0 else 0.0


@cache
def _lower_case_words() -> frozenset[str] | None:
    """The words a dictionary lists in lower case (Debian ``wamerican``), or None without
    one. A word it lists only capitalised ("Anne", "Ming") is a name."""
    try:
        text = DICTIONARY.read_text(encoding="utf-8", errors="replace")
    except OSError:
        log.warning(
            "no word list at %s (apt install wamerican): verse may use rarer names", DICTIONARY
        )
        return None
    return frozenset(w for w in text.split() if w[:1].islower())


def is_common(word: str, min_zipf: float = DEFAULT_MIN_ZIPF) -> bool:
    """A (lower-case) word at least ``min_zipf`` common in wordfreq; 0 accepts any word.

    wordfreq also counts letters named alone ("d", "s") and names: single letters other
    than "a", "i" and "o" never count, and a word the system dictionary does not list in
    lower case (a name such as "anne", or a spelling it lacks) must reach
    :data:`NAME_ZIPF` ("london", "april" and "john" do).
    """
    if min_zipf <= 0:
        return True
    if len(word) == 1:
        return word in ("a", "i", "o")
    z = zipf(word)
    if z < min_zipf:
        return False
    lower = _lower_case_words()
    if lower is not None and word not in lower and not word.startswith("i'"):
        return z >= NAME_ZIPF
    return True


def uncommon_words(text: str, min_zipf: float = DEFAULT_MIN_ZIPF) -> list[str]:
    """The words of ``text`` (in order, repeats kept) that are not :func:`is_common`."""
    return [w for w in words_of(text) if not is_common(w, min_zipf)]


@cache
def _entries(min_zipf: float = 0.0) -> tuple[tuple[str, int, str], ...]:
    """(word, syllables, rhyme) for every usable CMU word, sorted by word.

    Only words made of letters and internal apostrophes (so every one survives the
    counting rule intact) with at least one syllable (so "hmm" cannot pad a line forever),
    and :func:`is_common` at ``min_zipf`` (0: every such word).
    """
    out = []
    for word, phones in _cmu().items():
        if not _FULL_WORD_RE.match(word):
            continue
        if not is_common(word, min_zipf):
            continue
        syl = _phone_syllables(phones)
        if 1 <= syl <= MAX_WORD_SYLLABLES:
            out.append((word, syl, _rhyme_of_phones(phones)))
    out.sort()
    return tuple(out)


Node = tuple[int, int, int]  # (lo, hi, depth): the words [lo, hi) share a prefix of depth


class Lexicon:
    """Implicit letter trie over the CMU words spellable with a given set of characters
    and at least ``min_zipf`` common."""

    def __init__(self, chars: frozenset[str], min_zipf: float = 0.0) -> None:
        entries = [e for e in _entries(min_zipf) if set(e[0]) <= chars]
        self.words = [e[0] for e in entries]
        self.index = {w: i for i, w in enumerate(self.words)}
        syl = np.array([e[1] for e in entries], dtype=np.int32)
        part_ids: dict[str, int] = {}
        cls = np.array([part_ids.setdefault(e[2], len(part_ids)) for e in entries], np.int32)
        self.syl = array("i", syl.tobytes())
        self.cls = array("i", cls.tobytes())
        self.parts = list(part_ids)  # class id -> rhyming part
        self.part_index = part_ids
        self._syl_np, self._cls_np = syl, cls
        # cum[s][i]: words among the first i with s syllables (node masks are differences).
        self._cum = []
        for s in range(MAX_WORD_SYLLABLES + 1):
            counts = np.concatenate(([0], np.cumsum(syl == s))).astype(np.int32)
            self._cum.append(array("i", counts.tobytes()))
        order = np.lexsort((np.arange(len(cls)), syl, cls))  # by class, syllables, index
        self._class_by_syl: list[dict[int, list[int]]] = [{} for _ in part_ids]
        for i in order.tolist():
            self._class_by_syl[self.cls[i]].setdefault(self.syl[i], []).append(i)
        self.root: Node = (0, len(self.words), 0)
        self._children: dict[Node, dict[str, Node]] = {}
        self._masks: dict[Node, int] = {}
        self._good: dict[tuple[int, int], dict[int, list[int]]] = {}

    def children(self, node: Node) -> dict[str, Node]:
        """Next character -> child node (cached; the sampler revisits the same prefixes)."""
        got = self._children.get(node)
        if got is not None:
            return got
        lo, hi, d = node
        words = self.words
        out: dict[str, Node] = {}
        i = lo + 1 if lo < hi and len(words[lo]) == d else lo
        while i < hi:
            ch = words[i][d]
            j = bisect_left(words, words[i][:d] + chr(ord(ch) + 1), i, hi)
            out[ch] = (i, j, d + 1)
            i = j
        if len(self._children) >= NODE_CACHE_LIMIT:
            self._children.clear()
        self._children[node] = out
        return out

    def child(self, node: Node, ch: str) -> Node | None:
        return self.children(node).get(ch)

    def word_at(self, node: Node) -> int | None:
        """Index of the word spelled by ``node``, if the prefix is itself a word."""
        lo, hi, d = node
        return lo if d and lo < hi and len(self.words[lo]) == d else None

    def syllable_mask(self, node: Node) -> int:
        """Bit s set when some word below ``node`` has s syllables."""
        got = self._masks.get(node)
        if got is None:
            lo, hi, _ = node
            got = 0
            for s, cum in enumerate(self._cum):
                if cum[hi] > cum[lo]:
                    got |= 1 << s
            if len(self._masks) >= NODE_CACHE_LIMIT:
                self._masks.clear()
            self._masks[node] = got
        return got

    def count(self, node: Node, syl: int) -> int:
        """Words below ``node`` with ``syl`` syllables."""
        cum = self._cum[syl]
        return cum[node[1]] - cum[node[0]]

    def class_words(self, cls: int) -> dict[int, list[int]]:
        """Syllables -> sorted word indices of one rhyme class."""
        return self._class_by_syl[cls]

    def starters(self, partners: int, budget: int, initials: str = "") -> dict[int, list[int]]:
        """Syllables -> sorted indices of words whose rhyme class leaves at least
        ``partners`` *other* words of at most ``budget`` syllables to rhyme with them, and
        one-syllable words starting with each of ``initials`` (partner lines of a single
        syllable that must start with an acrostic letter)."""
        key = (partners, budget, initials)
        got = self._good.get(key)
        if got is None:
            syl, cls = self._syl_np, self._cls_np
            short = syl <= budget
            capacity = np.bincount(cls[short], minlength=len(self.parts))
            good = capacity[cls] - short >= partners
            for letter in set(initials):
                first = np.array([w[0] == letter for w in self.words]) & (syl == 1)
                have = np.bincount(cls[first], minlength=len(self.parts))
                good &= have[cls] - first >= initials.count(letter)
            got = {}
            for s in range(1, MAX_WORD_SYLLABLES + 1):
                found = np.nonzero(good & (syl == s))[0]
                if len(found):
                    got[s] = found.tolist()
            self._good[key] = got
        return got


@cache
def lexicon(chars: frozenset[str], min_zipf: float = 0.0) -> Lexicon:
    """The lexicon of words spelled only with ``chars`` (lower-case letters and "'") and
    at least ``min_zipf`` common, built once per distinct pair."""
    return Lexicon(chars, min_zipf)


class WordSet:
    """A set of lexicon words that trie nodes can be asked about: every word (``by_syl``
    None) or sorted index lists by syllable count, less some words (``excluded``) and
    whole rhyme classes (``banned``). The constraints use these for a line's final word."""

    def __init__(
        self,
        lex: Lexicon,
        by_syl: dict[int, list[int]] | None,
        key: Hashable,
        excluded: tuple[int, ...] = (),
        banned: tuple[int, ...] = (),
        listed: list[int] | None = None,
    ) -> None:
        self.lex, self.by_syl, self.key = lex, by_syl, key
        self.excluded, self.banned = excluded, banned
        self.restricted = by_syl is not None
        if listed is None:
            listed = list(merge(*by_syl.values())) if by_syl is not None else []
        self.listed = listed  # every listed word, sorted

    def count(self, node: Node, syl: int) -> int:
        """Allowed words below ``node`` with exactly ``syl`` syllables."""
        lo, hi, _ = node
        if self.by_syl is None:
            n = self.lex.count(node, syl)
        else:
            found = self.by_syl.get(syl, [])
            n = bisect_left(found, hi) - bisect_left(found, lo)
        if n == 0:
            return 0
        for c in self.banned:
            same = self.lex.class_words(c).get(syl)
            if not same:
                continue
            m = bisect_left(same, hi) - bisect_left(same, lo)
            # A class's words of one syllable count are all listed or none are (true of class
            # and starter lists, whose test depends on class and syllables only).
            if m and (self.by_syl is None or self._listed(same[0])):
                n -= m
        lex = self.lex
        n -= sum(1 for e in self.excluded if lo <= e < hi and lex.syl[e] == syl)
        return n

    def has(self, node: Node, syl: int) -> bool:
        return self.count(node, syl) > 0

    def has_any(self, node: Node) -> bool:
        mask = self.lex.syllable_mask(node)
        return any(mask >> s & 1 and self.has(node, s) for s in range(1, MAX_WORD_SYLLABLES + 1))

    def _listed(self, index: int) -> bool:
        at = bisect_left(self.listed, index)
        return at < len(self.listed) and self.listed[at] == index

    def contains(self, index: int) -> bool:
        if index in self.excluded or self.lex.cls[index] in self.banned:
            return False
        return self.by_syl is None or self._listed(index)

    def min_syllables(self, most: int) -> int | None:
        """Fewest syllables of an allowed word, if one has at most ``most``."""
        root = self.lex.root
        return next((s for s in range(1, most + 1) if self.has(root, s)), None)
