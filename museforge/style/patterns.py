"""Procedural pattern images (stained glass, waves, dots, tartan) to use as style images."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from museforge.errors import InputError

PatternMaker = Callable[[int, np.random.Generator], np.ndarray]

PATTERNS: dict[str, str] = {}
_MAKERS: dict[str, PatternMaker] = {}
MIN_SIZE, MAX_SIZE = 8, 4096
_GOLDEN = 0.618033988749895


def _pattern(name: str, description: str) -> Callable[[PatternMaker], PatternMaker]:
    """Register a maker (size, rng) -> H×W×3 float in 0..1 under `name`."""

    def register(maker: PatternMaker) -> PatternMaker:
        if not name or name != name.strip() or " " in name or name in PATTERNS:
            raise ValueError(f"bad or duplicate pattern name {name!r}")
        PATTERNS[name] = description
        _MAKERS[name] = maker
        return maker

    return register


def make_pattern(name: str, size: int = 512, seed: int = 0) -> np.ndarray:
    """The pattern `name` as a size×size×3 uint8 array; the same seed gives the same image.

    Raises InputError for an unknown name, a size outside 8..4096 or a negative seed.
    """
    if name not in _MAKERS:
        raise InputError(f"unknown pattern '{name}': use one of {', '.join(PATTERNS)}")
    if isinstance(size, bool) or not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise InputError(f"pattern size must be a whole number from {MIN_SIZE} to {MAX_SIZE}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"pattern seed must be a whole number ≥ 0, got {seed!r}")
    rgb = _MAKERS[name](size, np.random.default_rng(seed))
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _vivid(rng: np.random.Generator, n: int) -> np.ndarray:
    """n saturated colours as n×3 float32 in 0..1, hues spread round the wheel."""
    # Golden-ratio steps from a random start keep any few consecutive hues far apart.
    hue = (rng.random() + _GOLDEN * np.arange(n) + rng.uniform(-0.05, 0.05, n)) % 1.0
    sat = rng.uniform(0.55, 1.0, n)[:, None]
    val = rng.uniform(0.6, 1.0, n)[:, None]
    k = (np.array([5.0, 3.0, 1.0]) + hue[:, None] * 6.0) % 6.0  # HSV -> RGB, per channel
    return (val - val * sat * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)).astype(np.float32)


def _axes(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in 0..1 as a column (y) and a row (x) for broadcasting."""
    t = ((np.arange(size, dtype=np.float32) + 0.5) / size).astype(np.float32)
    return t[:, None], t[None, :]


