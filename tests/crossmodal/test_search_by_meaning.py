"""Search by meaning as a user meets it: ``museforge gallery search``, ``gallery show
--looks-like`` and the studio's gallery routes, on a tiny encoder built here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from museforge.core.artifact import load_artifact
from museforge.crossmodal.embedder import picture_tensor
from museforge.gallery.provenance import save_png, save_text
from museforge.gallery.store import artwork_id
from museforge.studio.app import StudioConfig, create_app
from tests.crossmodal.test_embedder import CAPTIONS, REPO_MODELS, tiny_encoder
from tests.studio.test_api import BASE, TOKEN
from tests.test_cli import assert_one_line_error, run

PICTURES = {
    "red.png": Image.new("RGB", (20, 20), (230, 20, 20)),
    "blue.png": Image.new("RGB", (12, 24), (20, 20, 230)),
    "ghost.png": Image.new("RGBA", (16, 16), (0, 0, 0, 0)),
    "stripes.png": Image.new("L", (16, 16), 90),
}
QUERY = "a red square"
POEM = artwork_id("poems/moon.txt")


@pytest.fixture
def world(tmp_path, monkeypatch):
    """A gallery of four pictures and a poem, and a models folder with a tiny encoder."""
    root = tmp_path / "gallery"
    for k, (name, img) in enumerate(PICTURES.items()):
        save_png(root / "pics" / name, img, {"verb": "sample", "created": 100.0 + k})
    save_text(root / "poems" / "moon.txt", "a red square moon", {"verb": "poem"})
    models = tmp_path / "models"
    encoder = tiny_encoder(models)
    monkeypatch.setenv("MUSEFORGE_GALLERY", str(root))
    monkeypatch.setenv("MUSEFORGE_MODELS", str(models))
    monkeypatch.chdir(tmp_path)
    return root, models, encoder


def expected_scores(root: Path, encoder: Path, query: str) -> dict[str, float]:
    """Each picture's cosine with ``query``, computed directly with the encoder."""
    model = load_artifact(encoder).model
    with torch.inference_mode():
        pictures = torch.stack([picture_tensor(img, 16) for img in PICTURES.values()])
        scores = model.encode_images(pictures) @ model.encode_text([query])[0]
    return {artwork_id(f"pics/{n}"): float(s) for n, s in zip(PICTURES, scores, strict=True)}


def test_search_ranks_every_picture_by_the_encoder(monkeypatch, capsys, world):
    root, _, encoder = world
    code, out, err = run(monkeypatch, capsys, "gallery", "search", QUERY, "--json")
    assert code == 0, err
    rows = json.loads(out)
    want = expected_scores(root, encoder, QUERY)
    assert {r["id"] for r in rows} == set(want)  # every picture, not the poem
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    for r in rows:
        assert r["score"] == pytest.approx(want[r["id"]], abs=1e-4)
        assert (root / r["path"]).is_file()
    code, out, _ = run(monkeypatch, capsys, "gallery", "search", QUERY, "--limit", "2", "--json")
    assert json.loads(out) == rows[:2]
    code, out, _ = run(monkeypatch, capsys, "gallery", "search", QUERY)
    assert code == 0 and "4 of 4 pictures" in out
    assert "shapes-encoder" in out and rows[0]["path"] in out


def test_search_names_characters_the_encoder_never_saw(monkeypatch, capsys, world):
    code, out, err = run(monkeypatch, capsys, "gallery", "search", "a red ☃", "--json")
    assert code == 0 and len(json.loads(out)) == 4
    assert "☃" in err and "never saw" in err


def test_search_errors_are_one_line(monkeypatch, capsys, world, tmp_path):
    code, _, err = run(monkeypatch, capsys, "gallery", "search", "  ")
    assert_one_line_error(code, err, "query is empty")
    mnist = str(REPO_MODELS / "mnist-vae")
    code, _, err = run(monkeypatch, capsys, "gallery", "search", QUERY, "--encoder", mnist)
    assert_one_line_error(code, err, "not a text-image-encoder")
    monkeypatch.setenv("MUSEFORGE_MODELS", str(tmp_path / "empty"))
    code, _, err = run(monkeypatch, capsys, "gallery", "search", QUERY)
    assert_one_line_error(code, err, "no text–image encoder", "shapes-encoder")


def test_search_with_a_named_encoder(monkeypatch, capsys, world, tmp_path):
    _, _, encoder = world
    monkeypatch.setenv("MUSEFORGE_MODELS", str(tmp_path / "empty"))
    code, out, err = run(
        monkeypatch, capsys, "gallery", "search", QUERY, "--encoder", str(encoder), "--json"
    )
    assert code == 0, err
    assert len(json.loads(out)) == 4


