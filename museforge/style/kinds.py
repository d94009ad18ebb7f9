"""Registers the style-network kind, its training task and its verb."""

from __future__ import annotations

import hashlib
from typing import Any

from museforge.core.data import skipped_record
from museforge.core.registry import config_from_dict, register_kind, verb
from museforge.errors import InputError
from museforge.style import verbs
from museforge.style.fastnet import StyleNet, StyleNetConfig
from museforge.style.images import content_images, fingerprint, load_rgb
from museforge.style.task import StyleNetTask, StyleNetTraining


def style_task(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
    """A StyleNetTask for the Trainer, plus the description of content and style.

    ``data`` is the content set (photos, folder:PATH or an image file); ``training["style"]``
    names the style picture, whose fingerprint is recorded so lineage can find it again.
    """
    style = training.get("style")
    if not isinstance(style, str) or not style.strip():
        raise InputError(
            "a style network needs a style picture: the training setting style "
            "(a file or a built-in such as pattern-voronoi)"
        )
    cfg = config_from_dict(StyleNetConfig, model, "model settings")
    train_cfg = config_from_dict(StyleNetTraining, training, "training settings")
    style_image = load_rgb(style)
    content, skipped = content_images(data, max_side=train_cfg.content_size)
    digest = hashlib.sha256(" ".join(fingerprint(x) for x in content).encode())
    data_info = {
        "source": data,
        "fingerprint": digest.hexdigest()[:16],
        "n_images": len(content),
        **skipped_record(skipped),
        "style": {"source": style, "fingerprint": fingerprint(style_image)},
    }
    return StyleNetTask(cfg, train_cfg, content, style_image, seed), data_info


register_kind(
    "style-net",
    modality="style",
    description="feed-forward style network (Johnson et al., instance norm): one style, "
    "any picture in a fraction of a second",
    config_cls=StyleNetConfig,
    model_cls=StyleNet,
    task_factory=style_task,
    default_run={"batch_size": 4},
)
verb("style-net", command="style-fast")(verbs.stylise)
