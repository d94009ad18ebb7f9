import json
import os
import subprocess
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from museforge.core.distributed import any_process, average_gradients


def _worker(rank: int, port: int, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    layer = torch.nn.Linear(2, 1)
    for p in layer.parameters():
        p.grad = torch.full_like(p, float(rank))
    average_gradients(layer)
    results[rank] = (layer.weight.grad.tolist(), any_process(rank == 1))
    dist.destroy_process_group()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gradients_are_averaged_and_stop_flags_shared():
    results = mp.Manager().dict()
    mp.spawn(_worker, args=(_free_port(), results), nprocs=2)
    for rank in range(2):
        grads, stop = results[rank]
        assert grads == [[0.5, 0.5]]
        assert stop is True


def test_training_under_torchrun_with_two_processes(bars_folder, tmp_path):
    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "museforge",
        "train",
        "image-vae",
        "--data",
        f"folder:{bars_folder}",
        "--image-size",
        "16",
        "--set",
        "model.width=8",
        "--set",
        "model.z_dim=4",
        "--steps",
        "6",
        "--batch-size",
        "8",
        "--out",
        str(out),
        "--quiet",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MUSEFORGE_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    manifest = json.loads((out / "model.json").read_text())
    assert manifest["recipe"]["world_size"] == 2
    assert manifest["recipe"]["steps_done"] == 6
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    # Only rank 0 logs (the losses, and the distance to the data at the final preview);
    # each step saw 2 × 8 images.
    losses = [r for r in records if "loss" in r]
    assert len(losses) == 1 and losses[0]["step"] == 6
    assert [r["step"] for r in records if "distance_to_data" in r] == [6]
