"""Moving pictures: reading animations, stylising their frames steadily, flicker."""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch
from PIL import Image

from museforge.errors import InputError
from museforge.nn.features import random_feature_net
from museforge.style.anystyle import AnyStyleConfig, AnyStyleNet
from museforge.style.moving import flicker, is_animation, read_frames, stylise_frames


def _net() -> AnyStyleNet:
    torch.manual_seed(0)
    net = AnyStyleNet(AnyStyleConfig(width=4, decoder_width=4)).eval()
    net.encoder.load_state_dict(random_feature_net(4).state_dict())
    for module in net.decoder.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight)
    return net


def _moving_square(n: int = 6, side: int = 32) -> list[torch.Tensor]:
    """A dark ground with a bright square that moves one pixel a frame."""
    frames = []
    for i in range(n):
        x = torch.full((1, 3, side, side), 0.2)
        x[..., 8:16, 4 + i : 12 + i] = 0.9
        frames.append(x)
    return frames


def test_reads_every_frame_of_a_gif_and_tells_stills_apart(tmp_path) -> None:
    path = tmp_path / "walk.gif"
    pictures = [Image.new("RGB", (40, 20), (40 * i, 0, 0)) for i in range(4)]
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=50, loop=0)
    still = tmp_path / "still.png"
    pictures[0].save(still)
    assert is_animation(path) and not is_animation(still)
    frames, durations = read_frames(path, max_side=20)
    assert len(frames) == 4 and durations == [50] * 4
    assert frames[0].shape == (1, 3, 10, 20)  # the long side capped at 20
    assert float(frames[3][0, 0].mean()) > float(frames[0][0, 0].mean())


@pytest.mark.parametrize(
    "name, data",
    [("broken.gif", b"GIF89a not really"), ("broken.mp4", b"\x00\x00\x00\x18ftypmp42 no video")],
)
def test_an_unreadable_animation_or_video_is_a_one_line_error(tmp_path, name, data) -> None:
    broken = tmp_path / name
    broken.write_bytes(data)
    with pytest.raises(InputError, match=name.replace(".", r"\.")) as err:
        read_frames(broken, 64)
    assert "\n" not in str(err.value)


def test_clip_statistics_flicker_less_than_each_frame_its_own() -> None:
    net = _net()
    frames = _moving_square()
    style = net.style_stats(torch.rand(1, 3, 32, 32))
    with torch.no_grad():
        steady = stylise_frames(net, frames, style, steady=True)
        plain = stylise_frames(net, frames, style, steady=False)
    assert all(s.shape == f.shape for s, f in zip(steady, frames, strict=True))
    assert flicker(frames, steady) < flicker(frames, plain)


def test_flicker_is_one_for_the_original_and_nan_for_a_still() -> None:
    frames = _moving_square()
    assert flicker(frames, frames) == pytest.approx(1.0)
    assert flicker(frames[:1], frames[:1]) != flicker(frames[:1], frames[:1])  # nan


def _pan(n: int = 6, side: int = 48, step: int = 2) -> list[torch.Tensor]:
    """A window sliding ``step`` pixels a frame across a smooth random texture."""
    torch.manual_seed(1)
    texture = torch.nn.functional.interpolate(
        torch.rand(1, 3, 16, 40), size=(side, side + n * step), mode="bicubic"
    ).clamp(0, 1)
    return [texture[..., i * step : i * step + side].contiguous() for i in range(n)]


def test_carrying_frames_along_the_motion_steadies_a_pan(monkeypatch) -> None:
    from museforge.style import moving

    net, frames = _net(), _pan()
    style = net.style_stats(torch.rand(1, 3, 32, 32))
    with torch.no_grad():
        steady = stylise_frames(net, frames, style)
        monkeypatch.setattr(moving, "CARRY", 0.0)
        redrawn = stylise_frames(net, frames, style)
    assert flicker(frames, steady) < 0.8 * flicker(frames, redrawn)

    # Against the true motion (2 pixels a frame), not the flow either step estimates:
    def shifted(out: list[torch.Tensor]) -> float:
        return sum(float((b[..., :-2] - a[..., 2:]).abs().mean()) for a, b in pairwise(out))

    assert shifted(steady) < 0.6 * shifted(redrawn)


def _video(path, frames: int = 5, fps: int = 10) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            picture = Image.new("RGB", (64, 48), (50 * i, 80, 200 - 40 * i))
            for packet in stream.encode(av.VideoFrame.from_image(picture)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_reads_the_frames_of_a_video(tmp_path) -> None:
    path = tmp_path / "clip.mp4"
    _video(path)
    assert is_animation(path)
    frames, durations = read_frames(path, max_side=32)
    assert len(frames) == 5 and durations == [100] * 5
    assert frames[0].shape == (1, 3, 24, 32)
    assert float(frames[4][0, 0].mean()) > float(frames[0][0, 0].mean()) + 0.3  # red rises
