"""Music corpora: Bach chorales, Essen folk songs and folders of MIDI, MusicXML and ABC.

Every source becomes a :class:`MusicCorpus` of :class:`~museforge.music.score.Piece`,
quantised to the sixteenth grid, in a meter the token vocabulary knows. Decisions worth
knowing:

* ``chorales``: the music21 corpus's Bach files (.mxl, .xml, .krn) with four parts in
  soprano, alto, tenor, bass order (by part name, or by falling mean pitch when the names
  say nothing; a score that also has instruments keeps the four parts named exactly so),
  all sung by choir aahs (GM 52). ``folk``: Essen folk songs (music21's
  essenFolksong ABC files, music21's own ``test*`` files left out), one flute (GM 73)
  melody each; of the ~8,300 tunes, :data:`FOLK_TUNES` spread evenly over the files are
  read, which keeps the first parse near two minutes.
* A pickup bar is shifted so every downbeat falls on a bar start (bar 0 then begins with a
  rest). Pieces whose meter changes, whose meter the tokens lack, whose full bars are out of
  step with the meter, or that repeat another piece exactly are skipped with a reason.
* Tempo comes from the first metronome mark (else 100 for chorales, 120 otherwise), the key
  from the score (see :mod:`museforge.music.readers`).
* Parsed built-ins are cached as JSON under ``$MUSEFORGE_CACHE/music`` (default
  ``~/.cache/museforge/music``), keyed by source, music21 version and :data:`SCHEMA`.
* Folder files are read by :mod:`museforge.music.readers` (limits documented there); an
  ABC file may hold many tunes, each a piece. Files of other types are listed as skipped.
* :func:`split_pieces` orders pieces by fingerprint, then shuffles with a fixed seed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from museforge.core.atomic import atomic_write_text
from museforge.core.data import DataSet, resolve, skipped_record
from museforge.core.files import default_cache_dir as cache_root
from museforge.core.files import list_files
from museforge.core.media import MUSIC_SUFFIXES
from museforge.errors import DataError, InputError
from museforge.music.readers import (
    MAX_NOTES,
    MAX_SECONDS,
    check_limits,
    estimate_key,
    oneline,
    pickup_shift,
    piece_from_music21,
    read_music_file,
    read_pieces,
)
from museforge.music.score import Key, Note, Part, Piece
from museforge.music.tokens import METERS

# Re-exported: the corpus is where callers look for file reading too.
__all__ = [
    "FOLK_TUNES",
    "HOLDOUT",
    "MAX_NOTES",
    "MAX_SECONDS",
    "SPLIT_SEED",
    "MusicCorpus",
    "augment_transpositions",
    "chorale_files",
    "corpus_fingerprint",
    "default_cache_dir",
    "estimate_key",
    "folk_tunes",
    "load_chorales",
    "load_folk",
    "load_music",
    "piece_from_music21",
    "read_music_file",
    "split_pieces",
]

SCHEMA = 2  # bump when parsing changes, so old caches are rebuilt
FOLK_TUNES = 3000
CHORALE_PARTS = tuple(Part(name, 52) for name in ("soprano", "alto", "tenor", "bass"))
FOLK_PART = Part("melody", 73)
HOLDOUT, SPLIT_SEED = 0.1, 0  # every music kind's held-out split (see split_pieces)
Progress = Callable[[int, int], None]

_VOICE_NAMES = (r"^s|sopr|cant|desc", r"^a|alt|contra", r"^t|ten", r"^b|bass")


@dataclass(frozen=True)
class MusicCorpus:
    """Pieces from one source, in source order, with what was skipped and why."""

    pieces: list[Piece]
    source: str
    skipped: list[str]
    fingerprint: str

    def __len__(self) -> int:
        return len(self.pieces)


def corpus_fingerprint(pieces: Iterable[Piece]) -> str:
    """sha256 over the pieces' fingerprints, in order."""
    return hashlib.sha256(",".join(p.fingerprint() for p in pieces).encode()).hexdigest()


def load_music(
    source: str,
    *,
    progress: Progress | None = None,
    cache_dir: str | Path | None = None,
    limit: int | None = None,
) -> MusicCorpus:
    """Load a registered set (``chorales``, ``folk``) or ``folder:PATH``, as resolved by
    :func:`museforge.core.data.resolve`. ``progress(done, total)`` is called while a
    built-in is parsed; ``limit`` reads only that many files/tunes (quick looks, tests).

    Raises DataError for an unknown source or when nothing usable is found.
    """
    found = resolve(source.strip(), "music")
    if isinstance(found, DataSet):
        return found.loader(progress=progress, cache_dir=cache_dir, limit=limit)
    _, path = found
    return _load_folder(str(path), limit)


