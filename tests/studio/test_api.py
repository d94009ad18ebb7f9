"""The studio's API through FastAPI's test client: jobs, gallery, uploads, hostile input."""

from __future__ import annotations

import io
import json
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from museforge.studio import api, api_gallery
from museforge.studio.app import StudioConfig, create_app
from museforge.studio.runners import train_recipe

MODELS = Path(__file__).resolve().parents[2] / "models"
BASE = "http://127.0.0.1:8765"
TOKEN = "test-token-0123456789abcdef"
AUTH = {"X-Museforge-Token": TOKEN}


def _client(root: Path, workers: int = 1) -> TestClient:
    config = StudioConfig(root, MODELS, port=8765, workers=workers, token=TOKEN)
    return TestClient(create_app(config), base_url=BASE)


@pytest.fixture
def client(tmp_path):
    with _client(tmp_path / "gallery") as c:
        yield c


def _wait(c: TestClient, job: str, timeout: float = 60) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        state = c.get(f"/api/jobs/{job}").json()
        if state["state"] in {"done", "failed", "cancelled", "interrupted"}:
            return state
        time.sleep(0.05)
    raise AssertionError(f"job {job} did not finish: {state}")


def _generate(c: TestClient, model="mnist-vae", verb="sample", **args) -> dict:
    r = c.post("/api/generate", json={"model": model, "verb": verb, "args": args}, headers=AUTH)
    assert r.status_code == 200, r.text
    return _wait(c, r.json()["job"])


