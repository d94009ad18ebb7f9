"""Reading sounds from outside and writing them: mono float waves at one sample rate.

Files are decoded by libsndfile (PyPI ``soundfile``: WAV, FLAC, OGG/Vorbis, MP3 where the
library has it), checked by their header before a sample is read: too long, too large or
unreadable files are refused with the reason, and silent ones are flagged. Waves are
mixed to mono and resampled with a polyphase filter (scipy). WAV output is 16-bit PCM,
written atomically.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile
from scipy.signal import resample_poly

from museforge.core.atomic import atomic_write_with
from museforge.core.media import UnusableFile
from museforge.errors import InputError

MAX_AUDIO_BYTES = 200_000_000
MAX_AUDIO_SECONDS = 600.0
SILENCE = 1e-3  # peak below -60 dBFS: nothing to learn from


def read_audio(path: str | Path, rate: int, max_seconds: float = MAX_AUDIO_SECONDS) -> np.ndarray:
    """The sound at ``path`` as mono float32 samples at ``rate``; UnusableFile (its
    message completes "… <file>") when it is too large, too long or cannot be decoded."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_AUDIO_BYTES:
        raise UnusableFile(f"is too large ({size:,} bytes, limit {MAX_AUDIO_BYTES:,})")
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, soundfile.LibsndfileError) as err:
        raise UnusableFile(f"cannot be decoded as audio ({_reason(err)})") from None
    if info.samplerate <= 0 or info.frames <= 0:
        raise UnusableFile("holds no audio")
    seconds = info.frames / info.samplerate
    if seconds > max_seconds:
        raise UnusableFile(f"is too long ({seconds:.1f} s, limit {max_seconds:g} s)")
    try:
        wave, source_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as err:
        raise UnusableFile(f"cannot be decoded as audio ({_reason(err)})") from None
    mono = wave.mean(axis=1)
    if not np.isfinite(mono).all():
        raise UnusableFile("holds samples that are not numbers")
    return resample(mono, source_rate, rate)


def load_sound_file(path: str | Path, rate: int, what: str = "sound") -> np.ndarray:
    """A user's sound file as mono samples at ``rate`` (see :func:`read_audio`); a one-line
    InputError naming the file (as ``what``) when it cannot be used or is silent."""
    try:
        wave = read_audio(path, rate)
    except UnusableFile as why:
        raise InputError(f"{what} '{path}' {why}") from None
    except OSError as err:
        raise InputError(f"{what} '{path}' cannot be read ({err.strerror or err})") from None
    if is_silent(wave):
        raise InputError(f"{what} '{path}' is silent")
    return wave


def _reason(err: Exception) -> str:
    return " ".join(str(err).split())[:160] or type(err).__name__


def resample(wave: np.ndarray, source_rate: int, rate: int) -> np.ndarray:
    """``wave`` resampled from ``source_rate`` to ``rate`` (polyphase, anti-aliased)."""
    if source_rate == rate:
        return np.asarray(wave, dtype=np.float32)
    g = math.gcd(int(source_rate), int(rate))
    return resample_poly(wave, rate // g, source_rate // g).astype(np.float32)


def is_silent(wave: np.ndarray) -> bool:
    """True when the loudest sample is below -60 dBFS."""
    return wave.size == 0 or float(np.abs(wave).max()) < SILENCE


def fit_length(wave: np.ndarray, samples: int) -> np.ndarray:
    """``wave`` cut or padded with silence to exactly ``samples``."""
    if wave.shape[-1] >= samples:
        return wave[..., :samples]
    pad = [(0, 0)] * (wave.ndim - 1) + [(0, samples - wave.shape[-1])]
    return np.pad(wave, pad)


def to_pcm16(wave: np.ndarray) -> np.ndarray:
    """Float samples (clipped to [-1, 1]) as 16-bit integers."""
    return (np.clip(wave, -1.0, 1.0) * 32767).round().astype("<i2")


def write_wav(path: str | Path, wave: np.ndarray, rate: int) -> Path:
    """``wave`` (float, mono) as a 16-bit PCM WAV file, written atomically."""
    pcm = to_pcm16(np.asarray(wave, dtype=np.float32))
    return atomic_write_with(
        path, lambda tmp: soundfile.write(str(tmp), pcm, int(rate), subtype="PCM_16", format="WAV")
    )
