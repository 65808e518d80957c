#!/usr/bin/env bash
# Installs what is missing (Debian 12, run as root), builds and runs the whole
# test suite. Safe to run again: it only installs and configures what is not
# there yet. Extra arguments go to `meson test` (e.g. --suite unit).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${MRCNN_BUILD_DIR:-$ROOT/build}

PKGS=(meson ninja-build pkg-config gcc python3-torchvision python3-numpy
  python3-pil python3-venv python3-dev libopenblas-dev libdnnl-dev
  libjson-glib-dev libpng-dev libjpeg-dev libgstreamer1.0-dev
  libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  libcairo2-dev libpango1.0-dev check)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# pycocotools is not packaged by Debian: a venv that also sees Debian's torch.
VENV=$ROOT/.venv
if [ ! -x "$VENV/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
if ! "$VENV/bin/python" -c "import pycocotools" 2>/dev/null; then
  "$VENV/bin/pip" install -q pycocotools
fi

if [ -f "$BUILD/build.ninja" ]; then
  meson setup --reconfigure "$BUILD" -Dpython="$VENV/bin/python" >/dev/null
else
  meson setup "$BUILD" -Dpython="$VENV/bin/python"
fi
meson compile -C "$BUILD"

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
