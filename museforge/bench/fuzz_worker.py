"""One fuzz target in its own process: ``python -m museforge.bench.fuzz_worker NAME --work DIR
--seconds S [--seed N] [--rss-mb M] [--engine atheris|builtin]``.

atheris (coverage-guided libFuzzer) instruments museforge and the target's parsing
libraries as they are first imported, starts from the seed corpus in DIR/corpus/NAME and
writes failing inputs to DIR/crashes/NAME; a hang or too much memory ends the process
(the bench restarts it), an exception does not. Without atheris, a built-in seeded
mutation loop runs with the same rules: SIGALRM for the one-second limit, an
address-space limit for memory.

What :mod:`museforge.bench.fuzz` reads from the output, the same for both engines:
``fuzz-worker: ready after S s at T``, ``fuzz-KIND: first line`` before a finding's
input is written, libFuzzer's ``Test unit written to PATH`` and its ``stat::…`` lines.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
import warnings
from contextlib import nullcontext
from pathlib import Path

from museforge.bench.fuzz_targets import TARGETS, FuzzCrash, run_target

HANG_S = 1
ENGINES = ("atheris", "builtin")
# Values that sit on the edges of integer fields, and tokens that trip text parsers.
EDGES = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 2**32 - 1)
TOKENS = (b"-1", b"0", b"99999999999", b"1e309", b"nan", b"\x00", b"{}", b"[]", b'"', b"\n")
MAX_POOL = 2000
MAX_FINDINGS = 20  # distinct failures written per run; more means something is badly off


def folders(work_dir: Path, name: str) -> tuple[Path, Path, Path]:
    """(corpus, crashes, scratch) folders of target ``name`` under ``work_dir``."""
    return work_dir / "corpus" / name, work_dir / "crashes" / name, work_dir / "scratch" / name


def atheris_available() -> bool:
    """Whether atheris imports here (it has no wheels past Python 3.11)."""
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def describe(err: BaseException) -> str:
    """A crash on one line: ``Type at file:line: message``, where it was raised."""
    origin = err.__cause__ if isinstance(err, FuzzCrash) and err.__cause__ else err
    frames = traceback.extract_tb(origin.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    message = " ".join(str(err).split())[:240]
    return f"{type(err).__name__}{where}: {message}"


def signature(first_line: str) -> str:
    """What makes two findings the same bug: the exception's type and place, not its
    message (which quotes the input)."""
    return first_line.split(": ", 1)[0]


class Findings:
    """Inputs that broke the rules, one file per distinct failure (at most MAX_FINDINGS),
    each announced on stderr the way libFuzzer announces its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seen: set[str] = set()

    def record(self, kind: str, first_line: str, data: bytes) -> None:
        key = f"{kind} {signature(first_line)}"
        if key in self.seen or len(self.seen) >= MAX_FINDINGS:
            return
        self.seen.add(key)
        path = self.folder / f"{kind}-{hashlib.sha1(data).hexdigest()}"
        path.write_bytes(data)
        _say(f"fuzz-{kind}: {first_line}")
        _say(f"Test unit written to {path}")


def _fuzz_atheris(
    name: str, corpus: Path, crashes: Path, scratch: Path, args: argparse.Namespace
) -> None:
    import atheris

    findings = Findings(crashes)

    def one_input(data: bytes) -> None:
        # Exceptions are recorded here rather than left to atheris: past the first second
        # its handler is cut short by libFuzzer's SIGALRM and writes nothing. Fuzzing goes
        # on after a crash; hangs and memory are still libFuzzer's (-timeout, -rss_limit_mb).
        try:
            run_target(name, data, scratch)
        except KeyboardInterrupt:
            raise
        except MemoryError as err:
            findings.record("oom", describe(err), data)
        except BaseException as err:  # everything else that escapes is a crash
            findings.record("crash", describe(err), data)

    flags = [
        f"-max_total_time={max(1, int(args.seconds))}",
        f"-timeout={HANG_S}",
        f"-rss_limit_mb={args.rss_mb}",
        f"-seed={args.seed + 1}",  # libFuzzer draws a random seed for 0
        f"-artifact_prefix={crashes}/",
        "-print_final_stats=1",
    ]
    atheris.Setup([sys.argv[0], *flags, str(corpus)], one_input)
    atheris.Fuzz()  # never returns: libFuzzer exits the process


class _Hang(BaseException):
    """Raised by SIGALRM; a BaseException so parsers' ``except Exception`` lets it pass."""


def _on_alarm(signum: int, frame: object) -> None:
    raise _Hang()


