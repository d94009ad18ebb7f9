import pytest
import torch

from museforge.core.device import configure_threads, cpu_threads, pick_device
from museforge.errors import InputError


def test_configure_threads_sets_threads_and_flushes_denormals(monkeypatch) -> None:
    before = torch.get_num_threads()
    tiny = torch.tensor([1e-39])  # a denormal float32
    flushing = (tiny * 1.0).item() == 0.0  # as an earlier CLI call in this process left it
    torch.set_flush_denormal(False)
    assert (tiny * 1.0).item() != 0.0
    try:
        monkeypatch.setenv("MUSEFORGE_THREADS", "1")
        assert configure_threads() == 1
        assert (tiny * 1.0).item() == 0.0  # flushed to zero
        assert configure_threads(2) == 2
    finally:
        torch.set_flush_denormal(flushing)
        torch.set_num_threads(before)


def test_cpu_threads_restores_the_count() -> None:
    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_unknown_or_missing_devices_are_refused() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(InputError, match="unknown device"):
        pick_device("tpu")
