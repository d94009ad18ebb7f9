"""The text commands of the ``museforge`` CLI: write, poem and lyrics.

They register on the main Typer app (imported by :mod:`museforge.cli`); poems and lyrics
print to the terminal, annotated on request, and are saved with provenance sidecars.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from museforge.cli import ModelArg, OutOpt, SeedOpt, _load, app, out, save_result

N_OPT = Annotated[int, typer.Option("--n", help="how many variations")]
TEMP_OPT = Annotated[float, typer.Option(help="randomness: lower is safer, higher is wilder")]
TOPK_OPT = Annotated[int, typer.Option("--top-k", help="sample among the k likeliest (0 = off)")]
TOPP_OPT = Annotated[float, typer.Option("--top-p", help="nucleus: smallest set with this mass")]
PENALTY_OPT = Annotated[float, typer.Option(help="> 1 discourages repeating characters")]
NGRAM_OPT = Annotated[int, typer.Option(help="never repeat an n-gram this long (0 = off)")]
ANNOTATE_OPT = Annotated[bool, typer.Option(help="show syllables / tones / rhymes per line")]


def _text_model(model: str):
    return _load(model, ("text-lm",), "a text model")


def _save(result, loaded, out_dir: Path | None) -> list[Path]:
    return save_result(result, out_dir, loaded.path.name)


def _annotate(loaded, text: str) -> str:
    from museforge.text.annotate import annotate_poem

    return annotate_poem(text, loaded.model.cfg.language)


def _show(result, loaded, paths: list[Path], annotate: bool) -> None:
    for art, path in zip(result.artworks, paths, strict=False):
        text = art.text or ""
        if annotate:
            text = _annotate(loaded, text)
        out.print(escape(text), highlight=False)
        broken = art.provenance.get("violations")
        if broken:
            out.print(f"[yellow]form not met:[/yellow] {escape('; '.join(broken))}")
        out.print(f"[dim]→ {path}[/dim]\n", highlight=False)


@app.command()
def write(
    model: ModelArg,
    prompt: Annotated[str, typer.Option(help="text to continue (default: a new piece)")] = "",
    n: N_OPT = 1,
    seed: SeedOpt = 0,
    temperature: TEMP_OPT = 0.8,
    top_k: TOPK_OPT = 0,
    top_p: TOPP_OPT = 0.95,
    repetition_penalty: PENALTY_OPT = 1.0,
    no_repeat_ngram: NGRAM_OPT = 0,
    max_chars: Annotated[int, typer.Option(help="length limit in characters")] = 400,
    no_stop: Annotated[bool, typer.Option(help="run past the end of a poem")] = False,
    out_dir: OutOpt = None,
) -> None:
    """Write free text with a text model, streamed as it is sampled (--prompt primes it)."""
    from museforge.core.registry import call_verb

    loaded = _text_model(model)
    verb = "continue_" if prompt else "sample"
    stream_live = n == 1

    def on_token(index: int, char: str) -> None:
        out.print(escape(char), end="", highlight=False)

    loaded.model.encode(prompt, "the prompt")  # refuse unseen characters before printing
    if stream_live:
        out.print(escape(prompt), end="", highlight=False)
    result = call_verb(
        loaded,
        verb,
        prompt=prompt,
        n=n,
        seed=seed,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        repetition_penalty=repetition_penalty,
        no_repeat_ngram=no_repeat_ngram,
        max_chars=max_chars,
        stop_at_end=not no_stop,
        on_token=on_token if stream_live else None,
    )
    paths = _save(result, loaded, out_dir)
    if stream_live:
        out.print(f"\n[dim]→ {paths[0]}[/dim]", highlight=False)
    else:
        _show(result, loaded, paths, annotate=False)


@app.command()
def poem(
    model: ModelArg,
    form: Annotated[
        str | None,
        typer.Option(
            help="zh: qijue wujue qilv wulv; en: sonnet quatrain couplet ballad limerick haiku free"
        ),
    ] = None,
    title: Annotated[str, typer.Option(help="zh: the poem's title (primes the model)")] = "",
    rhyme: Annotated[
        str | None, typer.Option(help="zh: rhyme final (ang) or 中华新韵 group (十唐)")
    ] = None,
    tones: Annotated[str, typer.Option(help="zh: 平仄 strictness: off, loose, strict")] = "loose",
    acrostic: Annotated[
        str | None, typer.Option(help="藏头 / acrostic: these characters begin the lines")
    ] = None,
    required: Annotated[str | None, typer.Option(help="zh: a word or image to include")] = None,
    lines: Annotated[int | None, typer.Option(help="en: number of lines")] = None,
    syllables: Annotated[str | None, typer.Option(help="en: per line, e.g. 10 or 8,6,8,6")] = None,
    rhyme_scheme: Annotated[str | None, typer.Option(help="en: e.g. AABB or ABAB CDCD")] = None,
    n: N_OPT = 1,
    seed: SeedOpt = 0,
    temperature: TEMP_OPT = 0.8,
    top_k: TOPK_OPT = 0,
    top_p: TOPP_OPT = 0.95,
    repetition_penalty: PENALTY_OPT = 1.0,
    no_repeat_ngram: NGRAM_OPT = 0,
    annotate: ANNOTATE_OPT = False,
    out_dir: OutOpt = None,
) -> None:
    """A poem in a strict form, enforced while sampling: 绝句/律诗 with rhyme, 平仄, 藏头;
    English metre, rhyme scheme and acrostics."""
    from museforge.core.registry import call_verb

    loaded = _text_model(model)
    result = call_verb(
        loaded,
        "poem",
        form=form,
        title=title,
        rhyme=rhyme,
        tones=tones,
        acrostic=acrostic,
        required=required,
        lines=lines,
        syllables=syllables,
        rhyme_scheme=rhyme_scheme,
        n=n,
        seed=seed,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        repetition_penalty=repetition_penalty,
        no_repeat_ngram=no_repeat_ngram,
    )
    _show(result, loaded, _save(result, loaded, out_dir), annotate)


@app.command()
def lyrics(
    model: ModelArg,
    structure: Annotated[str, typer.Option(help="sections, e.g. 'verse chorus verse chorus'")] = (
        "verse chorus verse chorus"
    ),
    verse_lines: Annotated[int, typer.Option(help="lines per verse")] = 4,
    chorus_lines: Annotated[int, typer.Option(help="lines of the chorus")] = 4,
    syllables: Annotated[
        str | None, typer.Option(help="syllables per line (one note each), e.g. 8 or 8,6,8,6")
    ] = "8",
    rhyme_scheme: Annotated[str | None, typer.Option(help="per section, e.g. AABB")] = "AABB",
    n: N_OPT = 1,
    seed: SeedOpt = 0,
    temperature: TEMP_OPT = 0.8,
    top_p: TOPP_OPT = 0.95,
    annotate: ANNOTATE_OPT = False,
    out_dir: OutOpt = None,
) -> None:
    """Song lyrics (English models): verses and a chorus repeated word for word, with a
    syllable count per line so each line fits a melody."""
    from museforge.core.registry import call_verb

    loaded = _text_model(model)
    result = call_verb(
        loaded,
        "lyrics",
        structure=structure,
        verse_lines=verse_lines,
        chorus_lines=chorus_lines,
        syllables=syllables,
        rhyme_scheme=rhyme_scheme,
        n=n,
        seed=seed,
        temperature=temperature,
        top_p=top_p,
    )
    _show(result, loaded, _save(result, loaded, out_dir), annotate)
