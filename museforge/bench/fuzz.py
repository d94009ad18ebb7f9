"""``museforge bench fuzz``: every parser of outside input fuzzed for the same time.

Each parser runs in its own worker process (:mod:`museforge.bench.fuzz_worker`):
atheris, coverage-guided, where it installs, else a built-in seeded mutation loop. A
crash is an exception other than museforge's one-line errors, a hang over a second or
memory over the cap; a hang or too much memory ends an atheris worker, which is then
restarted for the time left (a few times at most). Reported per parser: inputs tried,
inputs per second, and the crashes, hangs and out-of-memory inputs found, each with its
file and first line.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from museforge.bench import machine_info, table_head
from museforge.bench.fuzz_targets import NOT_FUZZED, TARGETS
from museforge.bench.fuzz_worker import atheris_available, folders, signature
from museforge.errors import InputError

RSS_LIMIT_MB = 4096  # a worker with every parser loaded uses ~400 MB; one peaked at 2.4 GB in CI
MAX_RUNS = 8  # worker starts per parser: the first, then restarts after crashes
START_GRACE_S = 180  # time a worker may take to start (instrumenting music21 takes ~20 s)
KINDS = {"crash": "crashes", "timeout": "hangs", "oom": "ooms"}


def parser_names() -> list[str]:
    """Every parser the bench knows, fuzzed or not, in its table order."""
    return [*TARGETS, *NOT_FUZZED]


def _stat(line: str) -> float:
    return float(line.rsplit(":", 1)[1])


def _frame(line: str) -> str:
    """``File "/…/site-packages/music21/meter/core.py", line 2065 in f`` → ``core.py:2065 in f``."""
    parts = line.split('"')
    if len(parts) < 3:
        return line
    return f"{Path(parts[1]).name}:{parts[2].replace(', line ', '').strip()}"


def parse_log(text: str) -> dict[str, Any]:
    """What one worker run reports: when it was ready, inputs, findings (kind, file, first
    line). ``inputs`` is None when the worker never printed its final stats."""
    run: dict[str, Any] = {"ready_at": None, "inputs": None, "findings": []}
    pending: dict[str, str] = {}  # kind → the first line of the finding being written
    in_timeout = False
    for raw in text.splitlines():
        line = raw.strip()
        kind, _, rest = line.partition(": ")
        if line.startswith("fuzz-worker: ready after"):
            run["ready_at"] = float(line.split()[-1])
        elif kind.startswith("fuzz-"):
            pending[kind.removeprefix("fuzz-")] = rest
        elif "=== Timeout" in line:
            in_timeout = True
        elif in_timeout and line.startswith("File "):
            pending["timeout"] = f"hang over 1 s in {_frame(line)}"  # the innermost frame
            in_timeout = False
        elif "ERROR: libFuzzer: out-of-memory" in line:
            pending["oom"] = line.split("libFuzzer: ", 1)[1]
        elif line.startswith("stat::number_of_executed_units:"):
            run["inputs"] = int(_stat(line))
        elif "Test unit written to " in line:
            path = line.split("Test unit written to ", 1)[1]
            kind = Path(path).name.split("-", 1)[0]
            first = pending.pop(kind, "hang over 1 s" if kind == "timeout" else kind)
            run["findings"].append({"kind": kind, "file": path, "first_line": first})
    return run


def _worker(name: str, seconds: float, work_dir: Path, seed: int, engine: str) -> dict[str, Any]:
    """Run the worker once; its parsed report, fuzzing seconds and the log's path."""
    logs = work_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{seed}.log"
    command = [sys.executable, "-m", "museforge.bench.fuzz_worker", name, "--work", str(work_dir)]
    command += ["--seconds", f"{seconds:.1f}", "--seed", str(seed), "--engine", engine]
    command += ["--rss-mb", str(RSS_LIMIT_MB)]
    with log.open("w") as out:
        try:
            code = subprocess.run(
                command, stdout=out, stderr=subprocess.STDOUT, timeout=seconds + START_GRACE_S
            ).returncode
        except subprocess.TimeoutExpired:
            code = None
    text = log.read_text(errors="replace")
    run = parse_log(text)
    run.update(code=code, log=str(log))
    run["fuzz_s"] = max(0.0, time.time() - run["ready_at"]) if run["ready_at"] else 0.0
    if run["inputs"] is None:
        tail = [line for line in text.splitlines() if line.strip()][-1:] or ["no output"]
        run["error"] = "worker timed out" if code is None else f"worker failed: {tail[0][:200]}"
    return run