def _png(size=(8, 8), colour=(200, 10, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def test_generate_saves_artworks_and_streams_ordered_events(client):
    job = _generate(client, n=2, seed=3)
    assert job["state"] == "done", job
    ids = job["result"]["ids"]
    listing = client.get("/api/gallery").json()
    assert {i["id"] for i in listing["items"]} == set(ids)
    with client.stream("GET", f"/api/jobs/{job['id']}/events") as stream:
        text = "".join(stream.iter_text())
    seqs = [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]
    assert seqs == list(range(1, len(seqs) + 1))
    assert "event: result" in text
    # A reconnecting page sends Last-Event-ID and gets only what it missed.
    headers = {"Last-Event-ID": str(seqs[-2])}
    with client.stream("GET", f"/api/jobs/{job['id']}/events", headers=headers) as stream:
        again = "".join(stream.iter_text())
    assert [int(x[4:]) for x in again.splitlines() if x.startswith("id: ")] == [seqs[-1]]


def test_rate_tag_remix_and_export(client):
    ids = _generate(client, n=2, seed=4)["result"]["ids"]
    art = ids[0]
    rated = client.post(f"/api/gallery/{art}/rate", json={"stars": 4, "like": True}, headers=AUTH)
    assert rated.json()["stars"] == 4 and rated.json()["like"] is True
    tags = client.post(
        f"/api/gallery/{art}/tags", json={"add": [" Moody ", "digits"]}, headers=AUTH
    )
    assert tags.json()["tags"] == ["digits", "moody"]
    assert [i["id"] for i in client.get("/api/gallery?tag=moody").json()["items"]] == [art]
    assert [i["id"] for i in client.get("/api/gallery?min_stars=4").json()["items"]] == [art]
    remix = client.get(f"/api/gallery/{art}/remix").json()
    assert remix["model"] == "mnist-vae" and remix["verb"] == "sample"
    assert remix["args"]["seed"] == 4 and remix["args"]["n"] == 2
    exported = client.post("/api/gallery/export", json={"ids": ids}, headers=AUTH)
    assert exported.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(exported.content)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert {a["id"] for a in manifest["artworks"]} == set(ids)
        assert any(n.endswith(".png.user.json") for n in zf.namelist())


def test_breed_links_children_to_parents(client):
    parents = _generate(client, n=2, seed=5)["result"]["ids"]
    job = _generate(client, verb="breed", parents=parents, children=3, seed=1)
    assert job["state"] == "done", job
    child = client.get(f"/api/gallery/{job['result']['ids'][0]}").json()
    assert {p["id"] for p in child["parents"]} == set(parents)
    parent = client.get(f"/api/gallery/{parents[0]}").json()
    assert set(job["result"]["ids"]) <= {c["id"] for c in parent["children"]}
    # Remix re-opens the form with the parents named as the studio names them, from the
    # one record of the call (which holds their files).
    remix = client.get(f"/api/gallery/{job['result']['ids'][0]}/remix").json()
    assert remix["verb"] == "breed" and remix["args"]["parents"] == parents
    assert (remix["args"]["children"], remix["args"]["seed"]) == (3, 1)


def test_an_interpolation_is_one_animated_item_with_its_frames(client):
    job = _generate(client, verb="interpolate", seed_a=1, seed_b=2, frames=4)
    assert job["state"] == "done", job
    [walk] = job["result"]["ids"]  # the job made one item: the animation
    listing = client.get("/api/gallery").json()
    assert [i["id"] for i in listing["items"]] == [walk] and listing["total"] == 1
    everything = client.get("/api/gallery", params={"frames": "true"}).json()
    assert len(everything["items"]) == everything["total"] == 5
    detail = client.get(f"/api/gallery/{walk}").json()
    assert detail["modality"] == "animation" and detail["children"] == []
    stills = detail["frames"]
    assert [f["path"][-7:] for f in stills] == ["000.png", "001.png", "002.png", "003.png"]
    frame = client.get(f"/api/gallery/{stills[2]['id']}").json()
    assert [p["id"] for p in frame["parents"]] == [walk]
    assert frame["provenance"]["frame_of"]["index"] == 2 and "latent" in frame["provenance"]
    # The thumbnail moves: a small GIF with as many frames as the animation.
    thumb = client.get(f"/api/gallery/{walk}/thumb")
    assert thumb.headers["content-type"] == "image/gif"
    with (
        Image.open(io.BytesIO(thumb.content)) as small,
        Image.open(client.app.state.workspace.gallery.file_path(walk)) as full,
    ):
        assert small.n_frames == full.n_frames == 6  # there and back
        assert max(small.size) <= api_gallery.THUMB_PX
    assert client.get(f"/api/gallery/{stills[0]['id']}/thumb").headers["content-type"] == (
        "image/png"
    )


def test_state_changes_need_the_token_and_reads_do_not(client):
    ids = _generate(client, n=1, seed=6)["result"]["ids"]
    assert client.post(f"/api/gallery/{ids[0]}/rate", json={"stars": 2}).status_code == 401
    bad = {"X-Museforge-Token": "wrong-token-0123456789"}
    assert (
        client.post(f"/api/gallery/{ids[0]}/rate", json={"stars": 2}, headers=bad).status_code
        == 401
    )
    assert client.get(f"/api/gallery/{ids[0]}").json()["stars"] is None
    assert client.get(f"/api/gallery/{ids[0]}/file").headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"model": "../../etc", "verb": "sample"}, 404, "no model called"),
        ({"model": "mnist-vae", "verb": "poem"}, 400, "no studio verb"),
        (
            {"model": "mnist-vae", "verb": "sample", "args": {"n": "many"}},
            400,
            "n must be a whole number",
        ),
        ({"model": "mnist-vae", "verb": "sample", "args": {"out_dir": "/tmp"}}, 400, "out_dir"),
        ({"model": "mnist-vae"}, 422, "verb"),
    ],
)
def test_malformed_generate_requests_get_clear_4xx(client, body, status, words):
    r = client.post("/api/generate", json=body, headers=AUTH)
    assert r.status_code == status
    assert words in r.json()["error"]


def test_files_are_served_by_id_only(client):
    for path in ("/api/gallery/..%2F..%2Fetc%2Fpasswd/file", "/api/gallery/nope/file"):
        r = client.get(path)
        assert r.status_code == 404 and "error" in r.json()


def test_hostile_uploads_are_refused(client, tmp_path, monkeypatch):
    files = {"file": ("x.png", b"not an image at all", "image/png")}
    r = client.post("/api/uploads", files=files, headers=AUTH)
    assert r.status_code == 400 and "x.png" in r.json()["error"]
    ok = client.post("/api/uploads", files={"file": ("ok.png", _png(), "image/png")}, headers=AUTH)
    assert ok.json()["id"].startswith("upload:")
    slip = io.BytesIO()
    with zipfile.ZipFile(slip, "w") as zf:
        zf.writestr("../evil.png", _png())
    files = {"file": ("evil.zip", slip.getvalue(), "application/zip")}
    r = client.post("/api/datasets", files=files, headers=AUTH)
    assert r.status_code == 400 and "evil.zip" in r.json()["error"]
    assert not (tmp_path / "gallery" / ".museforge" / "evil.png").exists()
    monkeypatch.setattr(api, "MAX_UPLOAD_BYTES", 1000)
    files = {"file": ("big.png", _png((300, 300)) + b"\0" * 2000, "image/png")}
    r = client.post("/api/uploads", files=files, headers=AUTH)
    assert r.status_code == 400 and "larger than" in r.json()["error"]


