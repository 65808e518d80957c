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

A detection may go unmatched only when it scores within 0.05 of the score
threshold (it can fall on either side of it). The bounds below were fixed from
measurements (docs/precision.md) with a margin; the figures are printed every run.

    PYTHONPATH=tools python3 tests/model/test_precision.py --infer build/engine/tools/mrcnn-infer \\
        --model models/shapes.safetensors --mode reference
"""

import argparse
import json
import os
import sys
import tempfile

from maskrcnn_tools import agreement as A

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


def check(name, st):
    return A.check(name, st, BOUNDS[name])


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--infer", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--mode", choices=["reference", "bf16", "cuda"], required=True)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        paths = A.frames(tmp)
        fp32 = A.run(a.infer, a.model, paths, tmp, "fp32", [])
        ok = True
        if a.mode == "reference":
            for prec in ("bf16", "fp16"):
                err = []
                other = A.run(a.infer, a.model, paths, tmp, prec + "-ref", ["--precision", prec, "--emulate"], err)
                ok &= check(prec + "-ref", A.compare(fp32, other))
                if "overflowed" in err[0]:
                    print("FAIL: the %s reference reports an overflow on the shipped model: %s" % (prec, err[0]))
                    ok = False
            # the fp16 reference finds an overflow where there is one
            hot = os.path.join(tmp, "overflowing.safetensors")
            overflowing_model(a.model, hot)
            err = []
            A.run(a.infer, hot, paths[:1], tmp, "fp16-hot", ["--precision", "fp16", "--emulate"], err)
            found = "the fp16 reference overflowed" in err[0]
            print("fp16 reference on a model with inputs scaled 1e5: %s" % (err[0].strip() or "no overflow reported"))
            ok &= found
        elif a.mode == "cuda":
            ref16 = A.run(a.infer, a.model, paths, tmp, "fp16-ref", ["--precision", "fp16", "--emulate"])
            real = {}
            for prec in ("tf32", "fp16"):
                real[prec] = A.run(a.infer, a.model, paths, tmp, prec + "-cuda", ["--precision", prec],
                                 backend="cuda")
                ok &= check(prec + "-cuda", A.compare(fp32, real[prec]))
            ok &= check("fp16-cuda-vs-ref", A.compare(ref16, real["fp16"]))
        else:
            try:
                real = A.run(a.infer, a.model, paths, tmp, "bf16", ["--precision", "bf16"])
            except A.Unsupported as e:
                print("SKIP: %s" % e)
                return 77
            ref = A.run(a.infer, a.model, paths, tmp, "bf16-ref", ["--precision", "bf16", "--emulate"])
            ok &= check("bf16", A.compare(fp32, real))
            ok &= check("bf16-vs-ref", A.compare(ref, real))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
