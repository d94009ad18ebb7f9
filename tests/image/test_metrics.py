"""Image metrics: FID, KID, precision/recall, the copy check and the feature net."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from museforge.errors import InputError
from museforge.image import features
from museforge.image.data import ImageDataset
from museforge.image.evaluate import evaluate_images
from museforge.image.features import (
    FEATURE_DIM,
    extract_features,
    feature_net_for,
    feature_net_path,
    train_feature_net,
)
from museforge.nn.metrics.fid import fid_from_features, fid_from_statistics
from museforge.nn.metrics.kid import kid_from_features
from museforge.nn.metrics.memorisation import memorisation_check, write_worst_cases
from museforge.nn.metrics.precision_recall import precision_recall

SIZE = 28


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny nets run as fast on one thread, and a second thread stalls badly when the
    other core is busy (each small op waits at an OpenMP barrier)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def bars_and_disks(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0: a horizontal bar; class 1: a disk; random places and sizes, on black."""
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    images = -torch.ones(n, 1, SIZE, SIZE)
    labels = torch.arange(n) % 2
    for i in range(n):
        cy, cx = torch.randint(8, SIZE - 8, (2,), generator=gen).tolist()
        r = int(torch.randint(3, 6, (1,), generator=gen))
        if labels[i] == 0:
            images[i, 0, cy - 1 : cy + 2, cx - 2 * r : cx + 2 * r] = 1
        else:
            images[i, 0][(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = 1
    return images, labels


def corners(n: int, seed: int = 0) -> torch.Tensor:
    """Unlabelled images with a clear 'up': a block in the top-left corner, a bar on top."""
    gen = torch.Generator().manual_seed(seed)
    images = -torch.ones(n, 1, SIZE, SIZE)
    for i in range(n):
        oy, ox, s = torch.randint(1, 5, (3,), generator=gen).tolist()
        images[i, 0, oy : oy + 6 + s, ox : ox + 6 + s] = 1
        images[i, 0, 1:3, 12:-2] = 0.5
    return images


def dataset(images: torch.Tensor, labels: torch.Tensor | None, fp: str) -> ImageDataset:
    names = ("bar", "disk") if labels is not None else ()
    return ImageDataset(images, labels, names, "test", fp)


@pytest.fixture(scope="module")
def shapes() -> ImageDataset:
    return dataset(*bars_and_disks(256), fp="0123456789abcdef0123")


@pytest.fixture(scope="module")
def shapes_net(shapes: ImageDataset) -> features.FeatureNet:
    return train_feature_net(shapes, seed=0, steps=50)


# --- FID ------------------------------------------------------------------------------


def test_fid_of_a_set_with_itself_is_zero() -> None:
    a = np.random.default_rng(0).normal(size=(500, 16))
    assert abs(fid_from_features(a, a)) < 1e-6


def test_fid_matches_closed_form_for_diagonal_gaussians() -> None:
    mu1, mu2 = np.zeros(4), np.array([1.0, 0.5, 0.0, -1.0])
    var1, var2 = np.array([1.0, 2.0, 0.5, 1.0]), np.array([2.0, 1.0, 0.5, 3.0])
    expected = ((mu1 - mu2) ** 2).sum() + (var1 + var2 - 2 * np.sqrt(var1 * var2)).sum()
    exact = fid_from_statistics(mu1, np.diag(var1), mu2, np.diag(var2))
    assert exact == pytest.approx(expected, rel=1e-9)
    rng = np.random.default_rng(1)
    a = mu1 + rng.normal(size=(20_000, 4)) * np.sqrt(var1)
    b = mu2 + rng.normal(size=(20_000, 4)) * np.sqrt(var2)
    assert fid_from_features(a, b) == pytest.approx(expected, rel=0.05)


def test_fid_is_symmetric_and_handles_singular_covariances() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(300, 8)), rng.normal(1.0, 2.0, size=(200, 8))
    assert fid_from_features(a, b) == pytest.approx(fid_from_features(b, a), rel=1e-6)
    # Fewer samples than dimensions: rank-deficient covariances, still a finite number.
    few_a, few_b = rng.normal(size=(10, 32)), rng.normal(size=(12, 32))
    assert np.isfinite(fid_from_features(few_a, few_b))


# --- KID ------------------------------------------------------------------------------


def naive_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD² of Bińkowski et al. written out pair by pair."""
    m, d = len(x), x.shape[1]

    def k(u: np.ndarray, v: np.ndarray) -> float:
        return (u @ v / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_matches_the_pairwise_formula() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(12, 5)), rng.normal(0.5, 1.0, size=(12, 5))
    # One subset of the full size is a permutation of each set: the estimate is exact.
    mean, std = kid_from_features(x, y, subsets=1, subset_size=100)
    assert mean == pytest.approx(naive_mmd2(x, y), rel=1e-10)
    assert std == 0.0


def test_kid_is_near_zero_for_one_distribution_and_positive_for_shifted() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(1000, 16)), rng.normal(size=(1000, 16))
    same_mean, same_std = kid_from_features(a, b, subsets=20, subset_size=500)
    shifted_mean, _ = kid_from_features(a, b + 0.5, subsets=20, subset_size=500)
    assert abs(same_mean) < 0.01
    assert abs(same_mean) < 3 * same_std + 1e-3
    assert shifted_mean > 0.1
    assert shifted_mean > 20 * abs(same_mean)


# --- precision / recall ----------------------------------------------------------------


def test_precision_recall_of_identical_sets_is_one() -> None:
    real = np.random.default_rng(5).normal(size=(400, 8))
    assert precision_recall(real, real.copy(), k=3) == (1.0, 1.0)


def test_precision_drops_for_a_far_off_fake_set() -> None:
    rng = np.random.default_rng(6)
    real = rng.normal(size=(400, 8))
    far = rng.normal(size=(400, 8)) + 50.0
    assert precision_recall(real, far, k=3) == (0.0, 0.0)
    # Half the fakes realistic, half far off: precision about a half.
    mixed = np.concatenate([rng.normal(size=(200, 8)), far[:200]])
    precision, _ = precision_recall(real, mixed, k=3)
    assert 0.3 < precision <= 0.5


# --- memorisation ---------------------------------------------------------------------


def noise(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_memorisation_flags_copies_and_not_fresh_samples(tmp_path: Path) -> None:
    train, holdout = noise(300, 0), noise(60, 1)
    copies = train[[5, 17, 123, 299]]
    report = memorisation_check(copies, train, holdout)
    assert report.near_copy_share == 1.0
    assert report.nn_index.tolist() == [5, 17, 123, 299]
    assert np.all(report.nn_distance == 0.0)
    assert report.threshold == pytest.approx(0.5 * report.reference_distance)
    fresh = memorisation_check(noise(50, 2), train, holdout)
    assert fresh.near_copy_share == 0.0 and fresh.holdout_near_copy_share == 0.0
    assert fresh.reference_distance > 0.5  # RMS distance between independent noise images

    mixed = torch.cat([noise(10, 3), train[:3]])
    report = memorisation_check(mixed, train, holdout)
    assert report.near_copy_share == pytest.approx(3 / 13)
    assert set(report.worst[:3]) == {10, 11, 12}
    paths = write_worst_cases(report, mixed, train, tmp_path / "worst", n=5)
    assert len(paths) == 5 and all(p.is_file() for p in paths)
    assert sorted(p.name for p in (tmp_path / "worst").iterdir()) == sorted(p.name for p in paths)
    with Image.open(paths[0]) as png:
        assert png.size == ((2 * SIZE + 1) * 5, SIZE * 5)  # 28 px -> ×5 = 140 px tall
        left = np.asarray(png)[:, : SIZE * 5]
        right = np.asarray(png)[:, (SIZE + 1) * 5 :]
        assert np.array_equal(left, right)  # an exact copy shows twice


def test_memorisation_rejects_mismatched_shapes() -> None:
    with pytest.raises(InputError):
        memorisation_check(torch.zeros(2, 1, 16, 16), noise(5, 0), noise(5, 1))


# --- feature net ----------------------------------------------------------------------


def test_feature_net_is_deterministic(shapes: ImageDataset, shapes_net) -> None:
    again = train_feature_net(shapes, seed=0, steps=50)
    for name, tensor in shapes_net.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name
    other = train_feature_net(shapes, seed=1, steps=5)
    assert not torch.equal(other.head.weight, again.head.weight)


def test_feature_net_learns_labelled_shapes(shapes_net) -> None:
    assert shapes_net.mode == "classes"
    assert shapes_net.train_accuracy > 0.9  # chance is 0.5
    feats = extract_features(shapes_net, *bars_and_disks(40, seed=9)[:1])
    assert feats.shape == (40, FEATURE_DIM) and feats.dtype == np.float64


def test_feature_net_without_labels_predicts_rotations() -> None:
    net = train_feature_net(dataset(corners(256), None, "corners"), seed=0, steps=60)
    assert (net.mode, net.num_outputs) == ("rotation", 4)
    assert net.train_accuracy > 0.5  # chance is 0.25


def test_feature_net_accepts_any_size_and_channels(shapes_net) -> None:
    rgb_big = torch.rand(6, 3, 40, 40) * 2 - 1
    assert extract_features(shapes_net, rgb_big, batch_size=4).shape == (6, FEATURE_DIM)


def test_feature_net_cache_round_trips(
    shapes: ImageDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(features.RECIPE, "steps", 20)
    first = feature_net_for(shapes, cache_dir=tmp_path)
    path = feature_net_path(shapes, tmp_path)
    assert path == tmp_path / "features" / "0123456789abcdef-v1.safetensors"
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["fingerprint"] == shapes.fingerprint and record["recipe"] == 1
    assert record["train_accuracy"] == first.train_accuracy

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached net should have been loaded")

    monkeypatch.setattr(features, "train_feature_net", no_training)
    second = feature_net_for(shapes, cache_dir=tmp_path)
    assert second.train_accuracy == pytest.approx(first.train_accuracy)
    assert np.array_equal(
        extract_features(first, shapes.images), extract_features(second, shapes.images)
    )


def test_damaged_cache_is_retrained(
    shapes: ImageDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(features.RECIPE, "steps", 5)
    path = feature_net_path(shapes, tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a safetensors file")
    net = feature_net_for(shapes, cache_dir=tmp_path)
    assert net.train_accuracy is not None and path.stat().st_size > 1000


# --- the whole protocol ---------------------------------------------------------------


def test_evaluate_images_reports_every_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MUSEFORGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(features.RECIPE, "steps", 20)
    images, labels = bars_and_disks(240, seed=11)
    train = dataset(images[:200], labels[:200], "eval-train-fingerprint")
    holdout = dataset(images[200:], labels[200:], "eval-holdout-fingerprint")
    generated = torch.cat([train.images[:10], bars_and_disks(40, seed=12)[0]])
    result = evaluate_images(generated, train, holdout, out_dir=tmp_path / "out", seed=0)
    json.dumps(result)
    assert (result["n_generated"], result["n_train"], result["n_holdout"]) == (50, 200, 40)
    for key in ("fid", "kid_mean", "kid_std", "fid_real_floor", "kid_mean_real_floor"):
        assert np.isfinite(result[key]), key
    assert 0 <= result["precision"] <= 1 and 0 <= result["recall"] <= 1
    mem = result["memorisation"]
    assert mem["near_copy_share"] >= 10 / 50
    assert len(mem["worst_cases"]) == 8
    assert all((tmp_path / "out" / name).is_file() for name in mem["worst_cases"])
    assert result["feature_net"]["mode"] == "classes"
    assert (tmp_path / "cache" / "features").is_dir()
    with pytest.raises(InputError):
        evaluate_images(torch.zeros(4, 3, SIZE, SIZE), train, holdout)


def test_class_scores_read_pictures_drawn_as_asked_and_as_mislabelled(shapes_net) -> None:
    from museforge.image.evaluate import class_scores

    images, labels = bars_and_disks(120, seed=21)
    holdout = dataset(images, labels, "class-holdout")
    right = class_scores(shapes_net, images, holdout, labels)
    assert right["names"] == ["bar", "disk"]
    assert (
        right["asked_share"] == pytest.approx(right["real_accuracy"]) and right["asked_share"] > 0.9
    )
    wrong = class_scores(shapes_net, images, holdout, 1 - labels)  # every label swapped
    assert wrong["asked_share"] < 0.1
    assert set(wrong["asked_share_per_class"]) == {"bar", "disk"}
    assert sum(right["seen_share"].values()) == pytest.approx(1.0)
    unconditional = class_scores(shapes_net, images, holdout, None)
    assert "asked_share" not in unconditional and 0 <= unconditional["sure_share"] <= 1
