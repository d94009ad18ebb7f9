"""A hostile environment (issue #27): a full disk, a read-only gallery, two writers at once,
a model folder replaced under the studio, and files from strangers in the gallery."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import shutil
import threading
from pathlib import Path

import pytest
import torch
from PIL import Image

from museforge.core.artifact import load_artifact, save_artifact
from museforge.core.artwork import Result
from museforge.core.atomic import atomic_directory, atomic_write_with
from museforge.core.registry import call_verb
from museforge.errors import ArtifactError, InputError, StorageError
from museforge.gallery.provenance import save_png
from museforge.gallery.store import Gallery, artwork_id
from museforge.image.vae import VAE, VAEConfig
from museforge.studio.workspace import Workspace
from tests.gallery.test_store import drop_index, image_art, listing, poem_art, save
from tests.test_cli import assert_one_line_error, huge_png, run

MODELS = Path(__file__).resolve().parents[2] / "models"
TINY = VAEConfig(image_size=8, z_dim=2, width=4)


def full_disk(*_: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def assert_index_equals_files(gallery: Gallery) -> None:
    """The live index lists what a reindex of the files lists, and so does a new index."""
    before = listing(gallery)
    gallery.reindex()
    assert listing(gallery) == before
    drop_index(gallery)
    assert fresh_listing(gallery.root) == before


def fresh_listing(root: Path) -> list[tuple]:
    """What a gallery opened anew on ``root`` lists once it has synced with the files."""
    fresh = Gallery(root)
    try:
        fresh.sync()
        return listing(fresh)
    finally:
        fresh.close()


def hidden_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*") if ".museforge" not in p.parts)


def tiny_vae(folder: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    return save_artifact(folder, "image-vae", TINY, VAE(TINY).state_dict())


# --- a full disk ---------------------------------------------------------------------------
def test_a_full_disk_mid_picture_leaves_no_part_and_the_index_equals_the_files(
    gallery, monkeypatch
):
    save(gallery, "set", image_art("a", 1, created=1.0))
    real_save = Image.Image.save
    calls = []

    def half_then_full(self, fp, *args, **kwargs):
        calls.append(Path(fp).name)
        if len(calls) == 2:  # the second picture: some bytes reach the disk, then none
            Path(fp).write_bytes(b"\x89PNG\r\n\x1a\n half a picture")
            full_disk()
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", half_then_full)
    arts = [image_art(n, k, created=2.0 + k) for k, n in enumerate(["a", "b", "c"])]
    with pytest.raises(StorageError) as info:
        save(gallery, "set", *arts)
    message = str(info.value)
    assert "\n" not in message and "no space left on the device" in message
    assert message.endswith("b-v2.png'")  # names the file, as the user will look for it
    monkeypatch.undo()
    folder = gallery.root / "set"
    assert sorted(p.name for p in folder.iterdir()) == ["a-v2.png", "a.png"]
    assert hidden_files(gallery.root) == []  # no temporary file left
    # What was written before the disk filled up is whole and indexed; nothing else is.
    assert sorted(r.path for r in gallery.list()) == ["set/a-v2.png", "set/a.png"]
    assert_index_equals_files(gallery)


def test_a_full_disk_while_marking_keeps_the_old_marks(gallery, monkeypatch):
    [art] = save(gallery, "set", image_art("a", 1, created=1.0))
    gallery.rate(art, stars=3)
    gallery.tag(art, add=["kept"])
    side = gallery.root / "set" / "a.png.user.json"
    old = side.read_bytes()

    def half_then_full(self, data):
        with open(self, "wb") as f:
            f.write(data[: len(data) // 2])
        full_disk()

    monkeypatch.setattr(Path, "write_bytes", half_then_full)
    with pytest.raises(StorageError, match=r"no space left on the device while writing .*user"):
        gallery.rate(art, stars=5)
    monkeypatch.undo()
    assert side.read_bytes() == old
    assert (gallery.get(art).stars, gallery.get(art).tags) == (3, ["kept"])
    assert hidden_files(gallery.root) == []
    assert_index_equals_files(gallery)


def test_a_full_disk_mid_poem_leaves_no_lonely_sidecar(gallery, monkeypatch):
    real = Path.write_bytes

    def poem_fails(self, data):
        if self.name.endswith(".txt"):  # the poem itself, after its sidecar
            full_disk()
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", poem_fails)
    with pytest.raises(StorageError, match=r"moon\.txt'"):
        save(gallery, "poems", poem_art("moon", "床前明月光"))
    monkeypatch.undo()
    assert list((gallery.root / "poems").iterdir()) == []
    assert gallery.list() == []


def test_a_full_disk_in_the_cli_is_one_line(tmp_path, monkeypatch, capsys):
    root = tmp_path / "gallery"
    g = Gallery(root)
    [art] = save(g, "set", image_art("a", 1))
    g.close()
    monkeypatch.setenv("MUSEFORGE_GALLERY", str(root))
    monkeypatch.setattr(Path, "write_bytes", full_disk)
    code, _, err = run(monkeypatch, capsys, "gallery", "rate", art, "--stars", "2")
    assert_one_line_error(code, err, "no space left on the device", "a.png.user.json")


def test_atomic_writes_keep_the_old_file_on_any_failure(tmp_path):
    target = tmp_path / "model.json"
    target.write_text("old")

    def half(tmp: Path) -> None:
        tmp.write_text("ne")
        full_disk()

    with pytest.raises(StorageError, match="no space left on the device while writing"):
        atomic_write_with(target, half)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_atomic_files_get_the_umask_mode_and_reach_the_disk_before_the_rename(
    tmp_path, monkeypatch
):
    events = []
    real_replace = os.replace
    monkeypatch.setattr(
        os, "fsync", lambda fd: events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
    )
    monkeypatch.setattr(
        os, "replace", lambda a, b: events.append(("replace", str(b))) or real_replace(a, b)
    )
    old_umask = os.umask(0o022)
    try:
        atomic_write_with(tmp_path / "a.png", lambda tmp: tmp.write_bytes(b"x"))
        with atomic_directory(tmp_path / "set") as folder:
            (folder / "one.txt").write_text("1")
    finally:
        os.umask(old_umask)
    assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0o600
    assert (tmp_path / "set").stat().st_mode & 0o777 == 0o755
    kinds = [kind for kind, _ in events]
    first = kinds.index("replace")
    assert kinds[:first] == ["fsync"] and ".a." in events[0][1]  # the file, then its name
    assert events[first + 1] == ("fsync", str(tmp_path))  # then the folder's entry
    synced = [p for kind, p in events if kind == "fsync"]
    assert any(p.endswith("one.txt") for p in synced)


def test_a_directory_that_cannot_be_swapped_in_leaves_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "dataset"
    target.mkdir()
    (target / "old.txt").write_text("old")
    real = os.replace

    def refuse_new(src, dst):
        if Path(dst) == target and Path(src).suffix == ".tmp":
            raise OSError(errno.EIO, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", refuse_new)
    with pytest.raises(StorageError, match="could not write"), atomic_directory(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["dataset"]  # no .old or .tmp left


# --- a read-only gallery -------------------------------------------------------------------
@pytest.fixture
def read_only(tmp_path, monkeypatch):
    """A gallery of two artworks and marks, then made read-only the way a read-only mount
    or another user's folder is: nothing under it can be created (we may run as root,
    whom chmod does not stop, so the system calls that create are refused instead)."""
    root = tmp_path / "gallery"
    g = Gallery(root)
    [fox] = save(g, "gan", image_art("fox", 1, created=1000.0))
    save(g, "poet", poem_art("moon", "床前明月光", created=2000.0))
    g.rate(fox, stars=4)
    expected = listing(g)
    g.close()
    real_open, real_mkdir, real_access = os.open, os.mkdir, os.access

    def under(path) -> bool:
        return Path(os.fsdecode(path)).absolute().is_relative_to(root.absolute())

    def refuse_open(path, flags, *args, **kwargs):
        if flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR) and under(path):
            raise OSError(errno.EROFS, "Read-only file system", os.fsdecode(path))
        return real_open(path, flags, *args, **kwargs)

    def refuse_mkdir(path, *args, **kwargs):
        if under(path):
            raise OSError(errno.EROFS, "Read-only file system", os.fsdecode(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse_open)
    monkeypatch.setattr(os, "mkdir", refuse_mkdir)
    monkeypatch.setattr(
        os,
        "access",
        lambda p, mode, **kw: not (mode & os.W_OK and under(p)) and real_access(p, mode),
    )
    return root, fox, expected


def test_a_read_only_gallery_lists_and_reads_but_refuses_writes_in_one_line(read_only):
    root, fox, expected = read_only
    index_before = (root / ".museforge" / "index.sqlite").read_bytes()
    g = Gallery(root)
    try:
        assert g.index.in_memory
        assert listing(g) == expected  # from the files alone
        assert g.file_path(fox).read_bytes()[:4] == b"\x89PNG"
        with pytest.raises(StorageError) as info:
            save(g, "gan", image_art("new", 9))
        assert str(info.value) == (
            f"cannot write '{root / 'gan' / 'new.png'}': the folder '{root / 'gan'}' is read-only"
        )
        with pytest.raises(StorageError, match=f"the folder '{root / 'gan'}' is read-only"):
            g.rate(fox, stars=1)
        assert listing(g) == expected
    finally:
        g.close()
    assert (root / ".museforge" / "index.sqlite").read_bytes() == index_before


def test_a_read_only_gallery_in_the_cli(read_only, monkeypatch, capsys):
    root, fox, _ = read_only
    monkeypatch.setenv("MUSEFORGE_GALLERY", str(root))
    code, out, err = run(monkeypatch, capsys, "gallery", "list", "--json")
    assert code == 0, err
    assert [r["id"] for r in json.loads(out)] == [artwork_id("poet/moon.txt"), fox]
    code, _, err = run(monkeypatch, capsys, "gallery", "tag", fox, "mine")
    assert_one_line_error(code, err, "is read-only", "fox.png.user.json")


@pytest.mark.skipif(os.geteuid() == 0, reason="chmod does not stop root")
def test_a_chmod_read_only_gallery(tmp_path):
    root = tmp_path / "gallery"
    g = Gallery(root)
    save(g, "gan", image_art("fox", 1, created=1000.0))
    expected = listing(g)
    g.close()
    folders = [p for p in root.rglob("*") if p.is_dir()] + [root]
    for folder in folders:
        folder.chmod(0o555)
    try:
        g = Gallery(root)
        try:
            assert listing(g) == expected
            with pytest.raises(StorageError, match="no permission to write in the folder"):
                save(g, "gan", image_art("new", 9))
        finally:
            g.close()
    finally:
        for folder in folders:
            folder.chmod(0o755)


def test_a_damaged_index_file_is_rebuilt_from_the_files(gallery):
    save(gallery, "set", image_art("a", 1, created=1.0), image_art("b", 2, created=2.0))
    gallery.tag(gallery.list()[0].id, add=["x"])
    expected = listing(gallery)
    drop_index(gallery)
    (gallery.root / ".museforge" / "index.sqlite").write_bytes(b"not a database at all" * 100)
    assert fresh_listing(gallery.root) == expected


def test_a_reindex_is_one_transaction_readers_see_the_old_index(gallery, monkeypatch):
    save(gallery, "set", *[image_art(f"a{k}", k, created=float(k)) for k in range(3)])
    reader = Gallery(gallery.root)  # another process's connection
    seen = []
    real = gallery.index.upsert

    def upsert_and_look(*args):
        seen.append(reader.count())  # mid-way through the rebuild
        return real(*args)

    monkeypatch.setattr(gallery.index, "upsert", upsert_and_look)
    try:
        assert gallery.reindex() == 3
        assert seen == [3, 3, 3]  # never an empty or half-built index
        assert reader.count() == 3
    finally:
        reader.close()


# --- two writers at once -------------------------------------------------------------------
WRITERS, ROUNDS = 2, 10


def _writer(root: str, who: int, start) -> None:
    """A process saving pictures under the same names as the other writer, and tagging the
    same artwork: the CLI and the studio on one gallery."""
    g = Gallery(root)
    start.wait()
    for i in range(ROUNDS):
        arts = [image_art(n, who * 100 + i, writer=who, round=i, part=n) for n in ("a", "b")]
        g.save(Result(arts), "same")
        g.tag(artwork_id("same/a.png"), add=[f"w{who}-{i}"])
    g.close()


def test_two_processes_saving_the_same_names_lose_nothing(gallery):
    save(gallery, "same", image_art("a", 0, writer=-1, round=-1, part="a"))
    context = multiprocessing.get_context("fork")
    start = context.Barrier(WRITERS)
    procs = [
        context.Process(target=_writer, args=(str(gallery.root), w, start)) for w in range(WRITERS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * WRITERS
    gallery.sync()
    pictures = sorted((gallery.root / "same").glob("*.png"))
    made = [(w, i, n) for w in range(WRITERS) for i in range(ROUNDS) for n in ("a", "b")]
    found = []
    for path in pictures:
        prov = json.loads(Image.open(path).text["museforge"])
        found.append((prov["writer"], prov["round"], prov["part"]))
    assert sorted(found) == sorted([(-1, -1, "a"), *made])  # nothing overwritten
    records = gallery.list(limit=1000)
    assert sorted(r.path for r in records) == sorted(f"same/{p.name}" for p in pictures)
    assert len({r.id for r in records}) == len(records) == len(made) + 1  # each indexed once
    tags = gallery.get(artwork_id("same/a.png")).tags  # no lost update of the marks file
    assert tags == sorted(f"w{w}-{i}" for w in range(WRITERS) for i in range(ROUNDS))
    assert_index_equals_files(gallery)


# --- a model folder replaced while the studio runs ----------------------------------------
def _weights(loaded) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in loaded.model.state_dict().items()}


def _same_times(new: Path, old_times: dict[str, tuple[int, int]]) -> None:
    for name, (atime, mtime) in old_times.items():
        os.utime(new / name, ns=(atime, mtime))


def _replace_folder(folder: Path, fill) -> None:
    """Replace ``folder`` the way a copy tool does (new files, old times kept)."""
    times = {p.name: (p.stat().st_atime_ns, p.stat().st_mtime_ns) for p in folder.iterdir()}
    staged = folder.with_name(folder.name + ".new")
    fill(staged)
    _same_times(staged, times)
    shutil.rmtree(folder)
    staged.rename(folder)


def test_a_replaced_model_is_loaded_afresh_and_a_broken_one_is_one_line(tmp_path):
    models = tmp_path / "models"
    tiny_vae(models / "m", seed=0)
    ws = Workspace.at(tmp_path / "gallery", models)
    try:
        first = _weights(ws.load_model("m"))
        _replace_folder(models / "m", lambda new: tiny_vae(new, seed=1))
        second = _weights(ws.load_model("m"))
        assert any(not torch.equal(first[k], second[k]) for k in first)
        assert second.keys() == _weights(load_artifact(models / "m")).keys()
        # Removed between the loader's look and its read: one line, not a FileNotFoundError.
        real_open = Path.open

        def vanished(path: Path, *args, **kwargs):
            if path.name == "model.safetensors":
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
            return real_open(path, *args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Path, "open", vanished)
            patch.setattr(Path, "read_bytes", lambda path: vanished(path, "rb").read())
            with pytest.raises(ArtifactError, match=r"model\.safetensors|changed while"):
                ws.load_model("m")
        # Half replaced: the new manifest beside the old weights.
        tiny_vae(tmp_path / "other", seed=2)
        shutil.copy(tmp_path / "other" / "model.json", models / "m" / "model.json")
        with pytest.raises(ArtifactError, match="sha256") as info:
            ws.load_model("m")
        assert "\n" not in str(info.value)
        (models / "m" / "model.safetensors").unlink()
        with pytest.raises(ArtifactError, match=r"has no model\.safetensors"):
            ws.load_model("m")
        shutil.rmtree(models / "m")
        with pytest.raises(InputError, match="no model called 'm'"):
            ws.load_model("m")
    finally:
        ws.gallery.close()


def test_a_replaced_encoder_is_not_served_from_the_cache(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(MODELS / "shapes-encoder", models / "shapes-encoder")
    ws = Workspace.at(tmp_path / "gallery", models)
    try:
        first = ws.embedder("shapes-encoder")
        assert ws.embedder("shapes-encoder") is first  # loaded once while unchanged
        words = first.texts(["a red circle"])

        def retrained(new: Path) -> None:
            shutil.copytree(models / "shapes-encoder", new)
            loaded = load_artifact(new)
            state = {
                k: v * 1.5 if v.is_floating_point() else v for k, v in _weights(loaded).items()
            }
            config = type(loaded.model.cfg)(**loaded.manifest["config"])
            save_artifact(new, loaded.kind, config, state, loaded.manifest["recipe"])

        _replace_folder(models / "shapes-encoder", retrained)
        second = ws.embedder("shapes-encoder")
        assert second is not first and second.key != first.key
        assert not torch.allclose(second.texts(["a red circle"]), words)
    finally:
        ws.gallery.close()


# --- strangers' files in the gallery ----------------------------------------------------------
def _stranger(folder: Path, name: str, **prov: object) -> Path:
    path = folder / f"{name}.png"
    save_png(path, Image.new("RGB", (4, 4), (9, 9, 9)), {"verb": "sample", **prov})
    return path


def test_strangers_files_are_skipped_with_a_reason_and_the_rest_indexed(gallery, tmp_path):
    folder = gallery.root / "strange"
    folder.mkdir()
    good = _stranger(folder, "good", seed=10**30, created=5.0)  # a seed SQLite cannot hold
    (folder / "good.png.user.json").write_text(json.dumps({"stars": 9, "tags": 5}))
    marks = _stranger(folder, "marks", created=6.0)
    (folder / "marks.png.user.json").write_text(json.dumps({"tags": ["ok", 3, "x" * 99]}))
    _stranger(folder, "when", created="yesterday")
    _stranger(folder, "nan", created=float("nan"))
    _stranger(folder, "parents", parents=5)
    _stranger(folder, "parent-hash", parents=[{"file": "a.png", "sha256": [1, 2]}])
    _stranger(folder, "remix-hash", remix_of={"id": "x", "sha256": {"a": 1}})
    _stranger(folder, "styles", lineage={"styles": 3})
    _stranger(folder, "verb", verb=["sample"])
    _stranger(folder, "surrogate", prompt="\ud800")
    huge_png(folder / "bomb.png")
    outside = _stranger(tmp_path, "elsewhere", created=7.0)
    (folder / "link.png").symlink_to(outside)
    raw = os.fsencode(folder) + b"/bad-\xff-name.png"
    with open(raw, "wb") as f:
        f.write(good.read_bytes())
    (folder / "half.txt").write_text("a poem without its sidecar")

    counts = gallery.sync()
    assert counts == {"indexed": 2, "removed": 0, "skipped": 10}
    assert gallery.skipped == {
        "strange/when.png": "its provenance's 'created' is not a number",
        "strange/nan.png": "its provenance's 'created' is not a number",
        "strange/parents.png": "its provenance's 'parents' is not a list",
        "strange/parent-hash.png": "its provenance's parent's sha256 is not text",
        "strange/remix-hash.png": "its provenance's parent's sha256 is not text",
        "strange/styles.png": "its provenance's 'lineage.styles' is not a list",
        "strange/verb.png": "its provenance's 'verb' is not text",
        "strange/surrogate.png": "its provenance holds text that is not valid Unicode",
        "strange/link.png": "a symbolic link (the gallery indexes files, not links to them)",
        os.fsdecode(raw).removeprefix(f"{gallery.root}/"): "its name is not valid Unicode",
    }
    records = {r.path: r for r in gallery.list()}
    assert sorted(records) == ["strange/good.png", "strange/marks.png"]
    assert (records["strange/good.png"].seed, records["strange/good.png"].stars) == (None, None)
    assert records["strange/marks.png"].tags == ["ok"]  # bad marks dropped, not the artwork
    assert gallery.add(marks) == artwork_id("strange/marks.png")
    with pytest.raises(InputError, match="not inside the gallery folder"):
        gallery.add(outside)
    assert gallery.reindex() == 2 and len(gallery.skipped) == 10
    assert_index_equals_files(gallery)


# --- remix of a stranger's artwork ----------------------------------------------------------
@pytest.fixture
def remix_setup(tmp_path, monkeypatch):
    """A tiny VAE, a gallery holding one of its samples and a picture, found by the CLI."""
    model = tiny_vae(tmp_path / "models" / "vae", seed=0)
    root = tmp_path / "gallery"
    monkeypatch.setenv("MUSEFORGE_GALLERY", str(root))
    g = Gallery(root)
    [sample] = g.save(call_verb(load_artifact(model), "sample", n=1, seed=4), "vae")
    g.close()
    return model, root, sample


def _claims(root: Path, name: str, model: Path, verb: str, args: dict) -> str:
    """A picture whose provenance records a call of ``model``'s ``verb`` with ``args``."""
    path = root / "strangers" / f"{name}.png"
    prov = {**load_artifact(model).provenance(verb), "args": args}
    save_png(path, Image.new("RGB", (8, 8)), prov)
    g = Gallery(root)
    try:
        return g.add(path)
    finally:
        g.close()


