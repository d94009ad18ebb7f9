"""Image data sets: built-in names and user folders, as tensors in [-1, 1]."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class ImageDataset:
    """Images as a float32 tensor N×C×H×W in [-1, 1], with optional class labels."""

    images: torch.Tensor
    labels: torch.Tensor | None
    class_names: tuple[str, ...]
    source: str
    fingerprint: str
    skipped: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)
