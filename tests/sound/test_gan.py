import json

import numpy as np
import pytest

from museforge.core.artifact import load_artifact
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.core.registry import call_verb
from museforge.errors import VerbError
from tests.conftest import TINY_SOUND

TINY_GAN = dict(TINY_SOUND)


@pytest.fixture(scope="module")
def gan(tones_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "sound-gan"
    recipe = Recipe(
        kind="sound-gan",
        data=f"folder:{tones_folder}",
        model={**TINY_GAN, "z_dim": 8},
        run={"steps": 12, "batch_size": 8, "preview_every": 0, "log_every": 4},
    )
    train_from_recipe(recipe, out=out, progress=False)
    return out


def test_the_gan_trains_and_draws_notes_for_a_family_and_pitch(gan):
    lines = (gan / "metrics.jsonl").read_text().splitlines()
    logged = [json.loads(line) for line in lines if '"d_loss"' in line]
    assert logged and all(np.isfinite([r["d_loss"], r["g_loss"]]).all() for r in logged)
    loaded = load_artifact(gan)
    notes = call_verb(loaded, "sample", n=3, seed=1, pitch=60, family="bright")
    assert [a.wave.shape for a in notes.artworks] == [(1920,)] * 3
    assert {a.provenance["family"] for a in notes.artworks} == {"bright"}
    again = call_verb(loaded, "sample", n=3, seed=1, pitch=60, family="bright")
    assert np.array_equal(notes.artworks[1].wave, again.artworks[1].wave)
    morph = call_verb(loaded, "interpolate", seed_a=1, seed_b=2, frames=3)
    assert len(morph.artworks) == 4  # three notes and the whole morph


def test_a_gan_has_no_encoder(gan, tmp_path):
    with pytest.raises(VerbError, match="no verb 'encode'"):
        call_verb(load_artifact(gan), "encode", sounds=[tmp_path / "x.wav"])
