"""Registers the style-network kind, its training task and its verb."""

from __future__ import annotations

import hashlib
from typing import Any

from museforge.core.data import register_dataset, skipped_record
from museforge.core.registry import config_from_dict, register_kind, verb
from museforge.errors import InputError
from museforge.style import verbs
from museforge.style.anystyle import AnyStyleConfig, AnyStyleNet
from museforge.style.anystyle_task import AnyStyleTask, AnyStyleTraining
from museforge.style.fastnet import StyleNet, StyleNetConfig
from museforge.style.feature_data import style_pictures
from museforge.style.feature_task import FeatureTask, FeatureTraining
from museforge.style.images import MODALITY, content_images, fingerprint, load_rgb
from museforge.style.learned import KIND as FEATURES_KIND
from museforge.style.learned import LearnedFeatureNet, LearnedFeaturesConfig
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


FEATURE_DATA = "style-pictures"


def _on_style_pictures(task_cls: type, config_cls: type, training_cls: type, what: str):
    """A task factory for a kind that trains on the ``style-pictures`` set."""

    def factory(model: dict[str, Any], training: dict[str, Any], data: str, seed: int):
        if data != FEATURE_DATA:
            raise InputError(f"{what} train on '{FEATURE_DATA}' (got '{data}')")
        cfg = config_from_dict(config_cls, model, "model settings")
        train_cfg = config_from_dict(training_cls, training, "training settings")
        pictures = style_pictures(train_cfg.picture_size)
        data_info = {
            "source": data,
            "fingerprint": pictures.fingerprint,
            "n_images": len(pictures),
            "classes": list(pictures.classes),
            "licences": pictures.sources,
        }
        return task_cls(cfg, train_cfg, pictures, seed), data_info

    return factory


register_dataset(
    FEATURE_DATA,
    modality=MODALITY,
    role="features",
    description="clip art, emoji, Wesnoth sprites and painted portraits (a tenth held out) "
    "and crops of the built-in photos, by category: what the learned style features learn",
    size="about 15,000 pictures at 80 px",
    licence="each source's own (public domain, OFL, GPL-2+/CC BY-SA, see museforge data)",
    loader=style_pictures,
)
register_kind(
    FEATURES_KIND,
    modality="style",
    description="style features learned from real art (clip art, emoji, sprites, painted "
    "portraits, photos): the feature network behind style losses (--features learned)",
    config_cls=LearnedFeaturesConfig,
    model_cls=LearnedFeatureNet,
    task_factory=_on_style_pictures(
        FeatureTask, LearnedFeaturesConfig, FeatureTraining, "learned style features"
    ),
    default_run={"batch_size": 64},
)


register_kind(
    "style-any",
    modality="style",
    description="any-style network (AdaIN on the learned features): any style picture, "
    "no training per style, styles mixed, in a fraction of a second",
    config_cls=AnyStyleConfig,
    model_cls=AnyStyleNet,
    task_factory=_on_style_pictures(
        AnyStyleTask, AnyStyleConfig, AnyStyleTraining, "any-style networks"
    ),
    default_run={"batch_size": 8},
)
verb("style-any", "stylise", command="style-fast")(verbs.stylise_any)
