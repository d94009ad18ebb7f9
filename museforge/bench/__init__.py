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


def results_head(budget_s: float, seed: int, eval_n: int) -> dict[str, object]:
    """The start of a per-set benchmark's results: its budget, seed, sample count and the
    machine, with an empty ``sets`` to fill."""
    return {
        "budget_s": budget_s,
        "seed": seed,
        "eval_n": eval_n,
        "machine": machine_info(),
        "sets": {},
    }


def table_head(title: str, columns: list[str]) -> list[str]:
    """The lines that open a set's Markdown table: its bold title, a blank, the header."""
    return [f"**{title}**", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
