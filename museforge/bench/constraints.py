"""``museforge bench constraints``: what the poem forms and the copy check cost.

Each figure stands beside its baseline from the same run:

* form masks (Chinese 七律 with a required word, English sonnet): building the vocabulary
  tables, then ``allowed()`` per character of a random walk through the form, against one
  decoding step of a default-sized text LM over the same vocabulary, the work each mask
  rides on;
* the copy check: building a :class:`CopyIndex` over 250k characters and finding the
  longest copied span of a 500-character sample, against the brute-force substring search
  it replaces.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch

from museforge.bench import machine_info
from museforge.core.device import cpu_threads
from museforge.text import chinese, english
from museforge.text.chinese import ChineseForm, make_chinese_constraint
from museforge.text.corpus import load_text_corpus
from museforge.text.english import english_form, make_english_constraint
from museforge.text.lm import TextLM, TextLMConfig, build_vocab
from museforge.text.metrics import DOC_SEPARATOR, CopyIndex

BIG_VOCAB = 5000  # a large Chinese vocabulary: tang300's characters plus common Han ones
DECODE_STEPS = 100
COPY_TRAIN_CHARS = 250_000
COPY_SAMPLES, COPY_SAMPLE_CHARS = 100, 500
BRUTE_SAMPLES = 3  # the brute-force baseline is slow; a few samples give its rate
ALPHABET = "abcdefghijklmnopqrstuvwxyz \n"


def _walk(con: Any, vocab: Sequence[str], seed: int) -> tuple[list[float], list[bool]]:
    """Seconds per ``allowed()`` call along a uniform random walk through the form, and
    whether each step was a rhyme slot (Chinese constraints mark them)."""
    pick = torch.Generator().manual_seed(seed)
    times: list[float] = []
    slots: list[bool] = []
    rhyme_slots = getattr(con, "_rhyme_slots", ())
    while not con.done:
        slots.append(getattr(con, "_pos", -1) in rhyme_slots)
        start = time.perf_counter()
        mask = con.allowed()
        times.append(time.perf_counter() - start)
        ids = mask.nonzero().flatten()
        con.advance(vocab[int(ids[torch.randint(len(ids), (1,), generator=pick)])])
    return times, slots


def decode_step_us(vocab: Sequence[str], language: str, steps: int = DECODE_STEPS) -> float:
    """Microseconds per cached decoding step of a default-sized (untrained) text LM over
    ``vocab``, one stream on one thread, as a single poem is sampled."""
    torch.manual_seed(0)
    model = TextLM(TextLMConfig(vocab=tuple(vocab), language=language)).eval()
    token = torch.tensor([model.end_id])
    with cpu_threads(1), torch.inference_mode():
        _, state = model.net.start(token[None, :])
        model.net.step(token, state)  # warm-up
        start = time.perf_counter()
        for _ in range(steps):
            _, state = model.net.step(token, state)
        return (time.perf_counter() - start) / steps * 1e6


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def chinese_masks(vocab: list[str], name: str) -> dict[str, Any]:
    """Table build (cold, and with pypinyin readings cached) and ``allowed()`` per step of
    a 七律 that must hold 明月."""
    caches = (chinese._tables, chinese._readings, chinese._parse, chinese._phrase_readings)
    for cached in caches:
        cached.cache_clear()
    cold = _timed(lambda: chinese._tables(tuple(vocab)))
    chinese._tables.cache_clear()
    warm = _timed(lambda: chinese._tables(tuple(vocab)))
    form = ChineseForm("七律", required="明月")
    con = make_chinese_constraint(form, vocab, torch.Generator().manual_seed(0))
    times, slots = _walk(con, vocab, seed=0)
    plain = [t for t, slot in zip(times, slots, strict=True) if not slot]
    rhyme = [t for t, slot in zip(times, slots, strict=True) if slot]
    allowed = sum(times) / len(times) * 1e6
    step = decode_step_us(vocab, "zh")
    return {
        "vocab": name,
        "vocab_size": len(vocab),
        "tables_cold_ms": cold * 1e3,
        "tables_warm_ms": warm * 1e3,
        "allowed_us": allowed,  # mean over every step, as for English
        "allowed_plain_slot_us": sum(plain) / max(len(plain), 1) * 1e6,
        "allowed_rhyme_slot_us": sum(rhyme) / max(len(rhyme), 1) * 1e6,
        "steps": len(times),
        "decode_step_us": step,
        "mask_share_of_step": allowed / step,
    }


def english_masks(vocab: list[str], name: str) -> dict[str, Any]:
    """Table build and ``allowed()`` per character of a sonnet."""
    english._tables.cache_clear()
    form = english_form("sonnet")
    build = _timed(lambda: make_english_constraint(form, vocab))
    times, _ = _walk(make_english_constraint(form, vocab), vocab, seed=3)
    allowed = sum(times) / len(times) * 1e6
    step = decode_step_us(vocab, "en")
    return {
        "vocab": name,
        "vocab_size": len(vocab),
        "tables_cold_ms": build * 1e3,
        "allowed_us": allowed,
        "allowed_max_us": max(times) * 1e6,
        "steps": len(times),
        "decode_step_us": step,
        "mask_share_of_step": allowed / step,
    }


def brute_longest(training: str, text: str) -> int:
    """Longest substring of ``text`` (without the separator) found in ``training``, by
    plain substring search: the baseline the suffix automaton replaces."""
    best = 0
    for i in range(len(text)):
        for j in range(i + best + 1, len(text) + 1):
            span = text[i:j]
            if DOC_SEPARATOR in span or span not in training:
                break  # longer spans from i contain this one, so fail too
            best = j - i
    return best


def copy_index(seed: int = 0) -> dict[str, Any]:
    """CopyIndex build and query times on random text, and the brute-force baseline."""
    rng = random.Random(seed)

    def text(n: int) -> str:
        return "".join(rng.choice(ALPHABET) for _ in range(n))

    training = text(COPY_TRAIN_CHARS)
    samples = [text(COPY_SAMPLE_CHARS) for _ in range(COPY_SAMPLES)]
    start = time.perf_counter()
    index = CopyIndex(training)
    built = time.perf_counter() - start
    report = _timed(lambda: index.report(samples))
    few = samples[:BRUTE_SAMPLES]
    span = _timed(lambda: [index.longest_copied_span(s) for s in few]) / len(few)
    brute = _timed(lambda: [brute_longest(training, s) for s in few]) / len(few)
    return {
        "train_chars": COPY_TRAIN_CHARS,
        "states": index.num_states,
        "build_s": built,
        "report_s": report,
        "report_texts": COPY_SAMPLES,
        "longest_span_ms": span * 1e3,
        "brute_force_ms": brute * 1e3,
        "speedup": brute / max(span, 1e-12),
    }


def _chinese_vocabularies() -> list[tuple[str, list[str]]]:
    vocab = list(build_vocab(load_text_corpus("tang300").text()))
    known = set(vocab)
    extra = [chr(c) for c in range(0x4E00, 0x9FA6) if chr(c) not in known]
    return [("tang300", vocab), (f"{BIG_VOCAB}-entry", vocab + extra[: BIG_VOCAB - len(vocab)])]


def run_constraint_bench(seed: int = 0) -> dict[str, Any]:
    """Every measurement above as JSON-ready results (needs the Debian fortune files)."""
    english_vocab = list(build_vocab(load_text_corpus("songs-poems").text()))
    return {
        "seed": seed,
        "machine": machine_info(),
        "chinese": [chinese_masks(v, name) for name, v in _chinese_vocabularies()],
        "english": [english_masks(english_vocab, "songs-poems")],
        "copy_index": copy_index(seed),
    }


def format_table(results: dict[str, Any]) -> str:
    """Markdown tables: mask costs against a decoding step, CopyIndex against brute force."""
    lines = [
        "| form | vocab | tables (cold) | allowed() | decode step | mask ÷ step |",
        "|---|---|---|---|---|---|",
    ]
    for form, key in (("七律 + required", "chinese"), ("sonnet", "english")):
        for row in results[key]:
            lines.append(
                f"| {form} | {row['vocab']} ({row['vocab_size']}) "
                f"| {row['tables_cold_ms']:,.0f} ms | {row['allowed_us']:,.1f} µs "
                f"| {row['decode_step_us']:,.0f} µs | {row['mask_share_of_step']:.1%} |"
            )
    c = results["copy_index"]
    lines += [
        "",
        "| copy check | build | report | longest span / sample | brute force / sample | speed-up |",
        "|---|---|---|---|---|---|",
        f"| CopyIndex over {c['train_chars']:,} chars ({c['states']:,} states) "
        f"| {c['build_s']:.2f} s | {c['report_s']:.3f} s for {c['report_texts']} texts "
        f"| {c['longest_span_ms']:.2f} ms | {c['brute_force_ms']:,.0f} ms | {c['speedup']:,.0f}× |",
    ]
    return "\n".join(lines)
