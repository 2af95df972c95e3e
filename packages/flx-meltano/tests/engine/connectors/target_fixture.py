"""A Singer target for engine tests: upserts records by key into a JSON file, echoes STATE.

Config: path (the JSON file: {stream: {key: record}}), fail (exit 1 on the first record).
A non-JSON line or a RECORD for a stream with no SCHEMA is an error (exit 2) that names the
line. STATE is echoed only after the records before it are written to the file.
"""

import json
import os
import sys


def main() -> None:
    args = sys.argv[1:]
    config = json.load(open(args[args.index("--config") + 1]))
    path = config["path"]
    data = json.load(open(path)) if os.path.exists(path) else {}
    keys: dict[str, list[str]] = {}

    def flush() -> None:
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)

    for number, raw in enumerate(sys.stdin, start=1):
        try:
            message = json.loads(raw)
        except ValueError:
            sys.stderr.write(f"target_fixture: line {number} is not JSON: {raw[:40]!r}\n")
            sys.exit(2)
        kind = message.get("type")
        if kind == "SCHEMA":
            keys[message["stream"]] = message.get("key_properties", [])
        elif kind == "RECORD":
            if config.get("fail"):
                sys.stderr.write("target_fixture: simulated failure\n")
                sys.exit(1)
            stream = message["stream"]
            if stream not in keys:
                sys.stderr.write(
                    f"target_fixture: line {number}: RECORD for stream "
                    f"{stream!r} before its SCHEMA\n"
                )
                sys.exit(2)
            record = message["record"]
            key = "|".join(str(record[k]) for k in keys[stream]) or str(number)
            data.setdefault(stream, {})[key] = record
        elif kind == "STATE":
            flush()
            sys.stdout.write(json.dumps(message) + "\n")
            sys.stdout.flush()
    flush()


if __name__ == "__main__":
    main()
