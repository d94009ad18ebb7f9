"""Lyrics meet music: a poem's syllables, one note each, on a generated melody.

Syllables come from the text issue's prosody: the CMU dictionary (with a fallback guess)
for English, one syllable per Han character for Chinese. The melody is sampled with exactly
that many notes, so every syllable has its note; the MusicXML carries the lyrics.
"""

from __future__ import annotations

import dataclasses
import re

from museforge.core.artifact import LoadedModel
from museforge.errors import InputError
from museforge.music.generate import KEY_PULL, MusicSampling, sample_tokens
from museforge.music.result import MusicArtwork, MusicResult

MAX_SYLLABLES = 120
EXTENSION = "_"  # a word's later syllables: the word is printed once, under its first note
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def syllables_of(text: str) -> list[str]:
    """One entry per sung syllable: Han characters one each; an English word of k
    syllables gives the word then k-1 extension marks."""
    from museforge.text.prosody import count_syllables

    if _HAN.search(text):
        return _HAN.findall(text)
    out: list[str] = []
    for word in _WORD.findall(text):  # as written (the prosody helpers lower-case)
        out += [word] + [EXTENSION] * (max(1, count_syllables(word)) - 1)
    return out


def set_lyrics(
    loaded: LoadedModel,
    text: str,
    seed: int = 0,
    temperature: float = 1.0,
    top_p: float = 0.95,
    key: str | None = None,
    key_pull: float = KEY_PULL,
    time_signature: str | None = None,
    tempo: float = 90.0,
    instrument: str | None = None,
) -> MusicResult:
    """A melody for ``text`` with one note per syllable, as MIDI and MusicXML with lyrics."""
    from museforge.music import lm_verbs, tokens

    if loaded.model.cfg.polyphonic:
        raise InputError("set lyrics with a melody model (trained on folk tunes), not chorales")
    syllables = syllables_of(text)
    if not syllables:
        raise InputError("the lyrics hold no words to sing")
    if len(syllables) > MAX_SYLLABLES:
        raise InputError(f"at most {MAX_SYLLABLES} syllables at once (got {len(syllables)})")
    parts = lm_verbs.parts_for(loaded, instrument)
    parsed_key = lm_verbs.parse_key(key) if key else None
    prime, _ = lm_verbs.prime_tokens(
        loaded, None, None, parsed_key, lm_verbs.parse_meter(time_signature)
    )
    # A note lasts at most two bars, so this many bars always leaves room for every syllable.
    settings = MusicSampling(2 * len(syllables) + 2, temperature, top_p, key_pull)
    [row] = sample_tokens(loaded.model, prime, 1, seed, settings, note_count=len(syllables))
    piece = tokens.decode(prime + row, tempo=tempo, parts=parts)
    provenance = lm_verbs._provenance(
        loaded,
        "lyrics",
        seed=seed,
        text=text,
        syllables=len(syllables),
        settings={
            **dataclasses.asdict(settings),
            "key": key,
            "time_signature": time_signature,
            "tempo": tempo,
            "instrument": instrument,
        },
    )
    art = MusicArtwork(f"song-s{seed}", piece, provenance, lyrics=syllables)
    return MusicResult([art], stem=f"song-s{seed}")
