"""Your captioned folders: imagefolder metadata or side-by-side text files; bad lines said."""

import json

import pytest
from PIL import Image

from museforge.core.data import get_dataset
from museforge.crossmodal.data import load_captioned
from museforge.crossmodal.folders import captioned_folder, language_of
from museforge.errors import DataError


def picture(path, colour="red", size=(40, 20)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def test_jsonl_metadata_with_bad_lines_reported_by_number(tmp_path):
    picture(tmp_path / "a.png")
    picture(tmp_path / "sub" / "b.png", "blue")
    picture(tmp_path / "c.png")  # no caption
    lines = [
        json.dumps({"file_name": "a.png", "text": "a red box"}),
        "{not json",
        json.dumps({"file_name": "sub/b.png", "text": "一个蓝色的盒子"}),
        json.dumps({"file_name": "gone.png", "text": "missing"}),
        json.dumps({"file_name": "../x.png", "text": "outside"}),
        json.dumps({"file_name": "c.png"}),
    ]
    (tmp_path / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    data = captioned_folder(tmp_path, image_size=16)
    assert data.captions == ({"en": "a red box"}, {"zh": "一个蓝色的盒子"})
    assert data.images.shape == (2, 3, 16, 16)
    said = " | ".join(data.skipped)
    for needle in (
        "line 2: not JSON",
        "line 4: no file 'gone.png'",
        "line 5: '../x.png' is outside",
        "line 6: no text",
        "1 picture(s) without a caption",
    ):
        assert needle in said
    # Padded, not cropped: the wide red picture keeps white bands above and below.
    top = (data.images[0, :, 0, 8] + 1) / 2
    assert top.min() > 0.95


def test_csv_metadata_and_side_text_files(tmp_path):
    csv_dir, pairs = tmp_path / "csv", tmp_path / "pairs"
    picture(csv_dir / "x.png")
    (csv_dir / "metadata.csv").write_text('file_name,text\nx.png,"a red, wide box"\n,orphan\n')
    data = captioned_folder(csv_dir, image_size=8)
    assert data.captions == ({"en": "a red, wide box"},)
    assert any("line 3: no file_name" in s for s in data.skipped)
    picture(pairs / "cat.png")
    (pairs / "cat.txt").write_text("a cat\n")
    picture(pairs / "dog.png")
    assert captioned_folder(pairs, image_size=8).captions == ({"en": "a cat"},)


def test_no_captions_and_bad_headers_are_one_line_errors(tmp_path):
    picture(tmp_path / "a.png")
    with pytest.raises(DataError, match=r"has no captions: give metadata\.jsonl"):
        captioned_folder(tmp_path)
    (tmp_path / "metadata.csv").write_text("name,caption\na.png,x\n")
    with pytest.raises(DataError, match="header row with file_name and text"):
        captioned_folder(tmp_path)


def test_sources_resolve_through_the_registry(tmp_path):
    picture(tmp_path / "a.png")
    (tmp_path / "a.txt").write_text("a red box")
    assert len(load_captioned(f"folder:{tmp_path}", image_size=8)) == 1
    shapes = get_dataset("captioned-shapes", "crossmodal")
    assert shapes.loader(image_size=8, n=4).languages == ("en", "zh")
    with pytest.raises(DataError, match="unknown crossmodal data set 'emojis'"):
        load_captioned("emojis")


def test_language_is_told_by_the_script():
    assert (language_of("春风又绿江南岸"), language_of("spring wind")) == ("zh", "en")


def test_csv_fields_past_the_csv_limit_and_oversized_captions_are_one_line_errors(tmp_path):
    picture(tmp_path / "a.png")
    long = "x" * 200_000  # csv refuses fields over 128 KiB; that must not escape as csv.Error
    (tmp_path / "metadata.csv").write_text(f"file_name,text\na.png,{long}\n")
    with pytest.raises(DataError, match=r"metadata.csv' is not valid CSV \(line \d+: field"):
        captioned_folder(tmp_path, image_size=16)
    (tmp_path / "metadata.csv").unlink()
    (tmp_path / "a.txt").write_text("y" * 1_000_001)  # a caption file far past any caption
    with pytest.raises(DataError, match=r"has no captions.*a.txt: not UTF-8 text \(larger"):
        captioned_folder(tmp_path, image_size=16)
