"""The taste model with a text–image encoder as a user meets it: ``museforge gallery why``,
``museforge evaluate taste`` and the studio's why panel route, on a tiny encoder built here."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from museforge.core.artifact import load_artifact
from museforge.crossmodal.embedder import picture_tensor
from museforge.gallery.explain import NO_ENCODER
from museforge.gallery.provenance import save_png, save_text
from museforge.gallery.store import Gallery, artwork_id
from museforge.studio.app import StudioConfig, create_app
from tests.crossmodal.test_embedder import CAPTIONS, REPO_MODELS, tiny_encoder
from tests.studio.test_api import BASE, TOKEN, _wait
from tests.test_cli import assert_one_line_error, run

LIKED = {"red1.png": (230, 30, 20), "red2.png": (200, 60, 40), "orange.png": (240, 120, 30)}
DISLIKED = {"blue1.png": (20, 40, 230), "blue2.png": (40, 80, 200), "teal.png": (20, 160, 170)}
FRESH = artwork_id("new/pink.png")
POEM = artwork_id("poems/moon.txt")


def picture(colour: tuple[int, int, int]) -> Image.Image:
    """A solid colour with a lighter square inside, so texture statistics are not all zero."""
    img = Image.new("RGB", (24, 24), colour)
    img.paste(tuple(min(255, c + 40) for c in colour), (6, 6, 18, 18))
    return img


@pytest.fixture
def world(tmp_path, monkeypatch):
    """Six rated pictures (warm liked, cool disliked), an unrated pink one, a poem, and a
    models folder holding a tiny encoder as the starter."""
    root = tmp_path / "gallery"
    for k, (name, colour) in enumerate({**LIKED, **DISLIKED}.items()):
        save_png(root / "pics" / name, picture(colour), {"verb": "sample", "created": k})
    save_png(root / "new" / "pink.png", picture((240, 80, 90)), {"verb": "sample", "created": 9})
    save_text(root / "poems" / "moon.txt", "a red square moon", {"verb": "poem"})
    gallery = Gallery(root)
    gallery.sync()
    for name in LIKED:
        gallery.rate(artwork_id(f"pics/{name}"), like=True)
    for name in DISLIKED:
        gallery.rate(artwork_id(f"pics/{name}"), like=False)
    gallery.close()
    models = tmp_path / "models"
    encoder = tiny_encoder(models)
    monkeypatch.setenv("MUSEFORGE_GALLERY", str(root))
    monkeypatch.setenv("MUSEFORGE_MODELS", str(models))
    monkeypatch.chdir(tmp_path)
    return root, models, encoder


def expected_words(encoder, labels: list[str]) -> dict[str, float]:
    """Each label's cosine with the taste direction, computed directly with the encoder."""
    model = load_artifact(encoder).model
    with torch.inference_mode():

        def mean(names):
            batch = torch.stack([picture_tensor(picture(c), 16) for c in names.values()])
            return model.encode_images(batch).mean(0)

        direction = mean(LIKED) - mean(DISLIKED)
        words = model.encode_text(labels)
        cosines = words @ direction / (words.norm(dim=1) * direction.norm())
    return dict(zip(labels, cosines.tolist(), strict=True))


