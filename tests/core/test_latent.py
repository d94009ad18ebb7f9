import torch

from museforge.core.latent import (
    crossover,
    decode_latent,
    draw_labels,
    draw_latents,
    encode_latent,
    mutate,
    slerp,
    truncate,
)
from museforge.core.seeding import stream


def test_latents_depend_on_seed_and_index_only():
    few, many = draw_latents(8, 7, 3), draw_latents(8, 7, 10)
    assert torch.equal(few, many[:3])
    assert not torch.equal(draw_latents(8, 8, 3), few)
    assert torch.equal(draw_latents(8, 7, 2, start=1), many[1:3])


def test_slerp_hits_the_ends_and_keeps_the_norm():
    a, b = torch.randn(64), torch.randn(64)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5)
    assert torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    a, b = a / a.norm(), b / b.norm()
    assert abs(slerp(a, b, 0.5).norm().item() - 1) < 1e-4


def test_crossover_takes_each_coordinate_from_a_parent():
    parents = torch.stack([torch.zeros(100), torch.ones(100)])
    child = crossover(parents, stream(0, "x"))
    assert set(child.tolist()) == {0.0, 1.0}
    assert 20 < child.sum() < 80


def test_mutation_zero_is_identity_and_keeps_latents_standard():
    z = torch.randn(10_000)
    assert torch.equal(mutate(z, 0.0, stream(0, "m")), z)
    m = mutate(z, 0.6, stream(0, "m"))
    assert abs(m.std().item() - 1) < 0.05
    corr = torch.corrcoef(torch.stack([z, m]))[0, 1].item()
    assert abs(corr - 0.8) < 0.05  # sqrt(1 - 0.6²)


def test_truncation_and_labels():
    z = torch.randn(4, 8)
    assert torch.allclose(truncate(z, 0.5), z * 0.5)
    assert draw_labels(0, 1, 4) is None
    assert draw_labels(10, 1, 3, label=4).tolist() == [4, 4, 4]
    labels = draw_labels(10, 1, 50)
    assert labels.min() >= 0 and labels.max() < 10 and len(set(labels.tolist())) > 3


def test_latent_text_round_trip_is_exact():
    z = torch.randn(64)
    assert torch.equal(decode_latent(encode_latent(z)), z)


def test_recorded_latents_that_are_not_float32_base64_are_input_errors():
    import pytest

    from museforge.errors import InputError

    for bad in (
        "not base64!",
        "AAAAAAA=",
        7,
        None,
        "é",
        encode_latent(torch.tensor([float("nan")])),
    ):
        with pytest.raises(InputError):
            decode_latent(bad)
    assert decode_latent(encode_latent(torch.zeros(0))).numel() == 0
