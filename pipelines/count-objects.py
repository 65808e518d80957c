#!/usr/bin/python3
"""Counts objects per class per second of video, reading the instances and
their masks through the GstMaskRcnn typelib (GObject introspection).

    pipelines/count-objects.py [--source DESC] [--model PATH] [--seconds N]
                               [--json]

Runs `SOURCE ! videoconvert ! maskrcnn ! fakesink` (by default the shipped
clip data/shapes-640x360.webm and the shipped model) and, for every second
of stream time, prints per class the mean number of instances per frame and
their mean mask area in pixels. With --json, one JSON object per second:

    {"second": 0, "frames": 25, "classes": {"circle": {"detections": 50,
     "per_frame": 2.0, "mean_mask_area": 812.3}, ...}}

Needs python3-gi and the typelib: from a build tree, pipelines/env.sh sets
GST_PLUGIN_PATH, GI_TYPELIB_PATH and LD_LIBRARY_PATH; an installed build
needs nothing. Reading instances needs no python3-gst-1.0 (that package is
for bus messages, see docs/elements.md).
"""
import argparse
import json
import os
import sys
from collections import defaultdict

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstMaskRcnn", "1.0")
from gi.repository import GLib, Gst, GstMaskRcnn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CLIP = os.path.normpath(os.path.join(HERE, "..", "data",
                                             "shapes-640x360.webm"))


class Counter:
    """Per-second tallies, filled by the pad probe on the streaming thread
    and read from the main thread only after EOS."""

    def __init__(self, emit):
        self.emit = emit
        self.second = None
        self.frames = 0
        self.detections = defaultdict(int)
        self.area = defaultdict(int)

    def add_frame(self, second, instances):
        if self.second is not None and second != self.second:
            self.flush()
        self.second = second
        self.frames += 1
        for inst in instances:  # GstMaskRcnn.Instance
            self.detections[inst.label] += 1
            mask = inst.get_mask()  # GLib.Bytes, width x height GRAY8
            if mask is not None:
                self.area[inst.label] += mask.get_data().count(255)

    def reset(self):
        self.second = None
        self.frames = 0
        self.detections.clear()
        self.area.clear()

    def flush(self):
        if self.second is None or self.frames == 0:
            return
        classes = {}
        for label in sorted(self.detections):
            n = self.detections[label]
            classes[label] = {
                "detections": n,
                "per_frame": round(n / self.frames, 3),
                "mean_mask_area": round(self.area[label] / n, 1),
            }
        self.emit(self.second, self.frames, classes)
        self.frames = 0
        self.detections.clear()
        self.area.clear()


def print_text(second, frames, classes):
    parts = ", ".join(
        "%s %.2f/frame (mask %.0f px)" % (k, v["per_frame"], v["mean_mask_area"])
        for k, v in classes.items())
    print("%4d s  %3d frames  %s" % (second, frames, parts or "nothing"))


def print_json(second, frames, classes):
    print(json.dumps({"second": second, "frames": frames, "classes": classes}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default='filesrc location="%s" ! decodebin'
                    % DEFAULT_CLIP.replace('"', '\\"'),
                    help="gst-launch description of the decoded video")
    ap.add_argument("--model", help="model path (default: the shipped one)")
    ap.add_argument("--seconds", type=int, default=0,
                    help="stop after N seconds of the stream (0: all)")
    ap.add_argument("--json", action="store_true", help="JSON lines output")
    args = ap.parse_args()

    Gst.init(None)
    desc = "%s ! videoconvert ! maskrcnn name=net ! fakesink name=sink" % args.source
    try:
        pipeline = Gst.parse_launch(desc)
    except GLib.Error as e:
        sys.exit("count-objects: cannot build the pipeline (is the maskrcnn "
                 "plugin on GST_PLUGIN_PATH? see pipelines/env.sh): %s" % e.message)
    if args.model:
        pipeline.get_by_name("net").set_property("model", args.model)

    counter = Counter(print_json if args.json else print_text)
    frame_index = [0]

    def on_buffer(pad, info):
        buffer = info.get_buffer()
        if buffer.pts != Gst.CLOCK_TIME_NONE:
            second = buffer.pts // Gst.SECOND
        else:
            second = frame_index[0] // 25  # no timestamps: assume 25 fps
        frame_index[0] += 1
        counter.add_frame(second, GstMaskRcnn.buffer_copy_instances(buffer))
        return Gst.PadProbeReturn.OK

    def on_flush(pad, info):
        # The seek below flushes: forget the frame seen while prerolling,
        # which comes again.
        if info.get_event().type == Gst.EventType.FLUSH_STOP:
            counter.reset()
            frame_index[0] = 0
        return Gst.PadProbeReturn.OK

    sinkpad = pipeline.get_by_name("sink").get_static_pad("sink")
    sinkpad.add_probe(Gst.PadProbeType.BUFFER, on_buffer)
    sinkpad.add_probe(Gst.PadProbeType.EVENT_FLUSH, on_flush)

    if args.seconds > 0:
        # A seek with a stop position ends the stream there with an EOS;
        # seeking needs the pipeline prerolled (PAUSED) first.
        pipeline.set_state(Gst.State.PAUSED)
        pipeline.get_state(Gst.CLOCK_TIME_NONE)
        if not pipeline.seek(1.0, Gst.Format.TIME,
                             Gst.SeekFlags.FLUSH | Gst.SeekFlags.ACCURATE,
                             Gst.SeekType.SET, 0,
                             Gst.SeekType.SET, args.seconds * Gst.SECOND):
            sys.exit("count-objects: the source cannot seek; drop --seconds")
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg.type == Gst.MessageType.ERROR:
        err, debug = msg.parse_error()
        sys.exit("count-objects: %s (%s)" % (err.message, debug))
    counter.flush()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
