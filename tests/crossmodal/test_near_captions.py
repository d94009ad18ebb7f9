"""Hard negatives for the encoder: captions one word away, in either language, and a loss
that a near caption outscoring the right one raises."""

import torch

from museforge.crossmodal.encoder import contrastive_loss
from museforge.crossmodal.near_captions import NearCaptions

CAPTIONS = [
    "a small red star top left on white",
    "a small red heart top left on white",
    "a large blue circle bottom right on a green gradient",
    "A small red star  top left on white",  # the first, once normalised
    "白色背景上左上角有一个小红色星星",
    "白色背景上左上角有一个小红色爱心",
    "黑色背景上右下角有一个大蓝色圆",
]


def test_the_nearest_caption_differs_by_a_word_never_itself_in_its_language():
    near = NearCaptions(CAPTIONS, k=1)
    assert len(near.texts) == 6  # the normalised duplicate is one caption
    gen = torch.Generator().manual_seed(0)
    assert near.pick(CAPTIONS[0], gen) == CAPTIONS[1]
    assert near.pick(CAPTIONS[3], gen) == CAPTIONS[1]
    assert near.pick(CAPTIONS[4], gen) == CAPTIONS[5]
    assert near.pick("a caption it never saw", gen) is None


def test_a_single_caption_has_no_neighbour():
    assert NearCaptions(["only one"]).pick("only one", torch.Generator()) is None


def test_a_hard_negative_outscoring_the_right_caption_raises_the_loss():
    right = torch.eye(3) * 10
    easy = torch.cat([right, torch.zeros(3, 3)], dim=1)  # three near captions, scored low
    hard = torch.cat([right, torch.eye(3) * 12], dim=1)  # each picture prefers its near one
    assert contrastive_loss(easy) < 0.01 < contrastive_loss(hard)
