#!/usr/bin/env python3
"""int8 on the shipped shapes model: agreement with fp32, the calibration
round trip and the refusals.

Agreement (maskrcnn_tools.agreement, as test_precision.py): mrcnn-infer
--json on the generated shapes frames (streams the training never saw) at fp32, at int8 and at
int8's float32 reference (--emulate), matched one to one as there; the
bounds (BOUNDS) were fixed from measurements with a margin
(docs/precision.md). The real int8 kernels run on any CPU with AVX2 (with
VNNI or AMX they are also faster); the test also runs under
DNNL_MAX_CPU_ISA=AVX2 (suite model, precision-int8-avx2).

Calibration round trip: maskrcnn_tools.calibrate writes a calibration into a
copy of the model; the tensor bytes must stay identical, the ranges written
must be what the engine reads back (the engine runs int8 with it), and a
damaged calibration must be refused with a message.

Refusals: int8 on a model with no calibration fails at start naming the
exporter's --calibrate; under DNNL_MAX_CPU_ISA=SSE41 int8 is refused (it
needs AVX2); without VNNI it runs and warns that it may be slower than fp32.

    PYTHONPATH=tools python3 tests/model/test_int8.py --infer build/engine/tools/mrcnn-infer \\
        --model models/shapes.safetensors
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from maskrcnn_tools import agreement as A
from maskrcnn_tools import calibrate as C
from maskrcnn_tools import torch_model as M

BOUNDS = {
    # measured (Xeon, avx512_core_vnni, 95 detections): matched 1.000, box IoU min 0.838 mean 0.984,
    # mask IoU min 0.886 mean 0.980, score change 0.027 (int8 and its reference alike); under
    # DNNL_MAX_CPU_ISA=AVX2: box IoU min 0.834 mean 0.983, mask IoU min 0.881 mean 0.977, score 0.023
    "int8": dict(matched=0.97, box_iou=0.75, mask_iou=0.80, score=0.06,
                 mean_box_iou=0.97, mean_mask_iou=0.96),
    "int8-ref": dict(matched=0.97, box_iou=0.75, mask_iou=0.80, score=0.06,
                     mean_box_iou=0.97, mean_mask_iou=0.96),
    # measured: box IoU min 0.945 mean 0.9976, mask IoU min 0.947 mean 0.9948, score 0.021; under
    # DNNL_MAX_CPU_ISA=AVX2 (fc6 in float32, the reference on AVX2 kernels) box IoU min 0.940 mean 0.9920,
    # mask IoU min 0.928 mean 0.9847, score 0.017
    "int8-vs-ref": dict(matched=0.97, box_iou=0.85, mask_iou=0.85, score=0.05,
                        mean_box_iou=0.98, mean_mask_iou=0.97),
}


def infer(infer_bin, model, paths, extra, env=None):
    cmd = [infer_bin, "--model", model, "--backend", "cpu"] + extra + paths
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)


def expect(ok, what, detail=""):
    print("%-4s %s%s" % ("ok" if ok else "FAIL", what, (": " + detail.strip()) if detail and not ok else ""))
    return ok


def refusals(a, tmp, paths):
    ok = True
    bare = os.path.join(tmp, "uncalibrated.safetensors")
    C.write_metadata(a.model, bare, "int8_calibration", None)
    r = infer(a.infer, bare, paths[:1], ["--precision", "int8"])
    ok &= expect(r.returncode != 0 and "--calibrate" in r.stderr and "no int8 calibration" in r.stderr,
                 "int8 on a model without calibration is refused naming --calibrate", r.stderr)
    print("     " + r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "")
    r = infer(a.infer, bare, paths[:1], ["--precision", "int8", "--emulate"])
    ok &= expect(r.returncode != 0 and "--calibrate" in r.stderr,
                 "so is its reference", r.stderr)
    r = infer(a.infer, a.model, paths[:1], ["--precision", "int8"], env={"DNNL_MAX_CPU_ISA": "SSE41"})
    ok &= expect(r.returncode != 0 and "int8 needs a CPU with AVX2" in r.stderr,
                 "int8 is refused where oneDNN may use SSE4.1 only", r.stderr)
    r = infer(a.infer, a.model, paths[:1], ["--precision", "int8"], env={"DNNL_MAX_CPU_ISA": "AVX2"})
    ok &= expect(r.returncode == 0 and "without VNNI" in r.stderr and "may be slower than fp32" in r.stderr,
                 "int8 without VNNI runs and warns that it may be slower", r.stderr)
    # the fp32 results of a calibrated model are those of the bare one
    r1 = infer(a.infer, bare, paths[:2], ["--json", os.path.join(tmp, "bare.json")])
    r2 = infer(a.infer, a.model, paths[:2], ["--json", os.path.join(tmp, "cal.json")])
    same = r1.returncode == 0 and r2.returncode == 0
    if same:
        with open(os.path.join(tmp, "bare.json")) as f1, open(os.path.join(tmp, "cal.json")) as f2:
            d1, d2 = json.load(f1), json.load(f2)
        same = [i["detections"] for i in d1["images"]] == [i["detections"] for i in d2["images"]]
    ok &= expect(same, "fp32 results are the same with and without the calibration")
    return ok


def round_trip(a, tmp, paths):
    ok = True
    out = os.path.join(tmp, "recalibrated.safetensors")
    r = C.calibrate_file(a.model, out, paths[:3], method="percentile", percentile=99.9, threads=2)
    h1, s1 = M.read_safetensors_header(a.model)
    h2, s2 = M.read_safetensors_header(out)
    with open(a.model, "rb") as f1, open(out, "rb") as f2:
        f1.seek(s1)
        f2.seek(s2)
        same_bytes = f1.read() == f2.read()
    same_entries = {k: v for k, v in h1.items() if k != "__metadata__"} == \
        {k: v for k, v in h2.items() if k != "__metadata__"}
    ok &= expect(same_bytes and same_entries, "calibration leaves every tensor byte and entry as it was")
    cal = json.loads(h2["__metadata__"]["int8_calibration"])
    ok &= expect(cal["inputs"] == r and cal["method"] == "percentile 99.9" and cal["images"] == 3,
                 "the file holds the ranges measured")
    names = {n for n in cal["inputs"]}
    want = {"backbone.body.conv1", "rpn.head.conv.0.0", "rpn.head.cls_logits", "roi_heads.box_head.fc6",
            "roi_heads.mask_head.0.0", "roi_heads.mask_predictor.conv5_mask"}
    ok &= expect(want <= names, "every kind of layer has a range", str(sorted(want - names)))
    ok &= expect(all(cal["inputs"][n][0] == 0.0 for n in ("roi_heads.box_head.fc7", "rpn.head.cls_logits")),
                 "ReLU outputs are calibrated as unsigned (u8)")
    ok &= expect(cal["inputs"]["backbone.body.conv1"][0] < 0, "the normalised image is signed (s8)")
    r = infer(a.infer, out, paths[:2], ["--precision", "int8"])
    ok &= expect(r.returncode == 0, "the engine runs int8 with the new calibration", r.stderr)
    # damaged: a range with min > max
    bad = dict(cal)
    bad["inputs"] = dict(cal["inputs"])
    bad["inputs"]["backbone.body.conv1"] = [1.0, -1.0]
    badp = os.path.join(tmp, "bad-calibration.safetensors")
    C.write_metadata(out, badp, "int8_calibration", json.dumps(bad))
    r = infer(a.infer, badp, paths[:1], [])
    ok &= expect(r.returncode != 0 and "int8_calibration" in r.stderr and "backbone.body.conv1" in r.stderr,
                 "a damaged calibration is refused with a message naming the field and layer", r.stderr)
    return ok


def measure(a):
    paths = C.image_files([a.images])
    sc = dict(score=a.score, tie=a.tie)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = A.run(a.infer, a.model, paths, tmp, "fp32", [], **sc)
        real = A.run(a.infer, a.model, paths, tmp, "int8", ["--precision", "int8"], **sc)
        ref = A.run(a.infer, a.model, paths, tmp, "int8-ref", ["--precision", "int8", "--emulate"], **sc)
        for name, x, y in (("int8", fp32, real), ("int8-ref", fp32, ref), ("int8-vs-ref", ref, real)):
            st = A.compare(x, y, **sc)
            print("%-12s %d detections >= %.2f: matched %.3f, box IoU min %.4f mean %.4f, mask IoU min %.4f "
                  "mean %.4f, |score diff| max %.4f" % (name, st["total"], a.score + a.tie, st["matched"],
                                                        st["box_iou"], st["mean_box_iou"], st["mask_iou"],
                                                        st["mean_mask_iou"], st["score"]))
            for line in st["problems"]:
                print("    " + line)
    return 0


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--infer", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--agreement-only", action="store_true")
    p.add_argument("--images", metavar="DIR", help="measure the agreement on these images instead of the shapes "
                   "frames (no bounds checked: for other models, e.g. the parity R50 on photographs)")
    p.add_argument("--score", type=float, default=A.SCORE, help="score threshold of the comparison (default %g)"
                   % A.SCORE)
    p.add_argument("--tie", type=float, default=A.TIE, help="detections within this of --score may be unmatched "
                   "(default %g)" % A.TIE)
    a = p.parse_args(argv)
    if a.images:
        return measure(a)
    with tempfile.TemporaryDirectory() as tmp:
        paths = A.frames(tmp)
        fp32 = A.run(a.infer, a.model, paths, tmp, "fp32", [])
        err = []
        real = A.run(a.infer, a.model, paths, tmp, "int8", ["--precision", "int8"], err)
        ref = A.run(a.infer, a.model, paths, tmp, "int8-ref", ["--precision", "int8", "--emulate"])
        ok = A.check("int8", A.compare(fp32, real), BOUNDS["int8"])
        ok &= A.check("int8-ref", A.compare(fp32, ref), BOUNDS["int8-ref"])
        ok &= A.check("int8-vs-ref", A.compare(ref, real), BOUNDS["int8-vs-ref"])
        if err and err[0].strip():
            print("int8 said: %s" % err[0].strip())
        if not a.agreement_only:
            ok &= refusals(a, tmp, paths)
            ok &= round_trip(a, tmp, paths)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
