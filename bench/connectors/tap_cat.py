"""A cat-like Singer tap for benchmarks: copies the file named by its config to stdout.

tap_cat.py --config CONFIG.json     (CONFIG: {"path": "records.jsonl"})
"""

import json
import os
import sys


def main() -> None:
    args = sys.argv[1:]
    config = json.load(open(args[args.index("--config") + 1]))
    fd = os.open(config["path"], os.O_RDONLY)
    out = sys.stdout.fileno()
    while chunk := os.read(fd, 1 << 20):
        view = memoryview(chunk)
        while view:
            view = view[os.write(out, view) :]


if __name__ == "__main__":
    main()
