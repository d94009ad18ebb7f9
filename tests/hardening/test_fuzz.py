"""Fuzzing every parser of outside input: the seeds are valid, mutated inputs never crash a
parser, every crash found so far replays as a one-line error, and the bench runner finds
crashes and reports what it tried."""

import multiprocessing
import re
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from museforge.bench import fuzz_targets, fuzz_worker
from museforge.bench.fuzz import format_table, parse_log, parser_names, run_fuzz_bench
from museforge.bench.fuzz_targets import NOT_FUZZED, TARGETS, FuzzCrash, run_target
from museforge.errors import InputError, MuseforgeError

CRASHES = Path(__file__).parent / "crashes"
# Every kind of outside input the issue names, each a fuzz target or told why it is not.
REQUIRED = {
    "audio",
    "png-provenance",
    "image",
    "midi",
    "musicxml",
    "abc",
    "zip-upload",
    "artifact",
    "recipe",
    "captions",
    "mesh",
    "palette",
    "text-corpus",
}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def seed_errors(scratch):
    """Each target's seeds parsed once (which also imports and warms every parser, so the
    timed examples below measure parsing only): name → the errors they raised."""
    errors: dict[str, list[str]] = {}
    for name, target in TARGETS.items():
        errors[name] = []
        for seed in target.seeds():
            folder = Path(tempfile.mkdtemp(dir=scratch))
            try:
                target.parse(seed, folder)
            except Exception as err:
                errors[name].append(f"{type(err).__name__}: {err}")
    return errors


def test_every_parser_has_a_target_and_valid_seeds(seed_errors):
    assert set(parser_names()) >= REQUIRED
    assert set(TARGETS).isdisjoint(NOT_FUZZED)
    for name, target in TARGETS.items():
        assert len(target.seeds()) >= 1, name
        assert seed_errors[name] == [], name  # seeds are valid, so fuzzing starts deep


def test_registry_refuses_bad_and_duplicate_names():
    for bad in ("image", "Bad Name", " x", "audio"):
        with pytest.raises(ValueError, match="malformed or taken"):
            fuzz_targets.target(bad, "", list)


def test_the_rules_tell_crashes_from_refusals(scratch, monkeypatch):
    def parse(data, folder):
        if data == b"ok":
            return
        if data == b"refused":
            raise InputError("'x' is not a picture")
        if data == b"lines":
            raise InputError("'x' is\nnot a picture")
        if data == b"empty":
            raise InputError("")
        raise KeyError(data)

    monkeypatch.setitem(TARGETS, "rules", fuzz_targets.FuzzTarget("rules", "", parse, list))
    run_target("rules", b"ok", scratch)
    run_target("rules", b"refused", scratch)
    for bad in (b"lines", b"empty"):
        with pytest.raises(FuzzCrash, match="not one line"):
            run_target("rules", bad, scratch)
    with pytest.raises(KeyError):
        run_target("rules", b"other", scratch)


