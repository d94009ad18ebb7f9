"""Annealed blocked Gibbs sampling of a Coconet, under the voice-leading veto.

Voice-leading rules (``rules=True`` in :func:`gibbs` and :func:`fill`): the model
proposes, the rules veto, like a harmony teacher. Whenever a cell is (re)sampled, pitches
that would leave the voice's range, cross an adjacent voice, or move in parallel fifths or
octaves with another voice into or out of that chord (given the other voices' current
values) get probability zero, and the draw is from what the model gives the rest,
renormalised: :func:`museforge.music.voiceleading.allowed_pitches`, the same definitions
the error counter uses. Where the rules veto every pitch the model's own distribution is
used (never a dead end); nothing is repaired greedily afterwards, so sampling stays
sampling and a seed still fixes the result. :func:`rule_breaking` is the same veto for a
whole batch at once, which training uses to price it. :func:`rewrite` and
:func:`harmonise_line` sample on pieces: the cells of a region, or a soprano's three
lower voices.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from museforge.core.seeding import stream
from museforge.errors import InputError
from museforge.music.coconet.encoding import (
    REST,
    bar_positions,
    from_classes,
    generated_onsets,
    grid_to_piece,
    piece_to_grid,
    to_classes,
)
from museforge.music.coconet.network import VOICES, Coconet, CoconetConfig
from museforge.music.score import STEP, Piece
from museforge.music.voiceleading import (
    PARALLELS,
    allowed_pitches,
    crosses,
    interval_class,
    out_of_range,
)


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


def rewrite(
    model: Coconet,
    piece: Piece,
    region: np.ndarray,
    seed: int,
    steps: int,
    temperature: float,
    rules: bool = True,
    veto: VetoStats | None = None,
) -> Piece:
    """``piece`` with the cells of ``region`` [4, L] written by the model (others kept);
    ``veto`` collects how much the rules changed."""
    pitches, onsets = piece_to_grid(piece)
    length = region.shape[1]
    pitches = np.pad(pitches, ((0, 0), (0, length - pitches.shape[1])), constant_values=REST)
    onsets = np.pad(onsets, ((0, 0), (0, length - onsets.shape[1])))
    kept = np.where(region, REST, pitches)
    try:
        classes = to_classes(kept, model.cfg)
    except ValueError as err:
        raise InputError(f"'{piece.title or 'piece'}': {err}") from None
    pos = torch.from_numpy(bar_positions(piece, length))[None]
    out = fill(
        model,
        torch.from_numpy(classes)[None],
        torch.from_numpy(region)[None],
        pos,
        steps,
        seed,
        temperature,
        rules,
        veto,
    )[0]
    written = from_classes(out.numpy(), model.cfg)
    return grid_to_piece(written, generated_onsets(written, onsets, region), piece)


def harmonise_line(
    model: Coconet,
    soprano: Piece,
    seed: int,
    steps: int,
    temperature: float,
    rules: bool = True,
    veto: VetoStats | None = None,
) -> Piece:
    """Alto, tenor and bass for the notes of part 0 of ``soprano``."""
    length = round(soprano.end / STEP)
    region = np.zeros((VOICES, length), dtype=bool)
    region[1:] = True
    return rewrite(model, soprano, region, seed, steps, temperature, rules, veto)
