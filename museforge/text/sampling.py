"""Sampling characters from a text LM: cached decoding, logit controls and constraints.

Each of the ``n`` samples draws its randomness from its own stream (seed, index, attempt),
so sample *i* is the same whether 1 or 20 are asked for. A constraint's mask is applied
to the logits before temperature, top-k and top-p renormalise them, so forms hold by
construction; repetition controls never remove the only characters a form allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from museforge.core.device import cpu_threads
from museforge.core.seeding import stream
from museforge.errors import InputError, VerbError
from museforge.nn.decoding import sample_logits
from museforge.text.constraints import Constraint, Unconstrained
from museforge.text.lm import TextLM

MAX_ATTEMPTS = 8
SINGLE_THREAD_MAX = 4  # samples drawn together below which one CPU thread is faster


@dataclass(frozen=True)
class SamplingSettings:
    """Controls of one generation call (all recorded in provenance)."""

    temperature: float = 0.8
    top_k: int = 0  # 0 = off
    top_p: float = 0.95  # 1 = off
    repetition_penalty: float = 1.0  # > 1 discourages characters already in the sample
    no_repeat_ngram: int = 0  # > 0: never repeat an n-gram of this length
    max_chars: int = 400
    stop_at_end: bool = True  # stop at the model's end-of-poem marker

    def __post_init__(self) -> None:
        if not 0.0 < self.temperature <= 5.0:
            raise InputError(f"temperature must be in (0, 5] (got {self.temperature})")
        if self.top_k < 0:
            raise InputError(f"top k must be 0 (off) or positive (got {self.top_k})")
        if not 0.0 < self.top_p <= 1.0:
            raise InputError(f"top p must be in (0, 1] (got {self.top_p})")
        if not 1.0 <= self.repetition_penalty <= 10.0:
            raise InputError(
                f"repetition penalty must be in [1, 10] (got {self.repetition_penalty})"
            )
        if self.no_repeat_ngram < 0 or self.no_repeat_ngram == 1:
            raise InputError(f"no repeat ngram must be 0 (off) or ≥ 2 (got {self.no_repeat_ngram})")
        if not 1 <= self.max_chars <= 20000:
            raise InputError(f"max chars must be 1..20000 (got {self.max_chars})")


def _penalise(logits: torch.Tensor, seen: list[list[int]], penalty: float) -> torch.Tensor:
    """CTRL-style repetition penalty: shrink the logits of characters already emitted."""
    out = logits.clone()
    for row, ids in enumerate(seen):
        if ids:
            idx = torch.tensor(sorted(set(ids)))
            vals = out[row, idx]
            out[row, idx] = torch.where(vals > 0, vals / penalty, vals * penalty)
    return out


def _ngram_bans(seen: list[list[int]], n: int, vocab: int) -> torch.Tensor:
    """Mask of next characters that would repeat an n-gram already in each sample."""
    banned = torch.zeros(len(seen), vocab, dtype=torch.bool)
    for row, ids in enumerate(seen):
        if len(ids) < n:
            continue
        prefix = tuple(ids[len(ids) - n + 1 :])
        for i in range(len(ids) - n + 1):
            if tuple(ids[i : i + n - 1]) == prefix:
                banned[row, ids[i + n - 1]] = True
    return banned


TokenCallback = Callable[[int, str], None]


def _mask(con: Constraint, free: torch.Tensor, only_end: torch.Tensor, end: int) -> torch.Tensor:
    """What may come next: a form never ends early; a complete one may end or go on where
    it stays complete ("day" -> "days", a free last line that takes more words)."""
    allowed = con.allowed()
    if con.done:
        return only_end if allowed is None else (allowed & free) | only_end
    if allowed is None:
        return free
    mask = allowed & free
    mask[end] = False
    return mask


@torch.inference_mode()
def _generate_batch(
    model: TextLM,
    prompt: str,
    rows: list[int],
    attempt: int,
    seed: int,
    s: SamplingSettings,
    make_constraint: Callable[[int], Constraint] | None,
    on_token: TokenCallback | None,
    bias: torch.Tensor | None = None,
) -> list[str | None]:
    """Sample one text per entry of ``rows``; None where a constraint hit a dead end."""
    model.eval()
    n, vocab = len(rows), len(model.vocab)
    gens = [stream(seed, "text-sample", row, attempt) for row in rows]
    constraints = [make_constraint(row) if make_constraint else Unconstrained() for row in rows]
    # An empty prompt starts at a poem boundary, as every poem did in training.
    ids = model.encode(prompt, "the prompt") if prompt else torch.empty(0, dtype=torch.long)
    start = torch.cat((torch.tensor([model.end_id]), ids))
    logits, state = model.net.start(start[None, :].expand(n, -1).contiguous())
    out: list[list[int]] = [[] for _ in range(n)]
    finished = [False] * n
    failed = [False] * n
    free = torch.ones(vocab, dtype=torch.bool)
    free[model.unk_id] = False  # the unknown marker is never a useful output
    if not s.stop_at_end:
        free[model.end_id] = False
    only_end = torch.zeros(vocab, dtype=torch.bool)
    only_end[model.end_id] = True
    # Complements and emptiness of the two fixed masks, worked out once.
    known = {id(free): (~free, bool(free.any())), id(only_end): (~only_end, True)}
    controls = s.repetition_penalty > 1.0 or s.no_repeat_ngram
    for _ in range(s.max_chars):
        masks = [_mask(con, free, only_end, model.end_id) for con in constraints]
        if n == 1 and id(masks[0]) in known:
            not_allowed, nonempty = known[id(masks[0])]
            banned, any_allowed = not_allowed[None], [nonempty]
        else:
            allowed = torch.stack(masks)
            banned, any_allowed = ~allowed, allowed.any(dim=-1).tolist()
        raw = logits.float() if bias is None else logits.float() + bias
        shaped = raw
        if s.repetition_penalty > 1.0:
            shaped = _penalise(shaped, out, s.repetition_penalty)
        if s.no_repeat_ngram:
            shaped = shaped.masked_fill(_ngram_bans(out, s.no_repeat_ngram, vocab), float("-inf"))
        masked = shaped.masked_fill(banned, float("-inf"))
        if controls:
            # Repetition controls must not remove every character a form allows.
            stuck = torch.isinf(masked).all(dim=-1)
            if stuck.any():
                masked[stuck] = raw[stuck].masked_fill(banned[stuck], float("-inf"))
        picks = sample_logits(masked, gens, s.temperature, s.top_k, s.top_p)
        for i in range(n):
            if finished[i]:
                continue
            if not any_allowed[i]:
                finished[i] = failed[i] = True
                continue
            token = int(picks[i])
            if token == model.end_id:
                finished[i] = True
                continue
            char = model.vocab[token]
            out[i].append(token)
            constraints[i].advance(char)
            if on_token is not None:
                on_token(rows[i], char)
        if all(finished):
            break
        logits, state = model.net.step(picks, state)
    texts: list[str | None] = []
    for i in range(n):
        complete = constraints[i].done or make_constraint is None
        texts.append(None if failed[i] or not complete else model.decode(out[i]))
    return texts


def generate(
    model: TextLM,
    prompt: str = "",
    n: int = 1,
    seed: int = 0,
    settings: SamplingSettings | None = None,
    make_constraint: Callable[[int], Constraint] | None = None,
    on_token: TokenCallback | None = None,
    bias: torch.Tensor | None = None,
) -> list[str]:
    """``n`` continuations of ``prompt`` (the prompt itself not included); ``bias`` (one
    value per vocabulary entry) is added to the logits at every step.

    ``make_constraint(i)`` builds sample *i*'s constraint; a sample that reaches a dead end
    (or runs out of ``max_chars`` before its form is complete) is drawn again from a fresh
    stream, up to a few times, then a VerbError explains which form could not be met.
    """
    s = settings or SamplingSettings()
    if not 1 <= n <= 1000:
        raise InputError(f"n must be 1..1000 (got {n})")
    results: dict[int, str] = {}
    todo = list(range(n))
    # One stream multiplies tiny matrices, where a second thread costs more than it saves.
    threads = 1 if n <= SINGLE_THREAD_MAX else torch.get_num_threads()
    for attempt in range(MAX_ATTEMPTS):
        with cpu_threads(threads):
            texts = _generate_batch(
                model, prompt, todo, attempt, seed, s, make_constraint, on_token, bias
            )
        for row, text in zip(todo, texts, strict=True):
            if text is not None:
                results[row] = text
        todo = [row for row in todo if row not in results]
        if not todo:
            return [results[i] for i in range(n)]
    raise VerbError(
        f"could not complete the requested form in {MAX_ATTEMPTS} tries for {len(todo)} of {n} "
        "samples; loosen it (fewer constraints, tones off) or raise max chars"
    )