@st.composite
def mutated(draw, seeds):
    """A seed changed a few times (bit flips, truncations, insertions, deletions, bytes
    set), or random bytes."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(max_size=256))
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(("flip", "truncate", "insert", "delete", "set")))
        if op == "flip" and data:
            data[min(at, len(data) - 1)] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "set" and data:
            data[min(at, len(data) - 1)] = draw(st.sampled_from((0, 1, 0x7F, 0x80, 0xFF)))
    return bytes(data)


@pytest.mark.filterwarnings("ignore")  # parsers warn about broken inputs; only failures count
@pytest.mark.parametrize("name", sorted(TARGETS))
@settings(
    max_examples=40,
    deadline=1000,  # the fuzzing rule: a parser that takes over a second has hung
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mutated_inputs_never_crash(name, data, scratch, seed_errors):
    run_target(name, data.draw(mutated(TARGETS[name].seeds())), scratch)


def _crash_files() -> list[Path]:
    return sorted(p for p in CRASHES.glob("*/*") if p.is_file())


# Crashes found (by the fuzzer, or by reading the parsers) and fixed: the one-line error
# each input now gives (file → pattern); inputs not named here are now accepted.
FIXED = {
    "abc/bar-2047-quarters.abc": r"tunes.abc' has a bar longer than 32 quarter notes$",
    "abc/meter-6-over-100.abc": r"tunes.abc' has an unusable time signature 6/=100 \(and 1",
    "abc/meter-field-runs-on.abc": r"tunes.abc' has an unusable time signature 4\x00",
    "abc/meter-after-bracket.abc": r"tunes.abc' has an unusable time signature 6/=100$",
    "abc/tempo-zero.abc": r"tunes.abc' cannot be read \(float division by zero\)$",
    "artifact/config-a-list": r"model.json: the manifest's 'config' is not a JSON object",
    "artifact/config-huge-model": r"model: weights do not fit a 'image-vae' model \(Missing",
    "artifact/config-key-with-newline": r"model: unknown VAEConfig settings: a b$",
    "artifact/config-negative-size": r"config does not build a 'image-vae' model \(.*negative",
    "artifact/config-wrong-type": r"config does not build a 'image-vae' model \('<' not",
    "artifact/kind-a-list": r"model.json: the manifest's 'kind' is not a string",
    "artifact/weights-a-number": r"model.json: the manifest's 'weights' is not a JSON object",
    "captions/jsonl-name-with-newline": r"no captions: .*line 1: no file 'a b.png'",
    "captions/jsonl-nested-too-deep": r"no captions: .*line 1: JSON nested too deep",
    "image/rle-bmp-2-megapixels.bmp": r"\(524289×5 pixels, limit 1,000,000 for RLE-compressed",
    "image/rle-bmp-19-megapixels.bmp": r"\(3801094×5 pixels, limit 1,000,000 for RLE-compressed",
    "mesh/obj-ragged-vertices": r"^mesh 'upload.obj' cannot be read .*not 3-D points",
    "mesh/off-without-faces": r"^mesh 'upload.off' is empty \(it has no faces\)",
    "png-provenance/broken-chunk-2.png": r"art.png' is not a readable image \(broken PNG",
    "png-provenance/broken-chunk.png": r"art.png' is not a readable image \(broken PNG",
    "png-provenance/claims-10-gigapixels.png": r"art.png' is not a readable image \(it is too",
    "png-provenance/latent-5-bytes.png": r"art.png': the recorded latent is not base64",
    "png-provenance/latent-a-number.png": r"art.png': the recorded latent is not base64",
    "png-provenance/latent-not-base64.png": r"art.png': the recorded latent is not base64",
    "png-provenance/model-not-an-object.png": r"art.png' was made by model None, not by",
    "png-provenance/provenance-a-list.png": r"art.png': .* provenance is not a JSON object",
    "provenance-sidecar/model-sha-with-newline.json": r"made by model a b, not by this",
    "provenance-sidecar/not-an-object.json": r"glb.json': .* provenance is not a JSON object",
    "recipe/budget-with-newline.toml": r"^cannot read duration '5 minutes'",
    "recipe/model-a-string.toml": r"recipe.toml': \[model\] must be a table of settings",
    "recipe/steps-a-string.toml": r"^run settings are not valid \('<' not supported",
    "zip-upload/member-without-name.zip": r"^zip 'upload.zip' has a member with no name$",
}


def test_crash_files_are_kept_small_and_named_by_parser():
    files = _crash_files()
    assert files, "the regression inputs are missing"
    for path in files:
        assert path.parent.name in TARGETS, path
        assert path.stat().st_size < 64 * 1024, path


@pytest.mark.parametrize("path", _crash_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_found_crashes_replay_as_one_line_errors(path, scratch, seed_errors):
    name, data = path.parent.name, path.read_bytes()
    start = time.monotonic()
    run_target(name, data, scratch)  # no crash by the rules
    assert time.monotonic() - start < fuzz_worker.HANG_S
    folder = Path(scratch) / f"replay-{name}-{path.name}"
    folder.mkdir()
    pattern = FIXED.get(f"{name}/{path.name}")
    if pattern is None:
        TARGETS[name].parse(data, folder)  # accepted
        return
    with pytest.raises(MuseforgeError) as info:
        TARGETS[name].parse(data, folder)
    assert re.search(pattern, str(info.value)), str(info.value)


def test_every_fixed_crash_has_its_input():
    assert set(FIXED) <= {f"{p.parent.name}/{p.name}" for p in _crash_files()}


LIBFUZZER_CRASH = """\
fuzz-worker: ready after 0.26 s at 1000.5
fuzz-crash: TypeError at readers.py:12: boom

 === Uncaught Python exception: ===
TypeError: boom
artifact_prefix='w/'; Test unit written to w/crash-da23614e
stat::number_of_executed_units: 2
 === Timeout: 2s elapsed, timeout=1s ===
  File "/x/readers.py", line 8 in one