def load_chorales(
    progress: Progress | None = None,
    cache_dir: str | Path | None = None,
    limit: int | None = None,
) -> MusicCorpus:
    """The built-in ``chorales`` set (parsed once, then cached; see :func:`load_music`)."""
    return _load_builtin("chorales", progress, cache_dir, limit)


def load_folk(
    progress: Progress | None = None,
    cache_dir: str | Path | None = None,
    limit: int | None = None,
) -> MusicCorpus:
    """The built-in ``folk`` set (parsed once, then cached; see :func:`load_music`)."""
    return _load_builtin("folk", progress, cache_dir, limit)


def training_split(manifest: dict, path: object) -> tuple[list[Piece], list[Piece]]:
    """The (train, held-out) pieces a music model named by its ``manifest`` was trained on,
    re-made from its recorded data, holdout and seed; DataError when the data is not
    recorded or has changed since (``path`` names the model in the message)."""
    info = manifest.get("data", {})
    if not info.get("source"):
        raise DataError(f"model '{path}' does not record its training data")
    corpus = load_music(info["source"])
    if info.get("full_fingerprint") and corpus.fingerprint != info["full_fingerprint"]:
        raise DataError(
            f"data '{info['source']}' has changed since model '{path}' was trained "
            "(fingerprint differs), so its held-out split cannot be re-made"
        )
    holdout = info.get("holdout", HOLDOUT)
    return split_pieces(corpus, holdout=holdout, seed=info.get("split_seed", SPLIT_SEED))


def split_record(corpus: MusicCorpus, train: list[Piece], n_train: int, n_holdout: int) -> dict:
    """What a music model's manifest records of its data and split (with the counts of
    training and held-out items, whatever the kind counts)."""
    return {
        "source": corpus.source,
        "fingerprint": corpus_fingerprint(train),
        "full_fingerprint": corpus.fingerprint,
        "n_train": n_train,
        "n_holdout": n_holdout,
        "holdout": HOLDOUT,
        "split_seed": SPLIT_SEED,
        **skipped_record(corpus.skipped),
    }


def split_pieces(
    corpus: MusicCorpus, holdout: float = HOLDOUT, seed: int = SPLIT_SEED
) -> tuple[list[Piece], list[Piece]]:
    """(train, validation) by piece: the pieces are ordered by fingerprint and shuffled with
    ``numpy.random.default_rng(seed)``; the first ``round(holdout * n)`` (at least one) are
    validation. The split depends only on the pieces, not on load order; each part keeps
    corpus order."""
    if not 0 < holdout < 1:
        raise InputError(f"holdout fraction must be between 0 and 1, got {holdout!r}")
    n = len(corpus.pieces)
    if n < 2:
        raise DataError(f"{corpus.source}: {n} piece(s) is too few to split; give at least 2")
    n_val = min(max(round(n * holdout), 1), n - 1)
    by_print = sorted(range(n), key=lambda i: corpus.pieces[i].fingerprint())
    order = np.random.default_rng(seed).permutation(n)
    val = {by_print[j] for j in order[:n_val].tolist()}
    train = [p for i, p in enumerate(corpus.pieces) if i not in val]
    return train, [p for i, p in enumerate(corpus.pieces) if i in val]


def augment_transpositions(pieces: Iterable[Piece], semitones: Iterable[int] = range(-5, 7)):
    """Each piece in each transposition (0 is the original) that stays on the piano."""
    shifts = list(semitones)
    out: list[Piece] = []
    for piece in pieces:
        out += [t for s in shifts if (t := piece.transpose(s)).in_range()]
    return out


# --- corpora -----------------------------------------------------------------------------


def _finish(piece: Piece) -> Piece:
    """Quantised, with notes that quantising made identical merged (the longest kept)."""
    piece = piece.quantised()
    best: dict[tuple[int, int, float], Note] = {}
    for n in piece.notes:
        k = (n.part, n.pitch, n.start)
        if k not in best or n.duration > best[k].duration:
            best[k] = n
    return replace(
        piece, notes=tuple(sorted(best.values(), key=lambda n: (n.start, n.part, n.pitch)))
    )


def _accept(piece: Piece, name: str, kept: list[Piece], seen: dict[str, str], skipped: list[str]):
    """Quantise and keep ``piece`` unless its meter is unknown or it repeats another."""
    if piece.time_signature not in METERS:
        num, den = piece.time_signature
        skipped.append(f"{name}: time signature {num}/{den} is not supported")
        return
    piece = _finish(piece)
    fp = piece.fingerprint()
    if fp in seen:
        skipped.append(f"{name}: duplicate of {seen[fp]}")
        return
    seen[fp] = name
    kept.append(piece)


