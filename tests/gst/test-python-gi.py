#!/usr/bin/python3
"""The metadata library from Python through its typelib (GstMaskRcnn-1.0),
on the shipped model and clip:

1. pipelines/count-objects.py runs and reports, for each of its seconds,
   30 frames with every class of the shapes model detected and masks with
   a positive area;
2. a pad probe of its own reads every instance of the first frames
   (GstMaskRcnn.buffer_copy_instances, GstMaskRcnn.Instance) and checks
   each field and mask against what the C iterator says: a mask of
   width x height bytes, only 0 and 255, some 255; the frame mask has the
   same inside pixels where the box lies in the frame; the deprecated
   names (buffer_get_instances, Detection and its score) still give the
   same instances;
3. a maskrcnnpublish (method=file) in the same pipeline wrote one JSON line
   per frame whose detections, decoded from COCO RLE here, are the same
   instances and masks the probe read;
4. after maskrcnntrack, Instance.get_track_id() (and the deprecated
   Detection.track_id) gives every instance a non-zero id that stays with
   its object from frame to frame, a copy of a copy keeps it, and before
   the tracker it is 0.

Fails (never skips) when python3-gi or the typelib is missing: setup
installs them. Arguments: SOURCE_ROOT; tools/ on PYTHONPATH (maskrcnn_tools.rle
decodes the masks).
"""
import json
import os
import subprocess
import sys
import tempfile
import warnings

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstMaskRcnn", "1.0")
from gi.repository import Gst, GstMaskRcnn  # noqa: E402

from maskrcnn_tools import rle  # noqa: E402

SOURCE_ROOT = sys.argv[1]
CLIP = os.path.join(SOURCE_ROOT, "data", "shapes-640x360.webm")
EXAMPLE = os.path.join(SOURCE_ROOT, "pipelines", "count-objects.py")
CLASSES = {"circle", "square", "triangle"}
failures = []
deprecation_warnings = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)


def play_until(pipeline, done):
    """Plays the pipeline until done() (checked between bus polls), EOS or
    an error (a failed check), then stops it."""
    pipeline.set_state(Gst.State.PLAYING)
    bus = pipeline.get_bus()
    while not done():
        msg = bus.timed_pop_filtered(100 * Gst.MSECOND,
                                     Gst.MessageType.EOS | Gst.MessageType.ERROR)
        if msg is not None:
            if msg.type == Gst.MessageType.ERROR:
                check(False, "pipeline error: %s" % msg.parse_error()[0].message)
            break
    pipeline.set_state(Gst.State.NULL)


def test_example():
    out = subprocess.run([sys.executable, EXAMPLE, "--seconds", "2", "--json"],
                         capture_output=True, text=True, timeout=600)
    check(out.returncode == 0, "count-objects.py exit status %d: %s"
          % (out.returncode, out.stderr[-2000:]))
    lines = [json.loads(x) for x in out.stdout.splitlines() if x.strip()]
    check([x["second"] for x in lines] == [0, 1],
          "count-objects.py seconds: %s" % [x.get("second") for x in lines])
    for x in lines:
        # The clip is 30 frames per second.
        check(x["frames"] == 30, "second %d: %d frames" % (x["second"], x["frames"]))
        check(set(x["classes"]) == CLASSES,
              "second %d: classes %s" % (x["second"], sorted(x["classes"])))
        for label, c in x["classes"].items():
            check(c["detections"] > 0 and c["per_frame"] > 0,
                  "second %d %s: no detections" % (x["second"], label))
            check(c["mean_mask_area"] > 50,
                  "second %d %s: mean mask area %s" % (x["second"], label,
                                                       c["mean_mask_area"]))
    print("count-objects.py: %s" % out.stdout.strip())


