"""COCO evaluation of a shapes model through the C engine and through torchvision.

Generates a held-out set with shapes.generate (a stream seed the training never
uses), runs the C engine on it through its command line (mrcnn-infer --json)
and torchvision on the same weights (torch_model.model_from_safetensors),
and scores both with pycocotools' COCOeval (bbox and segm):

    PYTHONPATH=tools .venv/bin/python -m maskrcnn_tools.shapes.evaluate --model models/shapes.safetensors \\
        --infer build/engine/tools/mrcnn-infer

Needs pycocotools (tools/setup.sh makes .venv with it, a venv that
also sees Debian's torch). --backend torch or --backend c runs one side only.
Exit status: 0, or 1 with --check when an acceptance target is missed.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from .. import rle
from . import generate as G

# the source tree (tools/maskrcnn_tools/shapes/ -> ../../..)
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))

HELD_OUT_SEED = 2  # training draws from stream 1
STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
TARGETS = {("segm", "AP"): 0.70, ("segm", "AP50"): 0.95, ("bbox", "AP"): 0.80}
AGREEMENT = 0.005


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def ensure_dataset(directory, count, seed):
    ann = os.path.join(directory, "annotations.json")
    if os.path.exists(ann):
        with open(ann) as f:
            info = json.load(f).get("info", {})
        if info.get("seed") == seed and info.get("count") == count and info.get("start") == 0:
            return ann
    log("generating %d held-out images (seed %d) in %s" % (count, seed, directory))
    G.write_dataset(directory, count, seed, log=log)
    return ann


def image_paths(coco, directory):
    return [(im["id"], os.path.join(directory, im["file_name"])) for im in coco["images"]]


# ------------------------------------------------------------------ runners

def run_c_engine(infer, model, images, score_threshold, threads, precision=None, chunk=100):
    """Detections of the C engine: {image_id: [detection dicts as the CLI writes them]}."""
    out, total = {}, 0.0
    by_path = {os.path.realpath(p): i for i, p in images}
    for k in range(0, len(images), chunk):
        part = images[k:k + chunk]
        json_path = "/tmp/mrcnn-eval-%d.json" % os.getpid()
        cmd = [infer, "--model", model, "--json", json_path, "--score-threshold", str(score_threshold)]
        if threads:
            cmd += ["--threads", str(threads)]
        if precision:
            cmd += ["--precision", precision.split("-")[0]] + (["--emulate"] if precision.endswith("-ref") else [])
        cmd += [p for _, p in part]
        t0 = time.time()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        total += time.time() - t0
        if r.returncode != 0:
            raise SystemExit("evaluate: %s failed (%d):\n%s" % (" ".join(cmd[:6]) + " ...", r.returncode, r.stderr))
        with open(json_path) as f:
            res = json.load(f)
        os.unlink(json_path)
        for entry in res["images"]:
            iid = by_path.get(os.path.realpath(entry["image"]))
            if iid is None:
                raise SystemExit("evaluate: the engine reported an image I did not give it: %s" % entry["image"])
            out[iid] = entry["detections"]
        log("  C engine: %d/%d images" % (min(k + chunk, len(images)), len(images)))
    return out, total


def run_torchvision(model_path, images, score_threshold, threads):
    import torch
    from PIL import Image

    from .. import torch_model as M
    if threads:
        torch.set_num_threads(threads)
    model = M.model_from_safetensors(model_path)
    model.roi_heads.score_thresh = score_threshold
    thr = float(model.mask_threshold)
    labels = model.labels
    out, total = {}, 0.0
    with torch.no_grad():
        for n, (iid, path) in enumerate(images):
            img = np.asarray(Image.open(path).convert("RGB"))
            x = torch.from_numpy(img.copy()).permute(2, 0, 1).float().div_(255.0)
            t0 = time.time()
            r = model([x])[0]
            total += time.time() - t0
            dets = []
            for b, s, l, m in zip(r["boxes"].tolist(), r["scores"].tolist(), r["labels"].tolist(), r["masks"]):
                dets.append({"label": labels[l], "class_id": int(l), "score": float(s), "box": b,
                             "mask": rle.encode((m[0] > thr).numpy())})
            out[iid] = dets
            if (n + 1) % 50 == 0:
                log("  torchvision: %d/%d images" % (n + 1, len(images)))
    return out, total


# ------------------------------------------------------------------ scoring

def to_coco_results(dets_by_image):
    res = []
    for iid, dets in dets_by_image.items():
        for d in dets:
            x1, y1, x2, y2 = d["box"]
            res.append({"image_id": iid, "category_id": int(d["class_id"]), "score": float(d["score"]),
                        "bbox": [x1, y1, x2 - x1, y2 - y1], "segmentation": d["mask"]})
    return res


def score(ann_path, dets_by_image, title):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_path)
    results = to_coco_results(dets_by_image)
    stats = {}
    for iou_type in ("bbox", "segm"):
        print("\n== %s: %s" % (title, iou_type))
        if not results:
            stats[iou_type] = [0.0] * 12
            print("no detections")
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            dt = gt.loadRes([dict(r) for r in results])
            ev = COCOeval(gt, dt, iou_type)
            ev.evaluate()
            ev.accumulate()
        ev.summarize()
        stats[iou_type] = [float(v) for v in ev.stats]
    return stats


def compare_table(named):
    names = list(named)
    lines = ["", "| metric | " + " | ".join(names) + (" | difference |" if len(names) == 2 else " |"),
             "| --- |" + " ---: |" * (len(names) + (1 if len(names) == 2 else 0))]
    for iou_type in ("bbox", "segm"):
        for k, stat in enumerate(STAT_NAMES):
            vals = [named[n][iou_type][k] for n in names]
            row = "| %s %s | " % (iou_type, stat) + " | ".join("%.3f" % v for v in vals)
            if len(vals) == 2:
                row += " | %+.4f" % (vals[0] - vals[1])
            lines.append(row + " |")
    return "\n".join(lines)


def main(argv):
    p = argparse.ArgumentParser(
        prog="python3 -m " + __spec__.name, description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=os.path.join(ROOT, "models", "shapes.safetensors"))
    p.add_argument("--infer", default=os.path.join(ROOT, "build", "engine", "tools", "mrcnn-infer"),
                   help="the C engine's CLI (default build/engine/tools/mrcnn-infer)")
    p.add_argument("--data", default="/tmp/shapes-heldout", help="held-out set directory (made if missing)")
    p.add_argument("--count", type=int, default=300, help="held-out images (default 300)")
    p.add_argument("--seed", type=int, default=HELD_OUT_SEED, help="held-out stream seed (default 2)")
    p.add_argument("--score-threshold", type=float, default=0.05,
                   help="detection score threshold for AP (default 0.05, torchvision's COCO setting)")
    p.add_argument("--threads", type=int, default=0, help="threads for both sides (default all cores)")
    p.add_argument("--backend", choices=["both", "c", "torch"], default="both")
    p.add_argument("--precision", choices=["fp32", "bf16", "bf16-ref", "fp16-ref", "int8", "int8-ref"],
                   help="the C engine's precision (-ref: its float32 CPU reference; default fp32)")
    p.add_argument("--save", metavar="DIR", help="write each side's detections as COCO results JSON here")
    p.add_argument("--check", action="store_true", help="exit 1 if an acceptance target is missed")
    a = p.parse_args(argv)
    if a.seed == 1:
        log("evaluate: seed 1 is the training stream; pick another")
        return 2
    ann = ensure_dataset(a.data, a.count, a.seed)
    with open(ann) as f:
        coco = json.load(f)
    images = image_paths(coco, a.data)
    log("held-out set: %d images, %d instances, seed %d" % (len(images), len(coco["annotations"]), a.seed))

    named, times = {}, {}
    if a.backend in ("both", "torch"):
        dets, t = run_torchvision(a.model, images, a.score_threshold, a.threads)
        named["torchvision"], times["torchvision"] = score(ann, dets, "torchvision"), t
        if a.save:
            os.makedirs(a.save, exist_ok=True)
            with open(os.path.join(a.save, "torchvision.json"), "w") as f:
                json.dump(to_coco_results(dets), f)
    if a.backend in ("both", "c"):
        if not os.access(a.infer, os.X_OK):
            log("evaluate: %s is not built (meson compile -C build), or pass --infer" % a.infer)
            return 2
        dets, t = run_c_engine(a.infer, a.model, images, a.score_threshold, a.threads, a.precision)
        named["C engine"], times["C engine"] = score(ann, dets, "C engine"), t
        if a.save:
            os.makedirs(a.save, exist_ok=True)
            with open(os.path.join(a.save, "c-engine.json"), "w") as f:
                json.dump(to_coco_results(dets), f)
    order = [n for n in ("C engine", "torchvision") if n in named]
    print(compare_table({n: named[n] for n in order}))
    for n in order:
        print("%s: %.1f s for %d images (%.0f ms/image, process start and file reading included for the CLI)"
              % (n, times[n], len(images), 1000 * times[n] / len(images)))
    ok = True
    main_side = "C engine" if "C engine" in named else order[0]
    for (iou_type, stat), target in TARGETS.items():
        v = named[main_side][iou_type][STAT_NAMES.index(stat)]
        good = v >= target
        ok &= good
        print("target %s %s >= %.2f (%s): %.3f %s" % (iou_type, stat, target, main_side, v, "ok" if good else "MISSED"))
    if len(order) == 2:
        diff = max(abs(named[order[0]][t][k] - named[order[1]][t][k]) for t in ("bbox", "segm") for k in range(12))
        good = diff <= AGREEMENT
        ok &= good
        print("C engine vs torchvision: largest AP/AR difference %.4f (target <= %.3f) %s"
              % (diff, AGREEMENT, "ok" if good else "MISSED"))
    return 0 if ok or not a.check else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