def _load_folder(path: str, limit: int | None) -> MusicCorpus:
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"music folder '{path}' does not exist; check the path")
    if not root.is_dir():
        raise DataError(f"music folder '{path}' is a file; read one file with read_music_file")
    pieces: list[Piece] = []
    skipped: list[str] = []
    seen: dict[str, str] = {}
    for relative in list_files(root, skipped)[:limit]:
        file, rel = root / relative, relative.as_posix()
        if file.suffix.lower() not in MUSIC_SUFFIXES:
            skipped.append(f"{rel}: not a music file ('{file.suffix or file.name}')")
            continue
        try:
            found, problems = read_pieces(file)
        except InputError as err:
            skipped.append(f"{rel}: " + str(err).replace(f"'{file}'", "").strip(" :"))
            continue
        skipped += [f"{rel} {p}" for p in problems]
        for piece in found:
            _accept(piece, piece.title if len(found) > 1 else rel, pieces, seen, skipped)
    if not pieces:
        more = " …" if len(skipped) > 3 else ""
        detail = f"{len(skipped)} skipped: " + "; ".join(skipped[:3]) + more
        if not skipped:
            detail = "no files"
        raise DataError(f"no usable music in '{path}' ({detail})")
    return MusicCorpus(pieces, f"folder:{root.resolve()}", skipped, corpus_fingerprint(pieces))


def default_cache_dir() -> Path:
    """``music`` in museforge's cache folder (:func:`museforge.core.files.default_cache_dir`)."""
    return cache_root() / "music"


def _load_builtin(
    name: str, progress: Progress | None, cache_dir: str | Path | None, limit: int | None
) -> MusicCorpus:
    import music21

    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    tag = f"-first{limit}" if limit is not None else ""
    cache = root / f"{name}{tag}-music21_{music21.__version__}-v{SCHEMA}.json"
    cached = _read_cache(cache)
    if cached is None:
        parse = _parse_chorales if name == "chorales" else _parse_folk
        pieces, skipped = parse(limit, progress)
        data = {"schema": SCHEMA, "source": name, "skipped": skipped}
        data["pieces"] = [_piece_to_json(p) for p in pieces]
        atomic_write_text(cache, json.dumps(data, separators=(",", ":")))
    else:
        pieces, skipped = cached
    if not pieces:
        raise DataError(
            f"built-in music set '{name}' has no usable pieces ({len(skipped)} skipped)"
        )
    return MusicCorpus(pieces, name, skipped, corpus_fingerprint(pieces))


def _read_cache(path: Path) -> tuple[list[Piece], list[str]] | None:
    """The cached pieces and skip notes, or None when missing, stale or corrupt."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["schema"] != SCHEMA:
            return None
        return [_piece_from_json(p) for p in data["pieces"]], [str(s) for s in data["skipped"]]
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def _piece_to_json(piece: Piece) -> dict:
    return {
        "title": piece.title,
        "tempo": piece.tempo,
        "time_signature": list(piece.time_signature),
        "key": [piece.key.tonic, piece.key.mode],
        "parts": [[p.name, p.program] for p in piece.parts],
        "notes": [[n.pitch, n.start, n.duration, n.velocity, n.part] for n in piece.notes],
    }


def _piece_from_json(data: dict) -> Piece:
    notes = tuple(
        Note(int(p), float(s), float(d), int(v), int(i)) for p, s, d, v, i in data["notes"]
    )
    parts = tuple(Part(str(n), int(g)) for n, g in data["parts"])
    num, den = data["time_signature"]
    tonic, mode = data["key"]
    if mode not in ("major", "minor") or not 0 <= tonic < 12:
        raise ValueError(f"bad key {data['key']}")
    return Piece(
        notes, parts, float(data["tempo"]), (int(num), int(den)), Key(tonic, mode), data["title"]
    )


def _parse_each(
    items: list, read: Callable[[object], tuple[str, Piece]], progress: Progress | None
) -> tuple[list[Piece], list[str]]:
    pieces: list[Piece] = []
    skipped: list[str] = []
    seen: dict[str, str] = {}
    for done, item in enumerate(items, 1):
        try:
            name, piece = read(item)
            check_limits(piece, name)
            _accept(piece, name, pieces, seen, skipped)
        except InputError as err:
            skipped.append(str(err))
        if progress is not None:
            progress(done, len(items))
    return pieces, skipped


def chorale_files() -> list[Path]:
    """The music21 corpus's Bach files with notes (roman-numeral analyses left out)."""
    from music21 import corpus

    found = corpus.getComposer("bach")
    return sorted(Path(p) for p in found if Path(p).suffix in (".mxl", ".xml", ".krn"))


