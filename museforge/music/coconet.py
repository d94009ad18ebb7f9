"""A Coconet-style chorale model: four voices on a sixteenth grid, any cells erased, refilled.

After Huang et al. 2017 ("Counterpoint by convolution"). A chorale becomes a grid of 4
voices × T sixteenth steps, each cell holding the sounding pitch (or a rest class). The
network sees the grid with some cells erased (a mask channel per voice) and predicts a
distribution over pitches for every cell; it is trained with cross-entropy on the erased
cells only, erasing a random share of cells per example (orderless NADE), plus whole
voices and time blocks, which are the shapes harmonising and infilling ask for. Sampling
is annealed blocked Gibbs: erase a shrinking random share of the cells being written,
resample them from the model, repeat.

One deliberate change from the paper: the convolution runs over time only, with the four
voices' pitches as channels (dilated residual blocks), instead of a 2-D convolution over
time × pitch. Every layer then sees the whole chord at once, and it costs ~50× less, which
is what a minutes-long training run on two CPU cores needs; transposition augmentation
supplies the pitch invariance the 2-D convolution would have built in.

Voice-leading rules (``rules=True`` in :func:`gibbs` and :func:`fill`): the model
proposes, the rules veto, like a harmony teacher. Whenever a cell is (re)sampled, pitches
that would leave the voice's range, cross an adjacent voice, or move in parallel fifths or
octaves with another voice into or out of that chord (given the other voices' current
values) get probability zero, and the draw is from what the model gives the rest,
renormalised: :func:`museforge.music.voiceleading.allowed_pitches`, the same definitions
the error counter uses. Where the rules veto every pitch the model's own distribution is
used (never a dead end); nothing is repaired greedily afterwards, so sampling stays
sampling and a seed still fixes the result.

Grid ↔ piece: a held pitch spans several cells. Going back, a new note starts where the
pitch changes, or where an ``onsets`` grid says one starts (the original note boundaries,
so a piece round-trips exactly, repeated notes included). Cells the model wrote have no
original boundaries; there a held pitch is re-struck on a beat where a given voice starts
a note (chorales are mostly homorhythmic), see :func:`generated_onsets`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from museforge.core import distributed
from museforge.core.seeding import stream
from museforge.music.corpus import CHORALE_PARTS
from museforge.music.score import STEP, Note, Piece
from museforge.music.tokens import bar_steps
from museforge.music.voiceleading import (
    PARALLELS,
    allowed_pitches,
    crosses,
    interval_class,
    out_of_range,
)

VOICES = 4
REST = -1  # a rest in a pitch grid
POS_FEATURES = 6  # sixteenth within the beat (4), downbeat, half-bar


@dataclass(frozen=True)
class CoconetConfig:
    """Network shape and the pitch range it covers (MIDI, inclusive)."""

    low: int = 36
    high: int = 81
    window: int = 32  # sixteenth steps seen at once (2 bars of 4/4)
    hidden: int = 128
    layers: int = 6  # residual blocks of two convolutions each
    kernel: int = 3

    def __post_init__(self) -> None:
        if not 0 <= self.low < self.high <= 127:
            raise ValueError(f"pitch range {self.low}..{self.high} is not within MIDI 0..127")
        if self.window < 4 or self.hidden < 1 or self.layers < 1 or self.kernel % 2 == 0:
            raise ValueError("window ≥ 4, hidden ≥ 1, layers ≥ 1 and an odd kernel are needed")

    @property
    def classes(self) -> int:
        """Pitches in the range plus one rest class (the last)."""
        return self.high - self.low + 2


# -- grid <-> piece ----------------------------------------------------------------------


def piece_to_grid(piece: Piece, voices: int = VOICES) -> tuple[np.ndarray, np.ndarray]:
    """(pitches, onsets), each ``voices × steps``: the MIDI pitch sounding in every
    sixteenth (REST = -1) and whether a note starts there. Parts past ``voices`` are
    ignored; where notes of one part overlap, the later (then higher) one wins."""
    q = piece.quantised()
    length = round(q.end / STEP)
    pitches = np.full((voices, length), REST, dtype=np.int16)
    onsets = np.zeros((voices, length), dtype=bool)
    for note in q.sorted_notes():
        if note.part >= voices:
            continue
        a = round(note.start / STEP)
        pitches[note.part, a : a + round(note.duration / STEP)] = note.pitch
        onsets[note.part, a] = True
    return pitches, onsets


def grid_to_piece(
    pitches: np.ndarray, onsets: np.ndarray | None, template: Piece, velocity: int = 80
) -> Piece:
    """The piece a pitch grid describes, with ``template``'s meter, key, tempo and title.
    A note starts where the pitch changes or ``onsets`` is set."""
    notes = []
    voices, length = pitches.shape
    for v in range(voices):
        start, current = 0, REST
        for t in range(length + 1):
            pitch = int(pitches[v, t]) if t < length else REST
            struck = onsets is not None and t < length and bool(onsets[v, t])
            if pitch != current or (pitch != REST and struck):
                if current != REST:
                    notes.append(Note(current, start * STEP, (t - start) * STEP, velocity, v))
                start, current = t, pitch
    parts = template.parts if len(template.parts) == voices else CHORALE_PARTS[:voices]
    return replace(template, notes=tuple(notes), parts=parts)


def generated_onsets(pitches: np.ndarray, onsets: np.ndarray, written: np.ndarray) -> np.ndarray:
    """Onsets for a grid some of whose cells the model ``written``: original onsets where
    kept; in written cells a held pitch is re-struck on a beat (every 4 sixteenths) where
    any kept voice starts a note, so inner voices move with the melody as in a chorale."""
    result = onsets & ~written
    kept_strikes = (onsets & ~written).any(axis=0)
    beats = np.arange(pitches.shape[1]) % 4 == 0
    restrike = written & (kept_strikes & beats)[None, :] & (pitches != REST)
    return result | restrike


def to_classes(pitches: np.ndarray, cfg: CoconetConfig) -> np.ndarray:
    """Class indices (pitch - low; rest = classes - 1); raises ValueError out of range."""
    sounding = pitches != REST
    if sounding.any() and (pitches[sounding].min() < cfg.low or pitches[sounding].max() > cfg.high):
        lo, hi = int(pitches[sounding].min()), int(pitches[sounding].max())
        raise ValueError(f"pitches {lo}..{hi} leave the model's range {cfg.low}..{cfg.high}")
    return np.where(sounding, pitches - cfg.low, cfg.classes - 1).astype(np.int64)


def from_classes(classes: np.ndarray, cfg: CoconetConfig) -> np.ndarray:
    return np.where(classes == cfg.classes - 1, REST, classes + cfg.low).astype(np.int16)


def bar_positions(piece: Piece, length: int) -> np.ndarray:
    """Each step's position in its bar, in sixteenths (bar 1 starts at time 0)."""
    return np.arange(length) % bar_steps(piece.time_signature)


