"""Text corpora: the built-in poem collections and user text files, as cleaned poems.

Built-ins are Debian fortune files (``tang300``, ``song100``, ``songs-poems``); user data is
``file:PATH`` or ``folder:PATH``. Every source becomes a tuple of :class:`Poem`; the training
text is each poem rendered by :func:`render_document` and followed by :data:`END`.

Decisions worth knowing:

* song100 entries with sub-headings (``其一``, ``其二`` on their own lines) become one poem
  per section titled ``题・其一``, the separator tang300 itself uses (``《感遇・其一》``).
  After the closing ``》`` of a title, ``其N`` is kept the same way; counts (``二首``) and
  editorial notes (``（选一）``) are dropped.
* Author life dates and other parenthesised notes after the name are dropped.
* A fortune attribution (an indented ``-- Name`` line near the end) and everything after it
  is metadata: the name before the first comma or quoted title is the author.
* A user file is split on ``%`` lines when it has any (fortune format, parsed like the
  built-ins); otherwise on two or more blank lines; if that leaves one document, on single
  blank lines, merging consecutive stanzas until a document has at least
  :data:`MIN_DOC_LINES` lines (a short leftover joins the document before it).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

import numpy as np

from museforge.core.data import register_dataset, register_user_source, resolve
from museforge.core.files import list_files
from museforge.core.media import TEXT_SUFFIXES, no_usable
from museforge.errors import DataError, InputError

END = "\x03"  # end-of-poem marker between documents; cleaning removes it from poems

FORTUNES_DIR = Path("/usr/share/games/fortunes")
MAX_FILE_BYTES = 50_000_000
MIN_DOC_LINES = 4
MIN_SPLIT_CHARS = 200
ZH_SHARE = 0.3  # Han characters per letter above which text counts as Chinese


@dataclass(frozen=True)
class Poem:
    """One document: the body lines joined by newlines, with optional title and author."""

    text: str
    title: str = ""
    author: str = ""


@dataclass(frozen=True)
class TextCorpus:
    """Poems from one source, in source order, with the files that were skipped."""

    source: str
    language: str
    poems: tuple[Poem, ...]
    skipped: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Accept any sequence but store a tuple, so the corpus stays hashable and immutable.
        object.__setattr__(self, "poems", tuple(self.poems))
        object.__setattr__(self, "skipped", tuple(self.skipped))

    @property
    def fingerprint(self) -> str:
        """sha256 of the training text: equal exactly when the model would see equal text."""
        return hashlib.sha256(self.text().encode("utf-8")).hexdigest()

    def documents(self) -> list[str]:
        """Each poem's training text (see render_document), in order."""
        return [render_document(poem, self.language) for poem in self.poems]

    def text(self) -> str:
        """All documents, each followed by END: the text a language model trains on."""
        return "".join(doc + END for doc in self.documents())

    def __len__(self) -> int:
        return len(self.poems)


@dataclass(frozen=True)
class _Fortunes:
    """A built-in set: a Debian fortune file of poems in one language."""

    name: str
    package: str
    language: str

    def load(self) -> TextCorpus:
        return _load_builtin(self)


# Every fortune file but those the starters learn from (songs-poems, tang300: a base that
# had read them would leak their held-out poems into the poets fine-tuned from it) and
# those that are no prose (ascii-art, translate-me).
EN_FORTUNES = (
    "art", "computers", "cookie", "debian", "definitions", "disclaimer", "drugs",
    "education", "ethnic", "food", "fortunes", "goedel", "humorists", "kids", "knghtbrd",
    "law", "linux", "linuxcookie", "literature", "love", "magic", "medicine", "men-women",
    "miscellaneous", "news", "paradoxum", "people", "perl", "pets", "platitudes",
    "politics", "pratchett", "riddles", "science", "sports", "startrek", "tao", "wisdom",
    "work", "zippy",
)  # fmt: skip
ZH_FORTUNES = ("chinese", "song100")


@dataclass(frozen=True)
class _FortuneFiles:
    """A built-in set of several fortune files of one language (text to pretrain on);
    files that are missing are skipped, all missing is an error."""

    name: str
    package: str
    language: str
    files: tuple[str, ...]

    def load(self) -> TextCorpus:
        poems: list[Poem] = []
        for file in self.files:
            path = FORTUNES_DIR / file
            if path.is_file():
                poems += _load_builtin(_Fortunes(file, self.package, self.language)).poems
        if not poems:
            raise DataError(
                f"built-in text set '{self.name}' needs the fortune files of {FORTUNES_DIR}; "
                f"install the Debian package {self.package} or run make install"
            )
        return TextCorpus(self.name, self.language, tuple(poems))


