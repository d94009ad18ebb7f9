"""Taste model: learn from a user's ratings which artworks they like, and rank new ones.

Artworks become fixed descriptors that need no training and no download: pictures go
through the seeded random feature network of :mod:`museforge.nn.features` (per-channel
mean and spread of each layer, which carry colour and texture) plus a coarse colour
histogram; texts become hashed character n-grams, which work for Chinese and English
alike. Where a text–image encoder is at hand, a picture's descriptor is followed by the
encoder's vector of it (:mod:`museforge.gallery.recommend` joins them). On top sits one
standardised logistic regression per modality. Models are saved as plain JSON (numbers
only), never pickles, so a shared model file cannot run code.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from museforge.core.atomic import atomic_write_text
from museforge.core.device import cpu_threads
from museforge.core.media import UnusableFile, open_image
from museforge.errors import InputError
from museforge.nn.features import FeatureNet, random_feature_net

MODALITIES = ("image", "text")
IMAGE_SIDE = 128  # long side the picture is resized to before its features are taken
HIST_BINS = 4  # per RGB channel: 64 colour bins in all
TEXT_FEATURES = 2**12
MIN_PER_CLASS = 2
# Strong regularisation: a user rates tens of artworks, the descriptors have hundreds of
# dimensions, and a weak penalty would memorise the ratings.
C_REGULARISATION = 0.1
FORMAT = "museforge-taste"
VERSION = 1


@lru_cache(maxsize=1)
def _feature_net() -> FeatureNet:
    return random_feature_net()


@lru_cache(maxsize=1)
def _hasher():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer="char_wb",
        ngram_range=(1, 3),
        n_features=TEXT_FEATURES,
        alternate_sign=False,
        norm="l2",
    )


def embed_image(img: Image.Image) -> np.ndarray:
    """A float32 descriptor of a picture: feature statistics per layer and a colour histogram."""
    rgb = img.convert("RGB")
    scale = IMAGE_SIDE / max(rgb.size)
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    rgb = rgb.resize(size, Image.Resampling.BILINEAR)
    pixels = np.asarray(rgb, dtype=np.uint8)
    x = torch.from_numpy(pixels.astype(np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0)
    net = _feature_net()
    # One small picture through a narrow net: a second thread costs more than it saves.
    with cpu_threads(1), torch.inference_mode():
        taps = net(x)
    parts = []
    for name in net.style_layers:
        act = taps[name][0].flatten(1).double()
        parts += [act.mean(dim=1), act.std(dim=1, unbiased=False)]
    stats = torch.cat(parts).numpy()
    bins = (pixels.reshape(-1, 3).astype(np.int64) * HIST_BINS) // 256
    index = (bins[:, 0] * HIST_BINS + bins[:, 1]) * HIST_BINS + bins[:, 2]
    hist = np.bincount(index, minlength=HIST_BINS**3) / len(index)
    return np.concatenate([stats, hist]).astype(np.float32)


def embed_text(text: str) -> np.ndarray:
    """A float32 descriptor of a text: l2-normalised counts of hashed character 1–3-grams."""
    return _hasher().transform([text]).toarray()[0].astype(np.float32)


def embed(path: Path, modality: str) -> np.ndarray:
    """The descriptor of the artwork file at ``path`` ('image': a picture, 'text': UTF-8)."""
    path = Path(path)
    if modality == "image":
        try:
            with open_image(path) as img:
                return embed_image(img)
        except UnusableFile as err:
            raise InputError(f"cannot read image '{path}': it {err}") from None
        except OSError as err:
            raise InputError(f"cannot read image '{path}' ({err})") from None
    if modality == "text":
        try:
            return embed_text(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"cannot read text '{path}' ({err})") from None
    raise InputError(f"the taste model handles {' and '.join(MODALITIES)}, not '{modality}'")


def label_from_rating(stars: int | None, like: bool | None) -> int | None:
    """1 for liked (a like or 4–5 stars), 0 for disliked (a dislike or 1–2 stars), else None.

    An explicit like or dislike wins over the stars.
    """
    if like is not None:
        return int(like)
    if stars is None:
        return None
    if stars >= 4:
        return 1
    if stars <= 2:
        return 0
    return None


def _check_counts(y: np.ndarray, modality: str, need: int = MIN_PER_CLASS) -> None:
    liked, disliked = int((y == 1).sum()), int((y == 0).sum())
    if liked < need or disliked < need:
        what = f"{modality} artworks" if modality else "artworks"
        raise InputError(
            f"rate at least {need} liked and {need} disliked {what} to train the taste model "
            f"(have {liked} liked, {disliked} disliked)"
        )


def block_weights(blocks: tuple[int, ...]) -> np.ndarray:
    """Per-feature weights (one per column) that give each block of columns, once
    standardised, the total variance of the first block: the penalty then weighs blocks,
    not column counts. ``(550,)`` gives all ones.

    Why: the 550 descriptor columns would otherwise outvote the encoder's 128 under the
    same penalty. Simulated users (a liked shape, size, colour, position or ground) on 200
    captioned-shapes pictures with the shapes-encoder, 40 ratings each, mean held-out
    accuracy: descriptors alone 0.695, encoder alone 0.852, both unweighted 0.799, both
    weighted so 0.835; with all 200 rated 0.782, 0.898, 0.908 and 0.911 (docs/gallery.md).
    """
    if not blocks or min(blocks) < 1:
        raise ValueError(f"feature blocks must be positive widths, got {blocks}")
    return np.concatenate([np.full(n, math.sqrt(blocks[0] / n)) for n in blocks])


def _as_matrix(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise InputError(f"taste model: expected a 2-D array of descriptors, got {X.ndim}-D")
    return X


class TasteModel:
    """A standardiser and a logistic regression giving the probability a user likes a work."""

    def __init__(self, modality: str = "image", encoder: str | None = None):
        self.modality = modality
        # The key of the encoder whose picture vectors follow the descriptors, or None:
        # a model is only ever scored on the features it was fitted on.
        self.encoder = encoder
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None
        self.coef: np.ndarray | None = None
        self.intercept = 0.0
        self.counts = {"liked": 0, "disliked": 0}

    def fit(
        self, X, y, *, min_per_class: int = MIN_PER_CLASS, blocks: tuple[int, ...] | None = None
    ) -> TasteModel:
        """Learn from descriptors ``X`` (n×d) and labels ``y`` (1 liked, 0 disliked);
        ``blocks``: the widths of the kinds of features side by side in ``X`` (see
        :func:`block_weights`), None for one kind."""
        from sklearn.linear_model import LogisticRegression

        X, y = _as_matrix(X), np.asarray(y, dtype=np.int64)
        if len(X) != len(y) or not np.isin(y, (0, 1)).all():
            raise InputError("taste model: labels must be 0 or 1, one per descriptor")
        _check_counts(y, self.modality, min_per_class)
        self.mean = X.mean(axis=0)
        spread = X.std(axis=0)
        # Constant features (an n-gram no rated text has) keep scale 1 rather than dividing by 0.
        self.scale = np.where(spread > 1e-12, spread, 1.0)
        if blocks is not None:
            if sum(blocks) != X.shape[1]:
                raise InputError(f"taste model: blocks {blocks} do not add up to {X.shape[1]}")
            self.scale = self.scale / block_weights(blocks)
        clf = LogisticRegression(C=C_REGULARISATION, class_weight="balanced", max_iter=2000)
        clf.fit((X - self.mean) / self.scale, y)
        self.coef = clf.coef_[0].astype(np.float64)
        self.intercept = float(clf.intercept_[0])
        self.counts = {"liked": int((y == 1).sum()), "disliked": int((y == 0).sum())}
        return self

    def standardise(self, X) -> np.ndarray:
        """Rows of ``X`` as the regression sees them: centred, scaled, blocks weighted."""
        if self.coef is None:
            raise InputError(f"the {self.modality} taste model has not been trained")
        X = _as_matrix(X)
        if X.shape[1] != len(self.coef):
            raise InputError(
                f"taste model expects {len(self.coef)}-number descriptors, got {X.shape[1]}"
            )
        return (X - self.mean) / self.scale

    def score(self, X) -> np.ndarray:
        """The probability of "liked" for each row of ``X``."""
        logits = self.standardise(X) @ self.coef + self.intercept
        # Clipped so a far-off descriptor gives 0 or 1 without an overflow warning.
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -500.0, 500.0)))

    def save(self, path: str | Path) -> Path:
        """Write the model as JSON (numbers only), atomically."""
        if self.coef is None:
            raise InputError(f"the {self.modality} taste model has not been trained")
        data = {
            "format": FORMAT,
            "version": VERSION,
            "modality": self.modality,
            "encoder": self.encoder,
            "counts": self.counts,
            "intercept": self.intercept,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
        }
        return atomic_write_text(path, json.dumps(data) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> TasteModel:
        """Read a model written by :meth:`save`; any problem is one InputError naming the file."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT or data.get("version") != VERSION:
                raise ValueError("not a museforge taste model")
            encoder = data.get("encoder")  # absent in files written before encoders
            model = cls(str(data["modality"]), None if encoder is None else str(encoder))
            model.mean, model.scale, model.coef = (
                np.asarray(data[key], dtype=np.float64) for key in ("mean", "scale", "coef")
            )
            model.intercept = float(data["intercept"])
            model.counts = {k: int(data["counts"][k]) for k in ("liked", "disliked")}
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise InputError(f"cannot read taste model '{path}' ({e})") from None
        shapes = {model.mean.shape, model.scale.shape, model.coef.shape}
        finite = all(np.isfinite(a).all() for a in (model.mean, model.scale, model.coef))
        if len(shapes) != 1 or model.coef.ndim != 1 or not finite or (model.scale <= 0).any():
            raise InputError(f"cannot read taste model '{path}' (inconsistent numbers)")
        if not math.isfinite(model.intercept):
            raise InputError(f"cannot read taste model '{path}' (inconsistent numbers)")
        return model


