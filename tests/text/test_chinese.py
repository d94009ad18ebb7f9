"""Classical Chinese forms: constrained decoding produces verses the verifier accepts."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
import torch

from museforge.errors import InputError
from museforge.text import chinese
from museforge.text.chinese import (
    FORMS,
    ChineseForm,
    annotate_chinese,
    canonical_form,
    make_chinese_constraint,
    rhyme_group_names,
    rhyme_groups,
    tone_classes,
    tone_pattern,
    verify_chinese,
)

CORPUS = Path("/usr/share/games/fortunes/tang300")
SPECIALS = ["，", "。", "\n", "\x03", "\x01"]

# 王之涣《登鹳雀楼》 (仄起, rhyme 七尤) and 李白《早发白帝城》 (平起, first line rhymes, 八寒):
# both meet the loose pattern under the modern-tone approximation.
DENG = "白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。"
ZAOFA = "朝辞白帝彩云间，千里江陵一日还。\n两岸猿声啼不住，轻舟已过万重山。"


@pytest.fixture(scope="module")
def vocab() -> list[str]:
    if not CORPUS.exists():
        pytest.skip("the tang300 fortune file is not installed")
    text = re.sub(r"\x1b\[[0-9;]*m", "", CORPUS.read_text(encoding="utf-8"))
    return sorted(set(text) - set(SPECIALS)) + SPECIALS


def sample(form: ChineseForm, vocab: list[str], seed: int) -> str:
    """A uniform random 'model': any allowed character, until the form is done."""
    con = make_chinese_constraint(form, vocab, torch.Generator().manual_seed(seed))
    pick = torch.Generator().manual_seed(1000 + seed)
    out = []
    while not con.done:
        mask = con.allowed()
        assert mask is not None and mask.shape == (len(vocab),) and mask.dtype == torch.bool
        ids = mask.nonzero().flatten()
        assert len(ids) > 0, f"dead end after {''.join(out)!r}"
        char = vocab[int(ids[torch.randint(len(ids), (1,), generator=pick)])]
        con.advance(char)
        out.append(char)
    assert con.allowed() is None
    return "".join(out)


def split_lines(text: str, form: ChineseForm) -> list[str]:
    """Check the exact layout and return the 句."""
    length, n_lines, _ = FORMS[form.form]
    rows = text.split("\n")
    assert len(rows) == n_lines // 2
    lines = []
    for row in rows:
        assert re.fullmatch(rf"[^，。\n]{{{length}}}，[^，。\n]{{{length}}}。", row), row
        lines += row[:-1].split("，")
    assert all(tone_classes(c) for line in lines for c in line)  # Han characters only
    return lines


def rhymed(form: ChineseForm) -> list[int]:
    first = form.first_line_rhymes
    if first is None:
        first = FORMS[form.form].chars_per_line == 7
    return ([0] if first else []) + list(range(1, FORMS[form.form].lines, 2))


CASES = list(
    itertools.product(
        FORMS, ["loose", "strict"], [None, "十唐"], [None, "春江花月夜"], [None, "明月"]
    )
)


@pytest.mark.parametrize(("form_name", "tones", "rhyme", "acrostic", "required"), CASES)
def test_sampled_poems_meet_the_form(vocab, form_name, tones, rhyme, acrostic, required):
    n_lines = FORMS[form_name].lines
    acrostic = acrostic[:n_lines] if acrostic else None
    form = ChineseForm(form_name, rhyme, tones, acrostic, required)
    for seed in range(3):
        text = sample(form, vocab, seed)
        assert verify_chinese(text, form) == [], text
        lines = split_lines(text, form)
        ends = [lines[i][-1] for i in rhymed(form)]
        assert len(set(ends)) == len(ends), text
        shared = set.intersection(*(rhyme_groups(c) for c in ends))
        assert shared, text
        if rhyme:
            assert rhyme in shared, text
        if acrostic:
            assert [line[0] for line in lines[: len(acrostic)]] == list(acrostic)
        if required:
            assert any(required in line for line in lines), text


@pytest.mark.parametrize("form_name", list(FORMS))
def test_options_combine(vocab, form_name):
    options = itertools.product(["ping", "ze"], [True, False], ["ang", "off", "寒", None])
    for seed, (pattern, first, rhyme) in enumerate(options):
        for tones in ("strict", "off"):
            form = ChineseForm(form_name, rhyme, tones, first_line_rhymes=first, pattern=pattern)
            text = sample(form, vocab, seed)
            assert verify_chinese(text, form) == [], text
            lines = split_lines(text, form)
            if tones == "strict":  # every character fits the fixed pattern
                for line, marks in zip(lines, tone_pattern(form, pattern), strict=True):
                    for char, mark in zip(line, marks, strict=True):
                        assert ("ping" if mark == "平" else "ze") in tone_classes(char), text
            if rhyme != "off":
                ends = [lines[i][-1] for i in rhymed(form)]
                assert len(set(ends)) == len(ends)
                assert set.intersection(*(rhyme_groups(c) for c in ends)), text


def test_no_character_twice_in_a_line_but_side_by_side():
    """A vocabulary of a few characters makes repeats likely: only 叠字 get through, and
    a character forced later in a 句 (the required word) is kept for its place."""
    few = list("山水花月风春秋天人江明日") + SPECIALS
    form = ChineseForm("五绝", tones="off", rhyme="off", required="明月")
    seen_pairs = 0
    for seed in range(12):
        text = sample(form, few, seed)
        assert verify_chinese(text, form) == [], text
        for line in split_lines(text, form):
            for char in set(line):
                at = [j for j, c in enumerate(line) if c == char]
                assert len(at) == 1 or at == [at[0], at[0] + 1] or char in "明月", text
                seen_pairs += len(at) == 2
    assert seen_pairs  # reduplication stays possible
    repeats = ChineseForm("五绝", tones="off", rhyme="off", repeats=True)
    lines = [line for s in range(6) for line in split_lines(sample(repeats, few, s), repeats)]
    assert any(len(set(line)) < len(line) - 1 for line in lines)  # off: repeats come back


def test_sampling_is_reproducible(vocab):
    form = ChineseForm("七律", required="秋风", acrostic="山水")
    assert sample(form, vocab, 7) == sample(form, vocab, 7)
    assert len({sample(form, vocab, s) for s in range(4)}) == 4


def test_required_word_at_rhymed_end(vocab):
    # 长安 ends in 安 (八寒), a rhyme: it is sometimes placed on a rhymed line end.
    form = ChineseForm("五绝", rhyme="寒", required="长安")
    at_end = 0
    for seed in range(30):
        text = sample(form, vocab, seed)
        assert verify_chinese(text, form) == [], text
        lines = split_lines(text, form)
        at_end += any(lines[i].endswith("长安") for i in (1, 3))
    assert at_end > 0


def test_standard_patterns():
    assert tone_pattern(ChineseForm("五绝"), "ze") == [
        "仄仄平平仄",
        "平平仄仄平",
        "平平平仄仄",
        "仄仄仄平平",
    ]
    assert tone_pattern(ChineseForm("七绝"), "ping") == [
        "平平仄仄仄平平",
        "仄仄平平仄仄平",
        "仄仄平平平仄仄",
        "平平仄仄仄平平",
    ]
    qilv = tone_pattern(ChineseForm("七律"), "ze")
    assert qilv[:2] == ["仄仄平平仄仄平", "平平仄仄仄平平"]
    assert qilv[4:] == ["仄仄平平平仄仄", "平平仄仄仄平平", "平平仄仄平平仄", "仄仄平平仄仄平"]
    wulv = tone_pattern(ChineseForm("五律", first_line_rhymes=True), "ping")
    assert wulv[:3] == ["平平仄仄平", "仄仄仄平平", "仄仄平平仄"]


def test_verify_accepts_real_poems():
    assert verify_chinese(DENG, ChineseForm("五绝")) == []
    assert verify_chinese(DENG, ChineseForm("五绝", rhyme="iu", pattern="仄起")) == []
    assert verify_chinese(DENG, ChineseForm("五绝", acrostic="白黄欲", required="千里")) == []
    assert verify_chinese(ZAOFA + "\n", ChineseForm("七绝", rhyme="八寒", pattern="ping")) == []


def test_verify_catches_violations():
    wujue = ChineseForm("五绝")
    assert any("6 characters" in p for p in verify_chinese(DENG.replace("依山", "依青山"), wujue))
    assert any("couplet lines" in p for p in verify_chinese(DENG.replace("\n", ""), wujue))
    assert verify_chinese(DENG.replace("。\n", "，\n"), wujue)
    # broken rhyme: 山 (八寒) against 流 (七尤)
    broken = verify_chinese(DENG.replace("层楼", "层山"), wujue)
    assert any(p.startswith("rhyme:") and "share no rhyme group" in p for p in broken)
    assert any(
        "does not rhyme in 十唐" in p for p in verify_chinese(DENG, ChineseForm("五绝", "唐"))
    )
    # repeated rhyme character
    assert any("more than once" in p for p in verify_chinese(DENG.replace("层楼", "层流"), wujue))
    # wrong tone at an even position (河 -> 海 in 黄河入海流, position 2 must be 平)
    bad = verify_chinese(DENG.replace("黄河", "黄海"), wujue)
    assert any("句 2 character 2 '海' should be 平" in p for p in bad), bad
    # ... but position 1 is free in loose mode and checked in strict mode
    free = DENG.replace("黄河", "大河")
    assert verify_chinese(free, wujue) == []
    assert any(
        "character 1 '大'" in p for p in verify_chinese(free, ChineseForm("五绝", tones="strict"))
    )
    # a character twice in one 句, unless side by side (叠字) or allowed
    twice = DENG.replace("黄河", "海河")
    assert verify_chinese(twice, wujue) == [
        "repeat: 句 2 uses '海' 2 times (only side by side, as 叠字, unless repeats are allowed)"
    ]
    assert verify_chinese(twice, ChineseForm("五绝", repeats=True)) == []
    assert verify_chinese(DENG.replace("白日依山尽", "白日依依尽"), wujue) == []
    off = ChineseForm("五绝", tones="off", repeats=True)  # 黄海入海流: 海 twice as well
    assert verify_chinese(DENG.replace("黄河", "黄海"), off) == []
    # fixed pattern: 登鹳雀楼 is 仄起
    assert verify_chinese(DENG, ChineseForm("五绝", pattern="ping"))
    # acrostic and required word
    missing = verify_chinese(DENG, ChineseForm("五绝", acrostic="春黄"))
    assert missing == ["acrostic: 句 1 should begin with '春', not '白'"]
    assert any(
        "required word '明月'" in p
        for p in verify_chinese(DENG, ChineseForm("五绝", required="明月"))
    )
    # a forced character waives its tone: 大 as the acrostic start of 句 2 in strict mode
    strict = verify_chinese(free, ChineseForm("五绝", tones="strict", acrostic="白大"))
    assert not any("句 2 character 1" in p for p in strict)
    assert any("句 3 character 1 '欲'" in p for p in strict)


def test_errors_name_the_problem(vocab):
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(InputError, match="acrostic has 5 characters but a 七绝 has 4 lines"):
        ChineseForm("七绝", acrostic="春江花月夜")
    with pytest.raises(InputError, match="the model has never seen '鑫'"):
        make_chinese_constraint(ChineseForm("七绝", acrostic="春鑫"), vocab, gen)
    with pytest.raises(InputError, match="the model has never seen '鑫'"):
        make_chinese_constraint(ChineseForm("七绝", required="鑫月"), vocab, gen)
    with pytest.raises(InputError, match=r"unknown rhyme 'xyz'.*十唐"):
        ChineseForm("七绝", rhyme="xyz")
    with pytest.raises(InputError, match=r"unknown Chinese form.*qijue"):
        canonical_form("八绝")
    with pytest.raises(InputError, match="unknown tones"):
        ChineseForm("七绝", tones="medium")
    with pytest.raises(InputError, match="unknown pattern"):
        ChineseForm("七绝", pattern="up")
    with pytest.raises(InputError, match="has 8 characters but a line of a 七律 has only 7"):
        ChineseForm("七律", required="明月照我还故乡去")
    with pytest.raises(InputError, match="not a Chinese character"):
        ChineseForm("七律", required="明,月")
    with pytest.raises(InputError, match="not a Chinese character"):
        ChineseForm("七律", acrostic="a")
    # a vocabulary with only three 十唐 characters cannot fill a 七律's five rhymes
    tiny = ["光", "长", "乡", "山", "水", "明", "月", "日", *SPECIALS]
    with pytest.raises(InputError, match=r"too few rhyming characters.*only 3.*十唐.*5"):
        make_chinese_constraint(ChineseForm("七律", rhyme="唐"), tiny, gen)
    with pytest.raises(InputError, match="no rhyme group has 5"):
        make_chinese_constraint(ChineseForm("七律"), tiny, gen)
    with pytest.raises(InputError, match="lacks"):
        make_chinese_constraint(ChineseForm("七绝"), ["光", "长"], gen)


def test_names():
    assert canonical_form("七绝") == "qijue"
    assert canonical_form("五言律诗") == "wulv"
    assert canonical_form(" QiLv ") == "qilv"
    assert ChineseForm("五律").form == "wulv"
    assert FORMS["qijue"] == (7, 4, "七言绝句")
    names = rhyme_group_names()
    assert len(names) == 14 and names[0] == "一麻" and names[-1] == "十四姑"
    aliases = {"ang": "十唐", "uang": "十唐", "唐": "十唐", "十唐": "十唐", "üan": "八寒"}
    aliases |= {"van": "八寒", "iu": "七尤", "ong": "十一庚", "-i": "十三支", "齐": "十二齐"}
    for name, group in aliases.items():
        assert chinese._GROUP_NAMES[chinese._resolve_rhyme(name)] == group


def test_readings():
    assert tone_classes("明") == {"ping"}
    assert tone_classes("月") == {"ze"}
    assert tone_classes("看") == {"ping", "ze"}  # kān / kàn
    assert tone_classes("，") == set() and tone_classes("a") == set() and tone_classes("") == set()
    assert rhyme_groups("光") == {"十唐"}
    assert rhyme_groups("知") == {"十三支"} and rhyme_groups("衣") == {"十二齐"}
    assert rhyme_groups("鱼") == {"十二齐"} and rhyme_groups("雪") == {"三皆"}


def test_annotate():
    notes = annotate_chinese("床前明月光，疑是地上霜。")
    first, second = notes.split("\n")
    assert first.startswith("床前明月光，") and "○○○●○" in first and "韵:uang" in first
    assert "十唐" in first and "韵:uang" in second
    assert "◐" in annotate_chinese("长看")


def test_pingshui_reads_classical_tones():
    """平水韵: 入声 characters (白 十 国) are 仄, which modern Mandarin reads as 平."""
    ping = chinese.rhyme_book("pingshui")
    for char in "白十国":
        assert tone_classes(char) == {"ping"}  # 中华新韵, the default
        assert tone_classes(char, ping) == {"ze"}
    assert tone_classes("长", ping) == {"ping", "ze"}  # 長 平 (long) and 仄 (grow)
    assert "七陽" in rhyme_groups("阳", "ping", ping)  # simplified, read through 陽
    for poem in (DENG, ZAOFA):  # both keep the classical rules
        form = ChineseForm("五绝" if poem == DENG else "七绝", rhyme_book="pingshui")
        assert verify_chinese(poem, form) == []
    modern_only = DENG.replace("黄河", "黄国")  # 国: guó (平) today, 入声 (仄) in Tang verse
    assert verify_chinese(modern_only, ChineseForm("五绝")) == []
    (problem,) = verify_chinese(modern_only, ChineseForm("五绝", rhyme_book="平水韵"))
    assert "句 2 character 2 '国' should be 平" in problem and "入聲" in problem, problem
    assert "平水韵:上聲十一軫" in annotate_chinese("白日依山尽，", "pingshui")  # 盡
    assert "●●○○●" in annotate_chinese("白日依山尽，", "pingshui")


@pytest.mark.parametrize(("form_name", "rhyme"), [("五绝", None), ("七绝", "阳"), ("七律", "東")])
def test_pingshui_poems_meet_the_book(vocab, form_name, rhyme):
    form = ChineseForm(form_name, rhyme=rhyme, tones="strict", rhyme_book="pingshui")
    book = chinese.rhyme_book("pingshui")
    for seed in range(3):
        text = sample(form, vocab, seed)
        assert verify_chinese(text, form) == [], text
        lines = split_lines(text, form)
        ends = [lines[i][-1] for i in rhymed(form)]
        shared = set.intersection(*(rhyme_groups(c, "ping", book) for c in ends))
        assert shared, text
        if rhyme:
            assert {"七陽" if rhyme == "阳" else "一東"} <= shared, text
        for char in "".join(lines):  # strict: every character has a classical reading
            assert tone_classes(char, book), (char, text)


def test_rhyme_book_errors():
    with pytest.raises(InputError, match="unknown rhyme book 'guangyun'"):
        ChineseForm("五绝", rhyme_book="guangyun")
    with pytest.raises(InputError, match="unknown rhyme 'ang' in 平水韵"):
        ChineseForm("五绝", rhyme="ang", rhyme_book="pingshui")


def test_kept_lines_are_written_as_given_and_set_the_rhyme(vocab):
    form = ChineseForm("五绝", rhyme_book="pingshui")
    keep = {3: "更上一层楼"}  # the last 句: 楼 (十一尤) is the rhyme line 2 must follow
    for seed in range(3):
        con = make_chinese_constraint(form, vocab, torch.Generator().manual_seed(seed), keep)
        text = sample_with(con, vocab, seed)
        lines = split_lines(text, form)
        assert lines[3] == "更上一层楼"
        assert "十一尤" in rhyme_groups(lines[1][-1], "ping", form.book), text
        assert verify_chinese(text, form) == [], text
    with pytest.raises(InputError, match="has 4 characters"):
        make_chinese_constraint(form, vocab, torch.Generator(), {0: "白日依山"})
    with pytest.raises(InputError, match="outside the 4 句"):
        make_chinese_constraint(form, vocab, torch.Generator(), {4: "白日依山尽"})
    with pytest.raises(InputError, match="acrostic asks for '春'"):
        make_chinese_constraint(
            ChineseForm("五绝", acrostic="春"), vocab, torch.Generator(), {0: "白日依山尽"}
        )


def sample_with(con, vocab: list[str], seed: int) -> str:
    pick = torch.Generator().manual_seed(1000 + seed)
    out = []
    while not con.done:
        ids = con.allowed().nonzero().flatten()
        assert len(ids) > 0, f"dead end after {''.join(out)!r}"
        char = vocab[int(ids[torch.randint(len(ids), (1,), generator=pick)])]
        con.advance(char)
        out.append(char)
    return "".join(out)
