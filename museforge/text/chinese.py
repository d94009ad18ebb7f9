"""Classical Chinese verse forms (绝句 and 律诗) enforced by constrained decoding.

A :class:`ChineseForm` describes what the poem must satisfy; :func:`make_chinese_constraint`
turns it into a per-sample :class:`~museforge.text.constraints.Constraint` whose masks make
every requested property hold by construction, and :func:`verify_chinese` checks a finished
text against the same rules (it accepts exactly what the constraint can produce).

Layout, as in the training corpus: one couplet per text line, ``XXXXX，XXXXX。``, couplets
separated by ``"\\n"``, no trailing newline. The constraint forces the punctuation.

Two rhyme books (``rhyme_book``) say which tone and rhyme group a character has:

* ``xinyun`` (中华新韵, the default): pronunciation from pypinyin, i.e. **modern
  Mandarin**: tones 1 and 2 count as 平, tones 3 and 4 as 仄 and the neutral tone (轻声,
  particles only) as 仄. The 入声 of Middle Chinese is lost in Mandarin, so characters
  such as 白, 国, 十 that were 仄 in Tang verse count as 平 here. The rest of this note
  describes this book.
* ``pingshui`` (平水韵, :mod:`museforge.text.pingshui`): the 106 groups of the classical
  book, 平声 groups 平 and 上/去/入声 仄, so Tang verse is judged as its poets heard it.
  A character the book lacks has no tone there (it may fill only unchecked positions).

Readings. pypinyin lists every attested reading of a character, many of them rare (明 mèng,
月 rù). A character keeps its main reading plus any other reading pypinyin's phrase dictionary
uses for it (长 cháng/zhǎng, 看 kān/kàn, 思 sī/sāi), so 明 is plain 平. A character fits a
position if ANY kept reading fits; the verifier uses the same rule, and a rhymed line end
needs a single reading that is both 平 (when tones are checked) and in the rhyme group.

Rhyme groups follow 中华新韵 (十四韵), by the tone-free final (韵母):

    一麻 a ia ua        二波 o e uo          三皆 ie üe ê       四开 ai uai
    五微 ei ui          六豪 ao iao          七尤 ou iu         八寒 an ian uan üan
    九文 en in un ün    十唐 ang iang uang   十一庚 eng ing ueng ong iong
    十二齐 i ü er       十三支 -i (after zh ch sh r z c s)       十四姑 u

A rhyme may be named by group (``十唐`` or ``唐``) or by any final of the group (``ang``,
``iang``...: the whole group is meant), ``None`` (the first rhymed line end picks the group)
or ``"off"``. Rhyme characters never repeat.

Tonal patterns (近体诗 格律). The four line types, by the tone of the 2nd syllable and of the
last one (each row is a matching couplet, 对):

    五言  仄起仄收 仄仄平平仄      平起平收 平平仄仄平
          平起仄收 平平平仄仄      仄起平收 仄仄仄平平
    七言  平起仄收 平平仄仄平平仄  仄起平收 仄仄平平仄仄平
          仄起仄收 仄仄平平平仄仄  平起平收 平平仄仄仄平平

Line 1 has the chosen start (``pattern``: 平起 "ping" / 仄起 "ze") and ends 平 only when it
rhymes (default: 七言 yes, 五言 no). Within a couplet the second line opposes the first (对)
and ends 平 (it rhymes); the next couplet's first line shares the 2nd-syllable tone of the
line before it (粘) and ends 仄. ``tones="loose"`` enforces 一三五不论，二四六分明: the even
positions and the line end; ``"strict"`` every position; ``"off"`` none (rhymed ends may then
be 仄 too). 孤平 and 三平尾 are not checked.

Forced characters (藏头 acrostic, required word) waive the tonal requirement of their
positions. An acrostic character always sits at the start of a 句, never on a rhyme. A
required word is placed (drawn from the generator) inside one 句, off any acrostic character
(unless it starts with that very character) and on a rhymed line end only if its last
character rhymes; there it counts as one of the rhyme characters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from pypinyin import Style, pinyin
from pypinyin.contrib.tone_convert import to_finals, to_initials, to_normal, to_tone3

from museforge.errors import InputError

__all__ = [
    "FORMS",
    "ChineseConstraint",
    "ChineseForm",
    "FormShape",
    "annotate_chinese",
    "canonical_form",
    "make_chinese_constraint",
    "rhyme_group_names",
    "rhyme_groups",
    "tone_classes",
    "tone_pattern",
    "verify_chinese",
]

PING, ZE = "ping", "ze"
COMMA, STOP, NEWLINE = "，", "。", "\n"
TONE_MODES = ("off", "loose", "strict")


class FormShape(NamedTuple):
    """Shape of a form: characters per 句, number of 句, display name."""

    chars_per_line: int
    lines: int
    display: str


FORMS: dict[str, FormShape] = {
    "wujue": FormShape(5, 4, "五言绝句"),
    "qijue": FormShape(7, 4, "七言绝句"),
    "wulv": FormShape(5, 8, "五言律诗"),
    "qilv": FormShape(7, 8, "七言律诗"),
}
_SHORT = {"wujue": "五绝", "qijue": "七绝", "wulv": "五律", "qilv": "七律"}
_FORM_ALIASES = {
    **{name: name for name in FORMS},
    **{short: name for name, short in _SHORT.items()},
    **{shape.display: name for name, shape in FORMS.items()},
}


def canonical_form(name: str) -> str:
    """Canonical form name for ``name`` ("七绝", "七言绝句", "QiJue" -> "qijue")."""
    key = name.strip()
    key = _FORM_ALIASES.get(key, _FORM_ALIASES.get(key.lower()))
    if key is None:
        valid = ", ".join(f"{n} ({_SHORT[n]})" for n in FORMS)
        raise InputError(f"unknown Chinese form {name!r}; valid forms: {valid}")
    return key


# --- rhyme groups (中华新韵) ----------------------------------------------------------------

RHYME_GROUPS: dict[str, tuple[str, ...]] = {
    "一麻": ("a", "ia", "ua"),
    "二波": ("o", "e", "uo"),
    "三皆": ("ie", "üe", "ê"),
    "四开": ("ai", "uai"),
    "五微": ("ei", "ui"),
    "六豪": ("ao", "iao"),
    "七尤": ("ou", "iu"),
    "八寒": ("an", "ian", "uan", "üan"),
    "九文": ("en", "in", "un", "ün"),
    "十唐": ("ang", "iang", "uang"),
    "十一庚": ("eng", "ing", "ueng", "ong", "iong"),
    "十二齐": ("i", "ü", "er"),
    "十三支": ("-i",),
    "十四姑": ("u",),
}
_GROUP_NAMES = list(RHYME_GROUPS)
_FINAL_GROUP = {f: g for g, finals in enumerate(RHYME_GROUPS.values()) for f in finals}
# pypinyin's strict finals -> the usual written forms used in the table above.
_FINAL_SPELLING = {"iou": "iu", "uei": "ui", "uen": "un"}
# Other spellings a user may type for a final.
_FINAL_ALIASES = _FINAL_SPELLING | {"v": "ü", "ve": "üe", "ue": "üe", "van": "üan", "vn": "ün"}
_APICAL_INITIALS = frozenset({"z", "c", "s", "zh", "ch", "sh", "r"})


def rhyme_group_names() -> list[str]:
    """The fourteen 中华新韵 group names, in order (一麻 ... 十四姑)."""
    return list(_GROUP_NAMES)


def _resolve_rhyme(name: str | None, book: RhymeBook | None = None) -> int | None:
    """Group index for a rhyme name; None for "pick freely"; -1 for "off"."""
    if name is None:
        return None
    if name.strip().lower() in ("off", "none", "no"):
        return -1
    book = book or XINYUN
    found = book.find(name)
    if found is not None:
        return found
    if book.key == "pingshui":
        some = " ".join(book.names[:6])
        raise InputError(
            f"unknown rhyme {name!r} in 平水韵; name one of its groups, e.g. {some} "
            "(or 東, 陽, 七阳), or 'off'"
        )
    some = ", ".join([*_GROUP_NAMES[:5], "唐", "ang", "ian", "ong"])
    raise InputError(
        f"unknown rhyme {name!r}; name a 中华新韵 group or a final, e.g. {some} "
        f"(all groups: {' '.join(_GROUP_NAMES)}), or 'off'"
    )


# --- readings --------------------------------------------------------------------------------


class _Reading(NamedTuple):
    syllable: str  # tone-marked, for messages
    final: str  # tone-free final as written in RHYME_GROUPS
    tone: str  # PING or ZE
    group: int | None  # index into RHYME_GROUPS
    neutral: bool  # 轻声


@functools.lru_cache(maxsize=1)
def _phrase_readings() -> dict[str, frozenset[str]]:
    """Readings each character takes somewhere in pypinyin's phrase dictionary."""
    from pypinyin.phrases_dict import phrases_dict

    seen: dict[str, set[str]] = {}
    for phrase, readings in phrases_dict.items():
        if len(phrase) != len(readings):
            continue
        for char, options in zip(phrase, readings, strict=True):
            if options:
                seen.setdefault(char, set()).add(options[0])
    return {char: frozenset(r) for char, r in seen.items()}