def check_deprecated(buf, instances):
    """The deprecated names (GstMaskRcnn.Detection, its score, and
    buffer_get_instances) give the same instances and masks as the new,
    and say that they are deprecated."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = GstMaskRcnn.buffer_get_instances(buf)
        check(len(old) == len(instances), "buffer_get_instances gave %d, "
              "buffer_copy_instances %d" % (len(old), len(instances)))
        for o, i in zip(old, instances):
            check(isinstance(o, GstMaskRcnn.Detection), "a %s" % type(o))
            check((o.label, o.class_id, o.score, o.x, o.y, o.width, o.height,
                   o.stale, o.age) ==
                  (i.label, i.class_id, i.confidence, i.x, i.y, i.width,
                   i.height, i.stale, i.age),
                  "Detection %s differs from Instance %s" % (o.label, i.label))
            check(o.has_mask() == i.has_mask()
                  and o.get_mask().get_data() == i.get_mask().get_data(),
                  "Detection %s: mask differs" % o.label)
    # PyGObject warns once, where a deprecated name is first looked up.
    deprecation_warnings.extend(str(w.message) for w in caught
                                if issubclass(w.category, DeprecationWarning))


def test_probe():
    Gst.init(None)
    out_dir = tempfile.mkdtemp(prefix="test-python-gi-")
    jsonl = os.path.join(out_dir, "detections.jsonl")
    pipeline = Gst.parse_launch(
        'filesrc location="%s" ! decodebin ! videoconvert ! maskrcnn ! '
        'maskrcnnpublish location="%s" source-id=clip ! fakesink name=sink'
        % (CLIP, jsonl))
    seen = {"frames": 0, "instances": 0, "masks": 0, "labels": set()}
    probed = []  # per frame: [(label, class_id, confidence, box, frame mask)]
    width, height = 640, 360

    def on_buffer(pad, info):
        buf = info.get_buffer()
        dets = GstMaskRcnn.buffer_copy_instances(buf)
        probed.append([(d.label, d.class_id, d.confidence,
                        [d.x, d.y, d.x + d.width, d.y + d.height],
                        bytes(1 if v else 0 for v in
                              d.get_frame_mask(width, height).get_data()))
                       for d in dets])
        check(len(dets) == GstMaskRcnn.buffer_get_n_instances(buf),
              "buffer_copy_instances gave %d, get_n_instances %d"
              % (len(dets), GstMaskRcnn.buffer_get_n_instances(buf)))
        check_deprecated(buf, dets)
        for d in dets:
            seen["instances"] += 1
            seen["labels"].add(d.label)
            check(isinstance(d, GstMaskRcnn.Instance), "a %s" % type(d))
            check(d.roi is None, "a copy points into the buffer's metadata")
            check(d.label in CLASSES, "label %r" % d.label)
            check(1 <= d.class_id <= 3, "class_id %d" % d.class_id)
            check(0.5 < d.confidence <= 1.0, "confidence %f" % d.confidence)
            check(d.width > 0 and d.height > 0 and d.x >= 0 and d.y >= 0
                  and d.x + d.width <= width and d.y + d.height <= height,
                  "box %d,%d %dx%d" % (d.x, d.y, d.width, d.height))
            check(d.stale is False and d.age == 0, "stale %s age %d"
                  % (d.stale, d.age))
            check(d.has_mask(), "instance without a mask")
            mask = d.get_mask().get_data()
            check(len(mask) == d.width * d.height,
                  "mask %d bytes for a %dx%d box" % (len(mask), d.width, d.height))
            inside = mask.count(255)
            check(inside > 0, "empty mask")
            check(inside + mask.count(0) == len(mask), "mask not 0/255")
            frame = d.get_frame_mask(width, height).get_data()
            check(len(frame) == width * height, "frame mask %d bytes" % len(frame))
            check(frame.count(255) == inside,
                  "frame mask %d inside, box mask %d" % (frame.count(255), inside))
            # Row by row: the box's rows sit at y.. in the frame.
            row = d.height // 2
            check(frame[(d.y + row) * width + d.x:(d.y + row) * width + d.x + d.width]
                  == mask[row * d.width:(row + 1) * d.width],
                  "frame mask row differs from the box mask")
            seen["masks"] += 1
        seen["frames"] += 1
        return Gst.PadProbeReturn.OK if seen["frames"] < 10 else Gst.PadProbeReturn.REMOVE

    pipeline.get_by_name("sink").get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER, on_buffer)
    # Ten frames are enough; stop at the tenth rather than decode the clip.
    play_until(pipeline, lambda: seen["frames"] >= 10)
    check(seen["frames"] >= 10, "only %d frames" % seen["frames"])
    check(seen["instances"] >= 20, "only %d instances" % seen["instances"])
    check(seen["labels"] == CLASSES, "labels seen: %s" % sorted(seen["labels"]))
    check(any("buffer_get_instances" in w for w in deprecation_warnings),
          "no DeprecationWarning for buffer_get_instances: %s"
          % deprecation_warnings)
    print("probe: %d frames, %d instances, %d masks checked"
          % (seen["frames"], seen["instances"], seen["masks"]))

    # Stopping wrote every queued document; the publisher saw at least
    # the frames the probe after it saw.
    with open(jsonl) as f:
        docs = [json.loads(line) for line in f]
    os.unlink(jsonl)
    os.rmdir(out_dir)
    check(len(docs) >= len(probed), "%d documents for %d frames"
          % (len(docs), len(probed)))
    for n, (doc, frame) in enumerate(zip(docs, probed)):
        check(doc["frame"] == n and doc["source_id"] == "clip"
              and doc["width"] == width and doc["height"] == height
              and doc["pts"] is not None, "document %d header: %s"
              % (n, {k: v for k, v in doc.items() if k != "detections"}))
        check(len(doc["detections"]) == len(frame), "frame %d: %d detections"
              " published, %d read" % (n, len(doc["detections"]), len(frame)))
        # the documents write an instance's confidence as "score"
        for det, (label, class_id, confidence, box, mask) in zip(
                doc["detections"], frame):
            check(det["label"] == label and det["class_id"] == class_id
                  and abs(det["score"] - confidence) < 1e-9 and det["box"] == box,
                  "frame %d: published %s, read %s" % (
                      n, {k: v for k, v in det.items() if k != "mask"},
                      (label, class_id, confidence, box)))
            check(det["mask"]["size"] == [height, width], "mask size %s"
                  % det["mask"]["size"])
            try:
                published = rle.decode(det["mask"]["counts"], height, width)
            except ValueError as e:
                published = "undecodable (%s)" % e
            check(published == mask,
                  "frame %d %s: the published mask differs" % (n, label))
    print("publish: %d documents, the first %d compared" % (len(docs), len(probed)))


def test_tracks():
    pipeline = Gst.parse_launch(
        'filesrc location="%s" ! decodebin ! videoconvert ! maskrcnn ! '
        'maskrcnntrack name=track ! fakesink' % CLIP)
    track = pipeline.get_by_name("track")
    frames = {"before": 0, "after": 0}
    last = {}  # track id -> box centre on the previous frame
    ids_seen = set()

    def before(pad, info):
        for d in GstMaskRcnn.buffer_copy_instances(info.get_buffer()):
            check(d.get_track_id() == 0, "an untracked instance has id %d"
                  % d.get_track_id())
        frames["before"] += 1
        return Gst.PadProbeReturn.OK

    def after(pad, info):
        buf = info.get_buffer()
        insts = GstMaskRcnn.buffer_copy_instances(buf)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            dets = GstMaskRcnn.buffer_get_instances(buf)
        centres = {}
        for d, old in zip(insts, dets):
            tid = d.get_track_id()
            check(tid > 0, "a tracked instance without a track id")
            check(old.track_id == tid, "Detection.track_id %d, Instance %d"
                  % (old.track_id, tid))
            check(d.copy().get_track_id() == tid, "a copy lost its track id")
            check(tid not in centres, "track id %d twice in a frame" % tid)
            centres[tid] = (d.x + d.width / 2, d.y + d.height / 2)
        # the shipped clip's shapes move a few pixels a frame: an id that
        # stays must stay with a box nearby
        for tid, (x, y) in centres.items():
            if tid in last:
                check(abs(x - last[tid][0]) < 30 and abs(y - last[tid][1]) < 30,
                      "track %d jumped from %s to %s" % (tid, last[tid], (x, y)))
        if frames["after"] > 0:
            check(len(set(centres) & set(last)) >= len(last) - 1,
                  "ids changed: %s then %s" % (sorted(last), sorted(centres)))
        last.clear()
        last.update(centres)
        ids_seen.update(centres)
        frames["after"] += 1
        return Gst.PadProbeReturn.OK if frames["after"] < 10 else Gst.PadProbeReturn.REMOVE

    track.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, before)
    track.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, after)
    # Ten frames are enough; stop at the tenth rather than decode the clip.
    play_until(pipeline, lambda: frames["after"] >= 10)
    check(frames["after"] >= 10, "only %d tracked frames" % frames["after"])
    check(len(ids_seen) >= 5, "only %d track ids" % len(ids_seen))
    print("tracks: %d frames, %d track ids" % (frames["after"], len(ids_seen)))


test_probe()
test_tracks()
test_example()
if failures:
    sys.exit("%d check(s) failed" % len(failures))
print("ok")
