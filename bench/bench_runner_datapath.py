"""Data-path benchmark: the runner against the plain shell pipe ``tap | target``.

    uv run python bench/bench_runner_datapath.py [--records N] [--rounds R]

Generates N Singer RECORD lines of about 200 bytes, then times (best of R) a cat-like tap
piped into a line-counting target, once through ``sh -c 'tap | target'`` and once through
``flx_meltano.runner.run``. Prints both and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import structlog

from flx_meltano.runner import ProcessSpec, RunSpec, RunStatus, run

TAP = """\
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
out = sys.stdout.fileno()
while chunk := os.read(fd, 1 << 20):
    view = memoryview(chunk)
    while view:
        view = view[os.write(out, view):]
"""

TARGET = """\
import json, sys
count = 0
for line in sys.stdin.buffer:
    count += 1
sys.stdout.write(json.dumps({"type": "STATE", "value": {"records": count}}) + "\\n")
"""

STREAMS = ("users", "orders", "events")


def generate(path: Path, records: int) -> None:
    with path.open("wb") as f:
        for stream in STREAMS:
            schema = {"type": "SCHEMA", "stream": stream, "schema": {}, "key_properties": ["id"]}
            f.write(orjson.dumps(schema, option=orjson.OPT_APPEND_NEWLINE))
        for i in range(records):
            message = {
                "type": "RECORD",
                "stream": STREAMS[i % len(STREAMS)],
                "record": {"id": i, "name": f"customer {i:09d}", "note": "x" * 90, "v": i / 7},
                "time_extracted": "2026-01-01T00:00:00.000000Z",
            }
            f.write(orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE))


def time_shell(tap: list[str], target: list[str]) -> float:
    command = f"{shlex.join(tap)} | {shlex.join(target)} > /dev/null"
    started = time.perf_counter()
    subprocess.run(["sh", "-c", command], check=True)
    return time.perf_counter() - started


def time_runner(tap: list[str], target: list[str], records: int) -> float:
    spec = RunSpec(tap=ProcessSpec("tap", tuple(tap)), target=ProcessSpec("target", tuple(target)))
    started = time.perf_counter()
    result = asyncio.run(run(spec))
    elapsed = time.perf_counter() - started
    if result.status is not RunStatus.SUCCEEDED or result.record_count != records:
        raise SystemExit(f"runner failed: {result.status} {result.records} {result.error}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="flx-bench-") as tmp:
        work = Path(tmp)
        data = work / "records.jsonl"
        generate(data, args.records)
        (work / "tap.py").write_text(TAP)
        (work / "target.py").write_text(TARGET)
        tap = [sys.executable, str(work / "tap.py"), str(data)]
        target = [sys.executable, str(work / "target.py")]
        size = data.stat().st_size
        print(f"{args.records} records, {size / 1e6:.1f} MB, best of {args.rounds}")
        shell = runner = float("inf")
        for _ in range(args.rounds):
            shell = min(shell, time_shell(tap, target))
            runner = min(runner, time_runner(tap, target, args.records))
        print(f"shell pipe : {shell:.3f} s ({args.records / shell:,.0f} records/s)")
        print(f"flx runner : {runner:.3f} s ({args.records / runner:,.0f} records/s)")
        print(f"ratio      : {runner / shell:.3f}")


if __name__ == "__main__":
    main()
