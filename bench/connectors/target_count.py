"""A counting Singer target for benchmarks: counts RECORD lines, emits one final STATE.

target_count.py [--config CONFIG.json]
"""

import json
import sys


def main() -> None:
    records = 0
    for line in sys.stdin.buffer:
        if b'"RECORD"' in line:
            records += 1
    sys.stdout.write(json.dumps({"type": "STATE", "value": {"records": records}}) + "\n")


if __name__ == "__main__":
    main()
