"""``gm-notes``: an NSynth-like set of single notes, rendered here by FluidSynth from the
General MIDI soundfont that music already uses for its WAV output.

Each note is an instrument (GM program and its family) × a pitch × a velocity, held for
three quarters of the clip and then released, rendered dry (no reverb or chorus) at the
model's sample rate, mixed to mono. One MIDI file per program holds all its notes a
clip and a half apart, so FluidSynth starts once per program; the notes are cut out at
their known onsets. The set is built once per setting and cached as int16 samples.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mido
import numpy as np
import soundfile

from museforge.core.atomic import atomic_write_with
from museforge.core.files import default_cache_dir
from museforge.errors import DataError

FAMILIES = (
    "piano",
    "chromatic-percussion",
    "organ",
    "guitar",
    "bass",
    "strings",
    "ensemble",
    "brass",
    "reed",
    "pipe",
    "synth-lead",
    "synth-pad",
    "synth-effects",
    "ethnic",
    "percussive",
    "sound-effects",
)
# Two contrasting programs (the 1st and 5th) of each pitched family: acoustic and electric
# piano, celesta and marimba, drawbar and reed organ, nylon and muted guitar, …
TWO_PER_FAMILY = tuple(8 * family + k for family in range(14) for k in (0, 4))
ALL_PITCHED = tuple(range(112))  # before percussive (112-119) and sound effects (120-127)
SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
)
INSTALL_HINT = "apt install fluidsynth fluid-soundfont-gm"
RECIPE = 1  # bump when the rendering changes, so old caches are not reused
HOLD = 0.75  # share of the clip the key is held
TICKS, TEMPO = 480, 500_000  # 120 beats a minute: a tick is 1/960 s


def family_of(program: int) -> str:
    """The General MIDI family of ``program`` (0–127)."""
    return FAMILIES[program // 8]


@dataclass(frozen=True)
class NoteSpec:
    """Which notes ``gm-notes`` holds, and how long and at what rate each is."""

    rate: int = 16000
    samples: int = 16128
    programs: tuple[int, ...] = TWO_PER_FAMILY
    pitches: tuple[int, ...] = tuple(range(36, 85))
    velocities: tuple[int, ...] = (75, 110)

    def key(self) -> str:
        text = json.dumps({**asdict(self), "recipe": RECIPE}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def count(self) -> int:
        return len(self.programs) * len(self.pitches) * len(self.velocities)


@dataclass
class Notes:
    """Rendered notes: int16 ``waves`` (notes, samples) and one label array per note."""

    waves: np.ndarray
    programs: np.ndarray
    pitches: np.ndarray
    velocities: np.ndarray
    rate: int
    spec: NoteSpec = field(default_factory=NoteSpec)

    @property
    def families(self) -> np.ndarray:
        return self.programs // 8


def soundfont() -> tuple[str, Path]:
    """FluidSynth's executable and the GM soundfont; a DataError saying what to install."""
    exe = shutil.which("fluidsynth")
    found = next((p for p in SOUNDFONTS if p.is_file()), None)
    if exe is None or found is None:
        missing = "FluidSynth" if exe is None else "the General MIDI soundfont"
        raise DataError(
            f"gm-notes is rendered with FluidSynth, but {missing} is missing: {INSTALL_HINT}"
        )
    return exe, found


def _program_midi(program: int, spec: NoteSpec, gap_ticks: int, hold_ticks: int) -> mido.MidiFile:
    mid = mido.MidiFile(ticks_per_beat=TICKS)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=TEMPO, time=0))
    track.append(mido.Message("program_change", program=program, channel=0, time=0))
    wait = 0
    for pitch in spec.pitches:
        for velocity in spec.velocities:
            track.append(mido.Message("note_on", note=pitch, velocity=velocity, time=wait))
            track.append(mido.Message("note_off", note=pitch, velocity=0, time=hold_ticks))
            wait = gap_ticks - hold_ticks
    return mid


