"""The copy check: is a generated image a near-copy of a training image?

Distances are taken in pixel space, where a copy is a copy whatever the feature net
thinks. Held-out real images, which the model never saw, set the scale: a generated
image far closer to some training image than held-out images typically are is flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from museforge.core.atomic import atomic_write_with
from museforge.core.grid import to_pil
from museforge.errors import InputError

# Rows per torch.cdist call: 512 × 5,000 float32 distances is 10 MB.
CHUNK = 512
WORST_KEPT = 16
MIN_PNG_HEIGHT = 128


@dataclass(frozen=True)
class MemorisationReport:
    """Nearest-training-image distances of generated samples and the near-copy verdict."""

    nn_distance: np.ndarray  # (N,) per generated sample: RMS distance to nearest train image
    nn_index: np.ndarray  # (N,) index of that training image
    reference_distance: float  # median held-out -> nearest-train distance
    threshold: float  # ratio × reference_distance
    near_copy_share: float  # share of generated samples with nn_distance < threshold
    worst: tuple[int, ...]  # generated indices, closest to a training image first
    holdout_near_copy_share: float  # the same share for held-out real images: the base rate

    def summary(self) -> dict[str, float]:
        """The JSON-friendly headline numbers."""
        return {
            "near_copy_share": self.near_copy_share,
            "median_nn_distance": float(np.median(self.nn_distance)),
            "min_nn_distance": float(self.nn_distance.min()),
            "reference_distance": self.reference_distance,
            "threshold": self.threshold,
            "holdout_near_copy_share": self.holdout_near_copy_share,
        }


def nearest_training_images(
    queries: torch.Tensor, train: torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """(distance, index) of each query image's nearest training image.

    The distance is the L2 norm over flattened [-1, 1] pixels divided by √(pixels), i.e.
    the root-mean-square pixel difference: it reads the same at any image size and
    channel count, so one ratio threshold suits MNIST and 64 px colour faces alike.
    """
    if queries.shape[1:] != train.shape[1:]:
        raise InputError(
            f"images of shape {tuple(queries.shape[1:])} cannot be compared with training "
            f"images of shape {tuple(train.shape[1:])}"
        )
    q, t = queries.flatten(1).float(), train.flatten(1).float()
    # float32 cdist (matrix-product form) is fast but loses precision for near-identical
    # images; it only picks the neighbour, whose distance is then recomputed in float64.
    index = torch.cat(
        [torch.cdist(q[i : i + CHUNK], t).argmin(dim=1) for i in range(0, len(q), CHUNK)]
    )
    diff = q.double() - t[index].double()
    distance = diff.norm(dim=1) / math.sqrt(q.shape[1])
    return distance.numpy(), index.numpy()


def memorisation_check(
    generated: torch.Tensor, train: torch.Tensor, holdout: torch.Tensor, ratio: float = 0.5
) -> MemorisationReport:
    """Flag generated images closer to a training image than ``ratio`` × the held-out median.

    All three are N×C×H×W tensors in [-1, 1] of the same image shape.
    """
    if len(generated) == 0 or len(train) == 0 or len(holdout) == 0:
        raise InputError("the memorisation check needs generated, training and held-out images")
    distance, index = nearest_training_images(generated, train)
    holdout_distance = nearest_training_images(holdout, train)[0]
    reference = float(np.median(holdout_distance))
    threshold = ratio * reference
    order = np.argsort(distance, kind="stable")
    return MemorisationReport(
        nn_distance=distance,
        nn_index=index,
        reference_distance=reference,
        threshold=threshold,
        near_copy_share=float((distance < threshold).mean()),
        worst=tuple(int(i) for i in order[:WORST_KEPT]),
        holdout_near_copy_share=float((holdout_distance < threshold).mean()),
    )


def side_by_side(generated: torch.Tensor, nearest: torch.Tensor) -> Image.Image:
    """One C×H×W generated image | its nearest training image, upscaled to ≥128 px tall.

    A one-pixel white column separates the two; nearest-neighbour upscaling keeps pixels
    sharp so near-copies can be judged by eye.
    """
    separator = torch.ones(generated.shape[0], generated.shape[1], 1)
    image = to_pil(torch.cat([generated.float(), separator, nearest.float()], dim=2))
    scale = math.ceil(MIN_PNG_HEIGHT / image.height)
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


def write_worst_cases(
    report: MemorisationReport,
    generated: torch.Tensor,
    train: torch.Tensor,
    out_dir: Path,
    n: int = 8,
) -> list[Path]:
    """Write the ``n`` closest (generated | nearest training image) pairs as PNGs.

    Files are ``nearest-RANK-genI-trainJ.png`` in ``out_dir``, written atomically;
    returns their paths, closest pair first.
    """
    order = np.argsort(report.nn_distance, kind="stable")[:n]
    paths = []
    for rank, i in enumerate(order.tolist()):
        j = int(report.nn_index[i])
        image = side_by_side(generated[i], train[j])
        path = Path(out_dir) / f"nearest-{rank:02d}-gen{i}-train{j}.png"
        paths.append(atomic_write_with(path, lambda tmp, im=image: im.save(tmp, format="PNG")))
    return paths
