"""Music metrics: mgeval-style feature statistics, key consistency and originality.

Feature statistics follow Yang & Lerch (2018): for each feature, the distances between
pieces *within* the reference set and *between* the generated and reference sets are
smoothed into densities; their overlap area (1 = indistinguishable) and the KL divergence
of the inter-set from the intra-set density say how close the two sets are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from museforge.core.copying import SEPARATOR, SubstringIndex
from museforge.music.readers import estimate_key
from museforge.music.score import STEP, Piece

MAX_INTERVAL = 24
_BASE = 0x10000  # encoded notes sit above the BMP: no clash with real text or separators


def _onsets(piece: Piece) -> list[float]:
    return sorted({n.start for n in piece.notes})


def pitch_class_histogram(piece: Piece) -> np.ndarray:
    hist = np.zeros(12)
    for n in piece.notes:
        hist[n.pitch % 12] += 1
    return hist / max(hist.sum(), 1)


def pitch_range(piece: Piece) -> float:
    pitches = [n.pitch for n in piece.notes]
    return float(max(pitches) - min(pitches)) if pitches else 0.0


def note_density(piece: Piece) -> float:
    """Notes per bar."""
    return len(piece.notes) / max(piece.end / piece.bar_quarters, 1e-9)


def mean_ioi(piece: Piece) -> float:
    """Mean inter-onset interval in sixteenths."""
    onsets = _onsets(piece)
    return float(np.diff(onsets).mean() / STEP) if len(onsets) > 1 else 0.0


def ioi_histogram(piece: Piece) -> np.ndarray:
    """Share of inter-onset intervals of 1, 2, 3, 4, 6, 8 and more sixteenths."""
    bins = [1, 2, 3, 4, 6, 8]
    hist = np.zeros(len(bins) + 1)
    for gap in np.diff(_onsets(piece)) / STEP:
        match = [i for i, b in enumerate(bins) if abs(gap - b) < 0.5]
        hist[match[0] if match else -1] += 1
    return hist / max(hist.sum(), 1)


FEATURES: dict[str, Callable[[Piece], float | np.ndarray]] = {
    "pitch_class_histogram": pitch_class_histogram,
    "pitch_range": pitch_range,
    "note_density": note_density,
    "mean_ioi": mean_ioi,
    "ioi_histogram": ioi_histogram,
}


def _distances(a: list[np.ndarray], b: list[np.ndarray] | None = None) -> np.ndarray:
    if b is None:
        return np.array([np.linalg.norm(a[i] - a[j]) for i in range(len(a)) for j in range(i)])
    return np.array([np.linalg.norm(x - y) for x in a for y in b])


def _density(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    if np.ptp(values) < 1e-9:  # all equal: a narrow bump (KDE needs spread)
        values = values + np.random.default_rng(0).normal(0, 1e-3, len(values))
    # scipy.stats takes most of a second to import, and only evaluation needs it.
    from scipy.stats import gaussian_kde

    dens = gaussian_kde(values)(grid)
    return dens / max(dens.sum(), 1e-12)


def feature_overlap(generated: Sequence[Piece], reference: Sequence[Piece]) -> dict[str, dict]:
    """Per feature: overlap area and KL of inter-set vs the reference's intra-set distances."""
    out = {}
    for name, fn in FEATURES.items():
        gen = [np.atleast_1d(np.asarray(fn(p), dtype=float)) for p in generated if p.notes]
        ref = [np.atleast_1d(np.asarray(fn(p), dtype=float)) for p in reference if p.notes]
        if len(gen) < 2 or len(ref) < 2:
            continue
        intra, inter = _distances(ref), _distances(gen, ref)
        grid = np.linspace(0, max(intra.max(), inter.max()) * 1.1 + 1e-6, 256)
        p, q = _density(intra, grid), _density(inter, grid)
        kl = float(np.sum(p * np.log((p + 1e-12) / (q + 1e-12))))
        out[name] = {"overlap": float(np.minimum(p, q).sum()), "kl": kl}
    return out


def mean_overlap(stats: dict[str, dict]) -> float:
    return float(np.mean([v["overlap"] for v in stats.values()])) if stats else float("nan")


def key_consistency(pieces: Sequence[Piece]) -> float:
    """Share of pieces whose notes best fit the key they declare (Krumhansl profiles)."""
    scored = [p for p in pieces if p.notes]
    if not scored:
        return float("nan")
    return sum(estimate_key(p.notes) == p.key for p in scored) / len(scored)


def melody_string(piece: Piece) -> str:
    """The top part as text, one character per note (interval from the last note and
    length), so that copying is found whatever the key."""
    notes = sorted(piece.part_notes(0), key=lambda n: (n.start, -n.pitch))
    chars, last, last_start = [], None, None
    for n in notes:
        if n.start == last_start:
            continue  # a chord in the top part: its highest note
        step = 0 if last is None else max(-MAX_INTERVAL, min(MAX_INTERVAL, n.pitch - last))
        dur = max(1, min(32, round(n.duration / STEP)))
        chars.append(chr(_BASE + (step + MAX_INTERVAL) * 33 + dur))
        last, last_start = n.pitch, n.start
    return "".join(chars)


def originality(generated: Sequence[Piece], training: Sequence[Piece]) -> dict[str, float]:
    """The longest run of notes (intervals and lengths) copied from the training pieces."""
    index = SubstringIndex(SEPARATOR.join(melody_string(p) for p in training))
    spans, shares = [], []
    for piece in generated:
        melody = melody_string(piece)
        if melody:
            span = index.longest_match(melody)[0]
            spans.append(span)
            shares.append(span / len(melody))
    if not spans:
        return {"longest_copied_notes": 0.0, "mean_copied_share": 0.0}
    return {"longest_copied_notes": float(max(spans)), "mean_copied_share": float(np.mean(shares))}