def test_an_uploaded_picture_feeds_a_verb(client):
    up = client.post(
        "/api/uploads", files={"file": ("d.png", _png((28, 28)), "image/png")}, headers=AUTH
    )
    job = _generate(client, verb="reconstruct", images=[up.json()["id"]])
    assert job["state"] == "done", job
    assert (
        client.post(
            "/api/generate",
            json={"model": "mnist-vae", "verb": "reconstruct", "args": {"images": ["upload:nope"]}},
            headers=AUTH,
        ).status_code
        == 200
    )  # accepted; the job itself fails with a clear message
    jobs = client.get("/api/jobs").json()
    failed = _wait(client, jobs[0]["id"])
    assert failed["state"] == "failed" and "no uploaded picture" in failed["error"]


def test_fifty_concurrent_generation_requests_all_complete(tmp_path):
    with _client(tmp_path / "gallery", workers=2) as c:

        def submit(i: int) -> str:
            body = {"model": "mnist-vae", "verb": "sample", "args": {"n": 1, "seed": i}}
            return c.post("/api/generate", json=body, headers=AUTH).json()["job"]

        with ThreadPoolExecutor(10) as pool:
            jobs = list(pool.map(submit, range(50)))
        states = [_wait(c, j, timeout=120)["state"] for j in jobs]
        assert states == ["done"] * 50
        assert c.get("/api/gallery?limit=500").json()["total"] == 50


def test_jobs_and_gallery_survive_a_restart(tmp_path):
    root = tmp_path / "gallery"
    with _client(root) as c:
        job = _generate(c, n=2, seed=7)
        art = job["result"]["ids"][0]
        c.post(f"/api/gallery/{art}/rate", json={"stars": 5}, headers=AUTH)
        before = c.get("/api/gallery").json()
    with _client(root) as c:
        assert c.get(f"/api/jobs/{job['id']}").json()["state"] == "done"
        assert c.get("/api/gallery").json() == before
        assert c.get(f"/api/gallery/{art}").json()["stars"] == 5


def test_training_streams_progress_cancels_and_resumes(client):
    body = {"kind": "image-vae", "data": "digits", "name": "tiny", "steps": 4000}
    job = client.post("/api/train", json=body, headers=AUTH).json()["job"]
    end = time.monotonic() + 60
    while time.monotonic() < end:
        events = client.get(f"/api/jobs/{job}").json()
        if events["state"] == "running" and events["progress"] > 0:
            break
        time.sleep(0.1)
    client.post(f"/api/jobs/{job}/cancel", headers=AUTH)
    assert _wait(client, job)["state"] == "cancelled"
    assert client.post("/api/train", json=body, headers=AUTH).status_code == 400  # name taken
    client.post(f"/api/jobs/{job}/resume", headers=AUTH)
    client.post(f"/api/jobs/{job}/cancel", headers=AUTH)  # stop again quickly
    assert _wait(client, job)["state"] == "cancelled"
    names = [m["name"] for m in client.get("/api/models").json()]
    assert "trained/tiny" in names
    sample = _generate(client, model="trained/tiny", n=1)
    assert sample["state"] == "done", sample


def test_bad_training_requests(client):
    cases = [
        ({"kind": "image-vae", "data": "digits", "name": "Bad Name"}, "model name"),
        ({"kind": "image-vae", "data": "digits", "name": "x", "time_budget": "soon"}, "duration"),
        ({"kind": "nope", "data": "digits", "name": "x"}, "unknown model kind"),
    ]
    for body, words in cases:
        r = client.post("/api/train", json=body, headers=AUTH)
        assert r.status_code == 400 and words in r.json()["error"], r.text
    body = {"kind": "image-vae", "data": "folder:/etc", "name": "x", "steps": 5}
    job = client.post("/api/train", json=body, headers=AUTH).json()["job"]
    failed = _wait(client, job)
    assert failed["state"] == "failed" and "not a built-in data set" in failed["error"]