_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[A-Za-z]|[()][A-Za-z0-9]|[A-Za-z=>])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # keeps \t and \n
_TEXT_CONTROLS = frozenset("\t\n\r\f\b\x1b")  # controls that real text files do contain
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")
_NON_LETTER = re.compile(r"[\W\d_]+")
_ACCENTS = {"'": "\u0301", "`": "\u0300", '"': "\u0308", "^": "\u0302", "~": "\u0303"}

_TITLE = re.compile(
    r"^\s*(?:题目\s*[:：]\s*)?《(?P<title>.+)》(?P<rest>[^，。！？；：,.!?;:]{0,8})$"
)
_AUTHOR = re.compile(r"^\s*作者\s*[:：]\s*(?P<author>\S.*?)\s*$")
_PARENTHESES = re.compile(r"\s*[（(][^（()）]*[）)]")
_SUBHEADING = re.compile(r"^其[〇一二三四五六七八九十百]+$")
_ATTRIBUTION = re.compile(r"^[ \t]+--(?!-)[ \t]*(?P<who>\S.*)$")
_NAME_END = re.compile(r",\s|\s[\"(\[]|;\s")
_MAX_ATTRIBUTION_LINES = 6  # attribution plus its continuation lines and editor's notes
_BLANK_LINES = re.compile(r"\n[^\S\n]*\n(?:[^\S\n]*\n)*")
_TWO_BLANK_LINES = re.compile(r"\n[^\S\n]*\n(?:[^\S\n]*\n)+")


class _Unusable(Exception):
    """One file cannot be used: ``reason`` reads after its name, ``hint`` says what to do."""

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


def render_document(poem: Poem, language: str) -> str:
    """The training text of one poem: Chinese poems carry their title as ``《title》``."""
    if language == "zh" and poem.title:
        return f"《{poem.title}》\n{poem.text}"
    return poem.text


def detect_language(text: str) -> str:
    """``"zh"`` when Han characters are at least 30% of the letters, else ``"en"``."""
    # Counting by substitution keeps this fast on a 50 MB file.
    letters = len(text) - len(_NON_LETTER.sub("", text))
    han = len(text) - len(_HAN.sub("", text))
    return "zh" if letters and han / letters >= ZH_SHARE else "en"


def load_text_corpus(spec: str) -> TextCorpus:
    """Load a registered built-in set (``tang300``, ...), ``file:PATH`` or ``folder:PATH``.

    Raises DataError for an unknown spec and for missing or unusable data.
    """
    found = resolve(spec.strip(), "text")
    if isinstance(found, tuple):
        prefix, path = found
        return _load_file(path) if prefix == "file" else _load_folder(path)
    return found.loader()


