"""Moving pictures: reading animations, stylising their frames steadily, flicker."""

from __future__ import annotations

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


def test_an_unreadable_animation_is_a_one_line_error(tmp_path) -> None:
    broken = tmp_path / "broken.gif"
    broken.write_bytes(b"GIF89a not really")
    with pytest.raises(InputError, match=r"broken\.gif") as err:
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
