"""The gallery store: files are the truth, the index follows them, marks live beside them."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import zipfile
from pathlib import Path
from typing import Annotated, Any

import pytest
from PIL import Image

from museforge.core.artwork import Artwork, Result
from museforge.core.registry import KindSpec, call_verb
from museforge.core.verbs import Param
from museforge.errors import InputError
from museforge.gallery.artwork import write_result
from museforge.gallery.store import Gallery, artwork_id

GAN = {"path": "/models/gan", "kind": "image-gan", "sha256": "abc123" + "0" * 58}
VAE = {"path": "/models/vae", "kind": "image-vae", "sha256": "def456" + "0" * 58}
POET = {"path": "/models/poet", "kind": "text-lm", "sha256": "789fed" + "0" * 58}


def picture(shade: int = 0) -> Image.Image:
    return Image.new("RGB", (8, 8), (shade % 256, 40, 200))


def image_art(name: str, shade: int = 0, **prov: Any) -> Artwork:
    return Artwork(name=name, image=picture(shade), provenance={"verb": "sample", **prov})


def poem_art(name: str, text: str, **prov: Any) -> Artwork:
    return Artwork(name=name, text=text, provenance={"verb": "poem", **prov})


def save(gallery: Gallery, folder: str, *arts: Artwork) -> list[str]:
    return gallery.save(Result(list(arts)), folder)


def listing(gallery: Gallery) -> list[tuple]:
    """Everything a user sees in a listing, in order."""
    return [
        (r.id, r.path, r.sha256, r.modality, r.created, r.stars, r.like, r.tags, r.text)
        for r in gallery.list(limit=1000)
    ]


def drop_index(gallery: Gallery) -> None:
    gallery.close()
    files = list((gallery.root / ".museforge").glob("index.sqlite*"))
    assert files
    for path in files:
        path.unlink()


@pytest.fixture
def filled(gallery):
    """Five artworks of three models and two modalities, made at known times."""
    ids = {}
    ids["fox"] = save(
        gallery,
        "gan",
        image_art("fox", 1, model=GAN, seed=1, created=1000.0, settings={"prompt": "red fox"}),
    )[0]
    ids["night"] = save(
        gallery,
        "vae",
        image_art("night", 2, model=VAE, seed=2, created=2000.0, prompt="blue fox at night"),
    )[0]
    ids["moon"] = save(
        gallery, "poet", poem_art("moon", "床前明月光，疑是地上霜。", created=3000.0)
    )[0]
    ids["pure"] = save(gallery, "poet", poem_art("pure", "100% pure_joy", created=4000.0))[0]
    ids["decoy"] = save(
        gallery, "poet", poem_art("decoy", "1000 purexjoy", model=POET, created=5000.0)
    )[0]
    return ids


def test_save_lists_newest_first_and_get_finds_each(gallery):
    ids = save(gallery, "a", image_art("old", 1, created=100.0), image_art("new", 2, created=300.0))
    ids += save(gallery, "b", poem_art("mid", "a short poem", created=200.0))
    assert len(ids) == 3 and len(set(ids)) == 3
    assert [r.path for r in gallery.list()] == ["a/new.png", "b/mid.txt", "a/old.png"]
    assert gallery.count() == 3
    record = gallery.get(ids[2])
    assert (record.modality, record.text, record.verb) == ("text", "a short poem\n", "poem")
    assert record.id == artwork_id("b/mid.txt")
    data = (gallery.root / "a" / "old.png").read_bytes()
    assert gallery.get(ids[0]).sha256 == hashlib.sha256(data).hexdigest()
    with pytest.raises(InputError, match="no artwork with id 'nope'"):
        gallery.get("nope")
    for art_id in ids:
        path = gallery.file_path(art_id)
        assert path.is_file()
        assert path.resolve().is_relative_to(gallery.root.resolve())


def test_save_indexes_the_artworks_but_not_the_overview_grid(gallery):
    result = Result([image_art("one", 1), image_art("two", 2)], grid=picture(9), stem="batch")
    ids = gallery.save(result, "run")
    assert (gallery.root / "run" / "batch-grid.png").is_file()
    assert len(ids) == 2
    assert sorted(r.path for r in gallery.list()) == ["run/one.png", "run/two.png"]
    assert gallery.sync() == {
        "indexed": 0,
        "removed": 0,
        "skipped": 0,
    }  # the grid is not an artwork


def test_filters_by_modality_and_model(gallery, filled):
    def names(**kw):
        return [Path(r.path).stem for r in gallery.list(**kw)]

    assert names(modality="text") == ["decoy", "pure", "moon"]
    assert names(modality="image") == ["night", "fox"]
    assert names(model="image-gan") == ["fox"]  # by kind
    assert names(model="/models/vae") == ["night"]  # by path
    assert names(model="abc1") == ["fox"]  # by hash prefix
    assert names(model="text-lm", modality="image") == []
    assert names(limit=2) == ["decoy", "pure"]
    assert names(limit=2, offset=2) == ["moon", "night"]


def test_text_search_needs_every_word_and_takes_wildcards_literally(gallery, filled):
    def found(text):
        return [Path(r.path).stem for r in gallery.list(text=text)]

    assert found("fox") == ["night", "fox"]
    assert found("FOX Night") == ["night"]  # every word, any case
    assert found("fox nowhere") == []
    assert found("月") == ["moon"]  # a substring of a Chinese poem
    assert found("明月光 霜") == ["moon"]
    assert found("100%") == ["pure"]  # '%' is not a wildcard (decoy has 1000)
    assert found("pure_joy") == ["pure"]  # '_' is not a wildcard (decoy has purexjoy)
    assert found("%") == ["pure"]
    assert found("  ") == found("") and len(found("")) == 5


def test_filters_by_marks_and_dates(gallery, filled):
    gallery.rate(filled["fox"], stars=4, like=True)
    gallery.rate(filled["night"], stars=2, like=False)
    gallery.rate(filled["moon"], stars=5)
    gallery.tag(filled["moon"], add=["Moon"])
    gallery.tag(filled["pure"], add=["moon", "joy"])

    def names(**kw):
        return [Path(r.path).stem for r in gallery.list(**kw)]

    assert names(min_stars=4) == ["moon", "fox"]
    assert names(min_stars=1) == ["moon", "night", "fox"]
    assert names(liked=True) == ["fox"]
    assert names(liked=False) == ["night"]  # unrated ones are neither
    assert names(tag="moon") == ["pure", "moon"]
    assert names(tag=" MOON ") == ["pure", "moon"]
    assert names(tag="joy", min_stars=1) == []
    assert names(since=2000.0) == ["decoy", "pure", "moon", "night"]
    assert names(until=3000.0) == ["night", "fox"]  # until is exclusive
    assert names(since=2000.0, until=4000.0) == ["moon", "night"]


def test_rate_and_tag_are_written_beside_the_file(gallery, filled):
    art_id = filled["fox"]
    side = gallery.file_path(art_id).with_name("fox.png.user.json")
    gallery.rate(art_id, stars=3)
    gallery.rate(art_id, like=False)  # keeps the stars
    assert json.loads(side.read_text()) == {"stars": 3, "like": False, "tags": []}
    tags = gallery.tag(art_id, add=["  Night   Sky ", "night sky", "RED", "", "red"])
    assert tags == ["night sky", "red"]
    assert gallery.tag(art_id, remove=["RED "]) == ["night sky"]
    assert json.loads(side.read_text()) == {"stars": 3, "like": False, "tags": ["night sky"]}
    record = gallery.get(art_id)
    assert (record.stars, record.like, record.tags) == (3, False, ["night sky"])
    gallery.rate(art_id, stars=0)  # 0 clears
    assert gallery.get(art_id).stars is None
    assert json.loads(side.read_text())["stars"] is None


def test_bad_marks_are_refused_and_change_nothing(gallery, filled):
    art_id = filled["night"]
    gallery.rate(art_id, stars=2)
    gallery.tag(art_id, add=["keep"])
    side = gallery.file_path(art_id).with_name("night.png.user.json")
    before = side.read_text()
    for stars in (6, -1):
        with pytest.raises(InputError, match="stars"):
            gallery.rate(art_id, stars=stars, like=True)
    with pytest.raises(InputError, match="longer than 40"):
        gallery.tag(art_id, add=["fine", "x" * 41])
    assert side.read_text() == before
    record = gallery.get(art_id)
    assert (record.stars, record.like, record.tags) == (2, None, ["keep"])
    assert gallery.tag(art_id, add=["y" * 40]) == ["keep", "y" * 40]  # the limit itself is fine
    with pytest.raises(InputError):
        gallery.rate("nope", stars=3)
    with pytest.raises(InputError):
        gallery.tag("nope", add=["x"])


def test_reindex_after_deleting_the_index_gives_the_same_listing(gallery, filled):
    # Some artworks record no time at all: their file's time must order them, both times.
    save(gallery, "plain", image_art("untimed-a", 7), image_art("untimed-b", 8))
    save(gallery, "plain/deeper", poem_art("untimed-c", "deep poem"))
    gallery.rate(filled["fox"], stars=4, like=True)
    gallery.rate(filled["night"], like=False)
    gallery.rate(filled["moon"], stars=5)
    gallery.rate(filled["moon"], stars=0)  # cleared again
    gallery.tag(filled["moon"], add=["moon", "tang"])
    gallery.tag(filled["pure"], add=["joy"])
    before = listing(gallery)
    assert len(before) == 8
    by_id = {row[0]: row for row in before}
    assert by_id[filled["fox"]][5:8] == (4, True, [])
    assert by_id[filled["moon"]][5:8] == (None, None, ["moon", "tang"])

    drop_index(gallery)
    fresh = Gallery(gallery.root)
    try:
        assert fresh.count() == 0
        assert fresh.reindex() == 8
        assert listing(fresh) == before
        assert fresh.reindex() == 8  # again, over a full index
        assert listing(fresh) == before
        assert [r.id for r in fresh.list(tag="joy")] == [filled["pure"]]
    finally:
        fresh.close()
    # A sync over an empty index (what the CLI does first) gives the same too.
    drop_index(fresh)
    synced = Gallery(gallery.root)
    try:
        assert synced.sync() == {"indexed": 8, "removed": 0, "skipped": 0}
        assert listing(synced) == before
    finally:
        synced.close()


def test_sync_follows_files_written_changed_and_deleted_by_hand(gallery, filled):
    root = gallery.root
    # An artwork written by another tool, with its overview grid and data.
    result = Result([image_art("hand", 5, created=9000.0)], grid=picture(1), data={"k": 1})
    write_result(result, root / "hand")
    # Files that are not artworks: plain pictures, a text without sidecar, notes.
    picture(3).save(root / "photo.png")
    (root / "notes.txt").write_text("just notes\n")
    (root / "readme.md").write_text("# hi\n")
    (root / "hand" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    (root / "hand" / "empty.png").write_bytes(b"")
    assert gallery.sync() == {"indexed": 1, "removed": 0, "skipped": 0}
    hand = artwork_id("hand/hand.png")
    assert [r.id for r in gallery.list(limit=1)] == [hand]
    assert gallery.count() == 6
    assert gallery.sync() == {"indexed": 0, "removed": 0, "skipped": 0}  # nothing changed

    # Marks edited by hand (or by another program) are noticed.
    side = root / "hand" / "hand.png.user.json"
    side.write_text(json.dumps({"stars": 5, "like": True, "tags": ["Hand Made"]}))
    later = time.time() + 5
    os.utime(side, (later, later))
    assert gallery.sync()["indexed"] == 1
    record = gallery.get(hand)
    assert (record.stars, record.like, record.tags) == (5, True, ["hand made"])
    # A damaged marks file loses the marks, never the artwork.
    side.write_text("{not json")
    os.utime(side, (later + 5, later + 5))
    gallery.sync()
    assert gallery.get(hand).stars is None

    # A deleted file leaves the index; the rest stays.
    (root / "hand" / "hand.png").unlink()
    (root / "gan" / "fox.png").unlink()
    assert gallery.sync() == {"indexed": 0, "removed": 2, "skipped": 0}
    for gone in (hand, filled["fox"]):
        with pytest.raises(InputError):
            gallery.get(gone)
    assert gallery.count() == 4


def test_sync_reindexes_a_file_replaced_in_place(gallery):
    [art_id] = save(gallery, "x", image_art("pic", 1, created=10.0))
    old = gallery.get(art_id).sha256
    write_result(Result([image_art("pic", 99, created=20.0)]), gallery.root / "x")
    later = time.time() + 5
    os.utime(gallery.root / "x" / "pic.png", (later, later))
    gallery.sync()
    record = gallery.get(art_id)
    assert record.sha256 != old and record.created == 20.0


def test_remix_returns_the_arguments_call_verb_recorded(gallery, monkeypatch):
    from museforge.core import registry

    def sample(
        loaded,
        n: Annotated[int, Param("how many", min=1)] = 1,
        seed: Annotated[int, Param("seed")] = 0,
        truncation: Annotated[float, Param("spread")] = 1.0,
        on_step=None,
    ):
        prov = {"model": {"path": "/m/fake", "kind": "fake-kind"}}
        return Result([image_art(f"s{seed}-{i}", i, **prov) for i in range(n)])

    registry.load_all()
    spec = KindSpec("fake-kind", "image", "test", dict, object)
    monkeypatch.setitem(registry._KINDS, "fake-kind", spec)
    registry.verb("fake-kind")(sample)
    loaded = type("Loaded", (), {"kind": "fake-kind"})()
    result = call_verb(loaded, "sample", n=2, seed=7, on_step=lambda: None)
    prov = result.artworks[0].provenance
    # Once, after defaults; callbacks are no setting; no creation time in the bytes.
    assert prov["args"] == {"n": 2, "seed": 7, "truncation": 1.0}
    assert prov["verb"] == "sample" and "created" not in prov
    ids = gallery.save(result, "fake")
    recipe = gallery.remix(ids[1])
    assert recipe["args"] == {"n": 2, "seed": 7, "truncation": 1.0}
    assert (recipe["verb"], recipe["model"], recipe["kind"]) == ("sample", "/m/fake", "fake-kind")
    assert gallery.get(ids[1]).seed == 7  # the index reads the seed from the record


def test_remix_needs_a_recorded_call(gallery):
    [old] = save(gallery, "old", image_art("a", 1, model=GAN, seed=3, settings={"n": 4}))
    with pytest.raises(InputError, match="records no call"):
        gallery.remix(old)
    with pytest.raises(InputError):
        gallery.remix("nope")


def test_export_zip_holds_files_sidecars_and_manifest(gallery, filled, tmp_path):
    gallery.rate(filled["moon"], stars=5)
    chosen = [filled["moon"], filled["fox"], filled["moon"]]
    dest = gallery.export_zip(chosen, tmp_path / "out" / "export.zip")
    with zipfile.ZipFile(dest) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        assert zf.read("gan/fox.png") == (gallery.root / "gan" / "fox.png").read_bytes()
        assert zf.read("poet/moon.txt").decode() == "床前明月光，疑是地上霜。\n"
    assert names == {
        "gan/fox.png",
        "poet/moon.txt",
        "poet/moon.txt.json",
        "poet/moon.txt.user.json",
        "manifest.json",
    }
    assert manifest["count"] == 2
    assert [a["id"] for a in manifest["artworks"]] == [filled["moon"], filled["fox"]]
    assert manifest["artworks"][0]["stars"] == 5
    assert manifest["artworks"][1]["provenance"]["model"] == GAN


def test_export_zip_refuses_empty_or_unknown_and_writes_nothing(gallery, filled, tmp_path):
    dest = tmp_path / "export.zip"
    with pytest.raises(InputError, match="at least one"):
        gallery.export_zip([], dest)
    with pytest.raises(InputError, match="no artwork with id 'nope'"):
        gallery.export_zip([filled["fox"], "nope"], dest)
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["gallery"]  # no temp files either


def test_two_gallery_objects_on_one_root_see_each_other(gallery, filled):
    other = Gallery(gallery.root)  # the CLI while the studio runs
    try:
        [new] = save(other, "cli", image_art("from-cli", 3, created=8000.0))
        other.rate(new, stars=4)
        gallery.sync()
        assert gallery.list(limit=1)[0].id == new
        assert gallery.get(new).stars == 4
        gallery.tag(filled["fox"], add=["studio"])
        other.sync()
        assert other.get(filled["fox"]).tags == ["studio"]
        write_result(Result([image_art("by-hand", 4, created=9000.0)]), gallery.root / "hand")
        other.sync()
        gallery.sync()
        assert gallery.list(limit=1)[0].path == other.list(limit=1)[0].path == "hand/by-hand.png"
    finally:
        other.close()


@pytest.mark.parametrize("shared", [True, False], ids=["one-object", "object-each"])
def test_concurrent_ratings_of_different_artworks_all_persist(gallery, shared):
    ids = save(gallery, "many", *[image_art(f"a{i}", i, created=float(i)) for i in range(4)])
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        g = gallery if shared else Gallery(gallery.root)
        try:
            start.wait()
            for stars in range(1, 6):
                g.rate(ids[i], stars=stars, like=i % 2 == 0)
            g.tag(ids[i], add=[f"t{i}"])
            g.rate(ids[i], stars=i + 1)
        except BaseException as err:
            errors.append(err)
        finally:
            if not shared:
                g.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    expected = {ids[i]: (i + 1, i % 2 == 0, [f"t{i}"]) for i in range(4)}
    assert {r.id: (r.stars, r.like, r.tags) for r in gallery.list()} == expected
    drop_index(gallery)
    fresh = Gallery(gallery.root)
    try:
        fresh.reindex()
        assert {r.id: (r.stars, r.like, r.tags) for r in fresh.list()} == expected
    finally:
        fresh.close()


def test_saving_again_never_overwrites_an_artwork_or_its_marks(gallery):
    [first] = save(gallery, "gan", image_art("sample-s0-0000", 1, model=GAN))
    gallery.rate(first, stars=5)
    original = (gallery.root / "gan" / "sample-s0-0000.png").read_bytes()
    [second] = save(gallery, "gan", image_art("sample-s0-0000", 99, model=GAN))
    assert gallery.get(second).path == "gan/sample-s0-0000-v2.png"
    assert gallery.get(second).stars is None
    assert gallery.get(first).stars == 5
    assert (gallery.root / "gan" / "sample-s0-0000.png").read_bytes() == original


def walk(names: tuple[str, ...] = ("walk-c", "walk-a", "walk-b")) -> Result:
    """A walk whose frame order is neither its names' order nor its times' order."""
    arts = [
        image_art(n, i, model=VAE, latent=f"L{i}", t=i / 2, prompt=f"mix {i}", created=3000.0 - i)
        for i, n in enumerate(names)
    ]
    frames = [a.image for a in arts] + [arts[1].image]  # there and back
    return Result(arts, grid=picture(9), frames=frames, stem="walk")


def test_an_animation_is_one_item_with_its_frames_as_children_in_order(gallery):
    assert len(gallery.save(walk(), "vae")) == 1
    [gif_id] = gallery.save(walk(), "vae")  # the same walk again: every name gets -v2
    gif = gallery.get(gif_id)
    assert (gif.path, gif.modality) == ("vae/walk-v2.gif", "animation")
    assert "latent" not in gif.provenance and gif.provenance["frames"] == 4
    assert not {"frame_of", "prompt", "t"} & set(gif.provenance)  # each frame's own
    # Listings show the two walks; their frames only on request.
    assert sorted(r.path for r in gallery.list()) == ["vae/walk-v2.gif", "vae/walk.gif"]
    assert gallery.count() == 2
    assert len(gallery.list(frames=True)) == gallery.count(frames=True) == 8
    assert [r.path for r in gallery.list(modality="image")] == []
    # The animation's children are its stills in the order they play, each its own picture.
    stills = gallery.children(gif_id)
    assert [r.path for r in stills] == [
        "vae/walk-c-v2.png",
        "vae/walk-a-v2.png",
        "vae/walk-b-v2.png",
    ]
    assert [r.provenance["latent"] for r in stills] == ["L0", "L1", "L2"]
    assert [r.provenance["frame_of"] for r in stills] == [
        {"file": "walk-v2.gif", "index": i} for i in range(3)
    ]
    assert gallery.parents(stills[1].id) == [
        {"role": "animation", "label": "walk-v2.gif", "id": gif_id}
    ]
    assert gallery.children(stills[1].id) == []
    # Another child of the animation (a remix of it) is a child but not a frame.
    remix_of = {"id": gif_id, "sha256": gif.sha256}
    [again] = save(gallery, "vae", image_art("again", 7, remix_of=remix_of, created=1.0))
    assert [r.id for r in gallery.children(gif_id)] == [*(r.id for r in stills), again]
    assert [r.id for r in gallery.frames(gif_id)] == [r.id for r in stills]
    assert gallery.frames(stills[0].id) == []


def test_frames_whose_animation_is_gone_are_listed_again(gallery):
    [gif_id] = gallery.save(walk(), "vae")
    path = gallery.file_path(gif_id)
    path.unlink()
    path.with_name(path.name + ".json").unlink()
    assert gallery.sync() == {"indexed": 0, "removed": 1, "skipped": 0}
    assert sorted(r.path for r in gallery.list()) == [
        "vae/walk-a.png",
        "vae/walk-b.png",
        "vae/walk-c.png",
    ]


def test_reindex_gives_the_same_animation_and_frames(gallery, filled):
    [gif_id] = gallery.save(walk(), "walks")
    gallery.rate(gallery.children(gif_id)[1].id, stars=5)  # a frame's marks survive too
    before = (listing(gallery), [tuple(r) for r in gallery.index.query("SELECT * FROM refs")])
    frames_before = [r.id for r in gallery.list(frames=True, limit=1000)]
    stills = [r.id for r in gallery.children(gif_id)]
    assert len(before[0]) == 6 and len(frames_before) == 9 and len(stills) == 3
    drop_index(gallery)
    fresh = Gallery(gallery.root)
    try:
        assert fresh.reindex() == 9
        refs = sorted(tuple(r) for r in fresh.index.query("SELECT * FROM refs"))
        assert (listing(fresh), refs) == (before[0], sorted(before[1]))
        assert [r.id for r in fresh.list(frames=True, limit=1000)] == frames_before
        assert [r.id for r in fresh.children(gif_id)] == stills
        assert fresh.get(stills[1]).stars == 5
    finally:
        fresh.close()


def test_save_indexes_each_file_once(gallery, monkeypatch):
    calls = []
    real = gallery.index.upsert
    monkeypatch.setattr(
        gallery.index, "upsert", lambda row, *rest: calls.append(row["path"]) or real(row, *rest)
    )
    ids = save(gallery, "once", image_art("a", 1, model=GAN), image_art("b", 2, model=GAN))
    assert len(ids) == 2
    assert sorted(calls) == ["once/a.png", "once/b.png"]
