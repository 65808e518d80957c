#!/usr/bin/python3
"""Print the detections of every frame as JSON lines.

Runs a pipeline containing `maskrcnn post-messages=true`, listens to the
"maskrcnn" element messages on the bus and prints one JSON object per frame:

  {"frame": 0, "pts": 0, "stream_time": 0, "running_time": 0, "stale": false,
   "age": 0, "instances": [{"label": "circle", "class_id": 1, "score": 0.98,
   "x": 12, "y": 40, "width": 64, "height": 60}, ...]}

Times are in nanoseconds (null when unknown). Diagnostics go to stderr, so
stdout is pure JSON lines: pipe it to jq, a file or a socket.

Usage:
  detections-json.py [--model PATH] [--interval N] [--score-threshold T]
                     [--source "GST-LAUNCH SOURCE DESCRIPTION"]

The source must produce raw video; it defaults to a test pattern of 30
frames. Example with a file:
  detections-json.py --source "filesrc location=clip.mp4 ! decodebin"
"""
import argparse
import json
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

NONE = 0xFFFFFFFFFFFFFFFF  # GST_CLOCK_TIME_NONE


def clock_time(s, field):
    ok, value = s.get_uint64(field)
    return value if ok and value != NONE else None


def instances_of(s):
    """The "instances" field, a GstValueList of GstStructures."""
    value = s.get_value("instances")
    items = getattr(value, "array", value)  # Gst.ValueList from gst-python
    out = []
    for inst in items or []:
        out.append({
            "label": inst.get_string("label"),
            "class_id": inst.get_int("class-id")[1],
            "score": round(inst.get_double("score")[1], 6),
            "x": inst.get_int("x")[1],
            "y": inst.get_int("y")[1],
            "width": inst.get_int("width")[1],
            "height": inst.get_int("height")[1],
        })
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="model file (default: the shipped model)")
    ap.add_argument("--interval", type=int, default=1,
                    help="run the network on every N-th frame")
    ap.add_argument("--score-threshold", type=float, default=0.5)
    ap.add_argument("--source", default="videotestsrc num-buffers=30 "
                    "pattern=ball ! video/x-raw,width=640,height=480",
                    help="gst-launch description of a raw video source")
    args = ap.parse_args()

    Gst.init(None)
    if Gst.ElementFactory.find("maskrcnn") is None:
        sys.exit("detections-json: the maskrcnn element is not available; "
                 "build the project and set GST_PLUGIN_PATH to build/gst")

    desc = (f"{args.source} ! videoconvert ! maskrcnn name=mrcnn "
            f"post-messages=true interval={args.interval} "
            f"score-threshold={args.score_threshold} ! fakesink")
    try:
        pipeline = Gst.parse_launch(desc)
    except GLib.Error as e:
        sys.exit(f"detections-json: bad pipeline '{desc}': {e.message}")
    if args.model:
        pipeline.get_by_name("mrcnn").set_property("model", args.model)

    bus = pipeline.get_bus()
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        msg = bus.pop_filtered(Gst.MessageType.ERROR)
        reason = msg.parse_error()[0].message if msg else "unknown reason"
        sys.exit(f"detections-json: could not start: {reason}")

    frame = 0
    status = 0
    while True:
        msg = bus.timed_pop_filtered(
            Gst.CLOCK_TIME_NONE,
            Gst.MessageType.ELEMENT | Gst.MessageType.ERROR
            | Gst.MessageType.EOS)
        if msg.type == Gst.MessageType.EOS:
            break
        if msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            print(f"detections-json: error: {err.message}", file=sys.stderr)
            if debug:
                print(debug, file=sys.stderr)
            status = 1
            break
        s = msg.get_structure()
        if s is None or s.get_name() != "maskrcnn":
            continue
        print(json.dumps({
            "frame": frame,
            "pts": clock_time(s, "timestamp"),
            "stream_time": clock_time(s, "stream-time"),
            "running_time": clock_time(s, "running-time"),
            "stale": s.get_boolean("stale")[1],
            "age": s.get_uint("age")[1],
            "instances": instances_of(s),
        }), flush=True)
        frame += 1

    pipeline.set_state(Gst.State.NULL)
    return status


if __name__ == "__main__":
    sys.exit(main())