def split_corpus(
    corpus: TextCorpus, holdout: float = 0.1, seed: int = 0
) -> tuple[TextCorpus, TextCorpus]:
    """Split into (train, validation) by poem, with a permutation seeded by ``seed``.

    The validation part has about ``holdout`` of the poems (at least one); each part keeps
    source order. A one-poem corpus is cut instead: its last stanzas (or, when stanzas are
    too coarse to come near ``holdout``, its last lines) become validation, whatever the seed.
    """
    if not 0 < holdout < 1:
        raise InputError(f"holdout fraction must be between 0 and 1, got {holdout!r}")
    n = len(corpus)
    if n < 2:
        return _split_one(corpus, holdout)
    n_val = min(max(int(n * holdout + 0.5), 1), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    val_idx = set(order[:n_val].tolist())
    train = tuple(p for i, p in enumerate(corpus.poems) if i not in val_idx)
    val = tuple(p for i, p in enumerate(corpus.poems) if i in val_idx)
    return _part(corpus, "train", train), _part(corpus, "validation", val)


def _part(corpus: TextCorpus, name: str, poems: tuple[Poem, ...]) -> TextCorpus:
    return TextCorpus(f"{corpus.source}#{name}", corpus.language, poems, corpus.skipped)


def _split_one(corpus: TextCorpus, holdout: float) -> tuple[TextCorpus, TextCorpus]:
    poem = corpus.poems[0] if corpus.poems else Poem("")
    text = poem.text
    stanza_cuts = [m.end() for m in _BLANK_LINES.finditer(text)]
    line_cuts = [m.end() for m in re.finditer(r"\n", text) if text[m.end() : m.end() + 1] != "\n"]
    cut = None
    if len(text) >= MIN_SPLIT_CHARS:
        # Stanzas keep verse intact; lines are the fallback when no stanza cut comes within
        # a factor of two of the holdout share.
        for cuts, low, high in ((stanza_cuts, holdout / 2, 2 * holdout), (line_cuts, 0, 1)):
            if not cuts:
                continue
            best = min(cuts, key=lambda c: abs(1 - c / len(text) - holdout))
            if low <= 1 - best / len(text) <= high:
                cut = best
                break
    if cut is None:
        raise DataError(
            f"{corpus.source}: too small to hold out a validation split ({len(text)} "
            f"characters); give at least {MIN_SPLIT_CHARS} characters on several lines, "
            "or more poems"
        )
    train = Poem(text[:cut].rstrip(), poem.title, poem.author)
    val = Poem(text[cut:].strip("\n"), poem.title, poem.author)
    return _part(corpus, "train", (train,)), _part(corpus, "validation", (val,))


# --- loading -----------------------------------------------------------------------------


def _load_builtin(builtin: _Fortunes) -> TextCorpus:
    name, path = builtin.name, FORTUNES_DIR / builtin.name
    if not path.is_file():
        raise DataError(
            f"built-in text set '{name}' needs {path}, which is missing; install the Debian "
            f"package {builtin.package} (apt-get install {builtin.package}) or run make install"
        )
    try:
        text = _read_text(path)
    except _Unusable as err:
        raise DataError(f"built-in text set '{name}': {path} {err.reason}; {err.hint}") from None
    poems = _parse_fortune(_clean(text), builtin.language)
    return TextCorpus(name, builtin.language, tuple(poems))


def _load_file(file: Path) -> TextCorpus:
    try:
        text = _read_text(file)
        language = detect_language(text)
        poems = _parse(text, language)
    except _Unusable as err:
        raise DataError(f"text file '{file}' {err.reason}; {err.hint}") from None
    return TextCorpus(f"file:{file.resolve()}", language, tuple(poems))


def _load_folder(root: Path) -> TextCorpus:
    skipped: list[str] = []
    texts: list[tuple[str, str]] = []
    for rel in (p.as_posix() for p in list_files(root, skipped, TEXT_SUFFIXES)):
        try:
            texts.append((rel, _read_text(root / rel)))
        except _Unusable as err:
            skipped.append(f"{rel}: {err.reason}")
    language = detect_language("\n".join(text for _, text in texts))
    poems: list[Poem] = []
    for rel, text in texts:
        try:
            poems += _parse(text, language)
        except _Unusable as err:
            skipped.append(f"{rel}: {err.reason}")
    if not poems:
        message = no_usable(f"text folder '{root}'", "text files", skipped, TEXT_SUFFIXES)
        raise DataError(f"{message}; add UTF-8 .txt, .md or .text files")
    return TextCorpus(f"folder:{root.resolve()}", language, tuple(poems), tuple(skipped))


def _read_text(path: Path) -> str:
    """The file as text with newlines normalised; raises _Unusable for anything not text."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _Unusable(
                f"is {size / 1e6:.1f} MB, over the {MAX_FILE_BYTES // 1_000_000} MB limit",
                "split it into smaller files in a folder and use folder:PATH",
            )
        raw = path.read_bytes()
    except OSError as err:
        raise _Unusable(f"cannot be read ({err.strerror})", "check its permissions") from None
    if not raw:
        raise _Unusable("is empty", "put some UTF-8 text in it")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _Unusable(
            "is UTF-16, not UTF-8", f"convert it, e.g. iconv -f UTF-16 -t UTF-8 '{path}' > new.txt"
        )
    binary_hint = "give a UTF-8 text file instead"
    if b"\x00" in raw:
        raise _Unusable("looks binary (it contains NUL bytes), not text", binary_hint)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        if _control_share(raw[:100_000].decode("latin-1")) > 0.1:
            raise _Unusable("looks binary (mostly control bytes), not text", binary_hint) from None
        raise _Unusable(
            f"is not UTF-8 (byte 0x{raw[err.start]:02X} at offset {err.start})",
            f"convert it first, e.g. iconv -f GB18030 -t UTF-8 '{path}' > new.txt "
            "(GB18030 for Chinese, CP1252 for Western text)",
        ) from None
    if _control_share(text) > 0.1:
        raise _Unusable("looks binary (mostly control characters), not text", binary_hint)
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise _Unusable("has only whitespace", "put some text in it")
    return text


def _control_share(text: str) -> float:
    sample = text[:100_000]  # enough to tell binary from text
    controls = sum(1 for c in sample if c < " " and c not in _TEXT_CONTROLS)
    return controls / max(len(sample), 1)


# --- cleaning and parsing ----------------------------------------------------------------


def _clean(text: str) -> str:
    """Drop escape sequences and control characters (END included), keeping tabs and lines."""
    text = _ANSI.sub("", text).replace("\u2028", "\n").replace("\u2029", "\n\n")
    if "\b" in text:
        text = "\n".join(_overstrike(line) for line in text.split("\n"))
    return _CONTROL.sub("", text)


def _overstrike(line: str) -> str:
    """Resolve typewriter overstrikes (``a<BS>b``): accents combine, underlines vanish."""
    out: list[str] = []
    i = 0
    while i < len(line):
        if line[i] != "\b":
            out.append(line[i])
            i += 1
            continue
        j = i
        while j < len(line) and line[j] == "\b":
            j += 1
        k = min(j - i, len(out))
        under, out = out[len(out) - k :], out[: len(out) - k]
        over = line[j : j + k]
        out += [_overstruck(a, b) for a, b in zip_longest(under, over)]
        i = j + len(over)
    return "".join(out)


def _overstruck(under: str | None, over: str | None) -> str:
    if over is None or over == "_":
        return under or ""
    if under in _ACCENTS and over.isalpha():
        return unicodedata.normalize("NFC", over + _ACCENTS[under])
    return over  # underline, bold (same letter twice) or a plain overtype


def _parse(text: str, language: str) -> list[Poem]:
    text = _clean(text)
    fortune = any(line.rstrip() == "%" for line in text.split("\n"))
    poems = _parse_fortune(text, language) if fortune else _parse_plain(text, language)
    if not poems:
        raise _Unusable(
            "has no text left after removing separators and control characters",
            "put some poems or prose in it",
        )
    return poems


def _parse_fortune(text: str, language: str) -> list[Poem]:
    entries: list[list[str]] = [[]]
    for line in text.split("\n"):
        # song100 has one separator with trailing spaces, so compare without them.
        if line.rstrip() == "%":
            entries.append([])
        else:
            entries[-1].append(line)
    return [poem for entry in entries for poem in _parse_entry(entry, language)]


def _parse_entry(lines: list[str], language: str) -> list[Poem]:
    """Poems of one fortune entry: an optional Chinese title/author header, sections."""
    lines = _trim_blank(lines)
    title = author = ""
    if lines and (m := _TITLE.match(lines[0].rstrip())):
        title, rest = m["title"].strip(), m["rest"].strip()
        if _SUBHEADING.match(rest):  # 《明妃曲和王介甫作》其二
            title += f"・{rest}"
        lines = lines[1:]
    if lines and (m := _AUTHOR.match(lines[0])):
        author = _PARENTHESES.sub("", m["author"]).strip()
        lines = lines[1:]
    if not author:
        author, lines = _attribution(_trim_blank(lines))
    poems = []
    for heading, body in _sections(lines):
        text = _clean_body(body, language)
        if text:
            full_title = f"{title}・{heading}" if title and heading else title
            poems.append(Poem(text, full_title, author))
    return poems


def _attribution(lines: list[str]) -> tuple[str, list[str]]:
    """The author named by a trailing ``-- Name`` line, and the lines before it."""
    first = max(1, len(lines) - _MAX_ATTRIBUTION_LINES)
    for i in range(len(lines) - 1, first - 1, -1):
        m = _ATTRIBUTION.match(lines[i])
        if m:
            who = m["who"].strip()
            name = _NAME_END.split(who, maxsplit=1)[0].strip().rstrip(",;:")
            # A quoted title or a tune ("To the tune of ...") instead of a name: no author.
            if who[0] in "\"'`(" or who.lower().startswith("to ") or len(name) < 2:
                name = ""
            return name, lines[:i]
    return "", lines


def _sections(lines: list[str]) -> list[tuple[str, list[str]]]:
    """Split on sub-heading lines such as ``其一``: (heading, lines) pairs."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in lines:
        if _SUBHEADING.match(line.strip()):
            sections.append((line.strip(), []))
        else:
            sections[-1][1].append(line)
    return sections


def _parse_plain(text: str, language: str) -> list[Poem]:
    chunks = [c for c in _TWO_BLANK_LINES.split(text) if c.strip()]
    if len(chunks) < 2:
        chunks = _group_stanzas([s for s in _BLANK_LINES.split(text) if s.strip()])
    poems = (_clean_body(chunk.split("\n"), language) for chunk in chunks)
    return [Poem(body) for body in poems if body]


def _group_stanzas(stanzas: list[str]) -> list[str]:
    """Merge consecutive stanzas into documents of at least MIN_DOC_LINES lines."""
    docs: list[str] = []
    current: list[str] = []
    for stanza in stanzas:
        current.append(stanza.strip("\n"))
        if sum(1 for s in current for line in s.split("\n") if line.strip()) >= MIN_DOC_LINES:
            docs.append("\n\n".join(current))
            current = []
    if current:
        if docs:
            docs[-1] = "\n\n".join([docs[-1], *current])
        else:
            docs.append("\n\n".join(current))
    return docs


def _clean_body(lines: list[str], language: str) -> str:
    """Chinese: no whitespace, no blank lines. Otherwise: layout kept, blank runs collapsed."""
    if language == "zh":
        return "\n".join(s for line in lines if (s := "".join(line.split())))
    out: list[str] = []
    for line in lines:
        line = _expand_tabs(line).rstrip()
        if line or (out and out[-1]):
            out.append(line)
    out = _trim_blank(out)
    indent = min((len(line) - len(line.lstrip(" ")) for line in out if line), default=0)
    return "\n".join(line[indent:] for line in out)


def _expand_tabs(line: str) -> str:
    """Leading tabs indent by 4; later tabs keep their 8-column alignment between lines."""
    body = line.lstrip("\t")
    return " " * (4 * (len(line) - len(body))) + body.expandtabs(8)


def _trim_blank(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


# --- the built-in sets and user sources, registered once ---------------------------------

_ZH_LICENCE = "GPL-3.0+ as packaged by Debian fortunes-zh; the poems themselves are centuries old"
register_dataset(
    "tang300",
    modality="text",
    description="唐诗三百首: 313 Tang poems with titles, authors (zh)",
    size="313 poems, 27k characters",
    licence=_ZH_LICENCE,
    loader=_Fortunes("tang300", "fortunes-zh", "zh").load,
)
register_dataset(
    "song100",
    modality="text",
    description="宋诗: 101 Song-dynasty poems with titles, authors (zh)",
    size="101 poems, 7k characters",
    licence=_ZH_LICENCE,
    loader=_Fortunes("song100", "fortunes-zh", "zh").load,
)
register_dataset(
    "songs-poems",
    modality="text",
    description="720 English verses and song lyrics, most with authors (en)",
    size="720 pieces, 223k characters",
    licence="BSD-style (fortune-mod) as packaged by Debian fortunes; quoted verses keep "
    "their authors' rights",
    loader=_Fortunes("songs-poems", "fortunes", "en").load,
)
register_dataset(
    "fortunes-en",
    modality="text",
    description="every English fortune file but songs-poems: quotations, jokes, literature "
    "(en; to pretrain a base on)",
    size="~2.3 MB",
    licence="BSD-style (fortune-mod) as packaged by Debian fortunes; quotations keep their "
    "authors' rights",
    loader=_FortuneFiles("fortunes-en", "fortunes", "en", EN_FORTUNES).load,
)
register_dataset(
    "fortunes-zh",
    modality="text",
    description="the Chinese fortunes and 宋诗 (zh; to pretrain a base on; tang300 left out)",
    size="~0.7M characters",
    licence=_ZH_LICENCE,
    loader=_FortuneFiles("fortunes-zh", "fortunes-zh", "zh", ZH_FORTUNES).load,
)
register_user_source("text", "file", "a UTF-8 text file (poems split at blank lines or %)")
register_user_source("text", "folder", "a folder of UTF-8 .txt, .md and .text files")
