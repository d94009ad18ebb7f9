"""Sampling event tokens from a music LM: cached decoding under the event grammar.

Every step masks the logits to what :class:`~museforge.music.tokens.Grammar` allows, so a
sample is always a well-formed piece of the requested number of bars. Each row draws from
its own seeded stream: sample *i* is the same whether 1 or 10 are asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from museforge.core.device import cpu_threads
from museforge.core.seeding import stream
from museforge.errors import InputError
from museforge.music import tokens
from museforge.music.lm import MusicLM
from museforge.nn.decoding import sample_logits

MAX_BARS = 256
SINGLE_THREAD_MAX = 4  # rows below which one CPU thread is faster (tiny matrix products)


@dataclass(frozen=True)
class MusicSampling:
    """Controls of one generation call (recorded in provenance)."""

    bars: int = 16
    temperature: float = 1.0
    top_p: float = 0.95
    # Nats taken from the logit of every pitch outside the piece's key (its scale, minor
    # with its raised sixth and seventh; in the last bar, its tonic triad): 0 leaves the
    # model alone, larger stays in key.
    key_pull: float = 0.0

    def __post_init__(self) -> None:
        if not 1 <= self.bars <= MAX_BARS:
            raise InputError(f"bars must be 1 to {MAX_BARS} (got {self.bars})")
        if not 0.0 < self.temperature <= 5.0:
            raise InputError(f"temperature must be in (0, 5] (got {self.temperature})")
        if not 0.0 < self.top_p <= 1.0:
            raise InputError(f"top p must be in (0, 1] (got {self.top_p})")
        if not 0.0 <= self.key_pull <= 20.0:
            raise InputError(f"key pull must be 0 to 20 nats (got {self.key_pull})")


KEY_PULL = 2.0  # the verbs' default: see docs/music.md for how it was chosen
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 9, 10, 11)}
TRIADS = {"major": (0, 4, 7), "minor": (0, 3, 7)}


def key_penalties(pull: float) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """Key token → two (vocab,) logit offsets: ``-pull`` on pitches outside that key's
    scale (for the body of a piece) and outside its tonic triad (for the last bar, so a
    piece closes at home)."""
    offsets = {}
    pitch_classes = torch.tensor(
        [int(tokens.VOCAB[i].split("_")[1]) % 12 for i in tokens.PITCH_IDS]
    )
    for key_id in tokens.KEY_IDS:
        _, tonic, mode = tokens.VOCAB[key_id].split("_")
        rows = []
        for degrees in (SCALES[mode], TRIADS[mode]):
            inside = torch.tensor([(int(tonic) + d) % 12 for d in degrees])
            row = torch.zeros(len(tokens.VOCAB))
            row[tokens.PITCH_IDS.start : tokens.PITCH_IDS.stop] = torch.where(
                torch.isin(pitch_classes, inside), 0.0, -pull
            )
            rows.append(row)
        offsets[key_id] = (rows[0], rows[1])
    return offsets


class _Masks:
    """Allowed-token masks by grammar situation, built once each (with their complements,
    the banned tokens, under ``banned``)."""

    def __init__(self) -> None:
        self._cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def _both(self, g: tokens.Grammar) -> tuple[torch.Tensor, torch.Tensor]:
        full = g.notes_here >= tokens.MAX_PARTS
        key = (g.state, g.pos, g.steps, g.in_last_bar, g.bars >= g.min_bars, g.polyphonic, full)
        both = self._cache.get(key)
        if both is None:
            mask = torch.zeros(len(tokens.VOCAB), dtype=torch.bool)
            mask[g.allowed()] = True
            both = self._cache[key] = (mask, ~mask)
        return both

    def __call__(self, g: tokens.Grammar) -> torch.Tensor:
        return self._both(g)[0]

    def banned(self, grammars: list[tokens.Grammar]) -> torch.Tensor:
        """(rows, vocab): True where a row's grammar forbids the token."""
        if len(grammars) == 1:
            return self._both(grammars[0])[1][None]
        return torch.stack([self._both(g)[1] for g in grammars])


def prime_grammar(
    prime: list[int], polyphonic: bool, new_bars: int, exact: bool = True
) -> tokens.Grammar:
    """The grammar state after ``prime`` (which starts with BOS), allowing ``new_bars`` more
    (exactly that many when ``exact``; at most, otherwise)."""
    g = tokens.Grammar(polyphonic=polyphonic)
    for t in prime[1:]:
        if t not in g.allowed():
            raise InputError(f"the priming music breaks the event grammar at {tokens.VOCAB[t]}")
        g.feed(t)
    g.max_bars = g.bars + new_bars
    g.min_bars = g.max_bars if exact else 1
    return g