@functools.lru_cache(maxsize=4096)  # ~1,500 distinct syllables; the conversions are slow
def _parse(syllable: str) -> _Reading:
    tone3 = to_tone3(syllable, neutral_tone_with_five=True)
    tone = PING if tone3[-1] in "12" else ZE  # 3, 4 and neutral 5
    plain = to_normal(syllable)
    final = to_finals(plain, strict=True)
    if final == "i" and to_initials(plain, strict=True) in _APICAL_INITIALS:
        final = "-i"
    final = _FINAL_SPELLING.get(final, final).replace("v", "ü")
    return _Reading(syllable, final, tone, _FINAL_GROUP.get(final), tone3[-1] == "5")


@functools.lru_cache(maxsize=65536)
def _readings(char: str) -> tuple[_Reading, ...]:
    """The kept readings of one character; () for anything pypinyin cannot read."""
    if len(char) != 1:
        return ()
    found = pinyin(char, style=Style.TONE, heteronym=True, errors="ignore")
    if not found or not found[0]:
        return ()
    readings = [_parse(s) for s in found[0]]
    toned = [r for r in readings if not r.neutral]
    if not toned:  # only neutral-tone particles
        return tuple(readings)
    common = _phrase_readings().get(char, frozenset())
    # pypinyin lists the usual reading first; keep others only if some phrase uses them.
    return tuple(r for i, r in enumerate(toned) if i == 0 or r.syllable in common)


