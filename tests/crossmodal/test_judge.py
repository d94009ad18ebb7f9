"""The captioned-shapes judge: it learns attributes from pictures, and its scores count
exactly the pictures it sees as asked."""

import torch

from museforge.crossmodal import judge as judge_module
from museforge.crossmodal.judge import AttributeJudge, attribute_accuracy, load_judge
from museforge.crossmodal.shapes import CHOICES, captioned_shapes


def test_scores_count_what_the_judge_sees(monkeypatch):
    data = captioned_shapes(16, n=4, seed=0)
    attrs = list(data.attributes)
    judge = AttributeJudge(16)

    def sees(x):  # a judge that gets colour right on the first two pictures only
        out = {}
        for key, options in CHOICES:
            logits = torch.zeros(len(x), len(options))
            for i, a in enumerate(attrs):
                right = options.index(a[key])
                logits[i, right if (key != "colour" or i < 2) else (right + 1) % len(options)] = 1
            out[key] = logits
        return out

    monkeypatch.setattr(judge, "forward", sees)
    scores = attribute_accuracy(judge, data.images, attrs)
    assert scores["colour"] == 0.5 and scores["shape"] == 1.0 and scores["colour_and_shape"] == 0.5


def test_a_briefly_trained_judge_tells_backgrounds_and_is_cached(monkeypatch, tmp_path):
    monkeypatch.setattr(judge_module, "TRAIN_PICTURES", 400)
    monkeypatch.setattr(judge_module, "STEPS", 80)
    first = load_judge(16, cache_dir=tmp_path)
    assert list((tmp_path / "judges").glob("*.safetensors"))

    def no_training(*args, **kwargs):
        raise AssertionError("the cached judge should have been used")

    monkeypatch.setattr(judge_module, "train_judge", no_training)
    again = load_judge(16, cache_dir=tmp_path)
    first_state, again_state = first.state_dict(), again.state_dict()
    assert all(torch.equal(first_state[k], again_state[k]) for k in first_state)
    test = captioned_shapes(16, n=200, seed=5)
    scores = attribute_accuracy(first, test.images, list(test.attributes))
    assert scores["background"] > 0.5  # chance is 1/6