def evaluate_taste(
    examples: list[tuple[np.ndarray, int]],
    seed: int = 0,
    folds: int = 5,
    modality: str = "",
    blocks: tuple[int, ...] | None = None,
) -> dict:
    """Held-out accuracy of the taste model on one modality's rated ``examples`` (feature
    ``blocks`` as for :meth:`TasteModel.fit`).

    Stratified k-fold (k lowered to the smaller class's count, at least 2): every example is
    predicted by a model that never saw it. Returns ``n``, ``liked``, ``disliked``,
    ``folds``, ``accuracy`` and ``baseline`` (always guessing the larger class).
    """
    from sklearn.model_selection import StratifiedKFold

    if not examples:
        _check_counts(np.zeros(0), modality)
    X = _as_matrix([vec for vec, _ in examples])
    y = np.asarray([label for _, label in examples], dtype=np.int64)
    _check_counts(y, modality)
    liked, disliked = int((y == 1).sum()), int((y == 0).sum())
    k = max(2, min(folds, liked, disliked))
    predicted = np.empty(len(y), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for train, test in splitter.split(X, y):
        # Each training part keeps at least one of each class since k <= the smaller count.
        model = TasteModel(modality).fit(X[train], y[train], min_per_class=1, blocks=blocks)
        predicted[test] = model.score(X[test]) >= 0.5
    return {
        "modality": modality,
        "n": len(y),
        "liked": liked,
        "disliked": disliked,
        "folds": k,
        "accuracy": float((predicted == y).mean()),
        "baseline": max(liked, disliked) / len(y),
    }


def rank(model: TasteModel, candidates: list[np.ndarray]) -> list[int]:
    """Indices of ``candidates``, the most likely to be liked first (ties keep their order)."""
    if not candidates:
        return []
    scores = model.score(np.stack(candidates))
    return [int(i) for i in np.argsort(-scores, kind="stable")]