def _render_program(exe: str, font: Path, program: int, spec: NoteSpec) -> np.ndarray:
    ticks_per_second = TICKS * 1_000_000 / TEMPO
    clip = spec.samples / spec.rate
    gap = round(1.5 * clip * ticks_per_second)
    hold = round(HOLD * clip * ticks_per_second)
    with tempfile.TemporaryDirectory(prefix="museforge-notes-") as tmp:
        mid, out = Path(tmp) / "notes.mid", Path(tmp) / "notes.wav"
        _program_midi(program, spec, gap, hold).save(filename=str(mid))
        cmd = [exe, "-ni", "-q", "-R", "0", "-C", "0", "-g", "1.0", "-r", str(spec.rate)]
        cmd += ["-T", "wav", "-O", "s16", "-F", str(out), str(font), str(mid)]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise DataError(
                f"FluidSynth failed rendering gm-notes ({type(err).__name__})"
            ) from None
        if done.returncode != 0 or not out.is_file():
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
            raise DataError(
                f"FluidSynth failed rendering gm-notes (exit {done.returncode}"
                f"{': ' + tail[0] if tail else ''})"
            )
        wave, _ = soundfile.read(str(out), dtype="float32", always_2d=True)
    mono = wave.mean(axis=1)
    step = gap / ticks_per_second * spec.rate
    n = len(spec.pitches) * len(spec.velocities)
    mono = np.pad(mono, (0, max(0, int(step * n) + spec.samples - len(mono))))
    starts = [round(i * step) for i in range(n)]
    notes = np.stack([mono[s : s + spec.samples] for s in starts])
    return (np.clip(notes, -1, 1) * 32767).round().astype(np.int16)


def render_notes(spec: NoteSpec, on_progress: Callable[[int, int], None] | None = None) -> Notes:
    """Render every note of ``spec`` (``on_progress(done, total)`` after each program)."""
    exe, font = soundfont()
    chunks = []
    for i, program in enumerate(spec.programs):
        chunks.append(_render_program(exe, font, program, spec))
        if on_progress:
            on_progress(i + 1, len(spec.programs))
    grid = [(p, q, v) for p in spec.programs for q in spec.pitches for v in spec.velocities]
    labels = np.array(grid, dtype=np.int16).reshape(-1, 3)
    return Notes(np.concatenate(chunks), labels[:, 0], labels[:, 1], labels[:, 2], spec.rate, spec)


def gm_notes(
    spec: NoteSpec | None = None,
    cache_dir: Path | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Notes:
    """The notes of ``spec``, from the cache or rendered (and cached) now."""
    spec = spec or NoteSpec()
    check_spec(spec)
    root = (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / "sound"
    path = root / f"gm-notes-{spec.key()}.npz"
    if path.is_file():
        try:
            with np.load(path) as saved:
                return Notes(
                    saved["waves"],
                    saved["programs"],
                    saved["pitches"],
                    saved["velocities"],
                    spec.rate,
                    spec,
                )
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # a damaged cache is rendered again
    notes = render_notes(spec, on_progress)

    def write(tmp: Path) -> None:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            waves=notes.waves,
            programs=notes.programs,
            pitches=notes.pitches,
            velocities=notes.velocities,
        )
        tmp.write_bytes(buffer.getvalue())

    atomic_write_with(path, write)
    return notes


def check_spec(spec: NoteSpec) -> None:
    """A DataError for a setting no note set can have."""
    problems = _problems(spec.programs, 0, 127, "programs")
    problems += _problems(spec.pitches, 0, 127, "pitches")
    problems += _problems(spec.velocities, 1, 127, "velocities")
    if not 8000 <= spec.rate <= 48000:
        problems.append(f"sample rate {spec.rate} is not 8000-48000")
    if problems:
        raise DataError("gm-notes: " + "; ".join(problems))


def _problems(values: Sequence[int], low: int, high: int, what: str) -> list[str]:
    if not values:
        return [f"no {what}"]
    bad = [v for v in values if not low <= v <= high]
    return [f"{what} must be {low}-{high} (got {bad[0]})"] if bad else []
