import json
import time
import types

import pytest
import torch

from museforge.core import train
from museforge.core.train import (
    EpochSampler,
    Trainer,
    TrainingInterrupted,
    TrainSettings,
    parse_duration,
)
from museforge.errors import InputError
from museforge.image.gan import GANConfig, GANTask, GANTraining
from museforge.image.vae import VAEConfig, VAETask, VAETraining

GAN_CFG = GANConfig(image_size=16, z_dim=8, g_width=8, d_width=8, num_classes=2)


def gan_task(data):
    return GANTask(GAN_CFG, GANTraining(), data, seed=3)


def settings(**kw):
    base = {"batch_size": 8, "preview_every": 0, "log_every": 2, "checkpoint_every": 1e9}
    return TrainSettings(**{**base, **kw})


def test_parse_duration():
    assert parse_duration("90") == 90
    assert parse_duration("5m") == 300
    assert parse_duration("1.5h") == 5400
    with pytest.raises(InputError, match="five minutes"):
        parse_duration("five minutes")
    with pytest.raises(InputError) as caught:  # text from a form or recipe, newlines and all
        parse_duration("5\nminutes\r\n")
    assert str(caught.value) == "cannot read duration '5 minutes' (use e.g. 90s, 5m or 1h)"


def test_settings_need_a_budget():
    with pytest.raises(InputError, match="steps or a time budget"):
        TrainSettings()


def test_epoch_sampler_covers_each_example_once_per_epoch_and_shards_by_rank():
    sampler = EpochSampler(20, 5, seed=1)
    first_epoch = torch.cat([sampler.next() for _ in range(4)])
    assert sorted(first_epoch.tolist()) == list(range(20))
    ranks = [EpochSampler(20, 5, seed=1, rank=r, world=2) for r in range(2)]
    a, b = (torch.cat([s.next() for _ in range(2)]) for s in ranks)
    assert not set(a.tolist()) & set(b.tolist())
    state = sampler.state_dict()
    expected = sampler.next()
    clone = EpochSampler(20, 5, seed=1)
    clone.load_state_dict(state)
    assert torch.equal(clone.next(), expected)


def test_vae_loss_falls(bars, tmp_path):
    task = VAETask(VAEConfig(image_size=16, z_dim=4, width=8), VAETraining(lr=3e-3), bars, 0)
    Trainer(task, settings(steps=60), tmp_path, progress=False).fit()
    lines = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == list(range(2, 61, 2))
    assert lines[-1]["loss"] < 0.6 * lines[0]["loss"]


def test_interrupt_then_resume_matches_an_uninterrupted_run(bars, tmp_path):
    straight = gan_task(bars)
    Trainer(straight, settings(steps=12), tmp_path / "a", progress=False).fit()

    def stop_at_5(step, _metrics):
        if step == 5:
            raise KeyboardInterrupt

    first = gan_task(bars)
    run = Trainer(first, settings(steps=12), tmp_path / "b", progress=False, callbacks=[stop_at_5])
    with pytest.raises(TrainingInterrupted, match=r"step 5.*--resume"):
        run.fit()
    assert (tmp_path / "b" / "checkpoint.pt").exists()
    assert (tmp_path / "b" / "model.json").exists()

    resumed = gan_task(bars)
    result = Trainer(resumed, settings(steps=12), tmp_path / "b", progress=False).fit(resume=True)
    assert result.step == 12
    for name in ("gan", "ema"):
        want = straight.modules()[name].state_dict()
        got = resumed.modules()[name].state_dict()
        for key in want:
            assert torch.equal(want[key], got[key]), f"{name}.{key}"
    steps = [
        json.loads(x)["step"] for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == sorted(set(steps)) and steps[-1] == 12


def test_existing_run_needs_resume_and_resume_needs_a_checkpoint(bars, tmp_path):
    Trainer(gan_task(bars), settings(steps=2), tmp_path, progress=False).fit()
    with pytest.raises(InputError, match="--resume"):
        Trainer(gan_task(bars), settings(steps=4), tmp_path, progress=False).fit()
    with pytest.raises(InputError, match="nothing to resume"):
        Trainer(gan_task(bars), settings(steps=4), tmp_path / "new", progress=False).fit(
            resume=True
        )


@pytest.fixture
def slow_clock(monkeypatch):
    """The trainer's clock advances 0.05 s each time it is read: a time budget then buys the
    same steps however busy the machine is."""
    now = [0.0]

    def monotonic() -> float:
        now[0] += 0.05
        return now[0]

    clock = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if k[0] != "_"})
    clock.monotonic = monotonic
    monkeypatch.setattr(train, "time", clock)


def test_time_budget_stops_training_and_previews_are_written(bars, tmp_path, slow_clock):
    result = Trainer(
        gan_task(bars), settings(time_budget=1.0, preview_every=3), tmp_path, progress=False
    ).fit()
    assert result.elapsed >= 1.0 and result.step > 3
    assert (tmp_path / "previews" / "step-00000003.png").exists()
    manifest = json.loads((tmp_path / "model.json").read_text())
    assert manifest["recipe"]["steps_done"] == result.step


def test_previews_log_the_distance_to_the_data_and_the_run_says_its_outlook(bars, tmp_path):
    result = Trainer(
        gan_task(bars), settings(steps=12, preview_every=4), tmp_path, progress=False
    ).fit()
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    distances = [json.loads(x) for x in lines if "distance_to_data" in x]
    assert [d["step"] for d in distances] == [4, 8, 12, 12]  # the previews and the end
    assert all(d["distance_to_data"] > 0 for d in distances)
    assert result.outlook is not None and "distance to the training pictures" in result.outlook


def test_a_time_budget_previews_at_each_tenth_of_it(bars, tmp_path, slow_clock):
    Trainer(
        gan_task(bars), settings(time_budget=1.0, preview_every=10_000), tmp_path, progress=False
    ).fit()
    # steps alone would give one preview (the end); the tenths give more
    assert len(list((tmp_path / "previews").glob("*.png"))) >= 3
