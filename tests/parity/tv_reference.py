#!/usr/bin/python3
"""torchvision reference outputs of a gst-maskrcnn model, for the parity test.

Builds the model with maskrcnn_tools.torch_model.model_from_safetensors
(widths from the tensor shapes, thresholds and sizes from the metadata) and
runs torchvision's eval path on each image one stage at a time, as
GeneralizedRCNN.forward does.
Writes OUTDIR/<image stem>.npz with:

  image        1x3xHpxWp float32  normalised, resized, zero-padded batch tensor
  image_size   (h, w) of the resized image inside the padding
  fpn0..fpn4   1xCxHxW float32    backbone outputs '0', '1', '2', '3', 'pool'
  proposals    Nx4 float32        RPN proposals, resized-image coordinates, torchvision's order
  boxes        Nx4 float32        final boxes in frame pixels
  scores       N float32
  labels       N int64
  mask_probs   NxMxM float32      mask probabilities of each detection's class (box-relative)
  masks        NxHxW float16      pasted mask probabilities, as torchvision returns them
  masks_binary NxHxW uint8        masks > mask_threshold, decided in float32
  score_thresh, detections_per_img, mask_threshold  the model's settings

With --batch, all images go through one batched forward, as
model([img0, img1, ...]) runs them: padded to their common size; each
image's arrays are its slice of the batch.

usage: PYTHONPATH=tools tv_reference.py --model FILE --out DIR [--batch] [--verify-forward] IMAGE...
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image

from maskrcnn_tools import torch_model as M


def load_image(path):
    with Image.open(path) as im:
        return TF.to_tensor(im.convert("RGB"))


@torch.no_grad()
def reference(model, imgs):
    """Per image of one batched forward: its arrays and its output."""
    r = M.run_stages(model, imgs)
    result = []
    for i in range(len(imgs)):
        out = r["outputs"][i]
        pre = r["detections"][i]
        arrays = {
            "image": r["image"][i:i + 1].numpy().astype(np.float32),
            "image_size": np.array(r["image_sizes"][i], np.int32),
            "proposals": r["proposals"][i].numpy().astype(np.float32),
            "boxes": out["boxes"].numpy().astype(np.float32),
            "scores": out["scores"].numpy().astype(np.float32),
            "labels": out["labels"].numpy().astype(np.int64),
            "mask_probs": pre["masks"][:, 0].numpy().astype(np.float32),
            "masks": out["masks"][:, 0].numpy().astype(np.float16),
            # binarised in float32: float16 rounds probabilities just above the
            # threshold down onto it
            "masks_binary": (out["masks"][:, 0] > getattr(model, "mask_threshold", 0.5)).numpy().astype(np.uint8),
            "score_thresh": np.float32(model.roi_heads.score_thresh),
            "detections_per_img": np.int32(model.roi_heads.detections_per_img),
            "mask_threshold": np.float32(getattr(model, "mask_threshold", 0.5)),
        }
        for k, key in enumerate(["0", "1", "2", "3", "pool"]):
            arrays["fpn%d" % k] = r["features"][key][i:i + 1].numpy().astype(np.float32)
        result.append((arrays, out))
    return result


def save(a, path, img, arrays, dt):
    stem = os.path.splitext(os.path.basename(path))[0]
    np.savez_compressed(os.path.join(a.out, stem + ".npz"), **arrays)
    s = arrays["scores"]
    print("tv_reference: %-24s %4dx%-4d -> %s  %4d proposals %3d detections%s  %.2fs" % (
        stem, img.shape[2], img.shape[1], "x".join(map(str, arrays["image"].shape[2:][::-1])),
        arrays["proposals"].shape[0], s.shape[0],
        "  scores %.3f..%.3f" % (s.min(), s.max()) if s.size else "", dt), flush=True)


def verify_forward(model, imgs, outs, paths):
    """model(images) must return what the staged run returned."""
    with torch.no_grad():
        full = model(imgs)
    for f, out, path in zip(full, outs, paths):
        for k in ("boxes", "scores", "labels", "masks"):
            if not torch.equal(f[k], out[k]):
                print("tv_reference: error: model() and the staged run differ in %s for %s" % (k, path),
                      file=sys.stderr)
                return False
    return True


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--verify-forward", action="store_true",
                   help="also run model(images) and check it returns the same detections")
    p.add_argument("--batch", action="store_true",
                   help="run all images as one batch (model([img0, img1, ...])): padded to their common size")
    p.add_argument("images", nargs="+")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    model = M.model_from_safetensors(a.model)
    print("tv_reference: %s (%s, %d classes, min/max size %d/%d) loaded in %.1fs" % (
        a.model, model.arch, len(model.labels), model.transform.min_size[0], model.transform.max_size,
        time.time() - t0), flush=True)
    if a.batch:
        imgs = [load_image(path) for path in a.images]
        t = time.time()
        per_image = reference(model, imgs)
        dt = time.time() - t
        if a.verify_forward and not verify_forward(model, imgs, [o for _, o in per_image], a.images):
            return 1
        for path, img, (arrays, _) in zip(a.images, imgs, per_image):
            save(a, path, img, arrays, dt)
        return 0
    for path in a.images:
        img = load_image(path)
        t = time.time()
        [(arrays, out)] = reference(model, [img])
        dt = time.time() - t
        if a.verify_forward and not verify_forward(model, [img], [out], [path]):
            return 1
        save(a, path, img, arrays, dt)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