def _smoothstep(edge0: float, edge1: float, t: np.ndarray) -> np.ndarray:
    u = np.clip((t - edge0) / (edge1 - edge0), 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


@_pattern("voronoi", "stained glass: coloured Voronoi cells with dark lead lines between them")
def _voronoi(size: int, rng: np.random.Generator) -> np.ndarray:
    cells = 9
    # Seeds jittered on a grid give panes of similar size, as cut glass has.
    grid = np.stack(np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij"), -1)
    seeds = ((grid.reshape(-1, 2) + rng.uniform(0.15, 0.85, (cells * cells, 2))) / cells).astype(
        np.float32
    )
    colours = _vivid(rng, len(seeds))
    y, x = _axes(size)
    best = np.full((size, size), np.inf, np.float32)
    second = best.copy()
    owner = np.zeros((size, size), np.int32)
    runner_up = owner.copy()
    # In-place updates: this loop is most of the time, and fresh arrays would double it.
    for i, (sy, sx) in enumerate(seeds):
        d = (y - sy) ** 2 + (x - sx) ** 2
        closer = d < best
        np.copyto(runner_up, i, where=d < second)
        np.minimum(second, d, out=second)
        np.copyto(second, best, where=closer)
        np.copyto(runner_up, owner, where=closer)
        np.copyto(best, d, where=closer)
        np.copyto(owner, i, where=closer)
    # Distance to the bisector of the two nearest seeds: d2² - d1² = 2·|s1 - s2|·t exactly.
    gap = np.linalg.norm(seeds[owner] - seeds[runner_up], axis=-1)
    to_edge = (second - best) / (2.0 * np.maximum(gap, 1e-6))
    glass = colours[owner] * (1.0 - 1.8 * np.sqrt(best))[..., None]  # panes glow at the centre
    half_width, pixel = max(2.0 / size, 0.004), 1.0 / size
    lead = 1.0 - _smoothstep(half_width - pixel, half_width + pixel, to_edge)
    dark = np.array([0.07, 0.06, 0.08], np.float32)
    return glass * (1.0 - lead[..., None]) + dark * lead[..., None]


@_pattern("waves", "layered coloured sine interference bands")
def _waves(size: int, rng: np.random.Generator) -> np.ndarray:
    y, x = _axes(size)
    # A slow wave bends the coordinates first, so the bands ripple rather than run straight.
    bend = 0.06 * np.sin(2 * np.pi * (rng.uniform(1, 2) * y + rng.random()))
    field = np.zeros((size, size), np.float32)
    layers = 4
    for _ in range(layers):
        angle = rng.uniform(0, np.pi)
        cycles = rng.uniform(2.0, 7.0)
        along = (x + bend) * np.cos(angle) + y * np.sin(angle)
        field += np.sin(2 * np.pi * cycles * along + rng.uniform(0, 2 * np.pi))
    # A cosine palette with channels a third of a turn apart turns the sum into hue bands.
    phases = rng.random() + np.array([0.0, 1 / 3, 2 / 3]) + rng.uniform(-0.08, 0.08, 3)
    turns = rng.uniform(1.2, 2.2)
    rgb = 0.5 + 0.5 * np.cos(2 * np.pi * (turns * field[..., None] / layers + phases))
    return rgb.astype(np.float32)


@_pattern("dots", "halftone polka dots of varied colours and sizes on a coloured ground")
def _dots(size: int, rng: np.random.Generator) -> np.ndarray:
    pitch = 1.0 / 14
    row_pitch = pitch * np.sqrt(3) / 2  # hexagonal packing
    rows, cols = int(np.ceil(1 / row_pitch)), int(np.ceil(1 / pitch)) + 1
    y, x = _axes(size)
    row = np.floor(y / row_pitch)
    shift = 0.5 * (row % 2)  # odd rows sit half a pitch across
    col = np.floor(x / pitch + shift)
    cy, cx = (row + 0.5) * row_pitch, (col + 0.5 - shift) * pitch
    dist = np.sqrt((y - cy) ** 2 + (x - cx) ** 2)
    dot = (row * cols + col).astype(np.int64)
    # Halftone: a smooth field sets the dot sizes, with a little jitter per dot.
    centres_y = (np.arange(rows)[:, None] + 0.5) * row_pitch
    centres_x = (np.arange(cols)[None, :] + 0.5) * pitch
    tilt, freq = rng.uniform(0, 2 * np.pi), rng.uniform(1.0, 2.0)
    wave = np.sin(2 * np.pi * freq * (centres_x * np.cos(tilt) + centres_y * np.sin(tilt)))
    amount = 0.5 + 0.4 * wave + rng.uniform(-0.1, 0.1, (rows, cols))
    radius = (pitch * (0.15 + 0.33 * np.clip(amount, 0, 1))).ravel()[dot]
    palette = _vivid(rng, 6)
    ground, inks = palette[0] * 0.45, palette[1:]
    colour = inks[rng.integers(0, len(inks), rows * cols)][dot]
    cover = np.clip((radius - dist) * size + 0.5, 0.0, 1.0)[..., None]  # 1-pixel soft edge
    return (ground * (1.0 - cover) + colour * cover).astype(np.float32)


@_pattern("plaid", "tartan: crossing coloured stripes woven in a 2/2 twill")
def _plaid(size: int, rng: np.random.Generator) -> np.ndarray:
    colours = np.concatenate([_vivid(rng, 4), [[0.08, 0.1, 0.16]]]).astype(np.float32)
    stripes = 7
    picks = [int(rng.integers(len(colours)))]
    for _ in range(stripes - 1):  # neighbouring stripes never share a colour
        picks.append(int((picks[-1] + rng.integers(1, len(colours))) % len(colours)))
    widths = rng.integers(2, 14, stripes)
    half = np.repeat(picks, widths)
    sett = np.concatenate([half, half[::-1]])  # tartan setts mirror about their ends
    thread_px = max(1, round(size / 170))
    threads = np.arange(size) // thread_px
    # The same sett runs both ways, as in most tartans: warp varies along x, weft along y.
    stripe = colours[sett[threads % len(sett)]]
    # 2/2 twill: a warp thread lies on top for two picks in four, one step over per row.
    over = ((threads[:, None] + threads[None, :]) % 4) < 2
    cloth = np.where(over[..., None], stripe[None, :, :], stripe[:, None, :])
    # Each thread is a little darker at its edges, which shows the weave.
    within = (np.arange(size) % thread_px + 0.5) / thread_px
    shade = 0.88 + 0.12 * np.sin(np.pi * within)
    return (cloth * np.where(over, shade[None, :], shade[:, None])[..., None]).astype(np.float32)


@_pattern("strokes", "painterly brush strokes: short curved dabs of a few colours on a deep ground")
def _strokes(size: int, rng: np.random.Generator) -> np.ndarray:
    ground = np.array([0.05, 0.07, 0.16], dtype=np.float32) * rng.uniform(0.6, 1.4)
    paints = _vivid(rng, 5) * rng.uniform(0.7, 1.0, (5, 1)).astype(np.float32)
    canvas = np.empty((size, size, 3), dtype=np.float32)
    canvas[:] = ground
    # A slowly turning direction field: neighbouring strokes lean the same way, as a
    # painter's hand moves.
    flow_freq, flow_phase = rng.uniform(1.0, 2.5), rng.uniform(0, 2 * np.pi)
    for _ in range(300):
        cy, cx = rng.random(), rng.random()
        angle = np.sin(2 * np.pi * flow_freq * (cx + 0.6 * cy) + flow_phase) * 1.2
        length, width = rng.uniform(0.04, 0.11), rng.uniform(0.008, 0.02)
        bend, phase = rng.uniform(-8, 8), rng.uniform(0, 6)
        paint = paints[rng.integers(len(paints))]
        # Only the stroke's own neighbourhood is drawn (a box round its reach).
        reach = length + width + abs(bend) * length**2
        top, bottom = max(0, int((cy - reach) * size)), min(size, int((cy + reach) * size) + 1)
        left, right = max(0, int((cx - reach) * size)), min(size, int((cx + reach) * size) + 1)
        if top >= bottom or left >= right:
            continue
        dy = ((np.arange(top, bottom, dtype=np.float32) + 0.5) / size - cy)[:, None]
        dx = ((np.arange(left, right, dtype=np.float32) + 0.5) / size - cx)[None, :]
        along = dx * np.cos(angle) + dy * np.sin(angle)
        across = -dx * np.sin(angle) + dy * np.cos(angle) - bend * along**2
        inside = np.clip(1 - (along / length) ** 2, 0, 1) * np.clip(1 - (across / width) ** 2, 0, 1)
        mask = np.clip(inside * 3, 0, 1)[..., None]
        # Bristle marks along the stroke, and paint thinning towards its tail.
        bristles = 0.8 + 0.2 * np.sin(across / width * 9 + phase)[..., None]
        thin = np.clip(0.6 + 0.4 * (along / length), 0.3, 1.0)[..., None]
        cover = mask * thin
        box = canvas[top:bottom, left:right]
        canvas[top:bottom, left:right] = box * (1 - cover) + paint * bristles * cover
    return np.clip(canvas, 0, 1).astype(np.float32)