def _count_notes(
    allowed: torch.Tensor, grammars: list[tokens.Grammar], played: list[int], count: int
) -> torch.Tensor:
    """Masks that end each row after exactly ``count`` notes, one note per onset."""
    allowed = allowed.clone()
    for i, g in enumerate(grammars):
        if g.state == "dur":
            allowed[i, list(tokens.PITCH_IDS)] = False  # no chords under one syllable
            allowed[i, list(tokens.PART_IDS)] = False
        if played[i] < count:
            allowed[i, tokens.EOS] = False
        elif g.state in ("dur", "body"):
            allowed[i] = False
            allowed[i, tokens.EOS] = True
    return allowed


def _bar_line_ends(logits: torch.Tensor, grammars: list[tokens.Grammar]) -> torch.Tensor:
    """In the last bar asked for, the model's wish for a new bar line becomes the end of
    the piece (rather than being spread over stray late notes)."""
    last = [i for i, g in enumerate(grammars) if g.in_last_bar]
    if not last:
        return logits
    logits = logits.clone()
    rows = torch.tensor(last)
    pair = logits[rows][:, [tokens.EOS, tokens.BAR]]
    logits[rows, tokens.EOS] = torch.logsumexp(pair, dim=-1)
    return logits


@torch.inference_mode()
def sample_tokens(
    model: MusicLM,
    prime: list[int],
    n: int,
    seed: int,
    s: MusicSampling,
    note_count: int | None = None,
) -> list[list[int]]:
    """``n`` continuations of ``prime`` (BOS first), each ending in EOS after ``s.bars`` new
    bars at most; returned without the prime. With ``note_count``, every continuation has
    exactly that many notes, one per onset (a melody for that many syllables). With
    ``s.key_pull``, pitches outside each row's key (its key token, primed or sampled) are
    made less likely by that many nats."""
    model.eval()
    exact = note_count is None  # a song ends with its last syllable, not at a bar count
    grammars = [prime_grammar(prime, model.cfg.polyphonic, s.bars, exact) for _ in range(n)]
    gens = [stream(seed, "music-sample", row) for row in range(n)]
    masks = _Masks()
    # Room for the densest bar the grammar allows (every onset with MAX_PARTS notes of at
    # most three tokens) per bar asked for, so no piece is cut short of its bars.
    budget = s.bars * (2 + tokens.MAX_POS * (1 + 3 * tokens.MAX_PARTS))
    out: list[list[int]] = [[] for _ in range(n)]
    played = [0] * n  # notes so far (one DUR token each)
    done = [False] * n
    pulls = key_penalties(s.key_pull) if s.key_pull > 0 else {}
    keys = [next((t for t in prime if t in pulls), None)] * n  # until a row samples one
    no_pull = torch.zeros(len(tokens.VOCAB))
    with cpu_threads(1 if n < SINGLE_THREAD_MAX else torch.get_num_threads()):
        start = torch.tensor(prime, dtype=torch.long)[None].expand(n, -1).contiguous()
        logits, state = model.net.start(start)
        for _ in range(budget):
            if note_count is None:
                banned = masks.banned(grammars)
            else:
                allowed = torch.stack([masks(g) for g in grammars])
                banned = ~_count_notes(allowed, grammars, played, note_count)
            raw = _bar_line_ends(logits.float(), grammars)
            if pulls and any(k is not None for k in keys):
                # The close: the last bar asked for, or a song's last syllable.
                last = [
                    g.in_last_bar or (note_count is not None and played[i] == note_count - 1)
                    for i, g in enumerate(grammars)
                ]
                offsets = [
                    no_pull if k is None else pulls[k][e] for k, e in zip(keys, last, strict=True)
                ]
                raw = raw + torch.stack(offsets)
            shaped = raw.masked_fill(banned, float("-inf"))
            picks = sample_logits(shaped, gens, s.temperature, top_p=s.top_p)
            for i, token in enumerate(picks.tolist()):
                if done[i]:
                    picks[i] = tokens.PAD  # keeps the batch in step; never recorded
                    continue
                out[i].append(token)
                if token in pulls:
                    keys[i] = token
                played[i] += token in tokens.DUR_IDS
                grammars[i].feed(token)
                done[i] = token == tokens.EOS
            if all(done):
                break
            logits, state = model.net.step(picks, state)
    return [row if row and row[-1] == tokens.EOS else [*row, tokens.EOS] for row in out]
