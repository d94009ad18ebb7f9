"""Verb settings declared once: read from the signature, checked with messages that name
the setting, resolved after defaults."""

from pathlib import Path
from typing import Annotated

import pytest

from museforge.core.verbs import SEED, Param, VerbSpec, declared_settings
from museforge.errors import SettingError


def paint(
    loaded,
    n: Annotated[int, Param("how many", min=1, max=9)] = 2,
    mood: Annotated[str, Param("feel", choices=("calm", "wild"))] = "calm",
    title: Annotated[str | None, Param("a title", applies=("zh",))] = None,
    strength: Annotated[float, Param("how much", min=0, max=1)] = 0.5,
    parents: Annotated[list[Path] | None, Param("parent pictures", input="images")] = None,
    tidy: Annotated[bool, Param("clean up")] = True,
    seed: Annotated[int, SEED] = 0,
    on_step=None,
):
    """Paint something.

    More words that are not the summary."""


SPEC = VerbSpec("toy", "sample", paint, declared_settings(paint), "paint")


def test_settings_come_from_the_signature():
    names = [s.name for s in SPEC.settings]
    assert names == ["n", "mood", "title", "strength", "parents", "tidy", "seed"]  # no on_step
    n, _, title, _, parents, *_ = SPEC.settings
    assert (n.type, n.default, n.required, n.optional) == (int, 2, False, False)
    assert (title.type, title.optional) == (str, True)
    assert (parents.type, parents.many, parents.param.input) == (Path, True, "images")
    assert SPEC.doc == "Paint something."


def test_resolve_fills_defaults_and_converts():
    args = SPEC.resolve({"n": "3", "strength": 1, "tidy": "no"})
    assert args == {
        "n": 3,
        "mood": "calm",
        "title": None,
        "strength": 1.0,
        "parents": None,
        "tidy": False,
        "seed": 0,
    }
    assert SPEC.resolve({"parents": "a.png"})["parents"] == [Path("a.png")]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"n": 10}, "n must be 1..9 (got 10)"),
        ({"n": 2.5}, "n must be a whole number"),
        ({"strength": -0.1}, "strength must be 0..1"),
        ({"mood": "sad"}, "mood must be one of calm, wild"),
        ({"tidy": "maybe"}, "tidy must be true or false"),
        ({"colour": "red"}, "sample has no setting colour"),
    ],
)
def test_bad_values_name_the_setting(given, message):
    with pytest.raises(Exception, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        SPEC.resolve(given)
    assert "--" not in str(info.value)  # the setting, never a flag of one front end


def test_a_setting_for_other_variants_is_refused_with_its_name():
    with pytest.raises(SettingError, match="title applies to zh models") as info:
        SPEC.resolve({"title": "秋夜"}, variant="en")
    assert info.value.setting == "title" and info.value.flag == "title"
    assert SPEC.resolve({"title": "秋夜"}, variant="zh")["title"] == "秋夜"


def test_undeclared_and_untyped_settings_are_refused():
    def loose(loaded, n=3):
        pass

    def spread(loaded, **settings):
        pass

    def odd(loaded, size: Annotated[dict | None, Param("what")] = None):
        pass

    for fn, message in ((loose, "lacks Annotated"), (spread, "no \\*settings"), (odd, "not int")):
        with pytest.raises(TypeError, match=message):
            declared_settings(fn)
