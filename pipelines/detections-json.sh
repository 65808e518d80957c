#!/bin/bash
# Prints the detections of every frame as JSON lines (see
# detections-json.py for the format and options), installing the Python
# GStreamer bindings from Debian where they are missing.
#
#   pipelines/detections-json.sh --source "filesrc location=clip.mp4 ! decodebin"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

have_bindings() {
  /usr/bin/python3 - <<'PY' 2>/dev/null
import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.ValueList  # defined by python3-gst-1.0's overrides
PY
}

if ! have_bindings; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "Installing python3-gi and python3-gst-1.0 ..." >&2
    apt-get install -y python3-gi python3-gst-1.0 >&2
  else
    echo "Missing the Python GStreamer bindings; install them with:" >&2
    echo "  sudo apt-get install python3-gi python3-gst-1.0" >&2
    exit 1
  fi
fi

source "$here/env.sh"
exec /usr/bin/python3 "$here/detections-json.py" "$@"
