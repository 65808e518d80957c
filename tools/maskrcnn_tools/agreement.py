"""Agreement of two runs of the engine, detection by detection.

Runs mrcnn-infer --json on frames, matches the detections of two runs one to
one (same class, greedy by box IoU) and measures how far they move: the share
of the reference's detections found again, box IoU, full-frame mask IoU and
score change. A detection may go unmatched only when it scores within `tie`
of the score threshold (it can fall on either side of it). Used by the
precision tests (tests/model/test_precision.py, test_int8.py).
"""

import json
import os
import subprocess

import numpy as np
from PIL import Image

from . import rle
from .shapes import generate as G

STREAMS = [(3, 8), (4, 8)]   # (seed, frames): shapes streams held out from training
SIZES = [(640, 360), (320, 240), (1280, 720), (640, 480), (800, 450), (400, 300), (960, 540), (512, 512)]
SCORE = 0.5                  # the shipped model's score threshold
TIE = 0.05                   # unmatched detections must score within this of SCORE


def frames(tmp):
    paths = []
    for seed, count in STREAMS:
        for i in range(count):
            w, h = SIZES[i % len(SIZES)]
            img, _, _ = G.render_scene(G.image_rng(seed, i), w, h)
            path = os.path.join(tmp, "s%d-f%d.png" % (seed, i))
            Image.fromarray(img).save(path)
            paths.append(path)
    return paths


class Unsupported(Exception):
    pass


def run(infer, model, paths, tmp, name, extra, stderr=None, score=SCORE, tie=TIE, backend="cpu"):
    """mrcnn-infer --json on paths: per image, its detections (class, score,
    box, full-frame mask) scoring above score - tie."""
    out = os.path.join(tmp, name + ".json")
    cmd = [infer, "--model", model, "--backend", backend, "--json", out,
           "--score-threshold", str(score - tie)] + extra + paths
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        if "needs a CPU with AVX512_BF16 or AMX" in r.stderr:
            raise Unsupported(r.stderr.strip())
        raise RuntimeError("%s failed (%d):\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    if stderr is not None:
        stderr.append(r.stderr)
    with open(out) as f:
        res = json.load(f)
    images = []
    for entry in res["images"]:
        dets = []
        for d in entry["detections"]:
            dets.append(dict(cls=d["class_id"], score=d["score"], box=np.array(d["box"], np.float64),
                             mask=rle.decode_array(d["mask"]).astype(bool)))
        images.append(dets)
    return images


def box_iou(a, b):
    lt = np.maximum(a[:2], b[:2])
    rb = np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(rb - lt, 0, None)))
    union = float(np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)
    return inter / union if union > 0 else 1.0


def mask_iou(a, b):
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum()) / float(union) if union else 1.0


def compare(ref, other, score=SCORE, tie=TIE):
    """Statistics of `other` against `ref` over all frames."""
    total = matched = 0
    box_ious, mask_ious, score_diffs, problems = [], [], [], []
    for k, (ra, oa) in enumerate(zip(ref, other)):
        pairs = sorted(((box_iou(r["box"], o["box"]), i, j) for i, r in enumerate(ra)
                        for j, o in enumerate(oa) if r["cls"] == o["cls"]), reverse=True)
        used_r, used_o = set(), set()
        for iou, i, j in pairs:
            if iou < 0.5 or i in used_r or j in used_o:
                continue
            used_r.add(i)
            used_o.add(j)
            if max(ra[i]["score"], oa[j]["score"]) < score:
                continue   # both below the threshold: not a detection users see
            box_ious.append(iou)
            mask_ious.append(mask_iou(ra[i]["mask"], oa[j]["mask"]))
            score_diffs.append(abs(ra[i]["score"] - oa[j]["score"]))
        for side, dets, used in (("fp32", ra, used_r), ("other", oa, used_o)):
            for i, d in enumerate(dets):
                if i in used or d["score"] < score:
                    continue
                if d["score"] >= score + tie:
                    problems.append("frame %d: %s detection class %d score %.3f box %s has no partner" % (
                        k, side, d["cls"], d["score"], np.round(d["box"], 1).tolist()))
        seen = [r for r in ra if r["score"] >= score + tie]
        total += len(seen)
        matched += sum(1 for i, r in enumerate(ra) if r["score"] >= score + tie and i in used_r)
    return dict(total=total, matched=matched / float(max(total, 1)),
                box_iou=min(box_ious or [1.0]), mask_iou=min(mask_ious or [1.0]),
                mean_box_iou=float(np.mean(box_ious or [1.0])), mean_mask_iou=float(np.mean(mask_ious or [1.0])),
                score=max(score_diffs or [0.0]), problems=problems)


def check(name, st, b, score=SCORE, tie=TIE):
    """Prints st against the bounds b; True when within them."""
    ok = (st["total"] >= 20 and st["matched"] >= b["matched"] and st["box_iou"] >= b["box_iou"]
          and st["mask_iou"] >= b["mask_iou"] and st["score"] <= b["score"]
          and st["mean_box_iou"] >= b["mean_box_iou"] and st["mean_mask_iou"] >= b["mean_mask_iou"])
    print("%-12s %d detections >= %.2f: matched %.3f (>= %.2f), box IoU min %.4f (>= %.2f) mean %.4f (>= %.3f), "
          "mask IoU min %.4f (>= %.2f) mean %.4f (>= %.3f), |score diff| max %.4f (<= %.3f)  %s" % (
              name, st["total"], score + tie, st["matched"], b["matched"], st["box_iou"], b["box_iou"],
              st["mean_box_iou"], b["mean_box_iou"], st["mask_iou"], b["mask_iou"], st["mean_mask_iou"],
              b["mean_mask_iou"], st["score"], b["score"], "ok" if ok else "FAIL"))
    for line in st["problems"]:
        print("    " + line)
    return ok