class RhymeBook(NamedTuple):
    """Where tones and rhyme groups come from: 中华新韵 (modern Mandarin, pypinyin) or
    平水韵 (Middle Chinese, the classical book)."""

    key: str  # "xinyun" or "pingshui"
    display: str  # 中华新韵 / 平水韵
    names: tuple[str, ...]  # group names, by index
    readings: Callable[[str], tuple[_Reading, ...]]
    find: Callable[[str], int | None]  # a group named by the user, None if unknown
    explain: Callable[[int], str]  # a group for messages: "十唐 (ang/iang/uang)"


def _xinyun_find(name: str) -> int | None:
    key = name.strip().lower().removesuffix("韵")
    key = _FINAL_ALIASES.get(key, key)
    if key in _FINAL_GROUP:
        return _FINAL_GROUP[key]
    for g, group in enumerate(_GROUP_NAMES):
        # "十唐" or its last character "唐"
        if key in (group, group.lstrip("一二三四五六七八九十")):
            return g
    return None


@functools.lru_cache(maxsize=65536)
def _pingshui_readings(char: str) -> tuple[_Reading, ...]:
    from museforge.text import pingshui

    groups = pingshui.groups()
    return tuple(
        _Reading(groups[g].full, groups[g].name, PING if groups[g].ping else ZE, g, False)
        for g in pingshui.groups_of(char)
    )


def _pingshui_explain(g: int) -> str:
    from museforge.text import pingshui

    return pingshui.groups()[g].full


def _pingshui_find(name: str) -> int | None:
    from museforge.text import pingshui

    return pingshui.find_group(name)


XINYUN = RhymeBook(
    "xinyun",
    "中华新韵",
    tuple(_GROUP_NAMES),
    _readings,
    _xinyun_find,
    lambda g: f"{_GROUP_NAMES[g]} ({'/'.join(RHYME_GROUPS[_GROUP_NAMES[g]])})",
)
_BOOK_ALIASES = {
    "xinyun": "xinyun",
    "中华新韵": "xinyun",
    "新韵": "xinyun",
    "pingshui": "pingshui",
    "平水韵": "pingshui",
    "平水韻": "pingshui",
    "平水": "pingshui",
}


@functools.cache
def rhyme_book(name: str = "xinyun") -> RhymeBook:
    """A rhyme book by name: "xinyun" (中华新韵, the default) or "pingshui" (平水韵)."""
    key = _BOOK_ALIASES.get(str(name).strip().lower(), _BOOK_ALIASES.get(str(name).strip()))
    if key is None:
        raise InputError(
            f"unknown rhyme book {name!r}; choose xinyun (中华新韵, modern tones) or "
            "pingshui (平水韵, classical tones with 入声 as 仄)"
        )
    if key == "xinyun":
        return XINYUN
    from museforge.text import pingshui

    return RhymeBook(
        "pingshui",
        "平水韵",
        tuple(g.name for g in pingshui.groups()),
        _pingshui_readings,
        _pingshui_find,
        _pingshui_explain,
    )


def tone_classes(char: str, book: RhymeBook = XINYUN) -> set[str]:
    """{"ping"}, {"ze"} or both (polyphonic); empty for non-Han characters (and, in 平水韵,
    for characters the book lacks)."""
    return {r.tone for r in book.readings(char)}


def rhyme_groups(char: str, tone: str | None = None, book: RhymeBook = XINYUN) -> set[str]:
    """Rhyme groups ``char`` belongs to by any reading (only 平 readings if tone="ping")."""
    return {
        book.names[r.group]
        for r in book.readings(char)
        if r.group is not None and (tone is None or r.tone == tone)
    }


def _group_mask(char: str, tone_checked: bool, book: RhymeBook = XINYUN) -> int:
    """Bit set of rhyme groups for ``char`` at a rhymed line end."""
    bits = 0
    for r in book.readings(char):
        if r.group is not None and (not tone_checked or r.tone == PING):
            bits |= 1 << r.group
    return bits


# --- tonal patterns --------------------------------------------------------------------------

# Line types keyed by (tone of the 2nd syllable, tone of the last syllable).
_LINE_TYPES: dict[int, dict[tuple[str, str], str]] = {
    5: {
        (ZE, ZE): "仄仄平平仄",
        (PING, PING): "平平仄仄平",
        (PING, ZE): "平平平仄仄",
        (ZE, PING): "仄仄仄平平",
    },
    7: {
        (PING, ZE): "平平仄仄平平仄",
        (ZE, PING): "仄仄平平仄仄平",
        (ZE, ZE): "仄仄平平平仄仄",
        (PING, PING): "平平仄仄仄平平",
    },
}
_PATTERN_ALIASES = {"ping": PING, "平": PING, "平起": PING, "ze": ZE, "仄": ZE, "仄起": ZE}
_START_NAME = {PING: "平起", ZE: "仄起"}


