"""Text corpora: the Debian built-ins parse cleanly, user files load or fail clearly, splits."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from museforge.core.data import datasets, user_sources
from museforge.errors import DataError, InputError
from museforge.text import corpus as corpus_module
from museforge.text.corpus import (
    END,
    MIN_SPLIT_CHARS,
    Poem,
    TextCorpus,
    detect_language,
    load_text_corpus,
    render_document,
    split_corpus,
)

FORTUNES = Path("/usr/share/games/fortunes")
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # anything but "\n"


def needs(file: str, package: str):
    return pytest.mark.skipif(
        not (FORTUNES / file).is_file(), reason=f"needs Debian package {package} (make install)"
    )


def clean(poem: Poem) -> bool:
    fields = poem.text + poem.title + poem.author
    return END not in fields and "\x1b" not in fields and not CONTROL.search(fields)


def by_title(corpus: TextCorpus) -> dict[str, Poem]:
    return {p.title: p for p in corpus.poems}


# --- built-ins -----------------------------------------------------------------------------


@needs("tang300", "fortunes-zh")
def test_tang300_parses_titles_authors_and_clean_bodies():
    tang = load_text_corpus("tang300")
    assert tang.source == "tang300" and tang.language == "zh"
    assert len(tang) >= 300
    first = tang.poems[0]
    assert (first.title, first.author) == ("感遇・其一", "张九龄")
    assert first.text.startswith("兰叶春葳蕤，桂华秋皎洁。\n")
    assert all(clean(p) and p.title and p.author for p in tang.poems)
    # Chinese bodies have no whitespace inside lines and no blank lines.
    assert not any(re.search(r"[^\S\n]|\n\n", p.text) for p in tang.poems)
    assert tang.documents()[0] == "《感遇・其一》\n" + first.text


@needs("song100", "fortunes-zh")
def test_song100_splits_sub_headings_and_drops_author_dates():
    song = load_text_corpus("song100")
    assert len(song) >= 95
    assert all(clean(p) and p.title and p.author for p in song.poems)
    # Authors come without life dates or notes; titles without counts like 二首.
    assert not any(re.search(r"[（）()０-９0-9]", p.author) for p in song.poems)
    assert by_title(song)["塞上"].author == "柳开"
    titles = by_title(song)
    assert {"春居杂兴・其一", "春居杂兴・其二", "明妃曲和王介甫作・其二"} <= set(titles)
    assert not any(t.startswith("春居杂兴") and t.endswith("二首") for t in titles)
    assert titles["春居杂兴・其二"].text.startswith("春云如兽复如禽")
    assert not any(line == "其一" for p in song.poems for line in p.text.split("\n"))
    # One separator in the file carries trailing spaces: 东溪 and 鲁山山行 must stay apart.
    assert "鲁山山行" in titles and "适与野情惬" not in titles["东溪"].text


@needs("songs-poems", "fortunes")
def test_songs_poems_attributions_become_authors():
    songs = load_text_corpus("songs-poems")
    assert songs.language == "en" and len(songs) >= 700
    assert all(clean(p) for p in songs.poems)
    talcum = next(p for p in songs.poems if p.text.startswith("A bit of talcum"))
    assert talcum == Poem("A bit of talcum\nIs always walcum", author="Ogden Nash")
    tolkien = [p for p in songs.poems if p.author == "J. R. R. Tolkien"]
    assert len(tolkien) >= 10
    # No attribution left in any text; layout: no tabs, trailing spaces or blank-line runs.
    assert not any(re.search(r"^\s*--\s+\w", p.text.split("\n")[-1]) for p in songs.poems)
    assert not any(re.search(r"\t|[ ]$|\n\n\n", p.text, re.M) for p in songs.poems)
    # Typewriter overstrikes (' backspace i) become accented letters, not stray quotes.
    elbereth = next(p for p in songs.poems if p.text.startswith("A Elbereth"))
    assert "penna míriel" in elbereth.text


BUILTINS = {"tang300", "song100", "songs-poems", "fortunes-en", "fortunes-zh"}


def test_builtins_are_registered_with_size_and_licence():
    sets = {d.name: d for d in datasets("text")}
    assert set(sets) == BUILTINS
    for d in sets.values():
        assert d.description and "\n" not in d.description and d.size and d.licence
    assert "GPL" in sets["tang300"].licence and "BSD" in sets["songs-poems"].licence
    assert {u.prefix for u in user_sources("text")} == {"file", "folder"}


@needs("tang300", "fortunes-zh")
def test_a_registered_set_loads_through_its_loader():
    (tang,) = [d for d in datasets("text") if d.name == "tang300"]
    corpus = tang.loader()
    assert corpus.source == "tang300" and corpus.language == "zh" and len(corpus) == 313
    assert corpus == load_text_corpus("tang300")


@pytest.mark.parametrize(
    ("name", "package"), [("tang300", "fortunes-zh"), ("songs-poems", "fortunes")]
)
def test_missing_builtin_names_the_debian_package(monkeypatch, tmp_path, name, package):
    monkeypatch.setattr(corpus_module, "FORTUNES_DIR", tmp_path)
    with pytest.raises(DataError) as err:
        load_text_corpus(name)
    message = str(err.value)
    assert str(tmp_path / name) in message
    assert f"apt-get install {package}" in message and "make install" in message


def test_unknown_spec_lists_the_choices():
    with pytest.raises(DataError) as err:
        load_text_corpus("tang3000")
    message = str(err.value)
    assert "tang3000" in message and "file:" in message and "folder:" in message
    assert all(name in message for name in BUILTINS)


# --- rendering, language, fingerprint ------------------------------------------------------


def test_render_document_shows_titles_for_chinese_only():
    poem = Poem("床前明月光", title="静夜思", author="李白")
    assert render_document(poem, "zh") == "《静夜思》\n床前明月光"
    assert render_document(poem, "en") == "床前明月光"
    assert render_document(Poem("无题之诗"), "zh") == "无题之诗"


def test_detect_language():
    assert detect_language("床前明月光，疑是地上霜。") == "zh"
    assert detect_language("The moon before my bed, like frost upon the ground.") == "en"
    assert detect_language("床前明月光 (Li Bai)，疑是地上霜。") == "zh"
    assert detect_language("A long English line that quotes one word: 月.") == "en"
    assert detect_language("") == "en"


def test_text_fingerprint_is_stable_and_follows_the_text():
    poems = (Poem("one\ntwo"), Poem("three"))
    corpus = TextCorpus("test", "en", poems)
    assert corpus.text() == f"one\ntwo{END}three{END}"
    assert corpus.fingerprint == hashlib.sha256(corpus.text().encode()).hexdigest()
    assert corpus.fingerprint == TextCorpus("other", "en", list(poems)).fingerprint
    changed = TextCorpus("test", "en", (Poem("one\ntwo!"), Poem("three")))
    assert changed.fingerprint != corpus.fingerprint


@needs("tang300", "fortunes-zh")
def test_builtin_fingerprint_is_stable_across_loads():
    a, b = load_text_corpus("tang300"), load_text_corpus("tang300")
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 64
    edited = replace(a, poems=(replace(a.poems[0], text=a.poems[0].text + "。"), *a.poems[1:]))
    assert edited.fingerprint != a.fingerprint


# --- splitting ------------------------------------------------------------------------------


def numbered(n: int) -> TextCorpus:
    return TextCorpus("test", "en", tuple(Poem(f"poem number {i}") for i in range(n)))


def test_split_is_deterministic_disjoint_and_complete():
    corpus = numbered(200)
    train, val = split_corpus(corpus, holdout=0.1, seed=3)
    again = split_corpus(corpus, holdout=0.1, seed=3)
    assert (train, val) == again
    assert len(val) == 20 and len(train) == 180
    assert not set(train.poems) & set(val.poems)
    assert Counter(train.poems) + Counter(val.poems) == Counter(corpus.poems)
    # Each part keeps source order.
    order = {p: i for i, p in enumerate(corpus.poems)}
    assert [order[p] for p in val.poems] == sorted(order[p] for p in val.poems)
    assert split_corpus(corpus, 0.1, seed=4)[1].poems != val.poems
    assert train.source == "test#train" and val.source == "test#validation"


def test_split_keeps_both_parts_non_empty():
    train, val = split_corpus(numbered(2), holdout=0.1)
    assert len(train) == 1 and len(val) == 1
    train, val = split_corpus(numbered(5), holdout=0.9)
    assert len(train) == 1 and len(val) == 4


def test_split_rejects_a_bad_holdout():
    for holdout in (0, 1, -0.5, 1.5):
        with pytest.raises(InputError):
            split_corpus(numbered(10), holdout=holdout)


def stanza(i: int) -> str:
    return f"Stanza {i} opens here,\nand then it rhymes with cheer,\nthe third line wanders near."


def test_single_document_file_is_split_by_stanzas(tmp_path):
    text = "\n\n".join(stanza(i) for i in range(10))
    path = tmp_path / "one.txt"
    path.write_text(text + "\n%\n")  # a fortune file with one entry: one document
    corpus = load_text_corpus(f"file:{path}")
    assert len(corpus) == 1
    train, val = split_corpus(corpus, holdout=0.1)
    assert val.poems[0].text == stanza(9)
    assert train.poems[0].text + "\n\n" + val.poems[0].text == text


def test_single_block_is_split_by_lines(tmp_path):
    lines = [f"line {i} of a poem that has no stanza breaks at all" for i in range(20)]
    path = tmp_path / "block.txt"
    path.write_text("\n".join(lines))
    corpus = load_text_corpus(f"file:{path}")
    assert len(corpus) == 1
    train, val = split_corpus(corpus, holdout=0.1)
    assert val.poems[0].text == "\n".join(lines[18:])
    assert train.poems[0].text == "\n".join(lines[:18])


def test_tiny_file_is_too_small_to_split(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("Roses are red,\nviolets are blue.\n")
    corpus = load_text_corpus(f"file:{path}")
    with pytest.raises(DataError) as err:
        split_corpus(corpus)
    message = str(err.value)
    assert str(path) in message and "too small" in message
    assert f"({len(corpus.poems[0].text)} characters)" in message
    assert str(MIN_SPLIT_CHARS) in message
    one_line = TextCorpus("test", "en", (Poem("x" * 500),))
    with pytest.raises(DataError, match="too small"):
        split_corpus(one_line)


# --- user files -----------------------------------------------------------------------------


def test_plain_file_splits_on_double_blank_lines(tmp_path):
    path = tmp_path / "poems.txt"
    path.write_text("first poem\nline two\n\nsame poem\n\n\n\nsecond poem\n\n\nthird\n")
    corpus = load_text_corpus(f"file:{path}")
    assert corpus.source == f"file:{path.resolve()}"
    assert [p.text for p in corpus.poems] == [
        "first poem\nline two\n\nsame poem",
        "second poem",
        "third",
    ]


def test_plain_file_groups_short_stanzas(tmp_path):
    couplets = [f"couplet {i} a\ncouplet {i} b" for i in range(5)]
    path = tmp_path / "couplets.txt"
    path.write_text("\n\n".join(couplets))
    corpus = load_text_corpus(f"file:{path}")
    # Two couplets make a document of 4 lines; the leftover couplet joins the last one.
    assert [p.text for p in corpus.poems] == [
        "\n\n".join(couplets[:2]),
        "\n\n".join(couplets[2:]),
    ]


def test_chinese_fortune_file_gets_titles_and_clean_text(tmp_path):
    path = tmp_path / "zh.txt"
    path.write_text(
        "\x1b[32m《静夜思》\x1b[m\n作者:李白(701-762)\n 床前明月光， 疑是地上霜。\n\n"
        "举头望明月，\u3000低头思故乡。\n%\n题目:《春晓》\n作者：孟浩然\n春眠不觉晓，处处闻啼鸟。\n%\n"
    )
    corpus = load_text_corpus(f"file:{path}")
    assert corpus.language == "zh"
    assert corpus.poems == (
        Poem("床前明月光，疑是地上霜。\n举头望明月，低头思故乡。", "静夜思", "李白"),
        Poem("春眠不觉晓，处处闻啼鸟。", "春晓", "孟浩然"),
    )


def test_bom_crlf_controls_and_end_markers_are_removed(tmp_path):
    path = tmp_path / "dos.txt"
    raw = "\ufeffOne line\r\nwith \x1b[1mbold\x1b[0m and an end\x03 mark\r\n\tindented\r\n"
    path.write_bytes(raw.encode("utf-8"))
    corpus = load_text_corpus(f"file:{path}")
    assert corpus.poems == (Poem("One line\nwith bold and an end mark\n    indented"),)


def test_folder_reads_text_files_recursively_in_order(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.md").write_text("second file")
    (tmp_path / "a.txt").write_text("first file")
    (tmp_path / "b" / "notes.TEXT").write_text("third file")
    (tmp_path / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    corpus = load_text_corpus(f"folder:{tmp_path}")
    assert [p.text for p in corpus.poems] == ["first file", "third file", "second file"]
    assert corpus.skipped == () and corpus.source == f"folder:{tmp_path.resolve()}"


def test_folder_skips_a_binary_file(tmp_path):
    (tmp_path / "good.txt").write_text("a good poem\nof two lines")
    (tmp_path / "bad.txt").write_bytes(b"\x7fELF\x02\x01\x00\x00binary")
    corpus = load_text_corpus(f"folder:{tmp_path}")
    assert [p.text for p in corpus.poems] == ["a good poem\nof two lines"]
    assert len(corpus.skipped) == 1
    assert corpus.skipped[0].startswith("bad.txt: ") and "binary" in corpus.skipped[0]


def test_folder_with_only_unusable_files_lists_reasons(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "blank.md").write_text("  \n\n")
    with pytest.raises(DataError) as err:
        load_text_corpus(f"folder:{tmp_path}")
    message = str(err.value)
    assert str(tmp_path) in message and "2 skipped" in message
    assert "empty.txt: is empty" in message and "blank.md: has only whitespace" in message


def expect_error(spec: str, error: type[Exception], *fragments: str) -> str:
    with pytest.raises(error) as err:
        load_text_corpus(spec)
    message = str(err.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def test_missing_paths(tmp_path):
    missing = tmp_path / "nowhere.txt"
    expect_error(f"file:{missing}", DataError, str(missing), "does not exist")
    expect_error(f"folder:{missing}", DataError, str(missing), "does not exist")
    expect_error(f"file:{tmp_path}", DataError, str(tmp_path), f"folder:{tmp_path}")
    expect_error("file:", DataError, "needs a path")


def test_folder_without_text_files(tmp_path):
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    expect_error(f"folder:{tmp_path}", DataError, str(tmp_path), ".txt", "no usable text files")


def test_empty_and_whitespace_files(tmp_path):
    empty, blank = tmp_path / "empty.txt", tmp_path / "blank.txt"
    empty.write_bytes(b"")
    blank.write_bytes(b"\xef\xbb\xbf \n\t\r\n")
    expect_error(f"file:{empty}", DataError, str(empty), "is empty")
    expect_error(f"file:{blank}", DataError, str(blank), "only whitespace")


def test_binary_files(tmp_path):
    nul, noise = tmp_path / "nul.txt", tmp_path / "noise.txt"
    nul.write_bytes(b"looks like text\x00\x00\x01 but is not")
    noise.write_bytes(bytes(range(1, 32)) * 20)
    expect_error(f"file:{nul}", DataError, str(nul), "binary")
    expect_error(f"file:{noise}", DataError, str(noise), "binary")


def test_non_utf8_file_names_the_byte_and_iconv(tmp_path):
    path = tmp_path / "gbk.txt"
    path.write_bytes("ab床前明月光".encode("gb18030"))
    first = "床".encode("gb18030")[0]
    expect_error(
        f"file:{path}", DataError, str(path), "not UTF-8", f"0x{first:02X}", "offset 2", "iconv"
    )


def test_file_over_the_size_cap(tmp_path):
    path = tmp_path / "huge.txt"
    with path.open("wb") as f:  # sparse: no 50 MB are written
        f.truncate(corpus_module.MAX_FILE_BYTES + 1)
    expect_error(f"file:{path}", DataError, str(path), "50.0 MB", "limit")


def test_file_with_nothing_left_after_cleaning(tmp_path):
    path = tmp_path / "separators.txt"
    path.write_text("%\n\x1b[31m\x1b[m\n%\n")
    expect_error(f"file:{path}", DataError, str(path), "no text left")


def test_the_pretraining_sets_leave_out_what_the_starters_learn_from():
    from museforge.text.corpus import EN_FORTUNES, FORTUNES_DIR, ZH_FORTUNES

    assert "songs-poems" not in EN_FORTUNES and "tang300" not in ZH_FORTUNES
    if not (FORTUNES_DIR / "literature").is_file():
        pytest.skip("Debian's fortunes are not installed")
    english = load_text_corpus("fortunes-en")
    assert english.language == "en" and len(english.text()) > 1_000_000
    poet = load_text_corpus("songs-poems").poems[0].text
    assert poet not in english.text()
