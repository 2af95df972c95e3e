"""End-to-end benchmark: `flx run` against the plain shell pipe and `meltano run`.

    uv run python bench/bench_pipeline.py [--records 1000000] [--small 10] [--rounds 3]
                                          [--no-meltano]

Measures in one run, on the same machine and the same data:
  (a) throughput: N records of ~200 bytes through a cat-like tap into a counting target;
  (b) fixed cost: the same with a 10-record file.
`flx run` is measured twice: cold (FLX_DAEMON=off: a new process imports FLX for every run)
and warm (FLX_DAEMON=on: through the FLX daemon, which by default serves commands run on a
terminal; the benchmark's commands run on pipes, so it forces the daemon, started explicitly
in a private directory and stopped at the end).
Each figure is the best wall time of R rounds, after one warm-up. Meltano is installed with
uv (or pip) into a cached virtual environment under ~/.cache/flx-bench/ on first use.
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

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
CACHE = Path(os.environ.get("FLX_BENCH_CACHE", Path.home() / ".cache" / "flx-bench"))
STREAMS = ("users", "orders", "events")


def generate(path: Path, records: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        for stream in STREAMS:
            f.write(
                json.dumps(
                    {
                        "type": "SCHEMA",
                        "stream": stream,
                        "key_properties": ["id"],
                        "schema": {"properties": {"id": {"type": "integer"}}},
                    }
                )
                + "\n"
            )
        for i in range(records):
            f.write(
                json.dumps(
                    {
                        "type": "RECORD",
                        "stream": STREAMS[i % 3],
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
        f.write(json.dumps({"type": "STATE", "value": {"position": records}}) + "\n")


def script(name: str, directory: Path) -> Path:
    """An executable wrapper running the connector with this Python."""
    path = directory / name
    source = HERE / "connectors" / f"{name.replace('-', '_')}.py"
    path.write_text(f'#!/bin/sh\nexec {sys.executable} {source} "$@"\n')
    path.chmod(0o755)
    return path


def best(fn, rounds: int) -> float:
    fn()  # warm-up: page cache, imports, first-run setup
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def run(
    cmd: list[str] | str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    shell: bool = False,
) -> None:
    result = subprocess.run(cmd, env=env, cwd=cwd, shell=shell, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"command failed ({result.returncode}): {cmd}\n{result.stderr[-3000:]}")


def meltano_bin() -> Path:
    venv = CACHE / "meltano-venv"
    exe = venv / "bin" / "meltano"
    if exe.exists():
        return exe
    CACHE.mkdir(parents=True, exist_ok=True)
    uv = shutil.which("uv")
    print("installing meltano into", venv, "(once)", file=sys.stderr)
    if uv:
        run([uv, "venv", "--python", sys.executable, str(venv)])
        run([uv, "pip", "install", "--python", str(venv / "bin" / "python"), "meltano"])
    else:
        run([sys.executable, "-m", "venv", str(venv)])
        run([str(venv / "bin" / "pip"), "install", "meltano"])
    return exe


class Setup:
    def __init__(self, work: Path, tap: Path, target: Path) -> None:
        self.work, self.tap, self.target = work, tap, target
        self.home = work / "flx-home"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("FLX_") and k not in ("DATABASE_URL", "REDIS_URL")
        }
        self.env["FLX_HOME"] = str(self.home)
        self.env["FLX_DAEMON"] = "off"
        # A socket path must stay short: a private directory directly under /tmp.
        self.runtime = Path(tempfile.mkdtemp(prefix="flxd-", dir="/tmp"))
        self.warm_env = dict(self.env, FLX_DAEMON="on", FLX_DAEMON_DIR=str(self.runtime))
        flx = str(BIN / "flx")
        run([flx, "plugin", "add", "extractor", "tap-cat", "--executable", str(tap)], self.env)
        run([flx, "plugin", "add", "loader", "target-count", "--executable", str(target)], self.env)
        self.meltano_project: Path | None = None

    def flx_pipeline(self, name: str, data: Path) -> None:
        run(
            [
                str(BIN / "flx"),
                "pipeline",
                "create",
                name,
                "-e",
                "tap-cat",
                "-l",
                "target-count",
                "--config",
                f"extractor.path={data}",
            ],
            self.env,
        )

    def meltano(self, exe: Path) -> Path:
        project = self.work / "meltano-project"
        project.mkdir()
        (project / "meltano.yml").write_text(
            json.dumps(
                {
                    "version": 1,
                    "default_environment": "dev",
                    "project_id": "flx-bench",
                    "environments": [{"name": "dev"}],
                    "send_anonymous_usage_stats": False,
                    "plugins": {
                        "extractors": [
                            {
                                "name": "tap-cat",
                                "namespace": "tap_cat",
                                "executable": str(self.tap),
                                "settings": [{"name": "path"}],
                            }
                        ],
                        "loaders": [
                            {
                                "name": "target-count",
                                "namespace": "target_count",
                                "executable": str(self.target),
                            }
                        ],
                    },
                }
            )
        )
        return project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-meltano", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flx-bench-") as tmp:
        work = Path(tmp)
        big, small = work / "big.jsonl", work / "small.jsonl"
        generate(big, args.records)
        generate(small, args.small)
        tap, target = script("tap-cat", work), script("target-count", work)
        setup = Setup(work, tap, target)
        setup.flx_pipeline("big", big)
        setup.flx_pipeline("small", small)
        for data in (big, small):
            (work / f"{data.stem}.json").write_text(json.dumps({"path": str(data)}))
        results: dict[str, dict[str, float]] = {}
        flx = str(BIN / "flx")
        run([flx, "daemon", "start"], setup.warm_env)
        try:
            for label, data in (("big", big), ("small", small)):
                cfg = work / f"{data.stem}.json"
                pipe = f"{tap} --config {cfg} | {target} > /dev/null"
                results.setdefault("pipe", {})[label] = best(
                    lambda p=pipe: run(p, shell=True), args.rounds
                )
                for name, env in (("flx run", setup.warm_env), ("flx run, cold", setup.env)):
                    results.setdefault(name, {})[label] = best(
                        lambda n=label, e=env: run([flx, "run", n], e), args.rounds
                    )
        finally:
            run([flx, "daemon", "stop"], setup.warm_env)
            shutil.rmtree(setup.runtime, ignore_errors=True)
        if not args.no_meltano:
            exe = meltano_bin()
            project = setup.meltano(exe)
            menv = {k: v for k, v in os.environ.items() if not k.startswith("MELTANO_")}
            menv["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
            for label, data in (("big", big), ("small", small)):
                menv["TAP_CAT_PATH"] = str(data)
                results.setdefault("meltano run", {})[label] = best(
                    lambda e=dict(menv): run(
                        [str(exe), "run", "tap-cat", "target-count"], e, cwd=project
                    ),
                    args.rounds,
                )
    pipe = results["pipe"]
    print(f"\n{args.records:,} records (~200 bytes each), best of {args.rounds}:")
    print(f"{'':14}{'throughput run':>16}{'ratio':>8}{'10-record run':>16}{'over pipe':>12}")
    for name, times in results.items():
        print(
            f"{name:14}{times['big']:>15.3f}s{times['big'] / pipe['big']:>7.2f}x"
            f"{times['small']:>15.3f}s{times['small'] - pipe['small']:>+11.3f}s"
        )
    warm, cold = results["flx run"], results["flx run, cold"]
    print(
        f"\nflx run / pipe at {args.records:,} records: {warm['big'] / pipe['big']:.3f}x "
        f"(cold: {cold['big'] / pipe['big']:.3f}x; target <= 1.05x)"
    )
    print(
        f"flx run fixed cost over the pipe: {warm['small'] - pipe['small']:+.3f}s "
        f"(cold: {cold['small'] - pipe['small']:+.3f}s; target <= 0.3s)"
    )
    if "meltano run" in results:
        m = results["meltano run"]
        print(
            f"meltano run / pipe: {m['big'] / pipe['big']:.2f}x; fixed cost over the pipe: "
            f"{m['small'] - pipe['small']:+.3f}s; flx run is "
            f"{m['big'] / warm['big']:.1f}x faster at {args.records:,} records"
        )


if __name__ == "__main__":
    main()