def _first_rhymes(form: ChineseForm) -> bool:
    if form.first_line_rhymes is not None:
        return form.first_line_rhymes
    return FORMS[form.form].chars_per_line == 7  # 七言 rhymes its first line by convention


def tone_pattern(form: ChineseForm, pattern: str) -> list[str]:
    """The 平仄 template of every 句 for a start ("ping" 平起 or "ze" 仄起)."""
    shape = FORMS[form.form]
    types = _LINE_TYPES[shape.chars_per_line]
    key = _PATTERN_ALIASES[pattern]
    lines = [types[(key, PING if _first_rhymes(form) else ZE)]]
    for i in range(1, shape.lines):
        if i % 2 == 1:  # 对: the couplet's second line opposes the first and rhymes
            key = ZE if key == PING else PING
            lines.append(types[(key, PING)])
        else:  # 粘: same 2nd-syllable tone as the line before, unrhymed 仄 end
            lines.append(types[(key, ZE)])
    return lines


def _enforced(length: int, tones: str) -> range | tuple[int, ...]:
    """0-based positions whose tone is checked."""
    if tones == "strict":
        return range(length)
    if tones == "loose":  # 二四六分明 plus the line end
        return (*range(1, length - 1, 2), length - 1)
    return ()


def _rhymed_lines(form: ChineseForm) -> list[int]:
    """0-based 句 whose last character rhymes (empty when rhyme is off)."""
    if _resolve_rhyme(form.rhyme, form.book) == -1:
        return []
    lines = list(range(1, FORMS[form.form].lines, 2))
    return [0, *lines] if _first_rhymes(form) else lines


# --- the form --------------------------------------------------------------------------------


def _han_only(text: str, what: str) -> None:
    for char in text:
        if not _readings(char):
            raise InputError(f"{what} {text!r} contains {char!r}, which is not a Chinese character")


@dataclass(frozen=True)
class ChineseForm:
    """What a Chinese poem must satisfy; every field but ``form`` is optional.

    ``rhyme``: group (十唐/唐), final (ang), None (first rhyme picks) or "off".
    ``tones``: "off", "loose" (二四六分明 + line end) or "strict" (every position).
    ``pattern``: "ping" (平起) or "ze" (仄起); None = drawn from the generator.
    ``repeats``: allow a character twice in one 句 (side by side, 叠字, always is).
    ``rhyme_book``: "xinyun" (中华新韵, modern tones) or "pingshui" (平水韵, 入声 as 仄).
    """

    form: str = "qijue"
    rhyme: str | None = None
    tones: str = "loose"
    acrostic: str | None = None
    required: str | None = None
    first_line_rhymes: bool | None = None
    pattern: str | None = None
    repeats: bool = False
    rhyme_book: str = "xinyun"

    def __post_init__(self) -> None:
        # Normalise in place (frozen) so later code sees canonical values only.
        object.__setattr__(self, "form", canonical_form(self.form))
        shape = FORMS[self.form]
        if self.tones not in TONE_MODES:
            raise InputError(f"unknown tones {self.tones!r}; valid: {', '.join(TONE_MODES)}")
        if self.pattern is not None:
            if self.pattern.strip().lower() not in _PATTERN_ALIASES:
                raise InputError(f"unknown pattern {self.pattern!r}; valid: ping (平起), ze (仄起)")
            object.__setattr__(self, "pattern", _PATTERN_ALIASES[self.pattern.strip().lower()])
        object.__setattr__(self, "rhyme_book", rhyme_book(self.rhyme_book).key)
        _resolve_rhyme(self.rhyme, self.book)
        for field in ("acrostic", "required"):
            value = getattr(self, field)
            if value is not None:
                object.__setattr__(self, field, "".join(value.split()) or None)
        if self.acrostic:
            if len(self.acrostic) > shape.lines:
                raise InputError(
                    f"acrostic has {len(self.acrostic)} characters but a {_SHORT[self.form]} "
                    f"has {shape.lines} lines"
                )
            _han_only(self.acrostic, "acrostic")
        if self.required:
            if len(self.required) > shape.chars_per_line:
                raise InputError(
                    f"required word {self.required!r} has {len(self.required)} characters but "
                    f"a line of a {_SHORT[self.form]} has only {shape.chars_per_line}"
                )
            _han_only(self.required, "required word")

    @property
    def book(self) -> RhymeBook:
        return rhyme_book(self.rhyme_book)


# --- per-vocabulary tables -------------------------------------------------------------------


