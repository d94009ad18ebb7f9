"""Fixtures shared by the words-and-pictures tests: 64 captioned shapes at 16 px and an
untrained tiny encoder of their captions."""

import pytest

from museforge.core.artifact import save_artifact
from museforge.crossmodal.encoder import EncoderConfig, TextImageEncoder, build_vocab
from museforge.crossmodal.shapes import captioned_shapes

# A text–image encoder small enough to build in a test.
SMALL = {
    "embed_dim": 16,
    "text_width": 16,
    "text_layers": 1,
    "text_heads": 2,
    "image_width": 8,
    "context": 48,
}


@pytest.fixture(scope="module")
def shapes():
    return captioned_shapes(16, n=64, seed=0)


@pytest.fixture(scope="module")
def encoder(shapes, tmp_path_factory):
    vocab = build_vocab([t for c in shapes.captions for t in c.values()])
    cfg = EncoderConfig(vocab=vocab, image_size=16, **SMALL)
    path = tmp_path_factory.mktemp("enc") / "encoder"
    save_artifact(path, "text-image-encoder", cfg, TextImageEncoder(cfg).state_dict())
    return path
