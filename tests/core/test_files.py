from pathlib import Path, PurePosixPath

from museforge.core.files import is_junk, list_files


def make(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_files_come_sorted_by_parts_filtered_by_suffix(tmp_path):
    make(tmp_path, "b.PNG", "a/z.png", "a/y.txt", "a-b.png", "c.jpg")
    skipped: list[str] = []
    found = list_files(tmp_path, skipped, {".png", ".jpg"})
    # By parts, 'a' (a folder) sorts before 'a-b.png'; a plain string sort would not.
    assert [p.as_posix() for p in found] == ["a/z.png", "a-b.png", "b.PNG", "c.jpg"]
    assert skipped == []
    everything = list_files(tmp_path, skipped)
    assert "a/y.txt" in [p.as_posix() for p in everything]


def test_hidden_files_and_macos_forks_are_left_out(tmp_path):
    make(
        tmp_path, "photo.png", "._photo.png", ".cache/x.png", "__MACOSX/._photo.png", "ok/.DS_Store"
    )
    assert [p.as_posix() for p in list_files(tmp_path, [])] == ["photo.png"]
    assert is_junk(PurePosixPath("__MACOSX/a.png")) and not is_junk(PurePosixPath("a/b.png"))
