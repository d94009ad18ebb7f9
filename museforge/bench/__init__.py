"""Benchmarks: each trains or runs its contenders in one run and compares them."""

import os
import platform

import torch


def machine_info() -> dict[str, object]:
    """What a benchmark ran on, recorded beside its figures."""
    return {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": "cpu",
    }
