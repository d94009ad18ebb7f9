"""The text verbs through the registry: declared settings, checks that name them, and the
one record of a call in each artwork's provenance."""

from __future__ import annotations

import pytest

from museforge.core.registry import call_verb, get_kind
from museforge.errors import InputError
from museforge.text import verbs
from museforge.text.annotate import annotate_poem


def test_commands_and_studio_forms():
    spec = get_kind("text-lm")
    commands = {name: v.command for name, v in spec.verbs.items()}
    assert commands == {
        "sample": "write",
        "continue_": "continue",
        "poem": "poem",
        "lyrics": "lyrics",
        "evaluate": "evaluate",
    }
    assert not spec.verbs["evaluate"].studio and spec.verbs["poem"].studio
    assert spec.verbs["continue_"].setting("prompt").required
    assert spec.verbs["poem"].setting("tones").param.choices == ("off", "loose", "strict")


def test_call_records_arguments_once(zh_model):
    result = call_verb(zh_model, "sample", prompt="春", n=2, seed=4, max_chars=12)
    for i, art in enumerate(result.artworks):
        prov = art.provenance
        assert art.text.startswith("春")
        assert prov["verb"] == "sample" and prov["args"]["prompt"] == "春"
        assert prov["args"]["max_chars"] == 12 and prov["args"]["stop_at_end"] is True
        assert prov["index"] == i and prov["seed"] == 4 and prov["language"] == "zh"
        assert "sampling" not in prov and "prompt" not in prov and "settings" not in prov


def test_continue_needs_a_prompt_and_matches_sample(en_model):
    with pytest.raises(InputError, match="continue needs prompt"):
        call_verb(en_model, "continue_")
    with pytest.raises(InputError, match="continue needs a non-empty prompt"):
        call_verb(en_model, "continue_", prompt="  ")
    made = call_verb(en_model, "continue_", prompt="The ", seed=2, max_chars=30)
    same = verbs.sample(en_model, prompt="The ", seed=2, max_chars=30)
    assert made.artworks[0].text == same.artworks[0].text
    assert made.artworks[0].provenance["verb"] == "continue_"


@pytest.mark.parametrize(
    ("model", "setting", "value", "applies"),
    [
        ("en_model", "title", "春夜", "zh"),
        ("en_model", "rhyme", "ang", "zh"),
        ("en_model", "tones", "strict", "zh"),
        ("zh_model", "lines", 6, "en"),
        ("zh_model", "syllables", "8", "en"),
        ("zh_model", "rhyme_scheme", "AABB", "en"),
    ],
)
def test_form_settings_of_the_other_language_are_refused(request, model, setting, value, applies):
    loaded = request.getfixturevalue(model)
    label = setting.replace("_", " ")
    with pytest.raises(InputError, match=f"^{label} applies to {applies} models"):
        call_verb(loaded, "poem", **{setting: value})


def test_messages_name_settings_not_flags(zh_model, en_model):
    for loaded, settings in (
        (zh_model, {"tones": "wild"}),
        (zh_model, {"temperature": 9.0}),
        (zh_model, {"n": 0}),
        (zh_model, {"title": "春》夜"}),
        (en_model, {"syllables": "eight"}),
    ):
        with pytest.raises(InputError) as err:
            call_verb(loaded, "poem", **settings)
        message = str(err.value)
        assert "--" not in message and next(iter(settings)) in message, message


def test_annotate_records_the_annotated_poem(zh_model, en_model):
    for loaded in (zh_model, en_model):
        plain = call_verb(loaded, "poem", seed=5)
        noted = call_verb(loaded, "poem", seed=5, annotate=True)
        (art,) = noted.artworks
        assert art.text == plain.artworks[0].text  # annotating never changes the poem
        assert "annotation" not in plain.artworks[0].provenance
        language = loaded.model.cfg.language
        assert art.provenance["annotation"] == annotate_poem(art.text, language)
        assert art.provenance["annotation"] != art.text


