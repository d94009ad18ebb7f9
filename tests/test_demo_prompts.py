"""`make run` samples every starter: each text-to-image starter must be asked in words it
learnt (a prompt with characters it never saw is refused, which once stopped the demo)."""

import json
from pathlib import Path

import pytest

from museforge.cli.demo import imagine_prompts
from museforge.core.artifact import load_artifact

MODELS = Path(__file__).resolve().parents[1] / "models"
IMAGINE_STARTERS = sorted(
    p.parent.name
    for p in MODELS.glob("*/model.json")
    if json.loads(p.read_text()).get("kind") == "text-to-image"
)


@pytest.mark.parametrize("name", IMAGINE_STARTERS)
def test_the_demo_prompts_of_each_text_to_image_starter_use_only_what_it_learnt(name):
    loaded = load_artifact(MODELS / name)
    prompts = imagine_prompts(loaded.manifest["data"])
    assert len(prompts) == 2
    for prompt in prompts:
        assert loaded.model.tokens.unknown(prompt) == [], (name, prompt)


def test_a_set_without_demo_prompts_is_asked_in_its_commonest_words():
    data = {"source": "folder:/x", "vocabulary": {"words": {"en": ["red", "cat", "hat"]}}}
    assert imagine_prompts(data) == ("red cat",)