class _VocabTables:
    """Per-vocabulary tensors of one rhyme book, built once and shared by every constraint
    on that vocabulary.

    Rhyme membership is a bit set of groups per character (bit g = group g; a Python int,
    as 平水韵 has 106 groups), and a rhyme slot's mask is the union of the candidate
    groups' character masks, cached per set of candidates.
    """

    def __init__(self, vocab: tuple[str, ...], book: RhymeBook):
        size = len(vocab)
        self.size, self.book = size, book
        self.index: dict[str, int] = {}
        han, ping, ze = [], [], []
        groups = len(book.names)
        # bits[tone_checked][i]: groups of character i (via 平 readings only when checked);
        # _members[tone_checked][g]: the characters of group g, the same facts by group
        self.bits: dict[bool, list[int]] = {False: [0] * size, True: [0] * size}
        self._members: dict[bool, list[list[int]]] = {
            key: [[] for _ in range(groups)] for key in (False, True)
        }
        for i, char in enumerate(vocab):
            self.index.setdefault(char, i)
            if not _readings(char):  # not a Chinese character at all
                continue
            han.append(i)
            for r in book.readings(char):
                (ping if r.tone == PING else ze).append(i)
                if r.group is None:
                    continue
                for key in (False, True) if r.tone == PING else (False,):
                    self.bits[key][i] |= 1 << r.group
                    self._members[key][r.group].append(i)
        self.han = self._flags(han)
        self.tone = {PING: self._flags(ping), ZE: self._flags(ze)}
        self._rhyme_masks: dict[tuple[bool, int], torch.Tensor] = {}
        # capacity[tone_checked][g]: distinct characters available for group g (duplicates
        # in the vocabulary count once, as they are the same rhyme character)
        self.capacity: dict[bool, list[int]] = {}
        for key, bits in self.bits.items():
            first = [bits[i] for char, i in self.index.items()]
            self.capacity[key] = [sum(b >> g & 1 for b in first) for g in range(groups)]
        self._one_hot: dict[str, torch.Tensor] = {}

    def _flags(self, ids: list[int]) -> torch.Tensor:
        flags = torch.zeros(self.size, dtype=torch.bool)
        flags[ids] = True
        return flags

    def one_hot(self, char: str) -> torch.Tensor:
        if char not in self._one_hot:
            self._one_hot[char] = self._flags([self.index[char]])
        return self._one_hot[char]

    def rhyme_mask(self, tone_checked: bool, state: int) -> torch.Tensor:
        """Characters in any of the candidate groups ``state`` (a bit set)."""
        key = (tone_checked, state)
        got = self._rhyme_masks.get(key)
        if got is None:
            members = self._members[tone_checked]
            ids = [i for g in range(len(members)) if state >> g & 1 for i in members[g]]
            got = self._flags(ids)
            if len(self._rhyme_masks) > 4096:
                self._rhyme_masks.clear()
            self._rhyme_masks[key] = got
        return got


@functools.lru_cache(maxsize=8)
def _tables(vocab: tuple[str, ...], book: str = "xinyun") -> _VocabTables:
    return _VocabTables(vocab, rhyme_book(book))


def han_mask(vocab: Sequence[str]) -> torch.Tensor:
    """Bool mask of the vocabulary entries that are readable Chinese characters (cached)."""
    return _tables(tuple(vocab)).han


# --- the constraint --------------------------------------------------------------------------


class ChineseConstraint:
    """One sample's state machine: a fixed sequence of slots, rhyme slots tracked live."""

    def __init__(
        self,
        tables: _VocabTables,
        masks: list[torch.Tensor],
        rhyme_slots: set[int],
        tone_checked: bool,
        state: int,
        used: torch.Tensor,
        pattern: str,
        forced_later: dict[int, frozenset[int]] | None = None,
    ):
        self._tables, self._masks, self._rhyme_slots = tables, masks, rhyme_slots
        self._bits = tables.bits[tone_checked]
        self._tone_checked = tone_checked
        self._state, self._used = state, used  # candidate groups (bit set), rhymes used
        self._pos = 0
        self.pattern = pattern  # the 平起/仄起 start actually used
        # Free slot -> characters forced later in its 句; None: repeats allowed.
        self._later = forced_later
        self._clause: list[int] = []  # ids written so far in the current 句

    def _banned(self) -> list[int]:
        """Characters this free slot may not repeat: those already in the 句 or forced
        later in it, except the one just written if it stands once (叠字, 萋萋)."""
        later = self._later.get(self._pos) if self._later is not None else None
        if later is None:
            return []
        ids = self._clause
        out = set(ids) | later
        if ids and ids.count(ids[-1]) == 1 and ids[-1] not in later:
            out.discard(ids[-1])
        return list(out)

    def _mask(self) -> torch.Tensor:
        mask = self._masks[self._pos]
        if self._pos in self._rhyme_slots:
            mask = mask & ~self._used & self._tables.rhyme_mask(self._tone_checked, self._state)
        banned = self._banned()
        if banned:
            mask = mask.clone()
            mask[banned] = False
        return mask

    def allowed(self) -> torch.Tensor | None:
        if self.done:
            return None
        # Static masks are shared between constraints: hand out a copy.
        return self._mask().clone()

    def advance(self, char: str) -> None:
        if self.done:
            raise ValueError(f"the poem is already complete; got {char!r}")
        i = self._tables.index.get(char)
        if i is None or not bool(self._mask()[i]):
            raise ValueError(f"{char!r} is not allowed at position {self._pos} of the form")
        if self._pos in self._rhyme_slots:
            self._used[i] = True
            self._state &= self._bits[i]
        if char in (COMMA, STOP, NEWLINE):
            self._clause = []
        else:
            self._clause.append(i)
        self._pos += 1

    @property
    def done(self) -> bool:
        return self._pos >= len(self._masks)

    @property
    def rhyme_group(self) -> str | None:
        """The rhyme group once it is settled (a single candidate left), else None."""
        names = self._tables.book.names
        left = [g for g in range(len(names)) if self._state >> g & 1]
        return names[left[0]] if len(left) == 1 else None