def test_poem_provenance_keeps_what_the_verb_derived(zh_model, en_model):
    (zh,) = call_verb(zh_model, "poem", seed=1).artworks
    assert zh.provenance["form"]["form"] == "qijue"  # the default, resolved
    assert zh.provenance["violations"] == []
    assert zh.text == f"《{zh.text[1:].split('》')[0]}》\n{zh.provenance['body']}"
    (en,) = call_verb(en_model, "lyrics", verse_lines=2, chorus_lines=2, seed=1).artworks
    assert list(en.provenance["form"]["structure"]) == ["verse", "chorus", "verse", "chorus"]
    assert en.provenance["form"]["syllables"] == 8  # parsed from the setting's "8"


def test_candidates_keep_the_likeliest_draft(zh_model, en_model):
    from museforge.text.forms import write_poems
    from museforge.text.rerank import bits_per_char
    from museforge.text.sampling import SamplingSettings

    for loaded in (zh_model, en_model):
        model = loaded.model
        settings = SamplingSettings()
        drafts = write_poems(model, 6, 3, settings)  # the first two poems' three drafts each
        best = write_poems(model, 2, 3, settings, candidates=3)
        scores = [bits_per_char(model, t) for t in drafts.texts]
        for i in range(2):
            group = scores[3 * i : 3 * i + 3]
            assert best.texts[i] == drafts.texts[3 * i + group.index(min(group))]
            assert best.bits_per_char[i] == pytest.approx(min(group))
        (art,) = call_verb(loaded, "poem", seed=3, candidates=3).artworks
        assert art.text == best.texts[0]
        assert art.provenance["bits_per_char"] == round(best.bits_per_char[0], 4)
    with pytest.raises(InputError, match="candidates"):
        call_verb(en_model, "poem", candidates=0)


def test_keep_writes_around_lines_and_ranks_the_texts(zh_model, en_model):
    result = call_verb(en_model, "poem", form="couplet", keep=["1:The sun is bright"], n=3)
    ranks = [art.provenance["rank"] for art in result.artworks]
    scores = [art.provenance["bits_per_char"] for art in result.artworks]
    assert ranks == [1, 2, 3] and scores == sorted(scores)
    for art in result.artworks:
        assert art.text.split("\n")[0] == "The sun is bright"
        assert art.provenance["form"]["keep"] == {1: "The sun is bright"}
    for bad, message in [
        (["The sun"], "keep must look like 3:"),
        (["0:The sun"], "counts lines from 1"),
        (["1:a", "1:b"], "names line 1 twice"),
    ]:
        with pytest.raises(InputError, match=message):
            call_verb(en_model, "poem", keep=bad)


def test_a_theme_lifts_its_characters_on_every_line(zh_model):
    import torch

    from museforge.text.chinese import han_mask
    from museforge.text.sampling import SamplingSettings, generate
    from museforge.text.steer import MAX_LIFT, theme_bias

    model = zh_model.model
    assert theme_bias(model, "", 1.0) is None and theme_bias(model, "春", 0.0) is None
    lift = theme_bias(model, "春", 2.0)
    assert lift.shape == (len(model.vocab),) and lift.min() >= 0
    assert lift.max() <= 2.0 * MAX_LIFT and lift.max() > 0
    assert not lift[~han_mask(model.vocab)].any()  # punctuation and markers untouched
    spring = model.vocab.index("春")
    forced = torch.zeros(len(model.vocab))
    forced[spring] = 100.0
    (text,) = generate(
        model, "", 1, 0, SamplingSettings(max_chars=8, stop_at_end=False), bias=forced
    )
    assert text == "春" * 8  # the bias is added at every step
    plain = call_verb(zh_model, "poem", title="春夜", seed=2, steer=0.0).artworks[0]
    steered = call_verb(zh_model, "poem", title="春夜", seed=2).artworks[0]
    assert "theme" not in plain.provenance["form"]
    assert steered.provenance["form"]["theme"] == "春夜"  # the title, by default
    assert steered.provenance["violations"] == []
