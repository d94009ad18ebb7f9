"""The verbs of the text–image encoder: encode pictures (and score captions for them), and
evaluate how well captions find their pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import torch

from museforge.core.artifact import LoadedModel
from museforge.core.artwork import Result
from museforge.core.media import read_image
from museforge.core.verbs import SEED, Param
from museforge.crossmodal.data import load_captioned
from museforge.crossmodal.encoder import r_precision
from museforge.crossmodal.encoder_task import HOLDOUT, SPLIT_SEED, split
from museforge.errors import InputError

MAX_CAPTIONS = 100


def _captions(text: str | None) -> list[str]:
    parts = [p.strip() for p in (text or "").split("|")]
    found = [p for p in parts if p]
    if len(found) > MAX_CAPTIONS:
        raise InputError(f"captions: at most {MAX_CAPTIONS} (got {len(found)})")
    return found


@torch.inference_mode()
def encode(
    loaded: LoadedModel,
    images: Annotated[list[Path], Param("pictures to encode", input="images", positional=True)],
    captions: Annotated[
        str | None,
        Param("captions to score each picture against, separated by | (English or Chinese)"),
    ] = None,
) -> Result:
    """Each picture as a point of the shared space (JSON), and how well each given caption
    fits it (cosine, −1..1; the best first)."""
    model = loaded.model.eval()
    size = model.cfg.image_size
    pictures = [read_image(p, square=size, channels=3, what="picture") for p in images]
    batch = torch.from_numpy(np.stack(pictures)).permute(0, 3, 1, 2) * 2 - 1
    vecs = model.encode_images(batch.float())
    texts = _captions(captions)
    for text in texts:
        if missing := model.tokens.unknown(text):
            raise InputError(
                f"caption {text!r} has characters the model never saw: {''.join(missing)!r}"
            )
    scores = (vecs @ model.encode_text(texts).T).tolist() if texts else [[] for _ in images]
    rows, lines = [], []
    for path, vec, row in zip(images, vecs, scores, strict=True):
        ranked = sorted(zip(texts, row, strict=True), key=lambda tr: -tr[1])
        rows.append(
            {
                "file": Path(path).name,
                "embedding": [round(v, 6) for v in vec.tolist()],
                "captions": [{"caption": t, "score": round(s, 4)} for t, s in ranked],
            }
        )
        if ranked:
            lines.append(f"{Path(path).name}: {ranked[0][0]} ({ranked[0][1]:.3f})")
    message = "; ".join(lines) or None
    return Result(data={"pictures": rows}, stem="encoded", message=message)


@torch.inference_mode()
def evaluate(
    loaded: LoadedModel,
    n: Annotated[int, Param("held-out pictures to rank (at most)", min=2, max=100_000)] = 1000,
    seed: Annotated[int, SEED] = 0,
    out_dir: Path | None = None,
) -> Result:
    """R-precision: the share of held-out pictures whose caption ranks first among 100
    (per caption language), beside the same on training pictures (a gap means memorising)."""
    data_info = loaded.manifest.get("data", {})
    source = data_info.get("source")
    if not source:
        raise InputError(f"model '{loaded.path}' records no training data to evaluate on")
    full = load_captioned(source, image_size=loaded.model.cfg.image_size)
    train, holdout = split(
        full, data_info.get("holdout", HOLDOUT), data_info.get("split_seed", SPLIT_SEED)
    )
    out: dict[str, object] = {"data": source, "candidates": 100}
    for name, part in (("holdout", holdout), ("train", train)):
        k = min(n, len(part))
        for lang in part.languages:
            caps = [c[lang] for c in part.captions[:k]]
            out[f"r_precision_{name}_{lang}"] = r_precision(
                loaded.model, part.images[:k], caps, seed=seed
            )
    return Result(data=out, stem="evaluation")
