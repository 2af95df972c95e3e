"""The built-in targets against PyPI's target-jsonl, on the same Singer stream.

    uv run python bench/bench_targets.py [--records 200000] [--rounds 3]

Generates N records of ~200 bytes (one stream, SCHEMA first, STATE every 10,000 records),
installs target-jsonl 0.1.4 into a cached virtual environment under ~/.cache/flx-bench/ on
first use, then times each target reading the file on stdin (best of R wall times) and
prints records/s and each built-in's speed as a multiple of target-jsonl's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
CACHE = Path(os.environ.get("FLX_BENCH_CACHE", Path.home() / ".cache" / "flx-bench"))


def generate(path: Path, records: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write(
            json.dumps(
                {
                    "type": "SCHEMA",
                    "stream": "users",
                    "key_properties": ["id"],
                    "schema": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "name": {"type": "string"},
                            "note": {"type": "string"},
                            "v": {"type": "number"},
                        },
                    },
                }
            )
            + "\n"
        )
        for i in range(records):
            f.write(
                json.dumps(
                    {
                        "type": "RECORD",
                        "stream": "users",
                        "record": {
                            "id": i,
                            "name": f"customer {i:09d}",
                            "note": "x" * 80,
                            "v": i / 7,
                        },
                        "time_extracted": "2026-01-01T00:00:00.000000Z",
                    }
                )
                + "\n"
            )
            if (i + 1) % 10000 == 0:
                f.write(json.dumps({"type": "STATE", "value": {"position": i + 1}}) + "\n")


def target_jsonl() -> Path:
    venv = CACHE / "target-jsonl-venv"
    exe = venv / "bin" / "target-jsonl"
    if exe.exists():
        return exe
    CACHE.mkdir(parents=True, exist_ok=True)
    uv = shutil.which("uv")
    if uv:
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "-q",
                "--python",
                str(venv / "bin" / "python"),
                "target-jsonl==0.1.4",
            ],
            check=True,
        )
    else:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "target-jsonl==0.1.4"], check=True
        )
    return exe


def timed(argv: list[str], data: Path, cwd: Path) -> float:
    with data.open("rb") as stdin:
        started = time.perf_counter()
        subprocess.run(argv, stdin=stdin, stdout=subprocess.DEVNULL, cwd=cwd, check=True)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flx-bench-targets-") as tmp:
        work = Path(tmp)
        data = work / "records.jsonl"
        generate(data, args.records)
        targets: dict[str, list[str]] = {}
        for name, config in (
            ("target-jsonl (PyPI)", {"destination_path": str(work / "a")}),
            ("target-flx-jsonl", {"destination_path": str(work / "b")}),
            ("target-flx-sqlite", {"database": str(work / "c.db")}),
        ):
            (work / name.split()[0]).mkdir(exist_ok=True)
            cfg = work / f"{name.split()[0]}.json"
            cfg.write_text(json.dumps(config))
            exe = str(target_jsonl()) if "PyPI" in name else str(BIN / name)
            targets[name] = [exe, "--config", str(cfg)]
        os.makedirs(work / "a", exist_ok=True)
        best: dict[str, float] = {}
        for name, argv in targets.items():
            runs = [timed(argv, data, work) for _ in range(args.rounds)]
            best[name] = min(runs)
    reference = best["target-jsonl (PyPI)"]
    print(f"\n{args.records:,} records (~200 bytes), best of {args.rounds}:")
    for name, seconds in best.items():
        print(
            f"  {name:22} {seconds:8.3f}s {args.records / seconds:>12,.0f} records/s"
            f"  {reference / seconds:6.1f}x target-jsonl"
        )


if __name__ == "__main__":
    main()