def test_text_to_image_training_takes_an_encoder_by_its_studio_name(client):
    """The Train page offers text-to-image's encoder (text-image-encoders only) and
    architecture on captioned data; a missing or wrong encoder is a one-line error naming
    its field, a path from the client is no name, and the recipe gets the server's folder."""
    kinds = {k["kind"]: k for k in client.get("/api/kinds").json()}
    fields = {f["name"]: f for f in kinds["text-to-image"]["train_fields"]}
    assert (fields["encoder"]["type"], fields["encoder"]["model_kind"]) == (
        "model",
        "text-image-encoder",
    )
    assert fields["arch"]["default"] == "latent-flow"
    assert fields["arch"]["choices"] == ["latent-flow", "flow", "gan"]
    assert kinds["text-image-encoder"]["train_fields"] == kinds["image-vae"]["train_fields"] == []
    # The page offers a kind the data sets of its modality: the captioned ones here.
    sets = client.get("/api/datasets").json()
    captioned = {d["name"] for d in sets if d["modality"] == "crossmodal"}
    assert {"captioned-shapes", "emoji", "clipart"} <= captioned
    assert kinds["text-to-image"]["modality"] == kinds["text-image-encoder"]["modality"]
    assert kinds["text-to-image"]["modality"] == "crossmodal"

    body = {"kind": "text-to-image", "data": "captioned-shapes", "name": "words", "steps": 1}
    encoder = str(MODELS / "shapes-encoder")
    cases = [
        ({}, "encoder", "choose one as 'Encoder'"),
        ({"encoder": ""}, "encoder", "choose one as 'Encoder'"),
        ({"encoder": "mnist-vae"}, "encoder", "'mnist-vae' is a image-vae, not a text-image-"),
        ({"encoder": encoder}, "encoder", "no model called"),
        ({"encoder": "shapes-encoder", "arch": "vae"}, "arch", "one of latent-flow, flow, gan"),
    ]
    for settings, setting, words in cases:
        r = client.post("/api/train", json={**body, "settings": settings}, headers=AUTH)
        assert r.status_code == 400 and r.json()["setting"] == setting, r.text
        assert words in r.json()["error"] and "\n" not in r.json()["error"], r.text
    other = {**body, "kind": "text-lm", "data": "tang300", "settings": {"arch": "gan"}}
    r = client.post("/api/train", json=other, headers=AUTH)
    assert r.status_code == 400 and "takes no setting(s) arch" in r.json()["error"]
    good = {**body, "settings": {"encoder": "shapes-encoder", "arch": "flow"}}
    assert client.post("/api/train", json=good).status_code == 401  # still needs the token
    assert client.get("/api/jobs").json() == []  # nothing was queued

    recipe = train_recipe(client.app.state.workspace, good)
    resolved = str((MODELS / "shapes-encoder").resolve())
    assert recipe.model == {"encoder": resolved, "arch": "flow"}
    assert (recipe.kind, recipe.data, recipe.run["steps"]) == ("text-to-image", body["data"], 1)


def _midi(notes: int = 8) -> bytes:
    import mido

    track = mido.MidiTrack([mido.Message("program_change", program=73)])
    for i in range(notes):
        track.append(mido.Message("note_on", note=60 + i % 12, velocity=80, time=0))
        track.append(mido.Message("note_off", note=60 + i % 12, velocity=0, time=240))
    buf = io.BytesIO()
    mido.MidiFile(tracks=[track]).save(file=buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("cut.mid", _midi()[:30], "corrupt MIDI"),
        ("tune.mid", b"RIFF not a midi file at all", "not a MIDI file"),
        ("song.musicxml", b"<score-partwise><part", "cannot be read"),
        ("notes.txt", b"C D E F G", "not a MIDI"),
    ],
)
def test_music_uploads_are_checked(client, name, data, words):
    r = client.post("/api/uploads/music", files={"file": (name, data, "audio/midi")}, headers=AUTH)
    assert r.status_code == 400, r.text
    assert name in r.json()["error"] and words in r.json()["error"]


def test_music_uploads_cap_midi_events_and_keep_good_files(client, monkeypatch):
    from museforge.studio import uploads

    monkeypatch.setattr(uploads, "MAX_MIDI_EVENTS", 40)
    files = {"file": ("long.mid", _midi(notes=30), "audio/midi")}
    r = client.post("/api/uploads/music", files=files, headers=AUTH)
    assert r.status_code == 400 and "long.mid" in r.json()["error"]
    assert "40 events" in r.json()["error"]
    files = {"file": ("short.mid", _midi(notes=8), "audio/midi")}
    ok = client.post("/api/uploads/music", files=files, headers=AUTH)
    assert ok.status_code == 200, ok.text
    ref = ok.json()["id"]
    assert ref.startswith("upload:")
    ws = client.app.state.workspace
    assert ws.music_path(ref).suffix == ".mid"
    with pytest.raises(api.InputError, match="no uploaded picture"):
        ws.picture_path(ref)  # a music upload is not a picture
    assert client.post("/api/uploads/music", files=files).status_code == 401