def test_why_names_the_nearest_liked_pictures_and_the_words_of_the_taste(
    monkeypatch, capsys, world
):
    _, _, encoder = world
    code, out, err = run(monkeypatch, capsys, "gallery", "why", FRESH, "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["features"] == "descriptors + shapes-encoder" and found["note"] is None
    assert 0.0 <= found["score"] <= 1.0
    liked = {artwork_id(f"pics/{n}") for n in LIKED}
    assert {n["id"] for n in found["nearest"]} == liked  # all three liked, none disliked
    cosines = [n["cosine"] for n in found["nearest"]]
    assert cosines == sorted(cosines, reverse=True)
    english = sorted({t.split(": ")[0] for t, _ in CAPTIONS.values() if t.isascii()})
    want = expected_words(encoder, english)
    assert {w["label"] for w in found["words"]} == set(english)
    for w in found["words"]:
        assert w["score"] == pytest.approx(want[w["label"]], abs=1e-4)
    assert [w["label"] for w in found["words"]] == sorted(english, key=lambda t: -want[t])
    code, out, _ = run(monkeypatch, capsys, "gallery", "why", FRESH)
    assert code == 0 and "taste score" in out and "shapes-encoder" in out
    assert f"your taste in words: {found['words'][0]['label']}" in out
    code, out, _ = run(monkeypatch, capsys, "gallery", "why", FRESH, "--lang", "zh", "--json")
    assert [w["label"] for w in json.loads(out)["words"]] == ["一个黄色的太阳"]
    code, _, err = run(monkeypatch, capsys, "gallery", "why", FRESH, "--lang", "fr")
    assert_one_line_error(code, err, "not 'fr'")


def test_without_an_encoder_the_descriptors_rank_and_one_line_says_so(
    monkeypatch, capsys, world, tmp_path
):
    monkeypatch.setenv("MUSEFORGE_MODELS", str(tmp_path / "empty"))
    code, out, err = run(monkeypatch, capsys, "gallery", "why", FRESH, "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["features"] == "descriptors" and found["words"] == []
    assert found["note"] == NO_ENCODER and len(found["nearest"]) == 3
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and NO_ENCODER in lines[0]
    code, _, err = run(monkeypatch, capsys, "gallery", "why", POEM)
    assert_one_line_error(code, err, "rate at least 2 liked")


def test_evaluate_taste_reports_the_encoder_beside_the_descriptors(monkeypatch, capsys, world):
    code, out, err = run(monkeypatch, capsys, "evaluate", "taste", "--json")
    assert code == 0, err
    image = json.loads(out)["image"]
    assert image["encoder"] is True and 0.0 <= image["without_encoder"] <= 1.0
    code, out, _ = run(monkeypatch, capsys, "evaluate", "taste")
    assert code == 0 and "with shapes-encoder's picture vectors" in out


def test_studio_why_route_with_and_without_an_encoder(monkeypatch, capsys, world, tmp_path):
    root, models, _ = world
    _, out, _ = run(monkeypatch, capsys, "gallery", "why", FRESH, "--json")
    cli = json.loads(out)
    config = StudioConfig(root, models, port=8765, token=TOKEN)
    with TestClient(create_app(config), base_url=BASE) as c:
        found = c.get(f"/api/gallery/{FRESH}/why").json()
        assert found["encoder"] == "shapes-encoder" and found["score"] == cli["score"]
        assert [n["id"] for n in found["nearest"]] == [n["id"] for n in cli["nearest"]]
        assert all(n["modality"] == "image" for n in found["nearest"])
        assert found["words"] == cli["words"]
        taste = c.get("/api/taste").json()
        assert taste["image"]["encoder"] is True
        poem = c.get(f"/api/gallery/{POEM}/why")
        assert poem.status_code == 400 and "rate at least" in poem.json()["error"]
    bare = StudioConfig(root, tmp_path / "no-models", port=8765, token=TOKEN)
    with TestClient(create_app(bare), base_url=BASE) as c:
        found = c.get(f"/api/gallery/{FRESH}/why").json()
        assert found["encoder"] is None and found["words"] == []
        assert found["note"] == NO_ENCODER and np.isfinite(found["score"])


def test_studio_keeps_samples_by_a_taste_that_uses_the_encoder(world):
    root, models, _ = world
    (models / "mnist-vae").symlink_to(REPO_MODELS / "mnist-vae")
    config = StudioConfig(root, models, port=8765, token=TOKEN)
    with TestClient(create_app(config), base_url=BASE) as c:
        body = {"model": "mnist-vae", "verb": "sample", "args": {"n": 8, "seed": 1}, "keep": 2}
        job = c.post("/api/generate", json=body, headers={"X-Museforge-Token": TOKEN})
        assert job.status_code == 200, job.text
        done = _wait(c, job.json()["job"])
        assert done["state"] == "done", done
        kept = [c.get(f"/api/gallery/{i}").json() for i in done["result"]["ids"]]
        assert len(kept) == 2
        scores = [k["provenance"]["taste_score"] for k in kept]
        assert scores == sorted(scores, reverse=True)
        # Scored in memory when kept, and again from the saved file: the same features.
        for item, score in zip(kept, scores, strict=True):
            why = c.get(f"/api/gallery/{item['id']}/why").json()
            assert why["encoder"] == "shapes-encoder"
            assert why["score"] == pytest.approx(score, abs=1e-4)