def test_remix_refuses_a_model_that_is_not_the_one_recorded(remix_setup, monkeypatch, capsys):
    model, root, sample = remix_setup
    tiny_vae(model, seed=1)  # the folder now holds another model
    code, _, err = run(monkeypatch, capsys, "gallery", "remix", sample, "--run")
    assert_one_line_error(code, err, "is not the one that made artwork", sample)
    assert len(list((root / "vae").glob("*.png"))) == 2  # the sample and its grid, no more


def test_remix_refuses_input_files_outside_the_gallery(remix_setup, monkeypatch, capsys, tmp_path):
    model, root, _ = remix_setup
    secret = tmp_path / "secret.png"
    Image.new("L", (8, 8), 200).save(secret)
    nosy = _claims(root, "nosy", model, "reconstruct", {"images": [str(secret)]})
    code, _, err = run(monkeypatch, capsys, "gallery", "remix", nosy, "--run")
    assert_one_line_error(code, err, f"names '{secret}', outside the gallery")
    sneaky = _claims(root, "sneaky", model, "reconstruct", {"images": [f"{root}/../secret.png"]})
    code, _, err = run(monkeypatch, capsys, "gallery", "remix", sneaky, "--run")
    assert_one_line_error(code, err, "outside the gallery")
    assert not list((root / "strangers").glob("recon-*"))
    # A picture inside the gallery is read: the remix runs.
    inside = root / "vae" / "sample-s4-0000.png"
    fair = _claims(root, "fair", model, "reconstruct", {"images": [str(inside)]})
    code, out, err = run(monkeypatch, capsys, "gallery", "remix", fair, "--run")
    assert code == 0, err
    assert "wrote 1 artworks" in out
    assert (root / "strangers" / "recon-sample-s4-0000.png").is_file()


def test_the_gallery_lock_makes_another_writer_wait(gallery):
    other = Gallery(gallery.root)  # its own handle on the lock file, as another process has
    done = threading.Event()

    def write() -> None:
        save(other, "x", image_art("a", 2))
        done.set()

    try:
        with gallery.exclusive(), gallery.exclusive():  # re-entrant in one thread
            writer = threading.Thread(target=write)
            writer.start()
            assert not done.wait(0.5)  # held off while the lock is held
            save(gallery, "x", image_art("a", 1))
        writer.join(timeout=30)
        assert done.is_set()
    finally:
        other.close()
    gallery.sync()
    assert sorted(r.path for r in gallery.list()) == ["x/a-v2.png", "x/a.png"]