def _parse_chorales(limit: int | None, progress: Progress | None) -> tuple[list[Piece], list[str]]:
    from music21 import converter

    def read(path: Path) -> tuple[str, Piece]:
        name = path.stem
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                score = converter.parse(path, forceSource=True)
        except Exception as err:
            raise InputError(f"{name}: cannot be read ({oneline(err)})") from None
        if len(score.parts) != 4:
            voices = _vocal_parts(score)
            if voices is None:
                raise InputError(
                    f"{name}: has {len(score.parts)} parts, not one each of soprano, alto, "
                    "tenor and bass"
                )
            for part in list(score.parts):
                if part not in voices:
                    score.remove(part)  # the instruments doubling or accompanying the choir
        try:
            piece = piece_from_music21(score, 100.0, CHORALE_PARTS, name)
        except InputError as err:
            raise InputError(f"{name}: {err}") from None
        if not _satb(score, piece):
            raise InputError(f"{name}: parts are not soprano, alto, tenor, bass")
        _check_bars(score, piece, name)
        return name, piece

    return _parse_each(chorale_files()[:limit], read, progress)


def _vocal_parts(score) -> list | None:
    """The four choir parts of a score that also has instruments (horns, oboes, continuo),
    by their names (the first line of each); None unless each voice is named exactly once."""
    voices = [part.name for part in CHORALE_PARTS]
    found: dict[str, list] = {voice: [] for voice in voices}
    for part in score.parts:
        first_line = ((part.partName or "").strip().lower().splitlines() or [""])[0].strip()
        if first_line in found:
            found[first_line].append(part)
    if any(len(parts) != 1 for parts in found.values()):
        return None
    return [found[voice][0] for voice in voices]


def _satb(score, piece: Piece) -> bool:
    """Part names read S, A, T, B; or, failing names, mean pitches fall part by part."""
    names = [(p.partName or "").strip().lower() for p in score.parts]
    if all(names) and all(re.search(rx, n) for rx, n in zip(_VOICE_NAMES, names, strict=True)):
        return True
    means = [np.mean([n.pitch for n in piece.notes if n.part == i] or [0]) for i in range(4)]
    return all(a > b for a, b in itertools.pairwise(means))


def _check_bars(score, piece: Piece, name: str) -> None:
    """Every full measure must start on a bar line once the pickup is shifted."""
    from music21 import stream

    bar = piece.bar_quarters
    measures = list(score.parts[0].getElementsByClass(stream.Measure))
    shift = pickup_shift(score.parts[0], bar)
    for m in measures[1:]:
        if abs(float(m.highestTime) - bar) < 1e-6 and abs((float(m.offset) + shift) % bar) > 1e-6:
            raise InputError(f"{name}: bar {m.number} is out of step with the meter")


def folk_tunes() -> list[tuple[str, str]]:
    """(name, ABC text) of every Essen tune, file by file (music21's test files left out)."""
    from music21 import corpus

    tunes: list[tuple[str, str]] = []
    for path in sorted(Path(p) for p in corpus.getCorePaths() if "essenFolksong" in str(p)):
        if path.suffix != ".abc" or path.stem.startswith("test"):
            continue
        text = path.read_text(encoding="latin-1")
        for tune in re.split(r"(?m)^(?=X:)", text):
            if tune.startswith("X:"):
                tunes.append((f"{path.stem} {tune.split(None, 1)[0][2:].strip()}", tune))
    return tunes


def _parse_folk(limit: int | None, progress: Progress | None) -> tuple[list[Piece], list[str]]:
    from music21 import converter

    tunes = folk_tunes()
    count = min(limit or FOLK_TUNES, FOLK_TUNES, len(tunes))
    chosen = [tunes[i * len(tunes) // count] for i in range(count)]  # spread over the files

    def read(item: tuple[str, str]) -> tuple[str, Piece]:
        name, text = item
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                score = converter.parseData(text, format="abc")
            piece = piece_from_music21(score, 120.0, (FOLK_PART,))
        except InputError as err:
            raise InputError(f"{name}: {err}") from None
        except Exception as err:
            raise InputError(f"{name}: cannot be read ({oneline(err)})") from None
        title = (score.metadata.title if score.metadata else "") or name
        return name, replace(
            piece, title=title, notes=tuple(replace(n, part=0) for n in piece.notes)
        )

    return _parse_each(chosen, read, progress)
