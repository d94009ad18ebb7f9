"""``museforge demo``: sample the starter models into a folder a new user can open."""

from __future__ import annotations

from pathlib import Path

from museforge.core.artifact import load_artifact
from museforge.core.registry import call_verb
from museforge.design.typeset import draws_letters
from museforge.errors import MuseforgeError
from museforge.gallery.artwork import write_result
from museforge.image.verbs import PICTURE_KINDS

# What the demo asks of each text starter, by language: a form that shows what museforge
# can do that a plain sampler cannot.
TEXT_DEMOS = {
    "zh": ("poem", {"form": "qijue", "acrostic": "春夏秋冬", "n": 3}),
    "en": ("poem", {"form": "limerick", "n": 3}),
}


# Pictures each style network redraws in the demo (built-in photos).
STYLE_DEMOS = ("chelsea", "astronaut")


# Music starters: a tune, a song with a piano, phrases, a harmonised chorale melody, a lead
# sheet (MIDI, WAV, piano roll, MusicXML and an engraved score).
MUSIC_DEMOS = {
    "music-lm": (
        ("sample", {"bars": 16, "seed": 7, "key": "D major", "tempo": 110}),
        (
            "lyrics",
            {"text": "The sea at night is calling me home", "seed": 7, "accompany": "arpeggio"},
        ),
    ),
    "melody-vae": (("sample", {"n": 4, "seed": 7}),),
    "chorale-coconet": (("harmonise", {"melody": "bwv66.6", "seed": 7}),),
    "chord-model": (("chords", {"melody": "bwv66.6", "accompany": "block"}),),
}


# Sound starters: eight notes at middle C in timbres of the seed.
SOUND_DEMOS = (("sample", {"n": 8, "pitch": 60}),)
# Text-to-image starters: pictures asked for in English and in Chinese, in the words of
# the data each learnt from (a prompt with characters a model never saw is refused).
IMAGINE_PROMPTS = {
    "captioned-shapes": (
        "a small yellow star bottom right on black",
        "白色背景上中间有一个大蓝色圆",
    ),
    "emoji": ("grinning face", "猫脸"),
}
# Design: a type model sets a word and a specimen; a model of transparent pictures (sprites)
# makes a sheet with its atlas and a scene.
TYPE_DEMOS = (("typeset", {"text": "museforge", "seed": 4}), ("typeset", {"seed": 4}))
SPRITE_DEMOS = (
    ("sheet", {"n": 16, "seed": 7, "team": "blue", "scale": 2}),
    ("scene", {"n": 8, "seed": 7}),
)


def imagine_prompts(data: dict) -> tuple[str, ...]:
    """Demo prompts for a text-to-image model trained on ``data`` (its manifest record):
    the set's own, else its two commonest caption words in each language it learnt."""
    source = str(data.get("source", "")).split(":")[0]
    if source in IMAGINE_PROMPTS:
        return IMAGINE_PROMPTS[source]
    words = (data.get("vocabulary") or {}).get("words", {})
    return tuple(
        ("" if lang == "zh" else " ").join(ranked[:2])
        for lang, ranked in sorted(words.items())
        if ranked
    )


def run_demo(models: Path, out_dir: Path, seed: int = 7) -> list[Path]:
    """For each image starter a 64-image grid and an interpolation GIF; for each text
    starter three poems in a strict form; for each style network two stylised photos;
    for each music starter a tune, a song, phrases, a harmonised chorale or a lead sheet; for each
    text-to-image starter pictures of one prompt in English and one in Chinese; for a type
    starter a word and a specimen (with SVG), for a sprite starter a sheet (with its
    atlas) and a scene. Returns the files worth opening."""
    starters = sorted(p.parent for p in Path(models).glob("*/model.json"))
    if not starters:
        raise MuseforgeError(f"no starter models in '{models}' (train one: see recipes/)")
    shown: list[Path] = []
    for path in starters:
        loaded = load_artifact(path)
        target = Path(out_dir) / path.name
        if loaded.kind == "text-lm":
            verb, kwargs = TEXT_DEMOS[loaded.model.cfg.language]
            result = call_verb(loaded, verb, seed=seed, **kwargs)
            shown += write_result(result, target)
            continue
        if loaded.kind in MUSIC_DEMOS:
            for verb, kwargs in MUSIC_DEMOS[loaded.kind]:
                written = write_result(call_verb(loaded, verb, **kwargs), target)
                shown += [p for p in written if p.suffix in (".mid", ".wav")]
            continue
        if loaded.kind == "sound-vae":
            for verb, kwargs in SOUND_DEMOS:
                written = write_result(call_verb(loaded, verb, seed=seed, **kwargs), target)
                shown += [p for p in written if p.name.endswith("-grid.png")]
                shown += [p for p in written if p.suffix == ".wav"][-1:]
            continue
        if loaded.kind == "style-net":
            for photo in STYLE_DEMOS:
                shown += write_result(call_verb(loaded, "stylise", image=photo), target)
            continue
        if loaded.kind == "text-to-image":
            scale = max(1, 256 // loaded.model.cfg.image_size)
            for prompt in imagine_prompts(loaded.manifest.get("data", {})):
                result = call_verb(loaded, "imagine", seed=seed, prompt=prompt, n=16)
                written = write_result(result, target, upscale=scale)
                shown += [p for p in written if p.name.endswith("-grid.png")]
            continue
        if loaded.kind not in PICTURE_KINDS:
            continue  # a model with nothing to show on its own (a text–image encoder)
        if draws_letters(loaded.manifest) or loaded.model.cfg.channels == 4:
            demos = TYPE_DEMOS if draws_letters(loaded.manifest) else SPRITE_DEMOS
            for verb, kwargs in demos:
                written = write_result(call_verb(loaded, verb, **kwargs), target)
                shown += [p for p in written if p.suffix == ".png"][:1]
            continue
        scale = max(1, 256 // loaded.model.cfg.image_size)
        for verb, kwargs in (
            ("sample", {"n": 64, "seed": seed}),
            ("interpolate", {"seed_a": seed, "seed_b": seed + 1, "frames": 24}),
        ):
            result = call_verb(loaded, verb, **kwargs)
            written = write_result(result, target, upscale=scale)
            shown += [p for p in written if p.name.endswith(("-grid.png", ".gif"))]
    return shown
