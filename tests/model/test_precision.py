#!/usr/bin/env python3
"""Reduced precisions against fp32, on the shipped shapes model.

Runs mrcnn-infer --json on generated shapes frames (streams the training never
saw) at fp32 and at a reduced precision, matches the detections one to one
(same class, greedy by box IoU) and measures how far they move: the share of
fp32 detections found again, box IoU, full-frame mask IoU and score change.

  --mode reference   the float32 CPU references of bf16 and fp16 (--emulate):
                     run on every machine; they round weights and activations
                     where each precision stores them, so these figures are the
                     error the precision brings.
  --mode bf16        the real bf16 path (AVX512_BF16 / AMX through oneDNN)
                     against fp32 and against its reference. Exit 77 (skipped)
                     on a CPU without bf16 kernels.
  --mode cuda        the CUDA backend's tf32 and fp16 (its tensor-core path)
                     against the CPU's fp32, and fp16 against the CPU's fp16
                     reference, within the bounds that reference meets: what
                     tests/gpu/run.sh checks, with the gate lifted, before
                     the gate may be lifted for good (docs/cuda.md).

A detection may go unmatched only when it scores within TIE of the score
threshold (it can fall on either side of it). The bounds below were fixed from
measurements (docs/precision.md) with a margin; the figures are printed every run.

    PYTHONPATH=tools python3 tests/model/test_precision.py --infer build/engine/tools/mrcnn-infer \\
        --model models/shapes.safetensors --mode reference
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

STREAMS = [(3, 8), (4, 8)]   # (seed, frames): held out from training
SIZES = [(640, 360), (320, 240), (1280, 720), (640, 480), (800, 450), (400, 300), (960, 540), (512, 512)]
SCORE = 0.5                  # the shipped model's score threshold
TIE = 0.05                   # unmatched detections must score within this of SCORE

# Bounds per comparison (reduced precision or its pair): the least share of
# detections matched, the least box IoU and mask IoU of any matched pair,
# the largest score change.
BOUNDS = {
    "bf16-ref": dict(matched=0.97, box_iou=0.95, mask_iou=0.88, score=0.02,
                     mean_box_iou=0.99, mean_mask_iou=0.98),
    "fp16-ref": dict(matched=0.99, box_iou=0.99, mask_iou=0.98, score=0.005,
                     mean_box_iou=0.999, mean_mask_iou=0.995),
    "bf16": dict(matched=0.97, box_iou=0.95, mask_iou=0.88, score=0.02,
                 mean_box_iou=0.99, mean_mask_iou=0.98),
    "bf16-vs-ref": dict(matched=0.97, box_iou=0.98, mask_iou=0.90, score=0.01,
                        mean_box_iou=0.995, mean_mask_iou=0.99),
}
# The CUDA backend's reduced precisions must meet the fp16 reference's bounds
# (tf32 rounds only the inputs of convolutions and matrix products, fp16
# rounds where the reference rounds); none measured on a GPU yet.
for _k in ("tf32-cuda", "fp16-cuda", "fp16-cuda-vs-ref"):
    BOUNDS[_k] = dict(BOUNDS["fp16-ref"])


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


def overflowing_model(src, dst):
    """The model with image_std 1e-5: normalised inputs up to about 1e5, past
    fp16's 65504, which the fp16 reference must report."""
    with open(src, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    header["__metadata__"]["image_std"] = json.dumps([1e-5, 1e-5, 1e-5])
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(dst, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        f.write(data)


def run(infer, model, paths, tmp, name, extra, stderr=None, backend="cpu"):
    out = os.path.join(tmp, name + ".json")
    cmd = [infer, "--model", model, "--backend", backend, "--json", out,
           "--score-threshold", str(SCORE - TIE)] + extra + paths
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


def compare(ref, other):
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
            if max(ra[i]["score"], oa[j]["score"]) < SCORE:
                continue   # both below the threshold: not a detection users see
            box_ious.append(iou)
            mask_ious.append(mask_iou(ra[i]["mask"], oa[j]["mask"]))
            score_diffs.append(abs(ra[i]["score"] - oa[j]["score"]))
        for side, dets, used in (("fp32", ra, used_r), ("other", oa, used_o)):
            for i, d in enumerate(dets):
                if i in used or d["score"] < SCORE:
                    continue
                if d["score"] >= SCORE + TIE:
                    problems.append("frame %d: %s detection class %d score %.3f box %s has no partner" % (
                        k, side, d["cls"], d["score"], np.round(d["box"], 1).tolist()))
        seen = [r for r in ra if r["score"] >= SCORE + TIE]
        total += len(seen)
        matched += sum(1 for i, r in enumerate(ra) if r["score"] >= SCORE + TIE and i in used_r)
    return dict(total=total, matched=matched / float(max(total, 1)),
                box_iou=min(box_ious or [1.0]), mask_iou=min(mask_ious or [1.0]),
                mean_box_iou=float(np.mean(box_ious or [1.0])), mean_mask_iou=float(np.mean(mask_ious or [1.0])),
                score=max(score_diffs or [0.0]), problems=problems)


def check(name, st):
    b = BOUNDS[name]
    ok = (st["total"] >= 20 and st["matched"] >= b["matched"] and st["box_iou"] >= b["box_iou"]
          and st["mask_iou"] >= b["mask_iou"] and st["score"] <= b["score"]
          and st["mean_box_iou"] >= b["mean_box_iou"] and st["mean_mask_iou"] >= b["mean_mask_iou"])
    print("%-12s %d detections >= %.2f: matched %.3f (>= %.2f), box IoU min %.4f (>= %.2f) mean %.4f (>= %.3f), "
          "mask IoU min %.4f (>= %.2f) mean %.4f (>= %.3f), |score diff| max %.4f (<= %.3f)  %s" % (
              name, st["total"], SCORE + TIE, st["matched"], b["matched"], st["box_iou"], b["box_iou"],
              st["mean_box_iou"], b["mean_box_iou"], st["mask_iou"], b["mask_iou"], st["mean_mask_iou"],
              b["mean_mask_iou"], st["score"], b["score"], "ok" if ok else "FAIL"))
    for line in st["problems"]:
        print("    " + line)
    return ok


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--infer", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--mode", choices=["reference", "bf16", "cuda"], required=True)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        paths = frames(tmp)
        fp32 = run(a.infer, a.model, paths, tmp, "fp32", [])
        ok = True
        if a.mode == "reference":
            for prec in ("bf16", "fp16"):
                err = []
                other = run(a.infer, a.model, paths, tmp, prec + "-ref", ["--precision", prec, "--emulate"], err)
                ok &= check(prec + "-ref", compare(fp32, other))
                if "overflowed" in err[0]:
                    print("FAIL: the %s reference reports an overflow on the shipped model: %s" % (prec, err[0]))
                    ok = False
            # the fp16 reference finds an overflow where there is one
            hot = os.path.join(tmp, "overflowing.safetensors")
            overflowing_model(a.model, hot)
            err = []
            run(a.infer, hot, paths[:1], tmp, "fp16-hot", ["--precision", "fp16", "--emulate"], err)
            found = "the fp16 reference overflowed" in err[0]
            print("fp16 reference on a model with inputs scaled 1e5: %s" % (err[0].strip() or "no overflow reported"))
            ok &= found
        elif a.mode == "cuda":
            ref16 = run(a.infer, a.model, paths, tmp, "fp16-ref", ["--precision", "fp16", "--emulate"])
            real = {}
            for prec in ("tf32", "fp16"):
                real[prec] = run(a.infer, a.model, paths, tmp, prec + "-cuda", ["--precision", prec],
                                 backend="cuda")
                ok &= check(prec + "-cuda", compare(fp32, real[prec]))
            ok &= check("fp16-cuda-vs-ref", compare(ref16, real["fp16"]))
        else:
            try:
                real = run(a.infer, a.model, paths, tmp, "bf16", ["--precision", "bf16"])
            except Unsupported as e:
                print("SKIP: %s" % e)
                return 77
            ref = run(a.infer, a.model, paths, tmp, "bf16-ref", ["--precision", "bf16", "--emulate"])
            ok &= check("bf16", compare(fp32, real))
            ok &= check("bf16-vs-ref", compare(ref, real))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