def mutate(rng: random.Random, pool: list[bytes], max_len: int) -> bytes:
    """A pool input changed 1–4 times: bit flips, random bytes, inserts, deletes, copies,
    splices with another input, edge integers and parser-tripping tokens."""
    data = bytearray(rng.choice(pool))
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(data) + 1)
        op = rng.randrange(8)
        if op == 0 and data:
            data[min(at, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif op == 2:
            data[at:at] = rng.randbytes(rng.randint(1, 8))
        elif op == 3:
            del data[at : at + rng.randint(1, 32)]
        elif op == 4 and data:
            start = rng.randrange(len(data))
            data[at:at] = data[start : start + rng.randint(1, 64)]
        elif op == 5:
            other = rng.choice(pool)
            data[at:] = other[rng.randrange(len(other) + 1) :]
        elif op == 6:
            width = rng.choice((1, 2, 4))
            value = rng.choice(EDGES) % (1 << (8 * width))
            data[at : at + width] = value.to_bytes(width, rng.choice(("little", "big")))
        else:
            data[at:at] = rng.choice(TOKENS)
    return bytes(data[:max_len])


def _vm_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _fuzz_builtin(
    name: str, corpus: Path, crashes: Path, scratch: Path, args: argparse.Namespace
) -> None:
    rng = random.Random(args.seed)
    pool = [p.read_bytes() for p in sorted(corpus.iterdir()) if p.is_file()]
    max_len = max(4096, *(len(p) for p in pool))
    # Memory over the cap fails an allocation (MemoryError) instead of growing the process.
    limit = _vm_bytes() + args.rss_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    signal.signal(signal.SIGALRM, _on_alarm)
    findings = Findings(crashes)
    runs, start = 0, time.monotonic()
    while time.monotonic() - start < args.seconds:
        data = mutate(rng, pool, max_len)
        runs += 1
        signal.setitimer(signal.ITIMER_REAL, HANG_S)
        try:
            run_target(name, data, scratch)
        except _Hang:
            findings.record("timeout", f"hang over {HANG_S} s", data)
        except MemoryError as err:
            findings.record("oom", describe(err), data)
        except KeyboardInterrupt:
            raise
        except BaseException as err:  # everything else that escapes is a crash
            findings.record("crash", describe(err), data)
        else:
            if len(pool) < MAX_POOL and rng.random() < 0.05:
                pool.append(data)  # accepted or refused cleanly: a base for later inputs
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    elapsed = time.monotonic() - start
    _say(f"stat::number_of_executed_units: {runs}")
    _say(f"stat::average_exec_per_sec:     {int(runs / max(elapsed, 1e-9))}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    _say(f"stat::peak_rss_mb:              {peak_mb}")


def main(argv: list[str] | None = None) -> None:
    """Fuzz one target (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="python -m museforge.bench.fuzz_worker")
    parser.add_argument("name", choices=sorted(TARGETS))
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rss-mb", type=int, default=2048)
    parser.add_argument("--engine", choices=ENGINES, default="atheris")
    args = parser.parse_args(argv)
    started = time.monotonic()
    warnings.simplefilter("ignore")  # parsers warn about bad inputs; only failures matter
    import torch

    torch.set_num_threads(1)  # one input at a time; threads only add noise
    target = TARGETS[args.name]
    corpus, crashes, scratch = folders(args.work, args.name)
    for folder in (corpus, crashes, scratch):
        folder.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=scratch))
    if args.engine == "atheris":
        import atheris

        # A library already imported (zipfile, by torch) would escape instrumentation: the
        # parsers get a fresh, instrumented copy instead.
        for module in [m for m in sys.modules if m.split(".")[0] in target.libraries]:
            del sys.modules[module]
        instrumented = atheris.instrument_imports(include=["museforge", *target.libraries])
    else:
        instrumented = nullcontext()
    with instrumented:
        # The seeds' first run imports the parsers (instrumented, under atheris) and warms
        # their caches, so no first call is mistaken for a hang.
        for seed in target.seeds():
            run_target(args.name, seed, scratch)
            path = corpus / f"seed-{hashlib.sha1(seed).hexdigest()}"
            if not path.exists():
                path.write_bytes(seed)
    # the wall-clock time lets the bench tell fuzzing time from start-up time
    _say(f"fuzz-worker: ready after {time.monotonic() - started:.2f} s at {time.time():.3f}")
    fuzz = _fuzz_atheris if args.engine == "atheris" else _fuzz_builtin
    fuzz(args.name, corpus, crashes, scratch, args)


if __name__ == "__main__":
    main()