artifact_prefix='w/'; Test unit written to w/timeout-15546de8
==24746== ERROR: libFuzzer: out-of-memory (used: 2476Mb; limit: 1024Mb)
artifact_prefix='w/'; Test unit written to w/oom-6b0d31c0
stat::number_of_executed_units: 2911
"""


def test_worker_output_is_read_as_findings_and_inputs():
    run = parse_log(LIBFUZZER_CRASH)
    assert run["ready_at"] == 1000.5 and run["inputs"] == 2911
    kinds = [(f["kind"], f["file"]) for f in run["findings"]]
    crash, timeout, oom = ("w/crash-da23614e", "w/timeout-15546de8", "w/oom-6b0d31c0")
    assert kinds == [("crash", crash), ("timeout", timeout), ("oom", oom)]
    firsts = [f["first_line"] for f in run["findings"]]
    assert firsts[0] == "TypeError at readers.py:12: boom"
    assert firsts[1] == "hang over 1 s in readers.py:8 in one"
    assert firsts[2].startswith("out-of-memory (used: 2476Mb")


def _bad_parser(data: bytes, folder: Path) -> None:
    if data.startswith(b"hh"):
        time.sleep(5)
    if data.startswith(b"c"):
        raise ZeroDivisionError("a parser bug")
    raise InputError("'x' is not usable")


def _fuzz_bad_target(work: Path, log: Path) -> None:
    """In a child process: the built-in engine on a target that crashes and hangs."""
    import contextlib
    import os

    with log.open("w") as out, contextlib.redirect_stderr(out):
        fuzz_targets.TARGETS["bad"] = fuzz_targets.FuzzTarget(
            "bad", "", _bad_parser, lambda: [b"c" * 20, b"hh", *[b"ok" * 10] * 3]
        )
        corpus, crashes, scratch = fuzz_worker.folders(work, "bad")
        for folder in (corpus, crashes, scratch):
            folder.mkdir(parents=True)
        for i, seed in enumerate(fuzz_targets.TARGETS["bad"].seeds()):
            (corpus / f"seed-{i}").write_bytes(seed)
        args = SimpleNamespace(seconds=4.0, seed=1, rss_mb=512)
        fuzz_worker._fuzz_builtin("bad", corpus, crashes, scratch, args)
    os._exit(0)


def test_builtin_engine_catches_crashes_and_hangs(tmp_path):
    log = tmp_path / "worker.log"
    child = multiprocessing.get_context("fork").Process(
        target=_fuzz_bad_target, args=(tmp_path / "work", log)
    )
    child.start()
    child.join(60)
    assert child.exitcode == 0
    run = parse_log(log.read_text())
    kinds = {f["kind"] for f in run["findings"]}
    assert kinds == {"crash", "timeout"}
    crash = next(f for f in run["findings"] if f["kind"] == "crash")
    assert crash["first_line"].startswith("ZeroDivisionError at test_fuzz.py:")
    assert crash["first_line"].endswith(": a parser bug")
    assert Path(crash["file"]).read_bytes().startswith(b"c")
    assert run["inputs"] > 0


def test_mutations_stay_bounded_and_vary():
    import random

    rng = random.Random(0)
    outputs = {fuzz_worker.mutate(rng, [b"seed input", b"other"], 16) for _ in range(200)}
    assert len(outputs) > 100 and all(len(o) <= 16 for o in outputs)


@pytest.mark.parametrize("engine", ["atheris", "builtin"])
def test_bench_fuzzes_a_parser_and_reports(engine, tmp_path):
    if engine == "atheris" and not fuzz_worker.atheris_available():
        pytest.skip("atheris does not install on this Python")
    results = run_fuzz_bench(2, ["palette"], tmp_path, engine=engine)
    row = results["parsers"]["palette"]
    assert results["engine"] == row["engine"] == engine
    assert "error" not in row, row
    assert row["inputs"] > 0 and row["execs_per_s"] > 0
    assert row["crashes"] == row["hangs"] == row["ooms"] == 0, row["findings"]
    table = format_table(results)
    assert "| palette |" in table


def test_bench_refuses_unknown_parsers(tmp_path):
    with pytest.raises(InputError, match="unknown parser 'jpeg2000'"):
        run_fuzz_bench(2, ["jpeg2000"], tmp_path)