def _draw(n: int, generator: torch.Generator) -> int:
    return int(torch.randint(n, (1,), generator=generator, device=generator.device).item())


def _groups_with_room(capacity: list[int], need: int, reserved_bits: int = 0) -> int:
    """Bit set of groups holding ``need`` characters besides one reserved character."""
    bits = 0
    for g, count in enumerate(capacity):
        if count - (reserved_bits >> g & 1) >= need:
            bits |= 1 << g
    return bits


def make_chinese_constraint(
    form: ChineseForm,
    vocab: list[str],
    generator: torch.Generator,
    keep: dict[int, str] | None = None,
) -> ChineseConstraint:
    """A fresh constraint for one sample of ``form`` over the model's ``vocab``, with the
    句 in ``keep`` (0-based 句 -> its characters) written as given: their characters are
    forced (tones as written), and a kept rhymed 句 sets the rhyme the others follow."""
    shape = FORMS[form.form]
    length, n_lines = shape.chars_per_line, shape.lines
    book = form.book
    tables = _tables(tuple(vocab), book.key)
    for char in (COMMA, STOP, NEWLINE):
        if char not in tables.index:
            raise InputError(
                f"the model's vocabulary lacks {char!r}; it cannot write Chinese verse"
            )
    for char in (form.acrostic or "") + (form.required or ""):
        if char not in tables.index:
            raise InputError(f"the model has never seen {char!r}")

    kept = _check_kept(keep or {}, form, tables)
    start = form.pattern or _start_for(form, kept, (PING, ZE)[_draw(2, generator)])
    template = tone_pattern(form, start)
    enforced = _enforced(length, form.tones)
    tone_on = form.tones != "off"
    capacity = tables.capacity[tone_on]

    # Rhyme: the candidate groups must each hold a distinct character for every rhyme slot,
    # so that no choice made while sampling can lead into a dead end.
    group = _resolve_rhyme(form.rhyme, book)
    rhymed = _rhymed_lines(form)
    wanted = (1 << len(book.names)) - 1 if group is None else 1 << max(group, 0)
    state = wanted
    if rhymed:
        state = wanted & _groups_with_room(capacity, len(rhymed))
        if not state:
            need = f"{len(rhymed)} distinct rhyme characters" + (" with a 平 reading" * tone_on)
            if group is None:
                raise InputError(f"no rhyme group has {need} in the model's vocabulary")
            raise InputError(
                f"too few rhyming characters: the model knows only {capacity[group]} "
                f"characters in {book.explain(group)} but a {_SHORT[form.form]} needs {need}"
            )
    used = torch.zeros(len(vocab), dtype=torch.bool)

    forced: dict[tuple[int, int], str] = {}
    for line, char in enumerate(form.acrostic or ""):
        forced[(line, 0)] = char
    for line, text in kept.items():
        head = forced.get((line, 0))
        if head is not None and head != text[0]:
            raise InputError(
                f"kept 句 {line + 1} begins with '{text[0]}' but the acrostic asks for '{head}'"
            )
        forced.update(((line, pos), char) for pos, char in enumerate(text))
    if form.required and not any(form.required in text for text in kept.values()):
        word = form.required
        last = tables.index[word[-1]]
        # On a rhymed line end the word's last character is a rhyme (its tone waived): it
        # must rhyme and leave enough other characters for the remaining rhyme slots.
        end_state = (
            wanted
            & tables.bits[False][last]
            & _groups_with_room(capacity, len(rhymed) - 1, tables.bits[tone_on][last])
        )
        places = []
        for line in range(n_lines):
            for offset in range(length - len(word) + 1):
                if any(forced.get((line, offset + k), c) != c for k, c in enumerate(word)):
                    continue
                if offset + len(word) == length and line in rhymed and not end_state:
                    continue
                places.append((line, offset))
        if not places:
            raise InputError(f"required word {word!r} fits nowhere in this {_SHORT[form.form]}")
        line, offset = places[_draw(len(places), generator)]
        for k, char in enumerate(word):
            forced[(line, offset + k)] = char
        if offset + len(word) == length and line in rhymed:
            state = end_state
            used[last] = True
    open_ends = sum(line not in kept for line in rhymed)
    for line, text in kept.items():
        if line not in rhymed:
            continue
        last = tables.index[text[-1]]  # its tone as written: the writer's choice
        state &= tables.bits[False][last]
        state &= _groups_with_room(capacity, open_ends, tables.bits[tone_on][last])
        used[last] = True
        if not state:
            raise InputError(
                f"kept 句 {line + 1} ends in '{text[-1]}', which shares no {book.display} "
                "rhyme group with the poem's other rhymes (or leaves too few rhyme characters)"
            )

    masks: list[torch.Tensor] = []
    rhyme_slots: set[int] = set()
    later: dict[int, frozenset[int]] = {}
    for line in range(n_lines):
        for pos in range(length):
            if (line, pos) in forced:
                masks.append(tables.one_hot(forced[(line, pos)]))
                continue
            ahead = (forced.get((line, p)) for p in range(pos + 1, length))
            later[len(masks)] = frozenset(tables.index[c] for c in ahead if c is not None)
            mask = tables.han
            if pos in enforced:
                mask = tables.tone[PING if template[line][pos] == "平" else ZE]
            if pos == length - 1 and line in rhymed:
                rhyme_slots.add(len(masks))
            masks.append(mask)
        masks.append(tables.one_hot(COMMA if line % 2 == 0 else STOP))
        if line % 2 == 1 and line < n_lines - 1:
            masks.append(tables.one_hot(NEWLINE))
    return ChineseConstraint(
        tables, masks, rhyme_slots, tone_on, state, used, start, None if form.repeats else later
    )


