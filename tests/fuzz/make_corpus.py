#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/).

usage: /usr/bin/python3 tests/fuzz/make_corpus.py [--out tests/fuzz/corpus]

The seeds are committed; run this only to regenerate them. It needs
Debian's python3-torchvision (for the one valid model, made by our own
exporter) and python3-pil (for the images). Every seed is small so that the
fuzzer spends its time on the parsers, not on copying bytes:

model/  a complete, valid random-init model with the narrowest widths the
        exporter allows (about 25 KB, F16), the same with 5 classes whose
        labels are hostile (quotes, backslashes, control characters, lone
        surrogate escapes that decode to invalid UTF-8, 10 kB of text; the
        maskrcnnpublish test runs it), the first with an int8 calibration,
        and header-only files that reach
        the metadata and tensor-table parsers quickly: full metadata, the
        required fields only, every optional field in its other legal form,
        the v2 architecture,
        a few tensors of each dtype, and no metadata at all.
image/  tiny PNGs of every colour type and bit depth (palette with tRNS,
        interlaced, 16-bit) and JPEGs (baseline 4:2:0 and 4:4:4, grayscale,
        progressive, restart markers, Adobe CMYK).
"""
import argparse
import io
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# the exporter from this tree's tools/ (the maskrcnn_tools package)
EXPORTER_ENV = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "tools"), PYTHONDONTWRITEBYTECODE="1")


def safetensors(header, data=b""):
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def full_metadata():
    return {
        "format": "gst-maskrcnn", "format_version": "1",
        "architecture": "maskrcnn_resnet18_fpn", "num_classes": "2",
        "labels": json.dumps(["__background__", "shape"]),
        "min_size": "64", "max_size": "96",
        "image_mean": "[0.485, 0.456, 0.406]", "image_std": "[0.229, 0.224, 0.225]",
        "box_score_thresh": "0.05", "box_nms_thresh": "0.5",
        "box_detections_per_img": "100", "mask_threshold": "0.5",
        "rpn_pre_nms_top_n_test": "1000", "rpn_post_nms_top_n_test": "1000",
        "rpn_nms_thresh": "0.7", "rpn_score_thresh": "0.0",
        "anchor_sizes": "[32, 64, 128, 256, 512]", "aspect_ratios": "[0.5, 1.0, 2.0]",
    }


def tiny_model(num_classes):
    """A random-init model with every width 4 (F16), as bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tiny.safetensors")
        subprocess.run([sys.executable, "-m", "maskrcnn_tools.export_torchvision",
                        "--random-init", "--seed", "1",
                        "--arch", "maskrcnn_resnet18_fpn", "--body-widths", "4,4,4,4,4",
                        "--fpn-channels", "4", "--representation-size", "4",
                        "--mask-channels", "4", "--num-classes", str(num_classes),
                        "--min-size", "64", "--max-size", "96", "--dtype", "f16",
                        "--out", path, "--quiet"], check=True, env=EXPORTER_ENV)
        with open(path, "rb") as f:
            return f.read()


def hostile_labels():
    """Labels that a writer of JSON or MQTT must survive. json.dumps escapes
    the lone surrogates as \\udXXX, which json-glib (the engine's loader)
    decodes into bytes that are not UTF-8."""
    # 10 kB, mostly ASCII so that the seed stays under the target's
    # -max_len (non-ASCII costs 6 to 12 bytes in the escaped header)
    long = "\u00e9t\u00e9 \u5f62 \U0001f408 "
    while len(long.encode()) < 10240:
        long += "a long label of plain words "
    return ["__background__",
            'say "cheese", \\ back\\slash \\" and \\u0022',
            "tab\there\nnewline\r\x01\x08\x0c\x1b\x1f\x7f end",
            "lone \ud800 and \udfff surrogates, a high \ud83d alone",
            long,
            "+/#/$SYS/topic-like </script> \u2028 end"]


def with_labels(model, labels):
    """The model's bytes with its metadata's labels replaced."""
    (n,) = struct.unpack("<Q", model[:8])
    header = json.loads(model[8:8 + n])
    header["__metadata__"]["labels"] = json.dumps(labels)
    return safetensors(header, model[8 + n:])


def with_calibration(model):
    """The model's bytes with an int8 calibration in its metadata (the
    shipped model's method, ranges for its first 12 layers, the first one
    kept in fp32)."""
    (n,) = struct.unpack("<Q", model[:8])
    header = json.loads(model[8:8 + n])
    layers = [k[:-len(".weight")] for k in header if k.endswith(".weight")]
    header["__metadata__"]["int8_calibration"] = json.dumps(
        {"method": "percentile 99.99", "inputs": {k: [0.0, 4.0] for k in layers[:12]},
         "fp32": layers[:1]}, separators=(",", ":"))
    return safetensors(header, model[8 + n:])


