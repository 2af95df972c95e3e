"""A configurable Singer tap for engine tests.

Config: rows (int), stream (str), sleep (seconds per row), fail_after (rows, then exit 1),
garbage (emit a non-JSON line after the rows), orphan_record (RECORD of an unknown stream),
state_every (rows between STATE messages), hang (sleep forever after the rows), gate (a
path: after its first record the run waits until that file exists).
Honours --state: resumes after the bookmark ``position``.
"""

import json
import os
import sys
import time


def main() -> None:
    args = sys.argv[1:]
    config = json.load(open(args[args.index("--config") + 1]))
    state = {}
    if "--state" in args:
        state = json.load(open(args[args.index("--state") + 1]))
    stream = config.get("stream", "items")
    start = state.get("bookmarks", {}).get(stream, {}).get("position", 0)
    rows = int(config.get("rows", 10))
    every = int(config.get("state_every", 5))
    out = sys.stdout
    out.write(
        json.dumps(
            {
                "type": "SCHEMA",
                "stream": stream,
                "key_properties": ["id"],
                "schema": {"properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
            }
        )
        + "\n"
    )
    for i in range(start, rows):
        if config.get("gate") and i == start + 1:
            # Holds the run after its first record until the test creates the gate file.
            out.flush()
            while not os.path.exists(config["gate"]):
                time.sleep(0.05)
        if config.get("fail_after") is not None and i >= int(config["fail_after"]):
            sys.stderr.write(f"tap_fixture: simulated failure at row {i}\n")
            sys.exit(1)
        out.write(
            json.dumps(
                {"type": "RECORD", "stream": stream, "record": {"id": i, "name": f"row {i}"}}
            )
            + "\n"
        )
        if (i + 1) % every == 0:
            out.write(
                json.dumps({"type": "STATE", "value": {"bookmarks": {stream: {"position": i + 1}}}})
                + "\n"
            )
            out.flush()
        if config.get("sleep"):
            out.flush()
            time.sleep(float(config["sleep"]))
    if config.get("orphan_record"):
        out.write(json.dumps({"type": "RECORD", "stream": "nobody", "record": {"id": 1}}) + "\n")
    if config.get("garbage"):
        out.write("this is not json\n")
    out.write(
        json.dumps({"type": "STATE", "value": {"bookmarks": {stream: {"position": rows}}}}) + "\n"
    )
    out.flush()
    sys.stderr.write("tap_fixture: done\n")
    if config.get("hang"):
        time.sleep(3600)


if __name__ == "__main__":
    main()
