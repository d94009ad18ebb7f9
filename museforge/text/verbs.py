"""The verbs of text models: sample, continue, poem, lyrics and evaluate.

Every output is a text artwork whose provenance (model hash, verb, seed, every setting)
re-makes it exactly; poems also record the form they were held to and the verifier's
verdict.
"""

from __future__ import annotations

from typing import Any

import torch

from museforge.core.artifact import LoadedModel
from museforge.core.seeding import stream
from museforge.errors import InputError
from museforge.gallery.artwork import Artwork, Result
from museforge.text.constraints import Constraint
from museforge.text.sampling import SamplingSettings, TokenCallback, generate

TITLE_MAX = 12  # characters of a generated Chinese title


def _provenance(loaded: LoadedModel, verb: str, **fields: Any) -> dict[str, Any]:
    return loaded.provenance(verb, modality="text", **fields)


def _text_result(loaded, verb, texts, seed, settings, extra, stem) -> Result:
    arts = [
        Artwork(
            name=f"{stem}-{seed}-{i:03d}",
            text=text,
            provenance=_provenance(
                loaded, verb, seed=seed, index=i, sampling=vars(settings), **extra(i)
            ),
        )
        for i, text in enumerate(texts)
    ]
    return Result(artworks=arts, stem=f"{stem}-{seed}")


def sample(
    loaded: LoadedModel,
    prompt: str = "",
    n: int = 1,
    seed: int = 0,
    temperature: float = 0.8,
    top_k: int = 0,
    top_p: float = 0.95,
    repetition_penalty: float = 1.0,
    no_repeat_ngram: int = 0,
    max_chars: int = 400,
    stop_at_end: bool = True,
    on_token: TokenCallback | None = None,
) -> Result:
    """Free text: ``n`` samples, each starting at a new poem or continuing ``prompt``."""
    s = SamplingSettings(
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        repetition_penalty=repetition_penalty,
        no_repeat_ngram=no_repeat_ngram,
        max_chars=max_chars,
        stop_at_end=stop_at_end,
    )
    texts = generate(loaded.model, prompt, n, seed, s, on_token=on_token)
    full = [prompt + t for t in texts]
    return _text_result(loaded, "sample", full, seed, s, lambda i: {"prompt": prompt}, "text")


def continue_(loaded: LoadedModel, prompt: str, **settings: Any) -> Result:
    """Continue ``prompt`` (required): the same controls as :func:`sample`."""
    if not prompt.strip():
        raise InputError("continue needs a non-empty --prompt to continue from")
    result = sample(loaded, prompt=prompt, **settings)
    for art in result.artworks:
        art.provenance["verb"] = "continue_"
    return result


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


def _chinese_poem(loaded, spec, title, n, seed, s):
    from museforge.text.chinese import ChineseForm, make_chinese_constraint, verify_chinese

    form = ChineseForm(**spec)
    vocab = list(loaded.model.vocab)
    # Build once to surface form errors (unknown rhyme, unseen acrostic character) early.
    make_chinese_constraint(form, vocab, stream(seed, "form-check"))

    masks = None if title else _TitleMasks(loaded.model.vocab)

    def make(i: int) -> Constraint:
        con = make_chinese_constraint(form, vocab, stream(seed, "form", i))
        return con if masks is None else _TitleThen(masks, con)

    if title:
        if "》" in title or "\n" in title:
            raise InputError("--title must not contain 》 or a line break")
        prompt = f"《{title}》\n"
        bodies = generate(loaded.model, prompt, n, seed, s, make)
        texts = [(title, body) for body in bodies]
    else:
        raw = generate(loaded.model, "《", n, seed, s, make)
        texts = [tuple(r.split("》\n", 1)) for r in raw]
    poems = [f"《{t}》\n{body}" for t, body in texts]
    checks = [verify_chinese(body, form) for _, body in texts]
    return poems, checks, [body for _, body in texts]


def _english_poem(loaded, spec, n, seed, s):
    from museforge.text.english import english_form, make_english_constraint, verify_english

    name = spec.pop("form")
    overrides = {k: v for k, v in spec.items() if v is not None}
    form = english_form(name, **overrides)
    vocab = list(loaded.model.vocab)
    make_english_constraint(form, vocab, stream(seed, "form-check"))

    def make(i: int) -> Constraint:
        return make_english_constraint(form, vocab, stream(seed, "form", i))

    poems = generate(loaded.model, "", n, seed, s, make)
    return poems, [verify_english(p, form) for p in poems], poems