def model_seeds(out):
    os.makedirs(out, exist_ok=True)
    seeds = {"valid-r18-f16.safetensors": tiny_model(2)}
    seeds["valid-r18-f16-int8.safetensors"] = with_calibration(seeds["valid-r18-f16.safetensors"])
    labels = hostile_labels()
    seeds["hostile-labels.safetensors"] = with_labels(tiny_model(len(labels)), labels)

    meta = full_metadata()
    seeds["meta-full.safetensors"] = safetensors({"__metadata__": meta})
    required = {k: meta[k] for k in ("format", "format_version", "architecture",
                                     "num_classes", "labels")}
    seeds["meta-required.safetensors"] = safetensors({"__metadata__": required})
    other = dict(meta)
    other.update({"architecture": "maskrcnn_resnet50_fpn", "num_classes": "3",
                  "labels": json.dumps(["__background__", "caf\u00e9", "\u5f62"]),
                  "image_mean": "[123, 117, 104]", "image_std": "[1e-3, 1.5, 58]",
                  "box_score_thresh": "1", "box_nms_thresh": "0",
                  "rpn_score_thresh": "0.25", "anchor_sizes": "[16.5, 32, 64, 128, 256]",
                  "aspect_ratios": "[0.25, 0.5, 1, 2, 4, 8, 0.125, 3]"})
    seeds["meta-other-forms.safetensors"] = safetensors({"__metadata__": other})
    seeds["meta-r101.safetensors"] = safetensors(
        {"__metadata__": dict(required, architecture="maskrcnn_resnet101_fpn")})
    seeds["meta-v2.safetensors"] = safetensors(
        {"__metadata__": dict(required, architecture="maskrcnn_resnet50_fpn_v2")})

    f32 = struct.pack("<4f", 1.0, -2.0, 0.5, 3.0)
    f16 = struct.pack("<4e", 1.0, -2.0, 0.5, 3.0)
    seeds["tensors-few.safetensors"] = safetensors({
        "__metadata__": required,
        "backbone.body.bn1.weight": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
        "backbone.body.bn1.bias": {"dtype": "F16", "shape": [4], "data_offsets": [16, 24]},
        "backbone.body.conv1.weight": {"dtype": "F16", "shape": [2, 1, 1, 2],
                                       "data_offsets": [16, 24]},
        "roi_heads.box_predictor.cls_score.bias": {"dtype": "F32", "shape": [],
                                                   "data_offsets": [0, 4]},
    }, f32 + f16)
    seeds["tensors-no-metadata.safetensors"] = safetensors({
        "fpn.inner_blocks.0.0.weight": {"dtype": "F32", "shape": [1, 1, 1, 1],
                                        "data_offsets": [0, 4]}}, f32[:4])
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


def image_seeds(out):
    from PIL import Image

    os.makedirs(out, exist_ok=True)
    w, h = 7, 5

    def gradient(mode):
        img = Image.new("RGB", (w, h))
        img.putdata([(x * 36, y * 60, (x * y * 17) % 256) for y in range(h) for x in range(w)])
        return img.convert(mode) if mode != "RGB" else img

    def save(name, img, **kw):
        buf = io.BytesIO()
        img.save(buf, **kw)
        with open(os.path.join(out, name), "wb") as f:
            f.write(buf.getvalue())

    save("rgb8.png", gradient("RGB"), format="PNG")
    save("rgba8.png", gradient("RGBA"), format="PNG")
    save("gray8.png", gradient("L"), format="PNG")
    save("gray-alpha.png", gradient("LA"), format="PNG")
    save("gray1.png", gradient("1"), format="PNG")
    save("gray2.png", gradient("L").quantize(4).convert("L"), format="PNG", bits=2)
    save("gray16.png", gradient("L").convert("I;16"), format="PNG")
    pal = gradient("RGB").quantize(5)
    save("palette-trns.png", pal, format="PNG", transparency=1)
    save("palette4.png", gradient("RGB").quantize(16), format="PNG", bits=4)
    # Pillow writes neither interlaced nor 16-bit RGB PNGs: spell them out.
    with open(os.path.join(out, "rgb16-interlaced.png"), "wb") as f:
        f.write(raw_png(w, h, 16, 2, 1))
    with open(os.path.join(out, "gray8-interlaced.png"), "wb") as f:
        f.write(raw_png(w, h, 8, 0, 1))

    big = Image.new("RGB", (19, 11))
    big.putdata([((x * 13) % 256, (y * 23) % 256, (x + y) * 7 % 256)
                 for y in range(11) for x in range(19)])
    save("baseline-420.jpg", big, format="JPEG", quality=75)
    save("baseline-444.jpg", big, format="JPEG", quality=90, subsampling=0)
    save("gray.jpg", big.convert("L"), format="JPEG", quality=75)
    save("progressive.jpg", big, format="JPEG", quality=75, progressive=True)
    save("cmyk-adobe.jpg", big.convert("CMYK"), format="JPEG", quality=75)
    save("restart.jpg", big, format="JPEG", quality=75, restart_marker_blocks=1)


def raw_png(w, h, depth, color_type, interlace):
    """A PNG written by hand: Pillow cannot write Adam7 or 16-bit RGB."""
    import zlib

    channels = {0: 1, 2: 3}[color_type]
    bpp = channels * depth // 8

    def pixel(x, y):
        vals = [(x * 9000 + y * 300 + c * 7000) % (1 << depth) for c in range(channels)]
        return b"".join(v.to_bytes(depth // 8, "big") for v in vals)

    def rows(xs, ys):
        return b"".join(b"\x00" + b"".join(pixel(x, y) for x in xs) for y in ys)

    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                  (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        raw = b""
        for x0, y0, dx, dy in passes:
            xs, ys = range(x0, w, dx), range(y0, h, dy)
            if len(xs) and len(ys):
                raw += rows(xs, ys)
    else:
        raw = rows(range(w), range(h))
    assert bpp

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff))

    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    args = ap.parse_args()
    model_seeds(os.path.join(args.out, "model"))
    image_seeds(os.path.join(args.out, "image"))
    for target in ("model", "image"):
        d = os.path.join(args.out, target)
        total = sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d))
        print(f"{d}: {len(os.listdir(d))} seeds, {total} bytes")


if __name__ == "__main__":
    main()
