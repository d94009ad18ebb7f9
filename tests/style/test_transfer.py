"""Optimisation-based transfer and textures on tiny pictures: losses fall, options hold."""

import pytest
import torch

from museforge.errors import InputError
from museforge.nn.features import random_feature_net
from museforge.style.images import resize_long_side, rgb_to_yiq
from museforge.style.optimise import OptimiseSettings, level_sizes
from museforge.style.texture import synthesise, tileable_size
from museforge.style.transfer import stylise

FAST = OptimiseSettings(steps=6, levels=1)


def stripes(h: int = 40, w: int = 60) -> torch.Tensor:
    x = torch.zeros(1, 3, h, w)
    x[:, 0, :, ::6] = 1
    x[:, 2, ::5, :] = 0.8
    return x


def photo(h: int = 40, w: int = 60) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([xx, yy, 1 - xx * yy]).unsqueeze(0)


@pytest.fixture(scope="module")
def net():
    return random_feature_net(4)


def test_schedule_halves_down_to_the_coarsest_level_and_ends_at_the_size():
    assert level_sizes(512, 341) == [(128, 85), (256, 170), (512, 341)]
    assert level_sizes(100, 60) == [(100, 60)]
    assert level_sizes(2048, 2048)[-1] == (2048, 2048) and len(level_sizes(2048, 2048)) == 3
    assert level_sizes(64, 64, levels=2) == [(32, 32), (64, 64)]


def test_style_loss_falls_and_the_result_has_the_requested_size(net):
    seen = []
    settings = OptimiseSettings(steps=15, levels=1, content_weight=0.0, tv_weight=0.0)
    out = stylise(
        net,
        photo(),
        [stripes()],
        size=48,
        settings=settings,
        on_step=lambda *args: seen.append(args[-1]["style"]),
    )
    assert out.shape == (1, 3, 32, 48)
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    assert seen[-1] < 0.7 * seen[0]


def test_same_seed_same_picture_and_the_seed_matters_for_noise_starts(net):
    def run(seed: int) -> torch.Tensor:
        return stylise(net, photo(), [stripes()], size=32, settings=FAST, init="noise", seed=seed)

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


def test_a_mask_keeps_the_content_exactly_outside_its_region(net):
    mask = torch.zeros(1, 1, 40, 60)
    mask[..., 30:] = 1
    content = photo()
    out = stylise(net, content, [stripes()], size=60, settings=FAST, mask=mask)
    assert torch.allclose(out[..., :30], content[..., :30])
    assert not torch.allclose(out[..., 31:], content[..., 31:], atol=1e-3)


def test_preserved_colour_keeps_the_contents_chroma(net):
    content = photo()
    out = stylise(net, content, [stripes()], size=60, settings=FAST, preserve_colour=True)
    chroma_in, chroma_out = rgb_to_yiq(content)[:, 1:], rgb_to_yiq(out)[:, 1:]
    # identical up to clamping into [0, 1]
    assert (chroma_in - chroma_out).abs().mean() < 0.02
    plain = stylise(net, content, [stripes()], size=60, settings=FAST)
    assert (rgb_to_yiq(plain)[:, 1:] - chroma_in).abs().mean() > 0.02


def test_blended_styles_lie_between_the_single_styles(net):
    content = photo()
    gen = torch.Generator().manual_seed(0)
    reds, blues = torch.tensor([1.0, 0.1, 0.1]), torch.tensor([0.1, 0.1, 1.0])
    a = torch.rand(1, 3, 40, 40, generator=gen) * reds.view(1, 3, 1, 1)
    b = torch.rand(1, 3, 40, 40, generator=gen) * blues.view(1, 3, 1, 1)
    settings = OptimiseSettings(steps=10, levels=1, content_weight=0.0, tv_weight=0.0)

    def mean_red(weights: list[float]) -> float:
        out = stylise(net, content, [a, b], weights, size=40, settings=settings)
        return float(out[:, 0].mean())

    only_a, half, only_b = mean_red([1, 0]), mean_red([1, 1]), mean_red([0, 1])
    assert min(only_a, only_b) < half < max(only_a, only_b)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"style_weights": [1.0, 2.0]}, "one non-negative weight"),
        ({"style_weights": [0.0]}, "not all zero"),
        ({"size": 8}, "size must be 16"),
        ({"init": "blank"}, "init must be one of"),
        ({"style_scale": 0.0}, "style scale must be"),
    ],
)
def test_bad_options_are_one_line_errors(net, kwargs, needle):
    with pytest.raises(InputError, match=needle):
        stylise(net, photo(), [stripes()], settings=FAST, **kwargs)


def test_tileable_textures_have_no_seam(net):
    assert tileable_size(500) == 512 and tileable_size(10) == 32
    tex = synthesise(
        net,
        resize_long_side(stripes(), 64),
        60,
        tileable=True,
        seed=1,
        settings=OptimiseSettings(steps=20),
    )
    assert tex.shape == (1, 3, 64, 64)
    inner = (tex[..., 1:] - tex[..., :-1]).abs().mean()
    seam = (tex[..., 0] - tex[..., -1]).abs().mean()
    inner_v = (tex[..., 1:, :] - tex[..., :-1, :]).abs().mean()
    seam_v = (tex[..., 0, :] - tex[..., -1, :]).abs().mean()
    assert seam < 1.5 * inner and seam_v < 1.5 * inner_v
    assert net.padding_mode != "circular"  # the shared network is left as it was


def test_textures_differ_by_seed_and_repeat_by_seed(net):
    style = stripes()
    a = synthesise(net, style, 32, seed=1, settings=FAST)
    assert torch.equal(a, synthesise(net, style, 32, seed=1, settings=FAST))
    assert not torch.equal(a, synthesise(net, style, 32, seed=2, settings=FAST))


def test_the_styles_palette_comes_first_unless_colours_are_kept(net):
    from museforge.style.scores import colour_distance

    content, style = photo(), stripes()
    kept = stylise(net, content, [style], size=40, settings=FAST, palette="none")
    moved = stylise(net, content, [style], size=40, settings=FAST)  # histogram by default
    assert colour_distance(moved, style) < 0.6 * colour_distance(kept, style)
    with pytest.raises(InputError, match="palette"):
        stylise(net, content, [style], size=40, settings=FAST, palette="sepia")


def test_a_blend_draws_its_palette_from_each_style_by_weight():
    from museforge.style.transfer import PALETTE_PIXELS, blended_palette

    red, blue = torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8)
    red[:, 0], blue[:, 2] = 1, 1
    strip = blended_palette([red, blue], [3.0, 1.0])
    assert strip.shape == (1, 3, 1, PALETTE_PIXELS)
    assert abs(float(strip[0, 0].mean()) - 0.75) < 0.01
    assert abs(float(strip[0, 2].mean()) - 0.25) < 0.01