def poem(
    loaded: LoadedModel,
    form: str | None = None,
    title: str = "",
    rhyme: str | None = None,
    tones: str = "loose",
    acrostic: str | None = None,
    required: str | None = None,
    lines: int | None = None,
    syllables: str | None = None,
    rhyme_scheme: str | None = None,
    n: int = 1,
    seed: int = 0,
    temperature: float = 0.8,
    top_k: int = 0,
    top_p: float = 0.95,
    repetition_penalty: float = 1.0,
    no_repeat_ngram: int = 0,
    max_chars: int = 1200,
) -> Result:
    """A poem in a strict form, enforced while decoding.

    Chinese models: ``form`` qijue/wujue/qilv/wulv (七绝/五绝/七律/五律), ``rhyme`` (a final
    such as ``ang`` or a 中华新韵 group), ``tones`` off/loose/strict, ``acrostic`` (藏头),
    ``required`` word, optional ``title``. English models: ``form`` sonnet, quatrain,
    couplet, ballad, limerick, haiku or free, overridden by ``lines``, ``syllables``
    ("10" or "8,6,8,6"), ``rhyme_scheme`` ("ABAB CDCD EFEF GG") and ``acrostic``.
    """
    s = SamplingSettings(
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        repetition_penalty=repetition_penalty,
        no_repeat_ngram=no_repeat_ngram,
        max_chars=max_chars,
    )
    language = loaded.model.cfg.language
    if language == "zh":
        unused = {"lines": lines, "syllables": syllables, "rhyme_scheme": rhyme_scheme}
        given = [f"--{k.replace('_', '-')}" for k, v in unused.items() if v is not None]
        if given:
            raise InputError(f"{', '.join(given)} apply to English models; use --form instead")
        spec = {
            "form": form or "qijue",
            "rhyme": rhyme,
            "tones": tones,
            "acrostic": acrostic,
            "required": required,
        }
        texts, checks, bodies = _chinese_poem(loaded, dict(spec), title, n, seed, s)
    else:
        if rhyme is not None or required is not None or title:
            raise InputError("--rhyme, --required and --title apply to Chinese models")
        spec = {
            "form": form or "quatrain",
            "lines": lines,
            "syllables": _parse_syllables(syllables),
            "rhyme_scheme": rhyme_scheme,
            "acrostic": acrostic,
        }
        texts, checks, bodies = _english_poem(loaded, dict(spec), n, seed, s)

    def extra(i: int) -> dict[str, Any]:
        return {"form": spec, "language": language, "violations": checks[i], "body": bodies[i]}

    return _text_result(loaded, "poem", texts, seed, s, extra, "poem")


def _parse_syllables(text: str | None) -> int | tuple[int, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(int(v) for v in str(text).replace(" ", "").split(",") if v)
    except ValueError:
        msg = f"--syllables must be a number or a list like 8,6,8,6 (got {text!r})"
        raise InputError(msg) from None
    if not values:
        raise InputError("--syllables is empty")
    return values[0] if len(values) == 1 else values


def lyrics(
    loaded: LoadedModel,
    structure: str = "verse chorus verse chorus",
    verse_lines: int = 4,
    chorus_lines: int = 4,
    syllables: str | None = "8",
    rhyme_scheme: str | None = "AABB",
    n: int = 1,
    seed: int = 0,
    temperature: float = 0.8,
    top_p: float = 0.95,
    max_chars: int = 2000,
) -> Result:
    """Song lyrics: verses and a chorus repeated word for word, syllables counted per line
    so each line can be set to a melody with one note per syllable (English models)."""
    from museforge.text.english import LyricsForm, make_lyrics_constraint, verify_lyrics

    if loaded.model.cfg.language != "en":
        raise InputError("lyrics need an English model; for Chinese verse use 'poem'")
    s = SamplingSettings(temperature=temperature, top_p=top_p, max_chars=max_chars)
    form = LyricsForm(
        structure=structure,
        verse_lines=verse_lines,
        chorus_lines=chorus_lines,
        syllables=_parse_syllables(syllables),
        rhyme_scheme=rhyme_scheme,
    )
    vocab = list(loaded.model.vocab)
    make_lyrics_constraint(form, vocab, stream(seed, "form-check"))

    def make(i: int) -> Constraint:
        return make_lyrics_constraint(form, vocab, stream(seed, "form", i))

    texts = generate(loaded.model, "", n, seed, s, make)
    spec = {
        "structure": structure,
        "verse_lines": verse_lines,
        "chorus_lines": chorus_lines,
        "syllables": syllables,
        "rhyme_scheme": rhyme_scheme,
    }

    def extra(i: int) -> dict[str, Any]:
        return {"form": spec, "violations": verify_lyrics(texts[i], form)}

    return _text_result(loaded, "lyrics", texts, seed, s, extra, "lyrics")


def evaluate(loaded: LoadedModel, n: int = 64, seed: int = 0, out_dir: Any = None) -> Result:
    """Validation bits per character, distinct-1/2, form accuracy and originality."""
    from museforge.text.evaluate import evaluate_text_model

    return Result(data=evaluate_text_model(loaded, n=n, seed=seed), stem="evaluation")
