"""Feature networks: reproducible random weights, named taps, seamless padding, VGG-19 files."""

import pytest
import torch
from safetensors.torch import save_file

from museforge.errors import InputError
from museforge.nn.features import (
    PIXELS,
    VGG19_CONVS,
    feature_net,
    load_vgg19,
    random_feature_net,
    vgg19_feature_net,
)


def test_random_net_is_the_same_every_time_and_depends_on_its_seed():
    a, b, c = random_feature_net(8), random_feature_net(8), random_feature_net(8, seed=1)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not torch.equal(next(a.parameters()), next(c.parameters()))
    assert all(not p.requires_grad for p in a.parameters())


def test_taps_have_the_widths_and_scales_of_the_stack_for_odd_sizes():
    net = random_feature_net(4)
    x = torch.rand(2, 3, 37, 53)
    taps = net(x)
    assert set(taps) == set(net.style_layers) | set(net.content_layers)
    assert torch.equal(taps[PIXELS], x)
    assert taps["relu1_1"].shape == (2, 4, 37, 53)
    assert taps["relu2_1"].shape == (2, 8, 19, 27)  # odd sides are padded, not cropped
    assert taps["relu4_1"].shape == (2, 32, 5, 7)
    assert all((t >= 0).all() for name, t in taps.items() if name != PIXELS)


def test_tileable_features_shift_with_a_circularly_shifted_picture():
    net = random_feature_net(4)
    x = torch.rand(1, 3, 32, 32)
    net.set_tileable(True)
    plain, shifted = net(x), net(x.roll((8, 16), dims=(-2, -1)))
    for name in ("relu1_1", "relu2_1", "relu3_2", "relu4_1"):
        scale = 32 // plain[name].shape[-1]
        expected = plain[name].roll((8 // scale, 16 // scale), dims=(-2, -1))
        assert torch.allclose(shifted[name], expected, atol=1e-5), name
    net.set_tileable(False)
    edge = net(x.roll(8, dims=-1))["relu1_1"]
    assert not torch.allclose(edge, plain["relu1_1"].roll(8, dims=-1), atol=1e-4)


def _vgg_state(net) -> dict[str, torch.Tensor]:
    convs = [conv for block in net.blocks for conv in block]
    state = {}
    for index, conv in zip(VGG19_CONVS, convs, strict=True):
        state[f"features.{index}.weight"] = conv.weight.detach().clone()
        state[f"features.{index}.bias"] = conv.bias.detach().clone()
    return state


def test_vgg19_file_round_trip_gives_the_same_features(tmp_path):
    torch.manual_seed(0)
    source = vgg19_feature_net()
    for conv in (c for block in source.blocks for c in block):
        torch.nn.init.normal_(conv.weight, std=0.05)
    path = tmp_path / "vgg19.safetensors"
    save_file({**_vgg_state(source), "classifier.0.weight": torch.zeros(2, 2)}, str(path))
    loaded = load_vgg19(path)
    x = torch.rand(1, 3, 40, 40)
    a, b = source(x), loaded(x)
    assert set(a) == {"relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"}
    for name in a:
        assert torch.allclose(a[name], b[name]), name
    assert feature_net(f"vgg19:{path}").name == "vgg19"


def test_vgg19_files_with_wrong_keys_or_shapes_are_refused_by_name(tmp_path):
    state = _vgg_state(vgg19_feature_net())
    missing = dict(state)
    del missing["features.21.weight"]
    save_file(missing, str(tmp_path / "missing.safetensors"))
    with pytest.raises(InputError, match=r"missing.safetensors.*lack 'features.21.weight'"):
        load_vgg19(tmp_path / "missing.safetensors")
    state["features.0.weight"] = torch.zeros(64, 1, 3, 3)
    save_file(state, str(tmp_path / "shape.safetensors"))
    with pytest.raises(InputError, match=r"'features.0.weight' has shape \(64, 1, 3, 3\)"):
        load_vgg19(tmp_path / "shape.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a tensor file at all")
    with pytest.raises(InputError, match="not a safetensors file"):
        load_vgg19(tmp_path / "junk.safetensors")
    with pytest.raises(InputError, match="do not exist"):
        load_vgg19(tmp_path / "absent.safetensors")


@pytest.mark.parametrize(
    ("spec", "needle"),
    [("random:x", "must be a number"), ("random:2", "4..256"), ("vgg", "unknown feature")],
)
def test_bad_feature_network_names_are_one_line_errors(spec, needle):
    with pytest.raises(InputError, match=needle):
        feature_net(spec)