def test_music_artworks_serve_their_companions_and_roll_thumbnail(client):
    from museforge.music.corpus import read_music_file
    from museforge.music.result import MusicResult
    from museforge.studio.forms import coerce_args
    from museforge.studio.runners import _file_args

    ws = client.app.state.workspace
    path = ws.uploads_dir / "tune.mid"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_midi())
    piece = read_music_file(path).quantised()
    (art,) = ws.gallery.save(MusicResult(pieces=[("tune", piece, {"seed": 1})]), "tests")
    detail = client.get(f"/api/gallery/{art}").json()
    assert detail["modality"] == "music"
    assert detail["companions"] == ["audio", "roll", "score"]
    audio = client.get(f"/api/gallery/{art}/file?companion=audio")
    assert audio.headers["content-type"] == "audio/wav" and audio.content[:4] == b"RIFF"
    thumb = client.get(f"/api/gallery/{art}/thumb")
    assert thumb.headers["content-type"] == "image/png"
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= api_gallery.THUMB_PX
    # A music field takes the artwork's id (or an upload), never a path; coconet also
    # takes a Bach chorale of music21's corpus by name, and nothing else.
    args = coerce_args("chorale-coconet", "harmonise", {"melody": art})
    assert _file_args(ws, "chorale-coconet", "harmonise", args)["melody"] == str(
        ws.gallery.root / detail["path"]
    )
    args = coerce_args("chorale-coconet", "infill", {"chorale": "corpus:bwv66.6"})
    assert _file_args(ws, "chorale-coconet", "infill", args)["chorale"] == "bwv66.6"
    for bad in ("corpus:../../etc/passwd", "/etc/passwd", "corpus:bwv66.6; rm"):
        with pytest.raises(api.InputError):
            coerce_args("chorale-coconet", "harmonise", {"melody": bad})
    with pytest.raises(api.InputError, match="corpus"):
        coerce_args("melody-vae", "encode", {"melody": "corpus:bwv66.6"})
    picture = _generate(client, n=1, seed=8)["result"]["ids"][0]
    with pytest.raises(api.InputError, match="not music"):
        ws.music_path(picture)


def test_forms_come_from_the_declarations_and_errors_name_their_setting(client):
    kinds = {k["kind"]: k for k in client.get("/api/kinds").json()}
    poem = next(v for v in kinds["text-lm"]["verbs"] if v["verb"] == "poem")
    fields = {f["name"]: f for f in poem["fields"]}
    assert fields["tones"]["choices"] == ["off", "loose", "strict"]
    assert fields["title"]["applies"] == ["zh"] and fields["lines"]["applies"] == ["en"]
    assert "evaluate" not in {v["verb"] for v in kinds["text-lm"]["verbs"]}  # studio=False
    models = client.get("/api/models").json()
    variants = {m["name"]: m["variant"] for m in models}
    licences = {m["name"]: m["licence"] for m in models}
    # The data's licence: from the manifest, or the built-in set's for older models.
    assert "MNIST" in licences["mnist-gan"] and "MIT" in licences["shapes-encoder"]
    assert (variants["tang-poet"], variants["verse-poet"], variants["mnist-gan"]) == (
        "zh",
        "en",
        None,
    )
    r = client.post(
        "/api/generate",
        json={"model": "mnist-gan", "verb": "sample", "args": {"n": 0}},
        headers=AUTH,
    )
    assert r.status_code == 400
    assert r.json() == {"error": "n must be 1..100000 (got 0)", "setting": "n"}
    sets = client.get("/api/datasets").json()
    mnist = next(d for d in sets if d["name"] == "mnist5k")
    assert (mnist["modality"], mnist["role"]) == ("image", "training") and mnist["licence"]


