"""Lineage: parents named in provenance become links between gallery artworks."""

from __future__ import annotations

import hashlib

from museforge.gallery.lineage import Ref, frame_of, parent_refs
from museforge.gallery.store import Gallery
from tests.gallery.test_store import drop_index, image_art, save


def sha(gallery: Gallery, art_id: str) -> str:
    return hashlib.sha256(gallery.file_path(art_id).read_bytes()).hexdigest()


def by_role(parents: list[dict]) -> list[tuple[str, str, str | None]]:
    return sorted((p["role"], p["label"], p["id"]) for p in parents)


def test_parent_refs_reads_every_way_verbs_record_parents():
    prov = {
        "parents": [{"file": "a.png", "sha256": "aa"}, "junk", {"sha256": "bb"}],
        "ends": ["f0.png", "f9.png"],
        "lineage": {
            "content": {"source": "cat.jpg", "fingerprint": "x"},
            "style": {"name": "brick"},
            "styles": [{"source": "dots"}, {"weight": 1}],
            "mask": "not a dict",
        },
        "remix_of": {"id": "1234", "sha256": "cc"},
        "frame_of": {"file": "walk.gif", "index": 3},
    }
    assert parent_refs(prov) == [
        Ref("parent", sha256="aa", file="a.png", label="a.png"),
        Ref("parent", sha256="bb", file=None, label=""),
        Ref("end", file="f0.png", label="f0.png"),
        Ref("end", file="f9.png", label="f9.png"),
        Ref("content", source="cat.jpg", label="cat.jpg"),
        Ref("style", source="brick", label="brick"),
        Ref("style", source="dots", label="dots"),
        Ref("animation", file="walk.gif", label="walk.gif"),
        Ref("remix", sha256="cc", label="1234"),
    ]
    assert frame_of(prov) == ("walk.gif", 3)
    assert parent_refs({}) == []
    assert frame_of({}) is None
    junk = {"parents": None, "lineage": ["x"], "remix_of": "id", "frame_of": {"index": 2}}
    assert parent_refs(junk) == [] and frame_of({"frame_of": "walk.gif"}) is None


def test_breed_children_link_to_parents_by_file_hash(gallery):
    # Parents in one folder, the child in another: only the hash can find them.
    pa, pb = save(gallery, "vae", image_art("a", 1), image_art("b", 2))
    other = save(gallery, "vae", image_art("unrelated", 3))[0]
    parents = [
        {"file": "a.png", "sha256": sha(gallery, pa)},
        {"file": "b.png", "sha256": sha(gallery, pb)},
        {"file": "lost.png", "sha256": "0" * 64},
    ]
    [child] = save(gallery, "bred", image_art("child", 4, verb="breed", parents=parents))
    assert by_role(gallery.parents(child)) == [
        ("parent", "a.png", pa),
        ("parent", "b.png", pb),
        ("parent", "lost.png", None),  # not in the gallery: shown by name only
    ]
    assert [c.id for c in gallery.children(pa)] == [child]
    assert [c.id for c in gallery.children(pb)] == [child]
    assert gallery.children(other) == []
    assert gallery.parents(pa) == []
    # A parent deleted from disk is no longer linked after a sync.
    gallery.file_path(pa).unlink()
    gallery.sync()
    assert by_role(gallery.parents(child))[0] == ("parent", "a.png", None)


def test_a_same_named_file_does_not_stand_in_for_a_parent_with_another_hash(gallery):
    [real] = save(gallery, "vae", image_art("a", 1))
    [impostor] = save(gallery, "bred", image_art("a", 9))  # same name, child's folder
    parents = [{"file": "a.png", "sha256": sha(gallery, real)}]
    [child] = save(gallery, "bred", image_art("child", 4, verb="breed", parents=parents))
    assert [p["id"] for p in gallery.parents(child)] == [real]
    assert [c.id for c in gallery.children(impostor)] == []


def test_walk_steps_link_to_their_ends_and_ends_not_to_themselves(gallery):
    # Steps of a walk with no animation (a melody blend) name the walk's two ends.
    names = [f"interp-s1-s2-{i:03d}" for i in range(5)]
    ends = [f"{names[0]}.png", f"{names[-1]}.png"]
    arts = [image_art(n, i, verb="interpolate", ends=ends, t=i / 4) for i, n in enumerate(names)]
    ids = save(gallery, "walk", *arts)
    first, last = ids[0], ids[-1]
    assert by_role(gallery.parents(ids[2])) == [("end", ends[0], first), ("end", ends[1], last)]
    assert gallery.parents(first) == [{"role": "end", "label": ends[1], "id": last}]
    assert gallery.parents(last) == [{"role": "end", "label": ends[0], "id": first}]
    assert {c.id for c in gallery.children(first)} == set(ids[1:])
    assert {c.id for c in gallery.children(last)} == set(ids[:-1])
    assert gallery.children(ids[2]) == []


def test_style_lineage_links_gallery_pictures_and_names_external_ones(
    gallery, tmp_path, monkeypatch
):
    [cat] = save(gallery, "photos", image_art("cat", 1))
    [dog] = save(gallery, "photos", image_art("dog", 2))
    absolute = {
        "content": {"source": str(gallery.root / "photos" / "cat.png")},
        "style": {"source": "brick"},
        "styles": [{"source": str(tmp_path / "elsewhere.jpg")}],
    }
    [styled] = save(gallery, "styled", image_art("out", 3, verb="stylise", lineage=absolute))
    assert by_role(gallery.parents(styled)) == sorted(
        [
            ("content", str(gallery.root / "photos" / "cat.png"), cat),
            ("style", "brick", None),
            ("style", str(tmp_path / "elsewhere.jpg"), None),
        ]
    )
    assert [c.id for c in gallery.children(cat)] == [styled]
    # Paths as the user typed them, relative to where the command ran.
    monkeypatch.chdir(tmp_path)
    relative = {"content": {"source": "gallery/photos/dog.png"}}
    [styled2] = save(gallery, "styled", image_art("out2", 4, verb="stylise", lineage=relative))
    assert gallery.parents(styled2) == [
        {"role": "content", "label": "gallery/photos/dog.png", "id": dog}
    ]
    assert [c.id for c in gallery.children(dog)] == [styled2]


def test_remix_links_to_the_original(gallery):
    [orig] = save(gallery, "m", image_art("orig", 1))
    remix_of = {"id": orig, "sha256": sha(gallery, orig)}
    [again] = save(gallery, "m", image_art("again", 2, remix_of=remix_of))
    assert gallery.parents(again) == [{"role": "remix", "label": orig, "id": orig}]
    assert [c.id for c in gallery.children(orig)] == [again]


def test_lineage_survives_a_reindex_whatever_the_order_files_are_read(gallery):
    # "a-children" sorts before "z-parents": children are indexed before their parents.
    pa, pb = save(gallery, "z-parents", image_art("a", 1), image_art("b", 2))
    parents = [{"file": "a.png", "sha256": sha(gallery, pa)}, {"file": "b.png", "sha256": "f"}]
    [child] = save(gallery, "a-children", image_art("c", 3, parents=parents))
    before = by_role(gallery.parents(child))
    assert before == [("parent", "a.png", pa), ("parent", "b.png", None)]
    drop_index(gallery)
    fresh = Gallery(gallery.root)
    try:
        assert fresh.reindex() == 3
        assert by_role(fresh.parents(child)) == before
        assert [c.id for c in fresh.children(pa)] == [child]
        assert fresh.children(pb) == []
    finally:
        fresh.close()
