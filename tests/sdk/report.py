"""How the SDK scripts end: what they saw as one JSON line on stdout, and on a failure the
trace and a `FAILED:` line on stderr with a non-zero exit."""

import json
import sys
import traceback


def run(steps, seen):
    """Runs `steps(seen)`; prints `seen` whatever happens."""
    try:
        steps(seen)
    except Exception as e:  # noqa: BLE001 - every failure is reported with what was seen
        print(json.dumps(seen))
        traceback.print_exc()
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(seen))
