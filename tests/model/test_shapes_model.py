#!/usr/bin/env python3
"""The shipped shapes model through the C engine, against ground truth.

Draws a few frames with maskrcnn_tools.shapes.generate from a stream the training
never saw (seed 3), runs mrcnn-infer --json on them and checks, instance by
instance, that the engine finds the right class with a mask that overlaps the
visible ground-truth mask: recall, mean mask IoU and the rate of confident
false detections must all clear fixed bars. A model that outputs the wrong
classes, shifted boxes, masks in the wrong frame, or nothing fails here.

    PYTHONPATH=tools python3 tests/model/test_shapes_model.py --infer build/engine/tools/mrcnn-infer \\
        --model models/shapes.safetensors
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

from maskrcnn_tools import rle
from maskrcnn_tools.shapes import generate as G

SEED = 3
FRAMES = [(640, 360), (320, 240), (1280, 720), (640, 480), (800, 450), (400, 300), (960, 540), (640, 360)]
MIN_AREA = 24 * 24      # instances this large (visible pixels, at model scale) must be found
SCORE = 0.5             # the shipped model's default score threshold
MATCH_IOU = 0.5
# The bars are what the shipped model reaches on these frames (21 of 21
# instances found, mean mask IoU 0.965, 1 false detection: 0.023 per instance,
# at score 0.5) with a margin so that thread counts and backends (float
# summation order) never flip them: two misses at most.
MIN_RECALL = 0.90       # instances >= MIN_AREA found with the right class at mask IoU >= 0.5
MIN_MEAN_IOU = 0.92     # mean mask IoU of those matches
MAX_FALSE_RATE = 0.10   # detections scoring >= SCORE that overlap no instance (IoU < 0.5), per instance


def frames():
    for i, (w, h) in enumerate(FRAMES):
        rng = G.image_rng(SEED, i)
        img, inst, _ = G.render_scene(rng, w, h)
        yield img, inst


def mask_iou(a, b):
    inter = np.logical_and(a, b).sum()
    union = np.logical_or(a, b).sum()
    return float(inter) / float(union) if union else 0.0


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--infer", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--score-threshold", type=float, default=SCORE)
    a = p.parse_args(argv)
    if not os.path.exists(a.model):
        print("model %s missing" % a.model)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        paths, truth = [], []
        for k, (img, inst) in enumerate(frames()):
            path = os.path.join(tmp, "frame%d.png" % k)
            Image.fromarray(img).save(path)
            paths.append(path)
            truth.append(inst)
        out = os.path.join(tmp, "out.json")
        cmd = [a.infer, "--model", a.model, "--json", out, "--score-threshold", str(a.score_threshold)] + paths
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            print("mrcnn-infer failed (%d):\n%s%s" % (r.returncode, r.stdout, r.stderr))
            return 1
        with open(out) as f:
            res = json.load(f)
    if len(res["images"]) != len(paths):
        print("expected %d images in the JSON, got %d" % (len(paths), len(res["images"])))
        return 1

    required = found = false = 0
    ious, problems = [], []
    for k, (entry, inst) in enumerate(zip(res["images"], truth)):
        h, w = FRAMES[k][1], FRAMES[k][0]
        if (entry["width"], entry["height"]) != (w, h):
            problems.append("frame %d: engine reports %dx%d, frame is %dx%d" % (k, entry["width"], entry["height"], w, h))
            continue
        dets = []
        for d in entry["detections"]:
            if d["label"] not in G.CLASSES or G.LABELS[d["class_id"]] != d["label"]:
                problems.append("frame %d: unexpected label %r / class id %r" % (k, d["label"], d["class_id"]))
                continue
            m = rle.decode_array(d["mask"])
            if m.shape != (h, w):
                problems.append("frame %d: mask size %s, frame %dx%d" % (k, m.shape, w, h))
                continue
            dets.append((d["class_id"], d["score"], m))
        scale2 = G.model_scale(w, h) ** 2
        used = set()
        for gt in inst:
            best, best_j = 0.0, None
            for j, (cid, _, m) in enumerate(dets):
                if j in used or cid != gt["category_id"]:
                    continue
                iou = mask_iou(gt["mask"], m)
                if iou > best:
                    best, best_j = iou, j
            big = gt["mask"].sum() * scale2 >= MIN_AREA
            if best >= MATCH_IOU:
                used.add(best_j)
                if big:
                    found += 1
                    ious.append(best)
            elif big:
                problems.append("frame %d: %s of %d px at %s not found (best same-class IoU %.2f)" % (
                    k, G.LABELS[gt["category_id"]], gt["mask"].sum(), gt["bbox"], best))
            required += big
        for j, (cid, score, m) in enumerate(dets):
            if j in used:
                continue
            if max([mask_iou(gt["mask"], m) for gt in inst] or [0.0]) < MATCH_IOU:
                false += 1
                problems.append("frame %d: false %s (score %.2f)" % (k, G.LABELS[cid], score))

    recall = found / float(max(required, 1))
    mean_iou = float(np.mean(ious)) if ious else 0.0
    false_rate = false / float(max(sum(len(t) for t in truth), 1))
    for line in problems:
        print("  " + line)
    print("instances >= %d px: %d, found %d (recall %.3f, bar %.2f); mean mask IoU %.3f (bar %.2f); "
          "false detections %d (%.3f per instance, bar %.2f)" % (
              MIN_AREA, required, found, recall, MIN_RECALL, mean_iou, MIN_MEAN_IOU, false, false_rate,
              MAX_FALSE_RATE))
    ok = required >= 10 and recall >= MIN_RECALL and mean_iou >= MIN_MEAN_IOU and false_rate <= MAX_FALSE_RATE
    if any("unexpected label" in s or "mask size" in s or "engine reports" in s for s in problems):
        ok = False
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