def _start_for(form: ChineseForm, kept: dict[int, str], drawn: str) -> str:
    """The start (平起/仄起) the kept 句 fit best, ``drawn`` when they fit both alike."""
    if not kept:
        return drawn
    length = FORMS[form.form].chars_per_line
    misses = {}
    for start in (PING, ZE):
        template = tone_pattern(form, start)
        misses[start] = sum(
            (PING if template[line][j] == "平" else ZE) not in tone_classes(text[j], form.book)
            for line, text in kept.items()
            for j in _enforced(length, form.tones)
        )
    return drawn if misses[PING] == misses[ZE] else min(misses, key=misses.__getitem__)


def _check_kept(keep: dict[int, str], form: ChineseForm, tables: _VocabTables) -> dict[int, str]:
    """Kept 句 as the constraint forces them: the right length, known Han characters."""
    shape = FORMS[form.form]
    out = {}
    for line, text in sorted(keep.items()):
        text = "".join(text.split()).strip("，。,.!?！？；;")
        if not 0 <= line < shape.lines:
            raise InputError(
                f"kept 句 {line + 1} is outside the {shape.lines} 句 of a {_SHORT[form.form]}"
            )
        if len(text) != shape.chars_per_line:
            raise InputError(
                f"kept 句 {line + 1} {text!r} has {len(text)} characters; a "
                f"{_SHORT[form.form]} 句 has {shape.chars_per_line}"
            )
        _han_only(text, f"kept 句 {line + 1}")
        unseen = "".join(dict.fromkeys(c for c in text if c not in tables.index))
        if unseen:
            raise InputError(
                f"kept 句 {line + 1} has characters the model has never seen: {unseen!r}"
            )
        out[line] = text
    return out


# --- verification ----------------------------------------------------------------------------

_COUPLET = re.compile(r"([^，。\n]*)，([^，。\n]*)。")


def _split_layout(text: str, form: ChineseForm) -> tuple[list[str], list[str]]:
    """The 句 of ``text`` and any layout problems (then the 句 are not usable)."""
    shape = FORMS[form.form]
    rows = text.split(NEWLINE)
    couplets = shape.lines // 2
    if len(rows) != couplets:
        return [], [
            f"layout: a {_SHORT[form.form]} has {couplets} couplet lines "
            f"('{'X' * shape.chars_per_line}，{'X' * shape.chars_per_line}。'), found {len(rows)}"
        ]
    lines, problems = [], []
    for k, row in enumerate(rows):
        match = _COUPLET.fullmatch(row)
        if match is None:
            problems.append(f"layout: couplet line {k + 1} {row!r} is not 'X…X，X…X。'")
            continue
        for j, line in enumerate(match.groups()):
            if len(line) != shape.chars_per_line:
                problems.append(
                    f"layout: 句 {2 * k + j + 1} {line!r} has {len(line)} characters, "
                    f"expected {shape.chars_per_line}"
                )
            lines.append(line)
    return lines, problems


def _describe(char: str, book: RhymeBook = XINYUN) -> str:
    readings = book.readings(char)
    if book.key == "xinyun":
        return "/".join(r.syllable for r in readings) if readings else "no reading"
    found = "/".join(r.syllable for r in readings)
    return f"{found} in {book.display}" if found else f"not in {book.display}"


def _tone_problems(
    lines: list[str], form: ChineseForm, start: str, waived: set[tuple[int, int]]
) -> list[str]:
    template = tone_pattern(form, start)
    problems = []
    for i, line in enumerate(lines):
        for j in _enforced(len(line), form.tones):
            if (i, j) in waived:
                continue
            need = PING if template[i][j] == "平" else ZE
            if need not in tone_classes(line[j], form.book):
                problems.append(
                    f"tones: 句 {i + 1} character {j + 1} '{line[j]}' should be "
                    f"{template[i][j]} ({_START_NAME[start]} pattern {template[i]}) but reads "
                    f"{_describe(line[j], form.book)}"
                )
    return problems


