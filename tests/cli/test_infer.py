#!/usr/bin/python3
"""End-to-end test of mrcnn-infer with a real engine and model.

The model comes from $MRCNN_TEST_MODEL, or is exported here with random
weights by maskrcnn_tools.export_torchvision (needs python3-torch and
python3-torchvision; without them the test is reported as skipped, exit
code 77).

Checks: exit codes; the JSON document's schema and types; that each mask
decodes (pycocotools when importable, else maskrcnn_tools.rle) to the image's size
and lies inside its box (widened by the margin torchvision's mask paste
adds); the text output; overlay files and their naming; and that errors for
a missing or corrupt model, missing or corrupt images, bad options and an
unwritable output name the file and use the documented exit code.

usage: PYTHONPATH=tools test_infer.py --infer PATH --source-root DIR --build-dir DIR
"""
import argparse
import json
import numbers
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

from maskrcnn_tools import rle

SKIP = 77

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, flush=True)
    return cond


# ------------------------------------------------------------- PNG helpers

def png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def write_png(path, w, h, pixels):
    """pixels: bytes, packed RGB rows."""
    raw = b"".join(b"\0" + pixels[y * 3 * w:(y + 1) * 3 * w] for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(png_chunk(b"IDAT", zlib.compress(raw)))
        f.write(png_chunk(b"IEND", b""))


def read_png_rgb(path):
    """Reads an 8-bit RGB, non-interlaced PNG (what mrcnn-infer writes)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s: not a PNG" % path)
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if (depth, ctype, interlace) != (8, 2, 0):
                raise ValueError("%s: not 8-bit RGB non-interlaced" % path)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = 3 * w
    out = bytearray(stride * h)
    prev = bytearray(stride)
    for y in range(h):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 3] if i >= 3 else 0
            b = prev[i]
            c = prev[i - 3] if i >= 3 else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        out[y * stride:(y + 1) * stride] = line
        prev = line
    return w, h, bytes(out)


def synthetic_image(w, h, seed):
    """Gradient background with a few flat rectangles and discs."""
    px = bytearray(3 * w * h)
    for y in range(h):
        for x in range(w):
            i = 3 * (y * w + x)
            px[i] = 40 + 100 * x // w
            px[i + 1] = 60 + 80 * y // h
            px[i + 2] = 90
    shapes = [(0.2, 0.25, 0.3, (220, 40, 40), 0), (0.65, 0.55, 0.25, (40, 200, 60), 1),
              (0.45, 0.75, 0.18, (250, 230, 30), 0)]
    for k, (cx, cy, r, col, disc) in enumerate(shapes):
        cx, cy = (cx + 0.05 * seed) * w, cy * h
        r = r * min(w, h)
        for y in range(h):
            for x in range(w):
                inside = ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) if disc else \
                    (abs(x - cx) <= r and abs(y - cy) <= 0.7 * r)
                if inside:
                    px[3 * (y * w + x):3 * (y * w + x) + 3] = bytes(col)
    return bytes(px)


# ------------------------------------------------------------------ running

def run(infer, args, env=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run([infer] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=e, timeout=600)
    return p.returncode, p.stdout, p.stderr


def get_model(opts, tmp):
    model = os.environ.get("MRCNN_TEST_MODEL")
    if model:
        if not os.path.isfile(model):
            print("FAIL: MRCNN_TEST_MODEL=%s is not a file" % model)
            sys.exit(1)
        print("model from MRCNN_TEST_MODEL:", model)
        return model
    probe = subprocess.run(["/usr/bin/python3", "-c", "import torch, torchvision"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if probe.returncode != 0:
        print("SKIP: no MRCNN_TEST_MODEL and torch/torchvision are not importable "
              "to export one")
        sys.exit(SKIP)
    out = os.path.join(opts.build_dir, "cli-model.safetensors")
    cmd = ["/usr/bin/python3", "-m", "maskrcnn_tools.export_torchvision", "--random-init", "--seed", "1",
           "--arch", "maskrcnn_resnet18_fpn", "--body-widths", "16,16,32,64,128",
           "--fpn-channels", "64", "--representation-size", "256",
           "--mask-channels", "64", "--num-classes", "4", "--quiet", "--out", out]
    print("exporting a test model:", " ".join(cmd), flush=True)
    # (the package from this source tree, whatever this process was given)
    env = dict(os.environ, PYTHONPATH=os.path.join(opts.source_root, "tools"))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, env=env)
    if p.returncode != 0 or not os.path.isfile(out):
        print(p.stdout)
        print("FAIL: the exporter failed (exit %d)" % p.returncode)
        sys.exit(1)
    return out


def decode_mask(counts, h, w):
    try:
        import numpy as np  # noqa: F401
        from pycocotools import mask as coco_mask
        m = coco_mask.decode({"size": [h, w], "counts": counts.encode()})
        return m.reshape(-1).tolist()
    except ImportError:
        return list(rle.decode(counts, h, w))


def is_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def mask_bbox(mask, w, h):
    xs = [i % w for i, v in enumerate(mask) if v]
    ys = [i // w for i, v in enumerate(mask) if v]
    if not xs:
        return None
    return min(xs), min(ys), max(xs) + 1, max(ys) + 1


def box_margin(box):
    # torchvision pastes an M x M mask padded by one cell onto the box widened
    # by (M + 2) / M, then rounds to whole pixels: M >= 14 in any model of
    # this family, so a box side of s gains at most s / 14 + 2 pixels.
    return (box[2] - box[0]) / 14.0 + 2.0, (box[3] - box[1]) / 14.0 + 2.0


def check_document(doc, model, images, sizes, min_score, what):
    """Schema, types and consistency of one --json document. Returns the
    detections per image as (det, mask) lists."""
    out = []
    if not check(isinstance(doc, dict) and set(doc) == {"model", "images"},
                 "%s: top level has keys model, images" % what):
        return out
    check(doc["model"] == model, "%s: model is %r, want %r" % (what, doc["model"], model))
    check(isinstance(doc["images"], list) and len(doc["images"]) == len(images),
          "%s: %d image entries, want %d" % (what, len(doc["images"]), len(images)))
    labels = {}
    for entry, path, (w, h) in zip(doc["images"], images, sizes):
        dets = []
        check(set(entry) == {"image", "width", "height", "detections"},
              "%s: image keys %s" % (what, sorted(entry)))
        check(entry.get("image") == path, "%s: image %r, want %r" % (what, entry.get("image"), path))
        check(entry.get("width") == w and entry.get("height") == h
              and type(entry.get("width")) is int and type(entry.get("height")) is int,
              "%s: %s size %sx%s, want %dx%d" % (what, path, entry.get("width"),
                                                 entry.get("height"), w, h))
        check(isinstance(entry.get("detections"), list), "%s: detections is a list" % what)
        prev_score = 2.0
        for k, d in enumerate(entry.get("detections", [])):
            tag = "%s: %s detection %d" % (what, os.path.basename(path), k)
            if not check(set(d) == {"label", "class_id", "score", "box", "mask"},
                         "%s: keys %s" % (tag, sorted(d))):
                continue
            check(isinstance(d["label"], str) and d["label"] != "", "%s: label a non-empty string" % tag)
            check(type(d["class_id"]) is int and d["class_id"] >= 1,
                  "%s: class_id %r is an int >= 1 (0 is background)" % (tag, d["class_id"]))
            if labels.setdefault(d["class_id"], d["label"]) != d["label"]:
                check(False, "%s: class %d labelled both %r and %r" % (
                    tag, d["class_id"], labels[d["class_id"]], d["label"]))
            check(is_number(d["score"]) and min_score <= d["score"] <= 1.0,
                  "%s: score %r in [%g, 1]" % (tag, d["score"], min_score))
            check(is_number(d["score"]) and d["score"] <= prev_score,
                  "%s: scores sorted descending" % tag)
            prev_score = d["score"] if is_number(d["score"]) else prev_score
            box = d["box"]
            if not check(isinstance(box, list) and len(box) == 4 and all(map(is_number, box)),
                         "%s: box is 4 numbers: %r" % (tag, box)):
                continue
            # Boxes are clipped in the resized frame and then scaled back, as
            # torchvision does, so float rounding may overshoot by a hair.
            ex, ey = 1e-5 * w + 1e-4, 1e-5 * h + 1e-4
            check(-ex <= box[0] <= box[2] <= w + ex and -ey <= box[1] <= box[3] <= h + ey,
                  "%s: box %r ordered and inside the %dx%d image" % (tag, box, w, h))
            m = d["mask"]
            if not check(isinstance(m, dict) and set(m) == {"size", "counts"}
                         and m["size"] == [h, w] and isinstance(m["counts"], str),
                         "%s: mask is {size: [%d, %d], counts: str}, got %r" % (
                             tag, h, w, {k2: (v if k2 == "size" else type(v).__name__)
                                         for k2, v in m.items()} if isinstance(m, dict) else m)):
                continue
            try:
                mask = decode_mask(m["counts"], h, w)
            except ValueError as e:
                check(False, "%s: mask does not decode: %s" % (tag, e))
                continue
            check(len(mask) == w * h, "%s: mask decodes to %d pixels, want %d" % (tag, len(mask), w * h))
            bb = mask_bbox(mask, w, h)
            if bb is not None:
                mx, my = box_margin(box)
                check(bb[0] >= box[0] - mx and bb[1] >= box[1] - my
                      and bb[2] <= box[2] + mx and bb[3] <= box[3] + my,
                      "%s: mask extent %r outside box %r widened by (%.1f, %.1f)" % (
                          tag, bb, box, mx, my))
            dets.append((d, mask, bb))
        out.append(dets)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--infer", required=True)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("--build-dir", required=True)
    opts = ap.parse_args()
    infer = opts.infer

    try:
        import pycocotools  # noqa: F401
        print("decoding masks with pycocotools")
    except ImportError:
        print("decoding masks with maskrcnn_tools.rle (pycocotools not importable)")

    tmp = tempfile.mkdtemp(prefix="mrcnn-cli-infer-")
    try:
        model = get_model(opts, tmp)
        a = os.path.join(tmp, "a.png")
        b = os.path.join(tmp, "b image.png")  # a space: names are not split
        sizes = [(200, 150), (120, 160)]
        write_png(a, 200, 150, synthetic_image(200, 150, 0))
        write_png(b, 120, 160, synthetic_image(120, 160, 1))
        images = [a, b]

        # --- a good run: JSON, overlays with the image index in the name
        js = os.path.join(tmp, "out.json")
        ov = os.path.join(tmp, "ov.png")
        rc, out, err = run(infer, ["--model", model, "--backend", "cpu", "--threads", "1",
                                   "--score-threshold", "0.05", "--json", js,
                                   "--overlay", ov] + images)
        check(rc == 0, "good run exits 0, got %d; stderr: %s" % (rc, err))
        doc = json.load(open(js)) if os.path.isfile(js) else None
        check(doc is not None, "--json wrote %s" % js)
        per_image = check_document(doc, model, images, sizes, 0.05, "good run") if doc else []
        total = sum(len(d) for d in per_image)
        print("good run: %s detections" % [len(d) for d in per_image])
        check(total > 0, "the test model detects something in the synthetic images")
        check(any(bb is not None for dets in per_image for _, _, bb in dets),
              "at least one mask is not empty")
        for path, dets in zip(images, per_image):
            m = re.search(r"^%s: (\d+)x(\d+), (\d+) detections?" % re.escape(path), out, re.M)
            check(m is not None and int(m.group(3)) == len(dets),
                  "stdout reports %d detections for %s:\n%s" % (len(dets), path, out))
            for d, _, _ in dets[:3]:
                check("%-20s %.3f" % (d["label"], d["score"]) in out,
                      "stdout lists %s %.3f" % (d["label"], d["score"]))

        # overlays: ov-0.png, ov-1.png; masks and boxes drawn only near boxes
        for i, (path, (w, h)) in enumerate(zip(images, sizes)):
            name = os.path.join(tmp, "ov-%d.png" % i)
            if not check(os.path.isfile(name), "overlay %s written" % name):
                continue
            ow, oh, opx = read_png_rgb(name)
            _, _, ipx = read_png_rgb(path)
            check((ow, oh) == (w, h), "overlay %s is %dx%d, want %dx%d" % (name, ow, oh, w, h))
            if (ow, oh) != (w, h) or i >= len(per_image):
                continue
            changed = outside = 0
            for y in range(h):
                for x in range(w):
                    j = 3 * (y * w + x)
                    if opx[j:j + 3] == ipx[j:j + 3]:
                        continue
                    changed += 1
                    near = False
                    for d, _, _ in per_image[i]:
                        bx = d["box"]
                        mx, my = box_margin(bx)
                        if bx[0] - mx - 1 <= x <= bx[2] + mx + 1 and bx[1] - my - 1 <= y <= bx[3] + my + 1:
                            near = True
                            break
                    outside += not near
            check(outside == 0, "overlay %s: %d changed pixels away from every box" % (name, outside))
            check((changed > 0) == (len(per_image[i]) > 0),
                  "overlay %s: %d pixels changed for %d detections" % (name, changed, len(per_image[i])))
        check(not os.path.exists(ov), "with two images nothing is written to %s itself" % ov)

        # one image: the overlay name is used as given
        one = os.path.join(tmp, "one.png")
        rc, out, err = run(infer, ["--model", model, "--overlay", one, a])
        check(rc == 0 and os.path.isfile(one) and not os.path.exists(os.path.join(tmp, "one-0.png")),
              "a single image's overlay goes to the given name (rc %d, %s)" % (rc, err))

        # a low mask threshold: every mask non-empty and covering its box
        js2 = os.path.join(tmp, "low.json")
        rc, out, err = run(infer, ["--model", model, "--mask-threshold", "0.001",
                                   "--json", js2, a])
        check(rc == 0, "low mask threshold run exits 0 (%s)" % err)
        if os.path.isfile(js2):
            dets = check_document(json.load(open(js2)), model, [a], sizes[:1], 0.0, "low threshold")
            for k, (d, mask, bb) in enumerate(dets[0] if dets else []):
                box = d["box"]
                if not check(bb is not None, "low threshold: detection %d has a mask" % k):
                    continue
                ix = max(0, min(bb[2], box[2]) - max(bb[0], box[0]))
                iy = max(0, min(bb[3], box[3]) - max(bb[1], box[1]))
                area = max(1e-6, (box[2] - box[0]) * (box[3] - box[1]))
                check(ix * iy >= 0.5 * area,
                      "low threshold: mask extent %r covers under half of box %r" % (bb, box))

        # --- labels with quotes, backslashes, control characters, bytes
        # that are not UTF-8 and 10 kB of text (the fuzz corpus's hostile
        # model): the document is strict JSON and every label valid UTF-8
        hostile = os.path.join(opts.source_root, "tests", "fuzz", "corpus", "model",
                               "hostile-labels.safetensors")
        jsh = os.path.join(tmp, "hostile.json")
        rc, out, err = run(infer, ["--model", hostile, "--score-threshold", "0",
                                   "--json", jsh, a])
        check(rc == 0, "hostile labels: exit %d, %s" % (rc, err))
        if os.path.isfile(jsh):
            raw = open(jsh, "rb").read()
            try:
                # strict: no raw control character inside a string
                hdoc = json.loads(raw.decode("utf-8"), strict=True)
                labels = {d["label"] for d in hdoc["images"][0]["detections"]}
                print("hostile labels: %d detections, %d distinct labels" % (
                    len(hdoc["images"][0]["detections"]), len(labels)))
                check(len(labels) >= 2, "hostile labels: several labels in the document")
                check(any(len(lab) > 10000 for lab in labels) and any("\ufffd" in lab for lab in labels)
                      and any("\x1f" in lab for lab in labels),
                      "hostile labels: the long, the invalid-UTF-8 and the control-character labels "
                      "come through (labels seen: %r)" % sorted(lab[:20] for lab in labels))
            except (UnicodeDecodeError, ValueError) as e:
                check(False, "hostile labels: the document is not strict UTF-8 JSON: %s" % e)

        # --- the default model through MRCNN_MODEL_DIR
        mdir = os.path.join(tmp, "models")
        os.mkdir(mdir)
        os.symlink(os.path.abspath(model), os.path.join(mdir, "shapes.safetensors"))
        js3 = os.path.join(tmp, "default.json")
        rc, out, err = run(infer, ["--json", js3, a], env={"MRCNN_MODEL_DIR": mdir})
        check(rc == 0, "default model from MRCNN_MODEL_DIR: exit %d, %s" % (rc, err))
        if os.path.isfile(js3):
            check(json.load(open(js3))["model"] == os.path.join(mdir, "shapes.safetensors"),
                  "the default model is the one in MRCNN_MODEL_DIR")
        empty = os.path.join(tmp, "empty-dir")
        os.mkdir(empty)
        rc, out, err = run(infer, [a], env={"MRCNN_MODEL_DIR": empty})
        check(rc == 0 or (rc == 1 and empty in err and "--model" in err),
              "without a default model the error lists where it looked (rc %d): %s" % (rc, err))

        # --- runtime errors: exit 1, message names the file
        missing_model = os.path.join(tmp, "no-such-model.safetensors")
        rc, out, err = run(infer, ["--model", missing_model, a])
        check(rc == 1 and missing_model in err, "missing model: rc %d, stderr %r" % (rc, err))

        garbage = os.path.join(tmp, "garbage.safetensors")
        with open(garbage, "wb") as f:
            f.write(b"this is not a model\n" * 10)
        rc, out, err = run(infer, ["--model", garbage, a])
        check(rc == 1 and garbage in err, "garbage model: rc %d, stderr %r" % (rc, err))

        cut = os.path.join(tmp, "cut.safetensors")
        with open(model, "rb") as f:
            data = f.read()
        with open(cut, "wb") as f:
            f.write(data[:len(data) // 2])
        rc, out, err = run(infer, ["--model", cut, a])
        check(rc == 1 and cut in err, "truncated model: rc %d, stderr %r" % (rc, err))

        missing_img = os.path.join(tmp, "missing.png")
        js4 = os.path.join(tmp, "partial.json")
        rc, out, err = run(infer, ["--model", model, "--json", js4, a, missing_img])
        check(rc == 1 and missing_img in err, "missing image: rc %d, stderr %r" % (rc, err))
        if check(os.path.isfile(js4), "the other images are still written to JSON"):
            check([e["image"] for e in json.load(open(js4))["images"]] == [a],
                  "JSON lists only the readable image")

        bad_img = os.path.join(tmp, "bad.png")
        with open(a, "rb") as f:
            data = f.read()
        with open(bad_img, "wb") as f:
            f.write(data[:len(data) // 2])
        rc, out, err = run(infer, ["--model", model, bad_img])
        check(rc == 1 and bad_img in err, "truncated image: rc %d, stderr %r" % (rc, err))

        text = os.path.join(tmp, "notes.txt")
        with open(text, "w") as f:
            f.write("not an image\n")
        rc, out, err = run(infer, ["--model", model, text])
        check(rc == 1 and text in err and "PNG or JPEG" in err,
              "text file as image: rc %d, stderr %r" % (rc, err))

        unwritable = os.path.join(tmp, "no-dir", "out.json")
        rc, out, err = run(infer, ["--model", model, "--json", unwritable, a])
        check(rc == 1 and unwritable in err, "unwritable JSON: rc %d, stderr %r" % (rc, err))

        # --- precisions the backends cannot run: refused at start, saying
        # why. DNNL_MAX_CPU_ISA=AVX2 hides bf16 kernels on any CPU.
        rc, out, err = run(infer, ["--model", model, "--backend", "cpu", "--precision", "bf16", a],
                           env={"DNNL_MAX_CPU_ISA": "AVX2"})
        check(rc == 1 and "precision bf16 does not run on this machine" in err
              and "bf16 needs a CPU with AVX512_BF16 or AMX" in err and "avx2" in err
              and "the cpu backend computes in fp32 and int8 here" in err,
              "bf16 without bf16 kernels: rc %d, stderr %r" % (rc, err))
        # no backend of any build computes in these yet; the engine refuses
        # them before any device is touched: the same on machines with and
        # without a GPU, and says what each backend of the build computes in
        for backend in ("cpu", "cuda", "auto"):
            for prec in ("fp16", "tf32"):
                rc, out, err = run(infer, ["--model", model, "--backend", backend, "--precision", prec, a])
                if backend == "cuda" and "has no CUDA backend" in err:
                    check(rc == 1, "%s on cuda without CUDA: rc %d" % (prec, rc))
                    continue
                check(rc == 1 and "precision %s is not available in this build" % prec in err
                      and "the cpu backend computes in fp32, bf16 and int8" in err,
                      "%s on %s: rc %d, stderr %r" % (prec, backend, rc, err))
                check((prec == "fp16") == ("its float32 reference runs on the cpu backend" in err),
                      "%s on %s names a reference: stderr %r" % (prec, backend, err))
        rc, out, err = run(infer, ["--model", model, "--backend", "cuda", "--precision", "bf16", a])
        check(rc == 1 and ("precision bf16 runs on the cpu backend, not on cuda" in err
                           or "has no CUDA backend" in err),
              "bf16 on CUDA: rc %d, stderr %r" % (rc, err))
        rc, out, err = run(infer, ["--model", model, "--precision", "fp32", "--emulate", a])
        check(rc == 1 and "precision fp32 has no float32 reference in this build" in err,
              "--emulate at fp32: rc %d, stderr %r" % (rc, err))
        rc, out, err = run(infer, ["--help"])
        check(rc == 0 and "Arithmetic: fp32, bf16 or int8 (default fp32" in out,
              "--help lists this build's precisions: rc %d, stdout %r" % (rc, out))

        # --- usage errors: exit 2
        for args, needle in [([], "no image"),
                             (["--precision", "fp8", a], "use fp32, bf16 or int8"),
                             (["--backend", "tpu", a], "tpu"),
                             (["--score-threshold", "1.5", a], "score-threshold"),
                             (["--score-threshold", "abc", a], "abc"),
                             (["--mask-threshold", "-0.1", a], "mask-threshold"),
                             (["--threads", "-2", a], "threads"),
                             (["--no-such-option", a], "no-such-option")]:
            rc, out, err = run(infer, ["--model", model] + args)
            check(rc == 2 and needle in err, "usage %r: rc %d, stderr %r" % (args, rc, err))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
