#!/usr/bin/env bash
# Installs what is missing (Debian 12, run as root), builds and runs the whole
# test suite. Safe to run again: it only installs and configures what is not
# there yet. Extra arguments go to `meson test` (e.g. --suite unit).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${MRCNN_BUILD_DIR:-$ROOT/build}

bash "$ROOT/tools/setup.sh"
VENV=$ROOT/.venv

set +e
meson test -C "$BUILD" --print-errorlogs --num-processes 2 "$@"
rc=$?
set -e
# One closing line a CI reader understands.
"$VENV/bin/python" - "$BUILD/meson-logs/testlog.json" <<'PY'
import json, sys
counts = {"OK": 0, "FAIL": 0, "SKIP": 0, "TIMEOUT": 0, "EXPECTEDFAIL": 0, "UNEXPECTEDPASS": 0, "ERROR": 0}
with open(sys.argv[1]) as f:
    for line in f:
        line = line.strip()
        if line:
            r = json.loads(line)
            counts[r["result"]] = counts.get(r["result"], 0) + 1
passed = counts["OK"] + counts["EXPECTEDFAIL"]
failed = counts["FAIL"] + counts["TIMEOUT"] + counts["ERROR"] + counts["UNEXPECTEDPASS"]
print(f"{passed} passed, {failed} failed, {counts['SKIP']} skipped")
PY
exit $rc
