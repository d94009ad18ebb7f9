"""`museforge gallery` as a user meets it: JSON listings, marks on disk, one-line errors."""

from __future__ import annotations

import json
import zipfile

import pytest

from museforge.gallery.store import Gallery, artwork_id
from tests.gallery.test_store import GAN, image_art, poem_art, save
from tests.test_cli import assert_one_line_error, run


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A gallery of three artworks, found through $MUSEFORGE_GALLERY."""
    folder = tmp_path / "gallery"
    monkeypatch.setenv("MUSEFORGE_GALLERY", str(folder))
    monkeypatch.chdir(tmp_path)
    g = Gallery(folder)
    save(g, "gan", image_art("fox", 1, model=GAN, seed=3, created=1000.0, args={"n": 2, "seed": 3}))
    save(g, "poet", poem_art("moon", "床前明月光", created=2000.0, settings={"length": 5}, seed=9))
    save(g, "poet", poem_art("river", "江水流", created=3000.0))
    g.close()
    return folder


FOX, MOON, RIVER = (artwork_id(p) for p in ("gan/fox.png", "poet/moon.txt", "poet/river.txt"))


def listed(monkeypatch, capsys, *args: str) -> list[dict]:
    code, out, err = run(monkeypatch, capsys, "gallery", "list", "--json", *args)
    assert code == 0, err
    return json.loads(out)


def test_list_json_newest_first_with_filters(monkeypatch, capsys, root):
    rows = listed(monkeypatch, capsys)
    assert [r["id"] for r in rows] == [RIVER, MOON, FOX]
    assert rows[2]["path"] == "gan/fox.png" and rows[2]["model"] == GAN["path"]
    assert "provenance" not in rows[0]
    assert [r["id"] for r in listed(monkeypatch, capsys, "--modality", "text")] == [RIVER, MOON]
    assert [r["id"] for r in listed(monkeypatch, capsys, "--search", "月")] == [MOON]
    assert [r["id"] for r in listed(monkeypatch, capsys, "--model", "image-gan")] == [FOX]
    assert [r["id"] for r in listed(monkeypatch, capsys, "--limit", "1")] == [RIVER]
    code, out, _ = run(monkeypatch, capsys, "gallery", "list")
    assert code == 0 and "3 of 3 artworks" in out and FOX in out


def test_list_dates_and_a_bad_date(monkeypatch, capsys, root):
    assert listed(monkeypatch, capsys, "--since", "2000-01-01") == []  # made in 1970
    assert len(listed(monkeypatch, capsys, "--until", "2000-01-01")) == 3
    code, _, err = run(monkeypatch, capsys, "gallery", "list", "--since", "yesterday")
    assert_one_line_error(code, err, "--since", "yesterday")


def test_rate_and_tag_write_the_marks_file_and_list_shows_them(monkeypatch, capsys, root):
    code, out, err = run(monkeypatch, capsys, "gallery", "rate", MOON, "--stars", "4", "--like")
    assert code == 0, err
    assert "stars 4" in out
    code, out, err = run(monkeypatch, capsys, "gallery", "tag", MOON, " Night Sky ", "RED", "red")
    assert code == 0, err
    assert "tags: night sky, red" in out
    code, out, _ = run(monkeypatch, capsys, "gallery", "tag", MOON, "Red", "--remove")
    assert code == 0 and "tags: night sky" in out
    side = root / "poet" / "moon.txt.user.json"
    assert json.loads(side.read_text()) == {"stars": 4, "like": True, "tags": ["night sky"]}
    [row] = listed(monkeypatch, capsys, "--min-stars", "4", "--liked", "--tag", "night sky")
    assert (row["id"], row["stars"], row["like"], row["tags"]) == (MOON, 4, True, ["night sky"])
    assert listed(monkeypatch, capsys, "--disliked") == []


def test_bad_marks_and_unknown_ids_are_one_line_errors(monkeypatch, capsys, root):
    cases = [
        (("rate", FOX, "--stars", "6"), "stars must be 0 to 5"),
        (("rate", FOX), "--stars"),
        (("tag", FOX, "x" * 41), "longer than 40"),
        (("rate", "0123456789abcdef", "--stars", "3"), "no artwork with id '0123456789abcdef'"),
        (("show", "nope"), "no artwork with id 'nope'"),
        (("tag", "nope", "x"), "'nope'"),
        (("remix", "nope"), "'nope'"),
    ]
    for args, needle in cases:
        code, _, err = run(monkeypatch, capsys, "gallery", *args)
        assert_one_line_error(code, err, needle)
    assert not (root / "gan" / "fox.png.user.json").exists()


def test_show_json_has_provenance_parents_and_children(monkeypatch, capsys, root):
    g = Gallery(root)
    remix_of = {"id": FOX, "sha256": g.get(FOX).sha256}
    [child] = save(g, "gan", image_art("again", 2, remix_of=remix_of))
    g.close()
    code, out, err = run(monkeypatch, capsys, "gallery", "show", FOX, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["provenance"]["model"] == GAN
    assert data["parents"] == []
    assert data["children"] == [{"id": child, "path": "gan/again.png", "verb": "sample"}]
    code, out, _ = run(monkeypatch, capsys, "gallery", "show", child)
    assert code == 0 and f"parent (remix): {FOX} — id {FOX}" in out


def test_remix_prints_the_recorded_call_and_nothing_else(monkeypatch, capsys, root):
    code, out, err = run(monkeypatch, capsys, "gallery", "remix", FOX)
    assert code == 0, err
    recipe = json.loads(out)
    assert recipe["args"] == {"n": 2, "seed": 3}
    assert (recipe["verb"], recipe["model"]) == ("sample", GAN["path"])
    # A file without the one record of its call is not guessed at from other fields.
    code, _, err = run(monkeypatch, capsys, "gallery", "remix", MOON)
    assert_one_line_error(code, err, "records no call")
    code, _, err = run(monkeypatch, capsys, "gallery", "remix", RIVER, "--run")
    assert_one_line_error(code, err, "records no call")


def test_reindex_after_deleting_the_index_lists_the_same(monkeypatch, capsys, root):
    run(monkeypatch, capsys, "gallery", "rate", FOX, "--stars", "2", "--dislike")
    run(monkeypatch, capsys, "gallery", "tag", RIVER, "water")
    before = listed(monkeypatch, capsys)
    for path in (root / ".museforge").glob("index.sqlite*"):
        path.unlink()
    code, out, err = run(monkeypatch, capsys, "gallery", "reindex")
    assert code == 0, err
    assert "indexed 3 artworks" in out
    assert listed(monkeypatch, capsys) == before
    assert [r["id"] for r in before] == [RIVER, MOON, FOX]
    assert (before[2]["stars"], before[2]["like"], before[0]["tags"]) == (2, False, ["water"])


def test_export_writes_a_zip_and_an_unknown_id_writes_none(monkeypatch, capsys, root, tmp_path):
    dest = tmp_path / "out.zip"
    code, out, err = run(monkeypatch, capsys, "gallery", "export", FOX, MOON, "--out", dest)
    assert code == 0, err
    assert f"wrote {dest}" in out
    with zipfile.ZipFile(dest) as zf:
        assert {"gan/fox.png", "poet/moon.txt", "poet/moon.txt.json"} <= set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
    assert [a["id"] for a in manifest["artworks"]] == [FOX, MOON]
    bad = tmp_path / "bad.zip"
    code, _, err = run(monkeypatch, capsys, "gallery", "export", FOX, "nope", "--out", bad)
    assert_one_line_error(code, err, "'nope'")
    assert not bad.exists()


def test_commands_see_artworks_written_by_hand(monkeypatch, capsys, root):
    from museforge.core.artwork import Result
    from museforge.gallery.artwork import write_result

    write_result(Result([image_art("hand", 7, created=5000.0)]), root / "hand")
    (root / "gan" / "fox.png").unlink()
    ids = [r["id"] for r in listed(monkeypatch, capsys)]
    assert ids == [artwork_id("hand/hand.png"), RIVER, MOON]


def test_sample_into_the_gallery_then_remix_it(monkeypatch, capsys, root):
    code, _, err = run(monkeypatch, capsys, "sample", "mnist-vae", "--n", "2")
    assert code == 0, err
    made = listed(monkeypatch, capsys, "--model", "image-vae")
    assert sorted(r["path"] for r in made) == [
        "mnist-vae/sample-s0-0000.png",
        "mnist-vae/sample-s0-0001.png",
    ]
    first = next(r for r in made if r["path"].endswith("0000.png"))
    g = Gallery(root)
    try:
        assert g.remix(first["id"])["args"] == {"n": 2, "seed": 0, "truncation": 1.0, "label": None}
    finally:
        g.close()
    run(monkeypatch, capsys, "gallery", "rate", first["id"], "--stars", "5")

    code, out, err = run(monkeypatch, capsys, "gallery", "remix", first["id"], "--run")
    assert code == 0, err
    assert "wrote 2 artworks" in out
    g = Gallery(root)
    try:
        # The re-made artworks are new files: the original keeps its bytes and its stars.
        original = g.get(first["id"])
        assert (original.sha256, original.stars) == (first["sha256"], 5)
        assert g.count() == 3 + 4
        children = g.children(first["id"])
        assert len(children) == 2
        for child in children:
            assert child.stars is None
            assert {"role": "remix", "label": first["id"], "id": first["id"]} in g.parents(child.id)
            assert child.provenance["args"]["n"] == 2 and child.provenance["args"]["seed"] == 0
        assert sorted(c.path for c in children) == [
            "mnist-vae/sample-s0-0000-v2.png",
            "mnist-vae/sample-s0-0001-v2.png",
        ]
    finally:
        g.close()
    code, _, err = run(monkeypatch, capsys, "gallery", "remix", first["id"], "--run")
    assert code == 0, err
    again = [r["path"] for r in listed(monkeypatch, capsys, "--search", "-v3")]
    assert sorted(again) == [
        "mnist-vae/sample-s0-0000-v3.png",
        "mnist-vae/sample-s0-0001-v3.png",
    ]


def test_an_interpolation_lists_as_one_animation_with_its_frames(monkeypatch, capsys, root):
    code, _, err = run(monkeypatch, capsys, "interpolate", "mnist-vae", "--frames", "3")
    assert code == 0, err
    [walk] = listed(monkeypatch, capsys, "--model", "image-vae")
    assert (walk["path"], walk["modality"]) == ("mnist-vae/interp-s1-s2.gif", "animation")
    frames = listed(monkeypatch, capsys, "--model", "image-vae", "--frames")
    assert len(frames) == 4
    code, out, _ = run(monkeypatch, capsys, "gallery", "list")
    assert code == 0 and "4 of 4 artworks" in out
    code, out, err = run(monkeypatch, capsys, "gallery", "show", walk["id"], "--json")
    assert code == 0, err
    stills = [c["path"] for c in json.loads(out)["children"]]
    assert stills == [f"mnist-vae/interp-s1-s2-{i:03d}.png" for i in range(3)]
    for path in (root / ".museforge").glob("index.sqlite*"):
        path.unlink()
    code, out, err = run(monkeypatch, capsys, "gallery", "reindex")
    assert code == 0 and "indexed 7 artworks" in out, err
    assert listed(monkeypatch, capsys, "--model", "image-vae") == [walk]