def test_show_looks_like_gives_the_closest_training_captions(monkeypatch, capsys, world):
    _, _, encoder = world
    red = artwork_id("pics/red.png")
    code, out, err = run(monkeypatch, capsys, "gallery", "show", red, "--looks-like", "--json")
    assert code == 0, err
    guesses = json.loads(out)["looks_like"]
    english = {t.split(": ")[0] for t, _ in CAPTIONS.values() if t.isascii()}
    assert {g["label"] for g in guesses} == english  # five distinct English captions
    scores = [g["score"] for g in guesses]
    assert scores == sorted(scores, reverse=True)
    model = load_artifact(encoder).model
    with torch.inference_mode():
        vec = model.encode_images(picture_tensor(PICTURES["red.png"], 16)[None])[0]
        first = float(model.encode_text([guesses[0]["label"]])[0] @ vec)
    assert scores[0] == pytest.approx(first, abs=1e-4)
    code, out, _ = run(monkeypatch, capsys, "gallery", "show", red, "--looks-like")
    assert code == 0 and f"looks like: {guesses[0]['label']}" in out
    code, out, _ = run(monkeypatch, capsys, "gallery", "show", red, "--looks-like", "--lang", "zh")
    assert code == 0 and "looks like: 一个黄色的太阳" in out
    code, _, err = run(monkeypatch, capsys, "gallery", "show", red, "--looks-like", "--lang", "fr")
    assert_one_line_error(code, err, "not 'fr'")
    code, _, err = run(monkeypatch, capsys, "gallery", "show", POEM, "--looks-like")
    assert_one_line_error(code, err, "not a picture")
    code, out, _ = run(monkeypatch, capsys, "gallery", "show", red, "--json")
    assert code == 0 and "looks_like" not in json.loads(out)  # only when asked


# --- the studio ---------------------------------------------------------------------------
def studio(root: Path, models: Path) -> TestClient:
    config = StudioConfig(root, models, port=8765, token=TOKEN)
    return TestClient(create_app(config), base_url=BASE)


def test_studio_ranks_the_filtered_pictures_by_meaning(world):
    root, models, encoder = world
    want = expected_scores(root, encoder, QUERY)
    with studio(root, models) as c:
        first = c.get("/api/gallery", params={"q": QUERY, "meaning": "true", "limit": 3}).json()
        assert first["encoder"] == "shapes-encoder" and first["ranked"] == 4
        assert first["total"] == 5 and first["note"] is None
        rest = c.get(
            "/api/gallery", params={"q": QUERY, "meaning": "true", "limit": 3, "offset": 3}
        ).json()
        items = first["items"] + rest["items"]
        assert [i["id"] for i in items] == sorted(want, key=lambda k: -want[k])
        assert all(i["score"] == pytest.approx(want[i["id"]], abs=1e-4) for i in items)
        # Words alone match the poem's text; by meaning, only pictures are ranked.
        words = c.get("/api/gallery", params={"q": "moon"}).json()
        assert [i["id"] for i in words["items"]] == [POEM] and "encoder" not in words
        texts = {"q": QUERY, "meaning": "true", "modality": "text"}
        assert c.get("/api/gallery", params=texts).json()["ranked"] == 0
        odd = c.get("/api/gallery", params={"q": "a red ☃", "meaning": "true"}).json()
        assert "☃" in odd["note"] and odd["ranked"] == 4
        empty = c.get("/api/gallery", params={"q": " ", "meaning": "true"})
        assert empty.status_code == 400 and "query is empty" in empty.json()["error"]
        stranger = c.get(
            "/api/gallery", params={"q": QUERY, "meaning": "true"}, headers={"Host": "evil.example"}
        )
        assert stranger.status_code in (400, 403)


def test_studio_looks_like_and_a_missing_encoder(world, tmp_path):
    root, models, _ = world
    red = artwork_id("pics/red.png")
    with studio(root, models) as c:
        found = c.get(f"/api/gallery/{red}/looks-like").json()
        assert found["encoder"] == "shapes-encoder" and len(found["labels"]) == 5
        zh = c.get(f"/api/gallery/{red}/looks-like", params={"lang": "zh"}).json()
        assert [g["label"] for g in zh["labels"]] == ["一个黄色的太阳"]
        poem = c.get(f"/api/gallery/{POEM}/looks-like")
        assert poem.status_code == 400 and "not a picture" in poem.json()["error"]
    with studio(root, tmp_path / "no-models") as c:
        for url in ("/api/gallery?q=red&meaning=true", f"/api/gallery/{red}/looks-like"):
            response = c.get(url)
            assert response.status_code == 404, response.text
            error = response.json()["error"]
            assert "no text–image encoder" in error and "\n" not in error
        assert c.get("/api/gallery?q=red").status_code == 200  # words still work