def test_verse_marks_for_the_write_page(client):
    def marks(**body):
        return client.post("/api/verse/marks", json=body, headers=AUTH)

    half = marks(model="tang-poet", form="wujue", rhyme_book="pingshui", lines=["白日依山尽"])
    assert half.status_code == 200, half.text
    got = half.json()
    assert got["language"] == "zh" and got["rows"] == 4 and got["violations"] is None
    assert got["marks"][0] == "●●○○●  平水韵:上聲十一軫" and got["marks"][1:] == ["", "", ""]
    whole = ["白日依山尽", "黄河入海流", "欲穷千里目", "更上一层楼"]
    assert marks(model="tang-poet", form="wujue", lines=whole).json()["violations"] == []
    off = marks(model="tang-poet", form="wujue", lines=[*whole[:3], "更上一层山"]).json()
    assert any("rhyme" in p for p in off["violations"])
    en = marks(model="verse-poet", form="couplet", lines=["The day is long", "I walk alone"])
    assert en.json()["rows"] == 2
    assert "4/10 syllables" in en.json()["marks"][0]
    assert "no rhyme with 'long'" in en.json()["marks"][1]
    assert marks(model="mnist-gan", lines=[]).status_code == 400  # not a text model
    assert marks(model="tang-poet", form="sonnet", lines=[]).status_code == 400
    assert client.post("/api/verse/marks", json={"model": "tang-poet"}).status_code == 401


def test_pictures_serve_their_atlas_and_svg_and_keep_transparency(client):
    from museforge.core.artwork import Artwork
    from museforge.design.results import PictureFiles

    ws = client.app.state.workspace
    sheet = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    sheet.paste((255, 0, 0, 255), (2, 2, 6, 6))
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0h1v1z"/></svg>'
    files = {
        ".atlas.json": lambda name: json.dumps({"meta": {"image": name}}),
        ".svg": lambda _: svg,
    }
    result = PictureFiles([Artwork("sheet", sheet, {"verb": "sheet", "seed": 1})], files, "sheet")
    (art,) = ws.gallery.save(result, "tests")
    detail = client.get(f"/api/gallery/{art}").json()
    assert detail["companions"] == ["atlas", "svg"]
    atlas = client.get(f"/api/gallery/{art}/file?companion=atlas")
    assert atlas.headers["content-type"] == "application/json"
    assert atlas.json()["meta"]["image"] == detail["path"].split("/")[-1]
    outline = client.get(f"/api/gallery/{art}/file?companion=svg")
    assert outline.headers["content-type"].startswith("image/svg+xml")
    assert "default-src 'none'" in outline.headers["content-security-policy"]
    assert "attachment" in outline.headers["content-disposition"]
    thumb = Image.open(io.BytesIO(client.get(f"/api/gallery/{art}/thumb").content))
    assert thumb.mode == "RGBA" and thumb.getpixel((0, 0))[3] == 0  # still see-through
    assert client.get(f"/api/gallery/{art}/file?companion=evil").status_code == 422


def test_design_garment_prints_a_gallery_picture(client):
    from museforge.core.artwork import Artwork, Result

    ws = client.app.state.workspace
    picture = Image.new("RGB", (12, 8), (30, 90, 200))
    (art,) = ws.gallery.save(
        Result([Artwork("print", picture, {"verb": "sample", "seed": 3})]), "t"
    )
    body = {"picture": art, "garment": "dress", "repeat": 2, "tile_cm": 2.54, "dpi": 100}
    ids = client.post("/api/design/garment", json=body, headers=AUTH).json()["ids"]
    assert len(ids) == 2
    preview, tile = (client.get(f"/api/gallery/{i}").json() for i in ids)
    assert preview["provenance"]["args"]["garment"] == "dress"
    assert tile["provenance"]["part"] == "print tile"
    assert [p["file"] for p in preview["provenance"]["parents"]] == ["print.png"]
    tile_png = Image.open(io.BytesIO(client.get(f"/api/gallery/{ids[1]}/file").content))
    assert tile_png.width == 100 and round(tile_png.info["dpi"][0]) == 100
    bad = client.post("/api/design/garment", json={**body, "garment": "hat"}, headers=AUTH)
    assert bad.status_code == 400 and "hat" in bad.json()["error"]
    assert (
        client.post("/api/design/garment", json={**body, "dpi": 5}, headers=AUTH).status_code == 422
    )
    assert client.post(
        "/api/design/garment", json={**body, "picture": "nope"}, headers=AUTH
    ).status_code in (
        400,
        404,
    )
    assert client.post("/api/design/garment", json=body).status_code == 401  # no token
