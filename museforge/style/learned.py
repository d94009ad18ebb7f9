"""Style features learned here: the small feature network's shape, trained on real art.

The random network (:func:`museforge.nn.features.random_feature_net`) has never seen a
picture. This one has the same seven 3×3
convolutions, average pools and taps, but its weights were trained (by
:mod:`museforge.style.feature_task`) to tell clip art, emoji, Wesnoth's sprites and painted
portraits and the built-in photos apart by the mean and spread of their last layer — the
same kind of statistics the style loss matches. It is a model artifact like any other
(``models/style-features``), loaded by ``learned`` or ``learned:PATH`` wherever a feature
network is named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from museforge.core.artifact import load_artifact
from museforge.core.files import models_dir
from museforge.errors import ArtifactError, InputError
from museforge.nn.features import (
    SMALL_BLOCKS,
    SMALL_STYLE_LAYERS,
    FeatureNet,
    conv_stack,
    feature_net,
    small_channels,
)

KIND = "style-features"
STARTER = "style-features"
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


@dataclass(frozen=True)
class LearnedFeaturesConfig:
    """The network's width (channels of its first scale) and its content layer."""

    width: int = 16
    content_layer: str = "relu3_1"

    def __post_init__(self) -> None:
        if not 4 <= self.width <= 128:
            raise ValueError(f"width must be 4..128 (got {self.width})")
        names = [f"relu{b}_{c}" for b, n in enumerate(SMALL_BLOCKS, 1) for c in range(1, n + 1)]
        if self.content_layer not in names:
            raise ValueError(f"content_layer must be one of {', '.join(names)}")


class LearnedFeatureNet(FeatureNet):
    """The small feature network with weights to be trained or loaded."""

    def __init__(self, cfg: LearnedFeaturesConfig):
        convs = conv_stack(small_channels(cfg.width), SMALL_BLOCKS)
        super().__init__(convs, (cfg.content_layer,), SMALL_STYLE_LAYERS, MEAN, STD, "learned")
        self.cfg = cfg


def load_learned(path: str | Path) -> FeatureNet:
    """The learned feature network of the artifact at ``path``; a one-line InputError
    when it is missing or of another kind."""
    path = Path(path).expanduser()
    if not (path / "model.json").is_file():
        raise InputError(
            f"learned style features '{path}' do not exist (train them: museforge train "
            "--recipe recipes/style-features.toml)"
        )
    try:
        loaded = load_artifact(path)
    except ArtifactError as err:
        raise InputError(f"learned style features '{path}': {err}") from None
    if not isinstance(loaded.model, LearnedFeatureNet):
        kind = loaded.manifest.get("kind", "?")
        raise InputError(f"'{path}' is a {kind} model, not learned style features ({KIND})")
    net = loaded.model
    net.name = f"learned:{path.name}"
    net.sha256 = loaded.sha256  # recorded with every output, so it can be made again
    return net


def style_feature_net(spec: str) -> FeatureNet:
    """A feature network by name: ``learned`` (the starter ``models/style-features``),
    ``learned:PATH`` (an artifact of this kind), or any name
    :func:`museforge.nn.features.feature_net` knows (``random``, ``vgg19:PATH``)."""
    kind, _, arg = spec.partition(":")
    if kind == "learned":
        return load_learned(arg or models_dir() / STARTER)
    return feature_net(spec)
