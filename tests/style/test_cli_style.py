"""The style commands as a user meets them: files with lineage, one-line errors."""

import json

from PIL import Image, ImageSequence

from museforge.gallery.provenance import read_png_provenance
from tests.test_cli import assert_one_line_error, run

TINY = ("--size", "40", "--steps", "3", "--features", "random:4", "--quiet")


def test_style_writes_a_png_whose_provenance_names_every_parent(monkeypatch, capsys, tmp_path):
    mask = tmp_path / "mask.png"
    Image.new("L", (60, 40), 255).save(mask)
    target = tmp_path / "out.png"
    code, out, err = run(
        monkeypatch,
        capsys,
        "style",
        "chelsea",
        "pattern-dots",
        "cells",
        "--weights",
        "0.7,0.3",
        "--mask",
        mask,
        "--preserve-colour",
        "--out",
        target,
        *TINY,
    )
    assert code == 0, err
    assert f"wrote {target}" in out
    with Image.open(target) as img:
        assert img.size == (40, 27)  # chelsea is 451×300: the long side becomes 40
    prov = read_png_provenance(target)
    lineage = prov["lineage"]
    assert lineage["content"]["source"] == "chelsea"
    assert [s["source"] for s in lineage["styles"]] == ["pattern-dots", "cells"]
    assert [s["weight"] for s in lineage["styles"]] == [0.7, 0.3]
    assert lineage["mask"]["source"] == str(mask)
    assert prov["settings"]["preserve_colour"] is True and prov["settings"]["steps"] == 3
    assert len(lineage["content"]["fingerprint"]) == 16
    json.dumps(prov)  # plain JSON all the way down


def test_texture_tileable_rounds_the_size_and_records_it(monkeypatch, capsys, tmp_path):
    target = tmp_path / "tile.png"
    code, _, err = run(
        monkeypatch, capsys, "texture", "brick", "--tileable", "--out", target, *TINY
    )
    assert code == 0, err
    with Image.open(target) as img:
        assert img.size == (32, 32)
    prov = read_png_provenance(target)
    assert prov["settings"]["tileable"] is True and prov["settings"]["size"] == 32
    assert prov["lineage"]["style"]["source"] == "brick"


def test_bad_style_inputs_are_one_line_errors_and_write_nothing(monkeypatch, capsys, tmp_path):
    target = tmp_path / "out.png"
    cases = [
        (("style", tmp_path / "absent.jpg", "brick"), "neither an image file nor a built-in"),
        (("style", "chelsea", "brick", "--weights", "1,2"), "2 values for 1 style"),
        (("style", "chelsea", "brick", "--weights", "a"), "must be numbers"),
        (("style", "chelsea", "brick", "--features", "vgg19:" + str(tmp_path / "v.st")), "exist"),
        (("texture", "brick", "--size", "8"), "size must be 32"),
    ]
    for args, needle in cases:
        code, _, err = run(monkeypatch, capsys, *args, "--out", target, "--quiet")
        assert_one_line_error(code, err, needle)
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    code, _, err = run(monkeypatch, capsys, "style", "chelsea", corrupt, "--out", target)
    assert_one_line_error(code, err, "broken.png")
    code, _, err = run(monkeypatch, capsys, "texture", "brick", "--out", tmp_path / "t.jpg", *TINY)
    assert_one_line_error(code, err, "must be a .png")
    assert not target.exists() and not (tmp_path / "t.jpg").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_style_fast_refuses_a_model_of_another_kind(monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "style-fast", "mnist-gan", "chelsea")
    assert_one_line_error(code, err, "style-net models")


def test_style_fast_with_an_any_style_model_takes_any_style(
    monkeypatch, capsys, tmp_path, learned_features
):
    from museforge.core.artifact import save_artifact
    from museforge.nn.features import random_feature_net
    from museforge.style.anystyle import AnyStyleConfig, AnyStyleNet

    cfg = AnyStyleConfig(width=4, decoder_width=4)
    net = AnyStyleNet(cfg)
    net.encoder.load_state_dict(random_feature_net(4).state_dict())
    model = save_artifact(tmp_path / "any", "style-any", cfg, net.state_dict())
    out_dir = tmp_path / "out"
    args = ("style-fast", model, "chelsea", "--style", "pattern-dots", "--style", "brick")
    code, _, err = run(
        monkeypatch, capsys, *args, "--weights", "0.8,0.2", "--size", "48", "--out", out_dir
    )
    assert code == 0, err
    [written] = list(out_dir.glob("*.png"))
    with Image.open(written) as img:
        assert img.size == (48, 32)
    lineage = read_png_provenance(written)["lineage"]
    assert [s["source"] for s in lineage["styles"]] == ["pattern-dots", "brick"]
    assert [s["weight"] for s in lineage["styles"]] == [0.8, 0.2]
    code, _, err = run(monkeypatch, capsys, *args, "--weights", "1", "--out", out_dir)
    assert_one_line_error(code, err, "one non-negative weight per style picture (2)")
    code, _, err = run(monkeypatch, capsys, "style-fast", model, "chelsea", "--out", out_dir)
    assert_one_line_error(code, err, "style")


def test_style_fast_stylises_a_video_at_its_own_pace(monkeypatch, capsys, tmp_path):
    import av

    from museforge.core.artifact import save_artifact
    from museforge.nn.features import random_feature_net
    from museforge.style.anystyle import AnyStyleConfig, AnyStyleNet

    cfg = AnyStyleConfig(width=4, decoder_width=4)
    net = AnyStyleNet(cfg)
    net.encoder.load_state_dict(random_feature_net(4).state_dict())
    model = save_artifact(tmp_path / "any", "style-any", cfg, net.state_dict())
    clip = tmp_path / "clip.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("mpeg4", rate=20)  # 50 ms a frame
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        for i in range(4):
            picture = Image.new("RGB", (48, 32), (60 * i, 120, 90))
            for packet in stream.encode(av.VideoFrame.from_image(picture)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    out_dir = tmp_path / "out"
    code, out, err = run(
        monkeypatch, capsys, "style-fast", model, clip, "--style", "brick", "--out", out_dir
    )
    assert code == 0, err
    assert "4 frames; followed along the motion" in out
    [gif] = list(out_dir.glob("*.gif"))
    with Image.open(gif) as img:  # Pillow merges identical frames, adding their durations
        shown = [frame.info["duration"] for frame in ImageSequence.Iterator(img)]
    assert sum(shown) == 4 * 50 and min(shown) >= 50
    assert len(list(out_dir.glob("*.png"))) == 4