def fuzz_parser(name: str, seconds: float, work_dir: Path, seed: int, engine: str) -> dict:
    """Fuzz one parser for ``seconds`` (restarting the worker after a hang or running out
    of memory); its row of results."""
    scratch = folders(work_dir, name)[2]
    runs: list[dict[str, Any]] = []
    left = seconds
    while left >= 1 and len(runs) < MAX_RUNS:
        run = _worker(name, left, work_dir, seed + len(runs), engine)
        runs.append(run)
        shutil.rmtree(scratch, ignore_errors=True)  # a crashed worker leaves its files
        left -= max(run["fuzz_s"], 1.0)
        if "error" in run or run["code"] == 0:
            break  # its time is up (a hang or too much memory ends a worker early)
    distinct: dict[tuple[str, str], dict[str, Any]] = {}
    for finding in (f for run in runs for f in run["findings"]):
        key = (finding["kind"], signature(finding["first_line"]))
        distinct.setdefault(key, {**finding, "times": 0})["times"] += 1
    findings = list(distinct.values())
    inputs = sum(run["inputs"] or 0 for run in runs)
    fuzz_s = sum(run["fuzz_s"] for run in runs)
    row: dict[str, Any] = {
        "fuzzed": True,
        "engine": engine,
        "summary": TARGETS[name].summary,
        "inputs": inputs,
        "fuzz_s": round(fuzz_s, 1),
        "execs_per_s": round(inputs / fuzz_s, 1) if fuzz_s else 0.0,
        "runs": len(runs),
        "corpus": sum(1 for _ in folders(work_dir, name)[0].iterdir()),
        "findings": findings,
        **{label: sum(f["kind"] == kind for f in findings) for kind, label in KINDS.items()},
        "logs": [run["log"] for run in runs],
    }
    errors = [run["error"] for run in runs if "error" in run]
    if errors:
        row["error"] = errors[0]
    return row


def run_fuzz_bench(
    seconds: float,
    parsers: list[str] | None,
    work_dir: Path,
    seed: int = 0,
    engine: str | None = None,
) -> dict:
    """Fuzz ``parsers`` (default: all) for ``seconds`` each with ``engine`` (default:
    atheris where it imports, else the built-in loop); results for JSON and the table."""
    known = parser_names()
    unknown = [p for p in parsers or [] if p not in known]
    if unknown:
        raise InputError(f"unknown parser {unknown[0]!r} (known: {', '.join(known)})")
    if not seconds >= 1:
        raise InputError(f"fuzz for at least 1 second per parser (got {seconds})")
    engine = engine or ("atheris" if atheris_available() else "builtin")
    work_dir = Path(work_dir)
    rows: dict[str, dict] = {}
    for name in parsers or known:
        if name in NOT_FUZZED:
            rows[name] = {"fuzzed": False, "reason": NOT_FUZZED[name]}
        else:
            rows[name] = fuzz_parser(name, seconds, work_dir, seed, engine)
    return {
        "engine": engine,
        "seconds_per_parser": seconds,
        "seed": seed,
        "hang_s": 1,
        "rss_limit_mb": RSS_LIMIT_MB,
        "parsers": rows,
        "machine": machine_info(),
    }


def format_table(results: dict) -> str:
    """One row per parser: inputs tried, speed, crashes, hangs, out-of-memory, and the
    first line of the first finding."""
    title = (
        f"Fuzzing, {results['seconds_per_parser']:g} s per parser "
        f"({results['engine']}; hang > {results['hang_s']} s, memory > "
        f"{results['rss_limit_mb']} MB)"
    )
    columns = ["parser", "inputs", "inputs/s", "crashes", "hangs", "OOM", "first finding"]
    lines = table_head(title, columns)
    for name, row in results["parsers"].items():
        if not row["fuzzed"]:
            lines.append(f"| {name} | – | – | – | – | – | not fuzzed: {row['reason']} |")
            continue
        first = row["findings"][0] if row["findings"] else None
        note = row.get("error") or (f"{first['first_line']} ({first['file']})" if first else "")
        cells = [name, f"{row['inputs']:,}", f"{row['execs_per_s']:,.0f}"]
        cells += [str(row[label]) for label in KINDS.values()]
        lines.append("| " + " | ".join([*cells, note.replace("|", "/")]) + " |")
    return "\n".join(lines)
