"""Poems and lyrics in strict forms: one constraint per sample, generation, verdicts.

Used by the ``poem`` and ``lyrics`` verbs and by evaluation's form accuracy. The form's
language modules load lazily: pypinyin alone takes about half a second to import.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch

from museforge.core.seeding import stream
from museforge.errors import InputError
from museforge.text.constraints import Constraint
from museforge.text.lm import TextLM
from museforge.text.prosody import DEFAULT_MIN_ZIPF
from museforge.text.rerank import MAX_CANDIDATES, best_of
from museforge.text.sampling import SamplingSettings, generate

TITLE_MAX = 12  # characters of a generated Chinese title
POEM_CHARS = 1200  # the poem verb's default length limit


@dataclass(frozen=True)
class Written:
    """Texts in a form: each full text, the part held to the form (a Chinese poem's body,
    without its title), the verifier's complaints per text, and the form as resolved."""

    texts: list[str]
    bodies: list[str]
    violations: list[list[str]]
    form: dict[str, Any]
    bits_per_char: list[float] | None = None  # the model's score of each text, if reranked


def _drafts(n: int, candidates: int) -> int:
    if not 1 <= candidates <= MAX_CANDIDATES:
        raise InputError(f"candidates must be 1..{MAX_CANDIDATES} (got {candidates})")
    if n * candidates > 1000:
        raise InputError(f"{n} texts × {candidates} candidates is over 1,000 drafts; ask for fewer")
    return n * candidates


def parse_keep(values: list[str] | None) -> dict[int, str]:
    """``["1:床前明月光", "3:..."]`` → {0: "床前明月光", 2: "..."} (lines count from 1)."""
    out: dict[int, str] = {}
    for value in values or []:
        number, sep, text = str(value).partition(":")
        if not sep or not number.strip().isdigit() or not text.strip():
            raise InputError(
                f"keep must look like 3:the line as written (got {value!r}); "
                "the number counts lines (Chinese: 句) from 1"
            )
        line = int(number) - 1
        if line < 0:
            raise InputError(f"keep counts lines from 1 (got {value!r})")
        if line in out:
            raise InputError(f"keep names line {line + 1} twice")
        out[line] = text.strip()
    return out


def _keep_best(model: TextLM, written: Written, candidates: int, score: bool = False) -> Written:
    """Each run of ``candidates`` drafts reduced to the one the model finds likeliest
    (``score``: record the scores even of single drafts)."""
    if candidates == 1 and not score:
        return written
    chosen, scores = best_of(model, written.texts, candidates)
    return Written(
        [written.texts[i] for i in chosen],
        [written.bodies[i] for i in chosen],
        [written.violations[i] for i in chosen],
        written.form,
        scores,
    )


class _TitleMasks:
    """The masks a generated title needs, built once per vocabulary and call."""

    def __init__(self, vocab: tuple[str, ...]):
        from museforge.text.chinese import han_mask

        self.han = han_mask(vocab)
        self.close = torch.tensor([c == "》" for c in vocab])
        self.newline = torch.tensor([c == "\n" for c in vocab])


class _TitleThen:
    """A Chinese title of Han characters closed by 》 and a newline, then the form."""

    def __init__(self, masks: _TitleMasks, form: Constraint):
        self.form, self.length, self.phase = form, 0, "title"
        self._han, self._close, self._newline = masks.han, masks.close, masks.newline

    def allowed(self) -> torch.Tensor | None:
        if self.phase == "title":
            if self.length == 0:
                return self._han
            return self._close if self.length >= TITLE_MAX else self._han | self._close
        if self.phase == "newline":
            return self._newline
        return self.form.allowed()

    def advance(self, char: str) -> None:
        if self.phase == "title":
            self.length += 1
            if char == "》":
                self.phase = "newline"
        elif self.phase == "newline":
            self.phase = "form"
        else:
            self.form.advance(char)

    @property
    def done(self) -> bool:
        return self.phase == "form" and self.form.done


def parse_syllables(text: str | None) -> int | tuple[int, ...] | None:
    """``"10"`` → 10, ``"8,6,8,6"`` → (8, 6, 8, 6), None → None."""
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in str(text).replace(" ", "").split(",") if v)
    except ValueError:
        msg = f"syllables must be a number or a list like 8,6,8,6 (got {text!r})"
        raise InputError(msg) from None
    if not values:
        raise InputError("syllables is empty")
    return values[0] if len(values) == 1 else values