def _rhyme_problems(lines: list[str], form: ChineseForm, waived: set[tuple[int, int]]) -> list[str]:
    rhymed = _rhymed_lines(form)
    if not rhymed:
        return []
    book = form.book
    group = _resolve_rhyme(form.rhyme, book)
    problems, ends, common = [], [], (1 << len(book.names)) - 1
    for i in rhymed:
        char = lines[i][-1]
        checked = form.tones != "off" and (i, len(lines[i]) - 1) not in waived
        bits = _group_mask(char, checked, book)
        if checked and not bits and PING not in tone_classes(char, book):
            bits = _group_mask(char, False, book)  # the tone message already covers it
        names = "/".join(book.names[g] for g in range(len(book.names)) if bits >> g & 1)
        ends.append(f"'{char}' ({_describe(char, book)}, {names or 'no group'})")
        if group is not None and not bits >> group & 1:
            problems.append(
                f"rhyme: 句 {i + 1} ends in '{char}' ({_describe(char, book)}), which does not "
                f"rhyme in {book.names[group]}"
                + (" with a 平 reading" if _group_mask(char, False, book) >> group & 1 else "")
            )
        common &= bits
    if group is None and not common:
        problems.append(f"rhyme: the rhymed line ends {', '.join(ends)} share no rhyme group")
    chars = [lines[i][-1] for i in rhymed]
    for char in sorted({c for c in chars if chars.count(c) > 1}):
        problems.append(f"rhyme: '{char}' is used as a rhyme more than once")
    return problems


def verify_chinese(text: str, form: ChineseForm) -> list[str]:
    """Problems of ``text`` against ``form``, one readable message each; [] if it conforms.

    Surrounding whitespace is ignored. With ``pattern=None`` either start is accepted, with
    ``rhyme=None`` any shared group; tones are waived on the acrostic characters and on every
    occurrence of the required word.
    """
    lines, problems = _split_layout(text.strip(), form)
    if problems:
        return problems
    for i, line in enumerate(lines):
        for j, char in enumerate(line):
            if not _readings(char):
                problems.append(f"句 {i + 1} character {j + 1} {char!r} is not a Chinese character")
    if problems:
        return problems

    waived: set[tuple[int, int]] = set()
    for i, char in enumerate(form.acrostic or ""):
        waived.add((i, 0))
        if lines[i][0] != char:
            problems.append(f"acrostic: 句 {i + 1} should begin with '{char}', not '{lines[i][0]}'")
    if form.required:
        word = form.required
        for i, line in enumerate(lines):
            for j in range(len(line) - len(word) + 1):
                if line.startswith(word, j):
                    waived.update((i, j + k) for k in range(len(word)))
        if not any(word in line for line in lines):
            problems.append(f"required word '{word}' does not appear in any 句")

    if form.tones != "off":
        starts = [form.pattern] if form.pattern else [PING, ZE]
        tone_issues = min(
            (_tone_problems(lines, form, s, waived) for s in starts), key=len, default=[]
        )
        problems += tone_issues
    problems += _rhyme_problems(lines, form, waived)
    if not form.repeats:
        problems += _repeat_problems(lines, waived)
    return problems


def _repeat_problems(lines: list[str], waived: set[tuple[int, int]]) -> list[str]:
    """A character twice in one 句, unless side by side (叠字) or forced (acrostic,
    required word)."""
    problems = []
    for i, line in enumerate(lines):
        for char in dict.fromkeys(line):
            at = [j for j, c in enumerate(line) if c == char]
            if len(at) < 2 or (len(at) == 2 and at[1] == at[0] + 1):
                continue
            if any((i, j) in waived for j in at):
                continue
            problems.append(
                f"repeat: 句 {i + 1} uses '{char}' {len(at)} times "
                "(only side by side, as 叠字, unless repeats are allowed)"
            )
    return problems


# --- annotation ------------------------------------------------------------------------------

_MARKS = {frozenset({PING}): "○", frozenset({ZE}): "●", frozenset({PING, ZE}): "◐"}
_CLAUSE = re.compile(r"([^，。！？；、,.!?;：:]+)([，。！？；、,.!?;：:]*)")


def annotate_chinese(text: str, book: str = "xinyun") -> str:
    """Each 句 on its own line with 平仄 marks (○ 平, ● 仄, ◐ either, · no reading) and the
    rhyme of its last character by the rhyme book that judged it, e.g.
    ``床前明月光，  ○○○●○  新韵:uang 十唐`` or, in 平水韵, ``… 平水韵:下平聲七陽``."""
    rhymes = rhyme_book(book)
    out = []
    for row in text.strip().split(NEWLINE):
        if not row.strip():
            out.append("")
            continue
        for clause, punct in _CLAUSE.findall(row.strip()):
            clause = clause.strip()
            if not clause:
                continue
            marks = "".join(_MARKS.get(frozenset(tone_classes(c, rhymes)), "·") for c in clause)
            readings = rhymes.readings(clause[-1])
            if rhymes.key == "xinyun":
                finals = "/".join(dict.fromkeys(r.final for r in readings))
                groups = " ".join(sorted(rhyme_groups(clause[-1]), key=_GROUP_NAMES.index))
                rhyme = f"  新韵:{finals}" + (f" {groups}" if groups else "") if finals else ""
            else:
                fulls = "/".join(r.syllable for r in readings)
                rhyme = f"  {rhymes.display}:{fulls}" if fulls else ""
            out.append(f"{clause}{punct}  {marks}{rhyme}")
    return "\n".join(out)