# -- the network -------------------------------------------------------------------------


def position_features(pos: torch.Tensor) -> torch.Tensor:
    """``[B, T]`` bar positions → ``[B, POS_FEATURES, T]`` metrical features."""
    beat = F.one_hot(pos % 4, 4).float()
    downbeat = (pos == 0).float().unsqueeze(-1)
    half = (pos % 8 == 0).float().unsqueeze(-1)
    return torch.cat([beat, downbeat, half], -1).transpose(1, 2)


class ResBlock(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int):
        super().__init__()
        pad = dilation * (kernel // 2)
        self.conv1 = nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation)
        self.norm1 = nn.BatchNorm1d(channels)
        self.conv2 = nn.Conv1d(channels, channels, kernel, padding=kernel // 2)
        self.norm2 = nn.BatchNorm1d(channels)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.norm1(self.conv1(h)))
        return F.relu(h + self.norm2(self.conv2(y)))


class Coconet(nn.Module):
    """Erased grid in, per-cell pitch logits out."""

    def __init__(self, cfg: CoconetConfig):
        super().__init__()
        self.cfg = cfg
        width = VOICES * cfg.classes + VOICES + POS_FEATURES
        self.inp = nn.Conv1d(width, cfg.hidden, cfg.kernel, padding=cfg.kernel // 2)
        # Dilations 1, 2, 4, 8 repeating: six blocks see ~50 sixteenths, more than a window.
        self.blocks = nn.ModuleList(
            ResBlock(cfg.hidden, cfg.kernel, 2 ** (i % 4)) for i in range(cfg.layers)
        )
        self.out = nn.Conv1d(cfg.hidden, VOICES * cfg.classes, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """``x`` [B, 4, T] classes, ``mask`` [B, 4, T] (True = erased), ``pos`` [B, T]
        → logits [B, 4, T, classes]."""
        b, v, t = x.shape
        c = self.cfg.classes
        seen = F.one_hot(x, c).float() * (~mask).unsqueeze(-1).float()
        h = seen.permute(0, 1, 3, 2).reshape(b, v * c, t)
        h = torch.cat([h, mask.float(), position_features(pos)], 1)
        h = F.relu(self.inp(h))
        for block in self.blocks:
            h = block(h)
        return self.out(h).view(b, v, c, t).permute(0, 1, 3, 2)


# -- masks, loss, sampling ---------------------------------------------------------------


def sample_masks(batch: int, length: int, gen: torch.Generator) -> torch.Tensor:
    """Erasure masks [B, 4, T]: half Bernoulli at a uniform random rate (orderless NADE),
    a quarter whole voices (alto+tenor+bass half of those: harmonising), a quarter a time
    block in random voices (infilling). At least one cell is always erased."""
    kind = torch.randint(0, 4, (batch, 1, 1), generator=gen)
    rate = torch.rand(batch, 1, 1, generator=gen)
    bernoulli = torch.rand(batch, VOICES, length, generator=gen) < rate
    some_voices = torch.rand(batch, VOICES, 1, generator=gen) < 0.5
    atb = torch.tensor([False, True, True, True]).view(1, VOICES, 1)
    voices = torch.where(torch.rand(batch, 1, 1, generator=gen) < 0.5, atb, some_voices)
    start = torch.randint(0, length, (batch, 1, 1), generator=gen)
    span = torch.randint(1, length + 1, (batch, 1, 1), generator=gen)
    steps = torch.arange(length).view(1, 1, length)
    block = (steps >= start) & (steps < start + span) & some_voices
    mask = torch.where(kind < 2, bernoulli, torch.where(kind == 2, voices, block))
    mask = mask.expand(batch, VOICES, length).clone()
    cell = torch.randint(0, VOICES * length, (batch,), generator=gen)
    mask.view(batch, -1)[torch.arange(batch), cell] = True
    return mask


def masked_nll(logits: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-example mean negative log-likelihood (nats) over the erased cells, [B]."""
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x.reshape(-1), reduction="none")
    nll = nll.view(mask.shape) * mask
    return nll.flatten(1).sum(1) / mask.flatten(1).sum(1).clamp(min=1)


@dataclass
class VetoStats:
    """How much the voice-leading veto changed while sampling, summed over ruled draws."""

    draws: int = 0
    removed_mass: float = 0.0  # the model's probability the rules took away
    dead_ends: int = 0  # draws where the rules allowed nothing the model gives mass to

    def summary(self) -> dict[str, float]:
        """Per draw: mean removed probability and the share of dead ends."""
        n = max(self.draws, 1)
        return {
            "draws": self.draws,
            "removed_mass": self.removed_mass / n,
            "dead_ends": self.dead_ends / n,
        }


@torch.no_grad()
def gibbs(
    model: Coconet,
    x: torch.Tensor,
    region: torch.Tensor,
    pos: torch.Tensor,
    steps: int,
    gen: torch.Generator,
    temperature: float = 1.0,
    alpha_min: float = 0.05,
    eta: float = 0.75,
    rules: bool = False,
    edges: tuple[torch.Tensor | None, torch.Tensor | None] | None = None,
    veto: VetoStats | None = None,
) -> torch.Tensor:
    """Annealed blocked Gibbs over the ``region`` cells of ``x`` [B, 4, T] (others fixed).

    Step n erases each region cell with probability α_n = max(α_min, 1 − n / (η·steps)),
    the paper's schedule: the first step erases the whole region (an independent draw),
    later steps refine ever smaller blocks given everything else. With ``rules`` the
    erased cells are drawn one by one under the voice-leading veto (:func:`ruled_draw`;
    ``edges`` are the class columns just outside ``x``, [B, 4] or None each), the last
    step included; ``veto`` collects how much the rules changed.
    """
    model.eval()
    x = x.clone()
    for n in range(steps):
        alpha = max(alpha_min, 1.0 - n / (eta * steps) * (1.0 - alpha_min))
        mask = region & (torch.rand(region.shape, generator=gen) < alpha)
        if n == 0:
            mask = region.clone()
        if not mask.any():
            continue
        probs = torch.softmax(model(x, mask, pos)[mask] / temperature, -1)
        if rules:
            ruled_draw(x, mask, probs, gen, model.cfg, edges, veto)
        else:
            x[mask] = torch.multinomial(probs, 1, generator=gen).squeeze(1)
    return x


def _chord(column: list[int]) -> list[int | None]:
    return [None if p == REST else p for p in column]


def ruled_draw(
    x: torch.Tensor,
    mask: torch.Tensor,
    probs: torch.Tensor,
    gen: torch.Generator,
    cfg: CoconetConfig,
    edges: tuple[torch.Tensor | None, torch.Tensor | None] | None = None,
    veto: VetoStats | None = None,
) -> None:
    """Draw the ``mask`` cells of ``x`` [B, 4, T] (in place) from ``probs`` [cells,
    classes] (in ``x[mask]`` order) under the voice-leading rules: one cell at a time, in
    time order (soprano to bass within a chord), each seeing the values its neighbours
    have now, those drawn a moment before included. ``edges``: the class columns [B, 4]
    just before and after ``x`` (cells of earlier or later windows), or None. ``veto``,
    when given, adds up the probability each draw lost to the rules."""
    b, _, t = x.shape
    cells = mask.nonzero()
    order = torch.argsort((cells[:, 0] * t + cells[:, 2]) * VOICES + cells[:, 1])
    uniform = torch.rand(cells.shape[0], generator=gen, dtype=torch.float64).numpy()
    table = probs.double().numpy()
    rest_class = cfg.classes - 1
    left, right = edges or (None, None)
    blank = torch.full((b, VOICES, 1), rest_class, dtype=x.dtype)
    columns = [blank if e is None else e.view(b, VOICES, 1).to(x.dtype) for e in (left, right)]
    # Pitches with one column of context each side; plain lists are fastest cell by cell.
    grid = from_classes(torch.cat([columns[0], x, columns[1]], 2).numpy(), cfg).tolist()
    candidates = np.arange(cfg.low, cfg.high + 1)
    where = cells.tolist()
    for i in order.tolist():
        n, v, step = where[i]
        rows, at = grid[n], step + 1
        chords = [_chord([row[k] for row in rows]) for k in (at - 1, at, at + 1)]
        allowed = allowed_pitches(v, candidates, *chords)
        p = table[i]
        ruled = p.copy()
        ruled[:rest_class][~allowed] = 0.0
        kept = ruled.sum() if allowed.any() else 0.0  # every pitch vetoed: a dead end
        if veto is not None:
            veto.draws += 1
            veto.removed_mass += float(1.0 - kept / p.sum()) if kept > 0 else 0.0
            veto.dead_ends += int(kept <= 0)
        p = ruled if kept > 0 else p
        cumulative = np.cumsum(p)
        k = min(int(np.searchsorted(cumulative, uniform[i] * cumulative[-1], "right")), rest_class)
        x[n, v, step] = k
        rows[v][at] = REST if k == rest_class else cfg.low + k


def rule_breaking(pitches: torch.Tensor, cfg: CoconetConfig) -> torch.Tensor:
    """For every cell of pitch grids ``pitches`` [B, 4, T] (MIDI, REST = -1) and every pitch
    class of the model (rest excluded): would sounding it there break a voice-leading rule,
    given the other cells as they are? [B, 4, T, classes − 1], True = vetoed. The same mask
    :func:`~museforge.music.voiceleading.allowed_pitches` gives cell by cell (columns past
    either end count as rests), for a whole batch at once, so training can price it."""
    b, voices, t = pitches.shape
    cand = torch.arange(cfg.low, cfg.high + 1).view(1, 1, -1)
    padded = F.pad(pitches, (1, 1), value=REST)
    neighbours = (padded[:, :, :-2], padded[:, :, 2:])  # the column before, the one after
    parallel_classes = torch.tensor(list(PARALLELS))
    masks = []
    for v in range(voices):
        bad = out_of_range(v, cand).expand(b, t, -1).clone()
        if v > 0:
            upper = pitches[:, v - 1, :, None]
            bad |= (upper != REST) & crosses(upper, cand)
        if v < voices - 1:
            lower = pitches[:, v + 1, :, None]
            bad |= (lower != REST) & crosses(cand, lower)
        for other in neighbours:
            own = other[:, v, :, None]
            for w in range(voices):
                if w == v:
                    continue
                now, then = pitches[:, w, :, None], other[:, w, :, None]
                moving = (own != REST) & (now != REST) & (then != REST) & (now != then)
                kept = interval_class(own, then)
                parallel = moving & torch.isin(kept, parallel_classes)
                bad |= parallel & (cand != own) & (interval_class(cand, now) == kept)
        masks.append(bad)
    return torch.stack(masks, 1)


def window_starts(length: int, window: int) -> list[int]:
    """Starts of half-overlapping windows covering ``length`` steps (the last may overlap more)."""
    if length <= window:
        return [0]
    hop = window // 2
    starts = list(range(0, length - window + 1, hop))
    return starts if starts[-1] == length - window else [*starts, length - window]


@contextmanager
def single_thread(small: bool = True) -> Iterator[None]:
    """One intra-op thread while ``small``: a Gibbs step convolves a handful of grids, and
    waking a second thread costs more than it saves (0.05 ms against 0.3–10 ms per
    convolution, measured on two busy cores)."""
    threads = torch.get_num_threads()
    if small:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@torch.no_grad()
def fill(
    model: Coconet,
    x: torch.Tensor,
    region: torch.Tensor,
    pos: torch.Tensor,
    steps: int,
    seed: int,
    temperature: float = 1.0,
    rules: bool = False,
    veto: VetoStats | None = None,
) -> torch.Tensor:
    """Rewrite the ``region`` cells of grids ``x`` [B, 4, L] of any length, window by
    window: each window conditions on the cells earlier windows already wrote. With
    ``rules`` the voice-leading veto applies (see the module docstring), across window
    boundaries too; ``veto`` collects how much the rules changed."""
    cfg = model.cfg
    length, window = x.shape[2], cfg.window
    if length < window:  # pad with fixed rests; the model has seen rests at chorale ends
        pad = window - length
        x = F.pad(x, (0, pad), value=cfg.classes - 1)
        region = F.pad(region, (0, pad), value=False)
        pos = torch.cat([pos, pos[:, -1:] + torch.arange(1, pad + 1)], 1)
    x, todo = x.clone(), region.clone()
    gen = stream(seed, "gibbs")
    with single_thread(x.shape[0] <= 8):
        for s in window_starts(x.shape[2], window):
            cut = slice(s, s + window)
            if todo[:, :, cut].any():
                end = s + window
                edges = (
                    x[:, :, s - 1] if s > 0 else None,
                    x[:, :, end] if end < x.shape[2] else None,
                )
                x[:, :, cut] = gibbs(
                    model,
                    x[:, :, cut],
                    todo[:, :, cut],
                    pos[:, cut],
                    steps,
                    gen,
                    temperature,
                    rules=rules,
                    edges=edges,
                    veto=veto,
                )
                todo[:, :, cut] = False
    return x[:, :, :length]


@torch.no_grad()
def grid_nll(
    model: Coconet, x: torch.Tensor, pos: torch.Tensor, mask: torch.Tensor, batch: int = 256
) -> float:
    """Mean NLL (nats) per erased cell of windows ``x`` under erasure ``mask``."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, x.shape[0], batch):
        xb, mb = x[i : i + batch], mask[i : i + batch]
        logits = model(xb, mb, pos[i : i + batch])
        nll = F.cross_entropy(logits[mb], xb[mb], reduction="sum")
        total, count = total + float(nll), count + int(mb.sum())
    return total / max(count, 1) if count else math.nan


# -- training ----------------------------------------------------------------------------


def piece_windows(
    pieces: list[Piece], cfg: CoconetConfig, shifts: tuple[int, ...] = (0,)
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every window of ``cfg.window`` steps starting on a bar line (plus one flush with the
    end) of every four-part piece, in every transposition of ``shifts`` (semitones) that
    stays in the model's range: classes [N, 4, T] (uint8) and bar positions [N, T].
    Transposing windows, not pieces, keeps building the training set to seconds."""
    xs, ps = [], []
    for piece in pieces:
        pitches, _ = piece_to_grid(piece)
        length, window = pitches.shape[1], cfg.window
        if length == 0:
            continue
        if length < window:
            pitches = np.pad(pitches, ((0, 0), (0, window - length)), constant_values=REST)
        bar = bar_steps(piece.time_signature)
        pos = np.arange(max(length, window)) % bar
        starts = sorted({*range(0, max(length - window, 0) + 1, bar), max(length - window, 0)})
        for s in starts:
            cut = pitches[:, s : s + window]
            sounding = cut[cut != REST]
            if not sounding.size:
                continue
            for shift in shifts:
                if cfg.low <= sounding.min() + shift and sounding.max() + shift <= cfg.high:
                    xs.append(to_classes(np.where(cut == REST, REST, cut + shift), cfg))
                    ps.append(pos[s : s + window])
    if not xs:
        empty = torch.zeros(0, VOICES, cfg.window, dtype=torch.uint8)
        return empty, torch.zeros(0, cfg.window, dtype=torch.long)
    x = torch.from_numpy(np.stack(xs).astype(np.uint8))
    return x, torch.from_numpy(np.stack(ps)).long()


def fixed_masks(n: int, length: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Held-out erasures, the same for every model: (random-rate masks, alto+tenor+bass)."""
    random_masks = sample_masks(n, length, stream(seed, "val-mask"))
    atb = torch.zeros(n, VOICES, length, dtype=torch.bool)
    atb[:, 1:] = True
    return random_masks, atb


@dataclass(frozen=True)
class CoconetTraining:
    """How a Coconet is trained (stored in the artifact's recipe)."""

    lr: float = 2e-3
    warmup: int = 50
    min_lr_ratio: float = 0.05  # cosine decay over the budget down to lr × this
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    transpose: bool = True  # also train on transpositions -5..+6 semitones (in range)
    eval_every: int = 200
    val_windows: int = 1024  # held-out windows scored at each evaluation (a fixed subset)
    # On-policy voice-leading penalty (0 = off): this weight × the probability the model
    # gives rule-breaking pitches in its own harmonisation chains (see CoconetTask).
    rule_weight: float = 0.0
    chains: int = 256  # harmonisation chains the penalty is taken on
    rule_temperature: float = 0.7  # the chains' sampling temperature (harmonise's default)
    # Share of the budget trained on the data alone before the penalty starts: a young
    # model's chains carry no signal and the penalty then stunts it (docs/music.md).
    rule_from: float = 0.0

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.val_windows < 1:
            raise ValueError("lr must be positive and val_windows at least 1")
        if self.rule_weight < 0 or self.chains < 1 or self.rule_temperature <= 0:
            raise ValueError("rule_weight ≥ 0, chains ≥ 1 and rule_temperature > 0 are needed")
        if not 0 <= self.rule_from < 1:
            raise ValueError("rule_from must be in [0, 1)")


class CoconetTask:
    """Trains a :class:`Coconet` on chorale windows for the shared Trainer.

    With ``rule_weight`` > 0 each step also prices voice leading on-policy (after RL Tuner,
    Jaques et al. 2017, with the data NLL as the anchor): a pool of the model's own raw
    alto/tenor/bass chains under training sopranos is kept; at erased cells of a batch of
    them the loss adds ``rule_weight`` × the probability of the pitches the rules would veto
    there (:func:`rule_breaking`), then those cells are redrawn from the model to advance
    the chains. Every ``eval_every`` steps a sixteenth of the chains restart from new
    sopranos. The penalty starts once ``rule_from`` of the budget is done. The chains are
    not checkpointed: a resumed run starts fresh ones.
    """

    kind = "chorale-coconet"

    def __init__(
        self,
        cfg: CoconetConfig,
        training: CoconetTraining,
        train: tuple[torch.Tensor, torch.Tensor],
        val: tuple[torch.Tensor, torch.Tensor],
        seed: int,
    ):
        self.cfg, self.training = cfg, training
        self.x, self.pos = train
        pick = torch.randperm(val[0].shape[0], generator=stream(0, "val-pick"))
        pick = pick[: training.val_windows]
        self.val_x, self.val_pos = val[0][pick].long(), val[1][pick]
        self.val_masks = fixed_masks(self.val_x.shape[0], cfg.window)
        torch.manual_seed(seed)
        self.model = Coconet(cfg)
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=training.lr, weight_decay=training.weight_decay
        )
        self.num_examples = self.x.shape[0]
        self.eval_every = training.eval_every
        self._fraction = 0.0
        self._chains: tuple[torch.Tensor, torch.Tensor] | None = None

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"model": self.opt}

    def set_progress(self, fraction: float) -> None:
        self._fraction = min(max(fraction, 0.0), 1.0)

    def _steps_done(self) -> int:
        """Optimiser steps taken so far (restored with the optimiser on resume)."""
        state = self.opt.state.get(next(self.model.parameters()))
        return int(state["step"]) if state else 0

    def _lr(self) -> float:
        t = self.training
        step = self._steps_done()
        if step < t.warmup:
            return t.lr * (step + 1) / t.warmup
        cosine = 0.5 * (1 + math.cos(math.pi * self._fraction))
        return t.lr * (t.min_lr_ratio + (1 - t.min_lr_ratio) * cosine)

    def train_step(self, indices: torch.Tensor, noise: torch.Generator) -> dict[str, float]:
        self.model.train()
        x, pos = self.x[indices].long(), self.pos[indices]
        mask = sample_masks(x.shape[0], x.shape[2], noise)
        for group in self.opt.param_groups:
            group["lr"] = self._lr()
        loss = masked_nll(self.model(x, mask, pos), x, mask).mean()
        metrics = {"loss": loss.item()}
        if self.training.rule_weight > 0 and self._fraction >= self.training.rule_from:
            penalty = self._rule_penalty(x.shape[0], noise)
            loss = loss + self.training.rule_weight * penalty
            metrics["rule_mass"] = penalty.item()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        distributed.average_gradients(self.model)
        if self.training.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.training.grad_clip)
        self.opt.step()
        return metrics

    def _new_chains(self, n: int, noise: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` raw harmonisations (16 Gibbs steps) of random training windows' sopranos."""
        pick = torch.randint(0, self.num_examples, (n,), generator=noise)
        x, pos = self.x[pick].long(), self.pos[pick]
        region = torch.zeros_like(x, dtype=torch.bool)
        region[:, 1:] = True
        x = gibbs(self.model, x, region, pos, 16, noise, self.training.rule_temperature)
        self.model.train()
        return x, pos

    def _rule_penalty(self, batch: int, noise: torch.Generator) -> torch.Tensor:
        """Mean probability of rule-breaking pitches at erased alto/tenor/bass cells of
        ``batch`` chains; advances those chains by one Gibbs draw of the erased cells."""
        t = self.training
        if self._chains is None:
            self._chains = self._new_chains(t.chains, noise)
        elif self._steps_done() % self.eval_every == 0:
            fresh = torch.randint(0, t.chains, (max(t.chains // 16, 1),), generator=noise)
            self._chains[0][fresh], self._chains[1][fresh] = self._new_chains(len(fresh), noise)
        chains, chain_pos = self._chains
        pick = torch.randint(0, t.chains, (batch,), generator=noise)
        x, pos = chains[pick], chain_pos[pick]
        rate = torch.rand(batch, 1, 1, generator=noise)
        mask = torch.rand(x.shape, generator=noise) < rate
        mask[:, 0] = False  # the soprano is given
        cell = torch.randint(x.shape[2], VOICES * x.shape[2], (batch,), generator=noise)
        mask.view(batch, -1)[torch.arange(batch), cell] = True
        probs = torch.softmax(self.model(x, mask, pos) / t.rule_temperature, -1)
        pitches = torch.from_numpy(from_classes(x.numpy(), self.cfg)).long()
        vetoed = rule_breaking(pitches, self.cfg)
        mass = (probs[..., :-1] * vetoed).sum(-1)
        with torch.no_grad():
            drawn = torch.multinomial(probs.detach()[mask], 1, generator=noise).squeeze(1)
            x[mask] = drawn
            chains[pick] = x
        return (mass * mask).sum() / mask.sum()

    def validate(self) -> dict[str, float]:
        """NLL per erased cell on held-out windows: random erasures and alto+tenor+bass."""
        if self.val_x.shape[0] == 0:
            return {}
        random_masks, atb = self.val_masks
        metrics = {
            "val_nll": grid_nll(self.model, self.val_x, self.val_pos, random_masks),
            "val_harmonise_nll": grid_nll(self.model, self.val_x, self.val_pos, atb),
        }
        self.model.train()
        return metrics

    def preview(self) -> None:
        return None

    def export(self) -> tuple[CoconetConfig, dict[str, torch.Tensor]]:
        return self.cfg, self.model.state_dict()
