"""How far a training image model's pictures are from its data, measured while it trains.

At each preview the trainer asks the task for this distance (a sliced Wasserstein
distance, museforge.nn.metrics.swd) between pictures drawn from fixed latents and a fixed
sample of the training pictures, and at the end says whether it was still falling.
"""

from __future__ import annotations

import torch

from museforge.core.latent import preview_inputs
from museforge.core.seeding import stream
from museforge.image.data import ImageDataset
from museforge.nn.metrics.swd import picture_swd

PICTURES = 256


class DistanceProbe:
    """Fixed latents (labels cycling through the classes) and a fixed sample of the data."""

    def __init__(
        self, data: ImageDataset, z_dim: int, num_classes: int, seed: int, n: int = PICTURES
    ):
        pick = torch.randperm(len(data), generator=stream(seed, "distance-sample"))[:n]
        self.real = data.images[pick]
        self.z, self.labels = preview_inputs(z_dim, num_classes, seed, n=n)
        self.seed = seed

    def __call__(self, draw) -> float:
        """The distance of ``draw(z, labels)``'s pictures from the data sample."""
        with torch.no_grad():
            return picture_swd(draw(self.z, self.labels), self.real, seed=self.seed)