def write_poems(
    model: TextLM,
    n: int,
    seed: int,
    settings: SamplingSettings,
    form: str | None = None,
    title: str = "",
    rhyme: str | None = None,
    tones: str = "loose",
    acrostic: str | None = None,
    required: str | None = None,
    repeats: bool = False,
    rhyme_book: str = "xinyun",
    theme: str = "",
    steer: float = 0.0,
    lines: int | None = None,
    syllables: str | None = None,
    rhyme_scheme: str | None = None,
    min_zipf: float | None = None,
    candidates: int = 1,
    keep: list[str] | None = None,
) -> Written:
    """``n`` poems in a form of the model's language (see the ``poem`` verb): Chinese
    models use ``form``, ``title``, ``rhyme``, ``tones``, ``acrostic``, ``required``,
    ``repeats``, ``rhyme_book`` and ``theme``/``steer`` (characters of a theme, by default
    the title, favoured on every line);
    English models ``form``, ``lines``, ``syllables``, ``rhyme_scheme``, ``acrostic`` and
    ``min_zipf`` (how common every word must be). With ``candidates`` > 1 each poem is
    the likeliest of that many drafts (by the model's bits per character). ``keep`` holds
    lines written by hand ("3:the line", Chinese lines are 句), kept as they are while
    the model writes the rest; each text's score is then recorded, to rank them."""
    drafts = _drafts(n, candidates)
    kept = parse_keep(keep)
    if model.cfg.language == "zh":
        spec = {
            "form": form or "qijue",
            "rhyme": rhyme,
            "tones": tones,
            "acrostic": acrostic,
            "required": required,
            "repeats": repeats,
            "rhyme_book": rhyme_book,
        }
        steering = {"theme": theme or title, "steer": steer} if steer > 0 else {}
        written = _chinese_poems(model, spec, title, drafts, seed, settings, kept, steering)
        return _keep_best(model, written, candidates, score=bool(kept))
    spec = {
        "form": form or "quatrain",
        "lines": lines,
        "syllables": parse_syllables(syllables),
        "rhyme_scheme": rhyme_scheme,
        "acrostic": acrostic,
        "min_zipf": min_zipf,
    }
    written = _english_poems(model, spec, drafts, seed, settings, kept)
    return _keep_best(model, written, candidates, score=bool(kept))


def _chinese_poems(
    model: TextLM,
    spec: dict[str, Any],
    title: str,
    n: int,
    seed: int,
    s: SamplingSettings,
    kept: dict[int, str],
    steering: dict[str, Any],
) -> Written:
    from museforge.text.chinese import ChineseForm, make_chinese_constraint, verify_chinese
    from museforge.text.steer import theme_bias

    form = ChineseForm(**spec)
    vocab = list(model.vocab)
    # Build once to surface form errors (unknown rhyme, unseen acrostic character) early.
    make_chinese_constraint(form, vocab, stream(seed, "form-check"), kept)

    masks = None if title else _TitleMasks(model.vocab)
    bias = theme_bias(model, steering.get("theme", ""), steering.get("steer", 0.0))

    def make(i: int) -> Constraint:
        con = make_chinese_constraint(form, vocab, stream(seed, "form", i), kept)
        return con if masks is None else _TitleThen(masks, con)

    if title:
        if "》" in title or "\n" in title:
            raise InputError("title must not contain 》 or a line break")
        prompt = f"《{title}》\n"
        bodies = generate(model, prompt, n, seed, s, make, bias=bias)
        parts = [(title, body) for body in bodies]
    else:
        raw = generate(model, "《", n, seed, s, make, bias=bias)
        parts = [tuple(r.split("》\n", 1)) for r in raw]
    texts = [f"《{t}》\n{body}" for t, body in parts]
    bodies = [body for _, body in parts]
    record = _with_keep(spec, kept) | steering
    return Written(texts, bodies, [verify_chinese(b, form) for b in bodies], record)


def _with_keep(spec: dict[str, Any], kept: dict[int, str]) -> dict[str, Any]:
    """The form as recorded: with the kept lines, if any (lines counted from 1)."""
    return {**spec, "keep": {i + 1: text for i, text in kept.items()}} if kept else spec


def _english_poems(
    model: TextLM,
    spec: dict[str, Any],
    n: int,
    seed: int,
    s: SamplingSettings,
    kept: dict[int, str],
) -> Written:
    from museforge.text.english import english_form, make_english_constraint, verify_english

    overrides = {k: v for k, v in spec.items() if k != "form" and v is not None}
    form = english_form(spec["form"], **overrides)
    vocab = list(model.vocab)
    make_english_constraint(form, vocab, stream(seed, "form-check"), kept)

    def make(i: int) -> Constraint:
        return make_english_constraint(form, vocab, stream(seed, "form", i), kept)

    poems = generate(model, "", n, seed, s, make)
    violations = [verify_english(p, form) for p in poems]
    return Written(poems, poems, violations, _with_keep(spec, kept))


def write_lyrics(
    model: TextLM,
    n: int,
    seed: int,
    settings: SamplingSettings,
    structure: str,
    verse_lines: int,
    chorus_lines: int,
    syllables: str | None,
    rhyme_scheme: str | None,
    min_zipf: float = DEFAULT_MIN_ZIPF,
    candidates: int = 1,
) -> Written:
    """``n`` song lyrics of an English model (see the ``lyrics`` verb), each the likeliest
    of ``candidates`` drafts."""
    drafts = _drafts(n, candidates)
    from museforge.text.english import LyricsForm, make_lyrics_constraint, verify_lyrics

    if model.cfg.language != "en":
        raise InputError("lyrics need an English model; for Chinese verse use 'poem'")
    form = LyricsForm(
        structure=structure,
        verse_lines=verse_lines,
        chorus_lines=chorus_lines,
        syllables=parse_syllables(syllables),
        rhyme_scheme=rhyme_scheme,
        min_zipf=min_zipf,
    )
    vocab = list(model.vocab)
    make_lyrics_constraint(form, vocab, stream(seed, "form-check"))

    def make(i: int) -> Constraint:
        return make_lyrics_constraint(form, vocab, stream(seed, "form", i))

    texts = generate(model, "", drafts, seed, settings, make)
    written = Written(texts, texts, [verify_lyrics(t, form) for t in texts], asdict(form))
    return _keep_best(model, written, candidates)
