"""The verbs of text models: sample, continue, poem, lyrics and evaluate.

Every output is a text artwork; :func:`museforge.core.registry.call_verb` records the
verb's settings in its provenance, and the verb adds what it derived: the sample's index,
the model's language and, for poems and lyrics, the form as resolved, the verifier's
verdict and, on request, the text annotated line by line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from museforge.core.artifact import LoadedModel
from museforge.core.artwork import Artwork, Result
from museforge.core.verbs import SEED, Param
from museforge.errors import InputError
from museforge.text.annotate import annotate_poem
from museforge.text.evaluate import evaluate_text_model
from museforge.text.forms import POEM_CHARS, Written, write_lyrics, write_poems
from museforge.text.prosody import DEFAULT_MIN_ZIPF, MAX_ZIPF
from museforge.text.rerank import MAX_CANDIDATES
from museforge.text.sampling import SamplingSettings, TokenCallback, generate

DEFAULT_CANDIDATES = 4  # drafts per poem; measured in docs/text.md
DEFAULT_STEER = 2.0  # theme steering of Chinese poems; measured in docs/text.md
# Settings every text verb shares, declared once.
N = Annotated[int, Param("how many variations", min=1, max=1000)]
TEMPERATURE = Annotated[
    float, Param("randomness: lower is safer, higher is wilder (above 0)", max=5.0)
]
TOP_K = Annotated[int, Param("sample among the k likeliest (0 = off)", min=0)]
TOP_P = Annotated[float, Param("nucleus: smallest set with this mass (above 0, 1 = off)", max=1)]
REPETITION_PENALTY = Annotated[
    float, Param("> 1 discourages repeating characters", min=1.0, max=10.0)
]
NO_REPEAT_NGRAM = Annotated[
    int, Param("never repeat an n-gram this long (0 = off, else ≥ 2)", min=0)
]
MAX_CHARS = Annotated[int, Param("length limit in characters", min=1, max=20_000)]
STOP_AT_END = Annotated[bool, Param("stop at the end of a poem (off: run past it)")]
ANNOTATE = Annotated[
    bool, Param("also record the text annotated per line: syllables / tones / rhymes")
]
MIN_ZIPF = Annotated[
    float,
    Param(
        "how common every word must be: Zipf frequency in wordfreq "
        "(3 = once per million words, 0 = any dictionary word)",
        min=0.0,
        max=MAX_ZIPF,
        applies=("en",),
    ),
]
CANDIDATES = Annotated[
    int,
    Param(
        "drafts per text: keep the one the model finds likeliest (1 = first draft)",
        min=1,
        max=MAX_CANDIDATES,
    ),
]
# Form settings of one language: the core refuses them for a model of the other.
ZH, EN = ("zh",), ("en",)


def _artworks(
    loaded: LoadedModel,
    verb: str,
    stem: str,
    seed: int,
    texts: list[str],
    extra: list[dict[str, Any]] | None = None,
) -> Result:
    language = loaded.model.cfg.language
    arts = [
        Artwork(
            name=f"{stem}-{seed}-{i:03d}",
            text=text,
            provenance=loaded.provenance(
                verb,
                modality="text",
                seed=seed,  # the gallery indexes artworks by seed
                index=i,
                language=language,
                **(extra[i] if extra else {}),
            ),
        )
        for i, text in enumerate(texts)
    ]
    return Result(artworks=arts, stem=f"{stem}-{seed}")


def _in_form(
    loaded: LoadedModel, verb: str, stem: str, seed: int, written: Written, annotate: bool
) -> Result:
    language = loaded.model.cfg.language
    extra = []
    scores = written.bits_per_char or [None] * len(written.texts)
    for text, body, violations, score in zip(
        written.texts, written.bodies, written.violations, scores, strict=True
    ):
        fields: dict[str, Any] = {"form": written.form, "violations": violations}
        if score is not None:
            fields["bits_per_char"] = round(score, 4)  # the model's score among the drafts
        if body != text:
            fields["body"] = body
        if annotate:
            fields["annotation"] = annotate_poem(text, language, written.form.get("rhyme_book"))
        extra.append(fields)
    return _artworks(loaded, verb, stem, seed, written.texts, extra)


def _write(
    loaded: LoadedModel,
    verb: str,
    prompt: str,
    n: int,
    seed: int,
    settings: SamplingSettings,
    on_token: TokenCallback | None,
) -> Result:
    texts = generate(loaded.model, prompt, n, seed, settings, on_token=on_token)
    return _artworks(loaded, verb, "text", seed, [prompt + t for t in texts])


def sample(
    loaded: LoadedModel,
    prompt: Annotated[str, Param("text to continue (default: a new piece)")] = "",
    n: N = 1,
    seed: Annotated[int, SEED] = 0,
    temperature: TEMPERATURE = 0.8,
    top_k: TOP_K = 0,
    top_p: TOP_P = 0.95,
    repetition_penalty: REPETITION_PENALTY = 1.0,
    no_repeat_ngram: NO_REPEAT_NGRAM = 0,
    max_chars: MAX_CHARS = 400,
    stop_at_end: STOP_AT_END = True,
    on_token: TokenCallback | None = None,
) -> Result:
    """Free text, streamed as it is sampled: ``n`` samples, each starting a new piece or
    continuing ``prompt``."""
    settings = SamplingSettings(
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        repetition_penalty=repetition_penalty,
        no_repeat_ngram=no_repeat_ngram,
        max_chars=max_chars,
        stop_at_end=stop_at_end,
    )
    return _write(loaded, "sample", prompt, n, seed, settings, on_token)


def continue_(
    loaded: LoadedModel,
    prompt: Annotated[str, Param("text to continue")],
    n: N = 1,
    seed: Annotated[int, SEED] = 0,
    temperature: TEMPERATURE = 0.8,
    top_k: TOP_K = 0,
    top_p: TOP_P = 0.95,
    repetition_penalty: REPETITION_PENALTY = 1.0,
    no_repeat_ngram: NO_REPEAT_NGRAM = 0,
    max_chars: MAX_CHARS = 400,
    stop_at_end: STOP_AT_END = True,
    on_token: TokenCallback | None = None,
) -> Result:
    """Continue ``prompt`` (required) with the same controls as ``sample``."""
    if not prompt.strip():
        raise InputError("continue needs a non-empty prompt")
    settings = SamplingSettings(
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        repetition_penalty=repetition_penalty,
        no_repeat_ngram=no_repeat_ngram,
        max_chars=max_chars,
        stop_at_end=stop_at_end,
    )
    return _write(loaded, "continue_", prompt, n, seed, settings, on_token)


def poem(
    loaded: LoadedModel,
    form: Annotated[
        str | None,
        Param(
            "zh: qijue wujue qilv wulv (or 七绝 …); "
            "en: sonnet quatrain couplet ballad limerick haiku free"
        ),
    ] = None,
    title: Annotated[str, Param("the poem's title (primes the model)", applies=ZH)] = "",
    rhyme: Annotated[
        str | None,
        Param(
            "rhyme: a final (ang) or 中华新韵 group (十唐); in 平水韵 a group (七陽, 阳)",
            applies=ZH,
        ),
    ] = None,
    tones: Annotated[
        str, Param("平仄 strictness", choices=("off", "loose", "strict"), applies=ZH)
    ] = "loose",
    acrostic: Annotated[
        str | None, Param("藏头 / acrostic: these characters begin the lines")
    ] = None,
    required: Annotated[str | None, Param("a word or image to include", applies=ZH)] = None,
    repeats: Annotated[
        bool, Param("allow a character twice in one 句 (side by side, 叠字, always)", applies=ZH)
    ] = False,
    rhyme_book: Annotated[
        str,
        Param(
            "xinyun: 中华新韵, modern tones; pingshui: 平水韵, classical tones (入声 as 仄)",
            choices=("xinyun", "pingshui"),
            applies=ZH,
        ),
    ] = "xinyun",
    theme: Annotated[
        str, Param("characters to favour on every line (default: the title)", applies=ZH)
    ] = "",
    steer: Annotated[
        float,
        Param(
            "how strongly the theme (or title) steers every line (0 = off)",
            min=0,
            max=5,
            applies=ZH,
        ),
    ] = DEFAULT_STEER,
    lines: Annotated[int | None, Param("number of lines", min=1, max=100, applies=EN)] = None,
    syllables: Annotated[
        str | None, Param("syllables per line, e.g. 10 or 8,6,8,6", applies=EN)
    ] = None,
    rhyme_scheme: Annotated[
        str | None, Param("rhyme scheme, e.g. AABB or ABAB CDCD", applies=EN)
    ] = None,
    min_zipf: MIN_ZIPF = DEFAULT_MIN_ZIPF,
    keep: Annotated[
        list[str] | None,
        Param(
            "lines you wrote, kept while the model writes the rest: 3:the line "
            "(Chinese: 句 3); with several texts they come ranked"
        ),
    ] = None,
    candidates: CANDIDATES = DEFAULT_CANDIDATES,
    n: N = 1,
    seed: Annotated[int, SEED] = 0,
    temperature: TEMPERATURE = 0.8,
    top_k: TOP_K = 0,
    top_p: TOP_P = 0.95,
    repetition_penalty: REPETITION_PENALTY = 1.0,
    no_repeat_ngram: NO_REPEAT_NGRAM = 0,
    max_chars: MAX_CHARS = POEM_CHARS,
    annotate: ANNOTATE = False,
) -> Result:
    """A poem in a strict form, enforced while sampling: 绝句/律诗 with rhyme, 平仄, 藏头;
    English metre, rhyme scheme and acrostics.

    Chinese models: ``form`` qijue/wujue/qilv/wulv (七绝/五绝/七律/五律), ``rhyme`` (a final
    such as ``ang`` or a 中华新韵 group), ``tones`` off/loose/strict, ``acrostic`` (藏头),
    ``required`` word, optional ``title``. English models: ``form`` sonnet, quatrain,
    couplet, ballad, limerick, haiku or free, overridden by ``lines``, ``syllables``
    ("10" or "8,6,8,6"), ``rhyme_scheme`` ("ABAB CDCD EFEF GG") and ``acrostic``.
    """
    settings = SamplingSettings(
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        repetition_penalty=repetition_penalty,
        no_repeat_ngram=no_repeat_ngram,
        max_chars=max_chars,
    )
    written = write_poems(
        loaded.model,
        n,
        seed,
        settings,
        form=form,
        title=title,
        rhyme=rhyme,
        tones=tones,
        acrostic=acrostic,
        required=required,
        repeats=repeats,
        rhyme_book=rhyme_book,
        theme=theme,
        steer=steer if loaded.model.cfg.language == "zh" else 0.0,
        lines=lines,
        syllables=syllables,
        rhyme_scheme=rhyme_scheme,
        min_zipf=min_zipf if loaded.model.cfg.language == "en" else None,
        candidates=candidates,
        keep=keep,
    )
    result = _in_form(loaded, "poem", "poem", seed, written, annotate)
    return _ranked(result) if keep else result


def _ranked(result: Result) -> Result:
    """Texts written around kept lines, best first: each records its rank among them."""
    order = sorted(result.artworks, key=lambda art: art.provenance["bits_per_char"])
    for rank, art in enumerate(order, 1):
        art.provenance["rank"] = rank
    return Result(artworks=order, stem=result.stem)


def lyrics(
    loaded: LoadedModel,
    structure: Annotated[str, Param("sections, e.g. 'verse chorus verse chorus'")] = (
        "verse chorus verse chorus"
    ),
    verse_lines: Annotated[int, Param("lines per verse", min=1, max=32)] = 4,
    chorus_lines: Annotated[int, Param("lines of the chorus", min=1, max=32)] = 4,
    syllables: Annotated[
        str | None, Param("syllables per line (one note each), e.g. 8 or 8,6,8,6")
    ] = "8",
    rhyme_scheme: Annotated[str | None, Param("rhyme scheme per section, e.g. AABB")] = "AABB",
    min_zipf: MIN_ZIPF = DEFAULT_MIN_ZIPF,
    candidates: CANDIDATES = DEFAULT_CANDIDATES,
    n: N = 1,
    seed: Annotated[int, SEED] = 0,
    temperature: TEMPERATURE = 0.8,
    top_p: TOP_P = 0.95,
    max_chars: MAX_CHARS = 2000,
    annotate: ANNOTATE = False,
) -> Result:
    """Song lyrics (English models): verses and a chorus repeated word for word, with a
    syllable count per line so each line fits a melody with one note per syllable."""
    settings = SamplingSettings(temperature=temperature, top_p=top_p, max_chars=max_chars)
    form = {
        "structure": structure,
        "verse_lines": verse_lines,
        "chorus_lines": chorus_lines,
        "syllables": syllables,
        "rhyme_scheme": rhyme_scheme,
        "min_zipf": min_zipf,
    }
    written = write_lyrics(loaded.model, n, seed, settings, **form, candidates=candidates)
    return _in_form(loaded, "lyrics", "lyrics", seed, written, annotate)


def evaluate(
    loaded: LoadedModel,
    n: Annotated[int, Param("samples to generate", min=1, max=1000)] = 64,
    seed: Annotated[int, SEED] = 0,
    out_dir: Path | None = None,
) -> Result:
    """Validation bits per character, distinct-1/2, form accuracy and originality."""
    return Result(data=evaluate_text_model(loaded, n=n, seed=seed), stem="evaluation")
