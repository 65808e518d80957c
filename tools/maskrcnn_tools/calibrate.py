"""int8 calibration of a gst-maskrcnn model: the range of each layer's input.

Runs the model's own weights through torchvision on calibration images and
records, for every convolution, transposed convolution and fully connected
layer, the range of the values it reads - what the engine's int8 path
quantizes (per tensor: u8 where the layer never saw a negative input, s8
elsewhere, both symmetric). The ranges go into the model file's metadata
field `int8_calibration` (docs/model-format.md); the tensors are not touched
(their bytes are copied as they are), so fp32 results stay the same.

    PYTHONPATH=tools python3 -m maskrcnn_tools.calibrate --model models/shapes.safetensors \\
        --out models/shapes.safetensors DIR_OR_IMAGE...

mrcnn-export-torchvision --calibrate IMAGE... does the same on the file it
writes. Methods (--calibration-method): minmax (the largest magnitude seen), percentile
(that magnitude's P-th percentile over all values of the layer's input) and
entropy (the clipping threshold whose quantized histogram is closest to the
original in Kullback-Leibler divergence). docs/precision.md says which the
shipped model uses and why.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

BINS = 4096
METHODS = ("minmax", "percentile", "entropy")
DEFAULT_METHOD = "percentile"
DEFAULT_PERCENTILE = 99.99
# Layers that stay float32 at int8 unless told otherwise: the layers whose
# outputs are decisions (objectness, class scores, box deltas), chosen by
# measured accuracy (docs/precision.md).
DEFAULT_FP32 = ("rpn.head.cls_logits", "roi_heads.box_predictor.cls_score")
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".webp")


class CalibrationError(Exception):
    pass


def image_files(items):
    """Image paths from files and directories (a directory's images, sorted)."""
    out = []
    for item in items:
        if os.path.isdir(item):
            names = sorted(n for n in os.listdir(item) if n.lower().endswith(IMAGE_EXT))
            if not names:
                raise CalibrationError("calibration directory %s holds no images (%s)"
                                       % (item, ", ".join(IMAGE_EXT)))
            out += [os.path.join(item, n) for n in names]
        elif os.path.isfile(item):
            out.append(item)
        else:
            raise CalibrationError("calibration image %s does not exist" % item)
    if not out:
        raise CalibrationError("no calibration images given")
    return out


def quantized_layers(model):
    """(name, module) of every layer the engine may run in int8, by the name
    of its weights without '.weight'."""
    import torch.nn as nn
    kinds = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
    return [(n, m) for n, m in model.named_modules() if isinstance(m, kinds)]


def _run(model, paths, hook_fn, threads):
    import torch
    from PIL import Image
    if threads:
        torch.set_num_threads(threads)
    handles = [m.register_forward_pre_hook(hook_fn(name)) for name, m in quantized_layers(model)]
    try:
        with torch.no_grad():
            for p in paths:
                img = np.asarray(Image.open(p).convert("RGB"))
                x = torch.from_numpy(img.copy()).permute(2, 0, 1).float().div_(255.0)
                model([x])
    finally:
        for h in handles:
            h.remove()


def collect(model, paths, threads=0):
    """Per layer: min, max and a histogram of |x| over [0, max |x|] (BINS bins),
    from two passes over the images."""
    stats = {}

    def minmax(name):
        def hook(mod, inp):
            x = inp[0].detach()
            lo, hi = float(x.min()), float(x.max())
            s = stats.setdefault(name, [lo, hi])
            s[0], s[1] = min(s[0], lo), max(s[1], hi)
        return hook

    _run(model, paths, minmax, threads)
    hists = {name: np.zeros(BINS, np.float64) for name in stats}

    def histogram(name):
        amax = max(-stats[name][0], stats[name][1])

        def hook(mod, inp):
            if amax <= 0:
                return
            a = inp[0].detach().abs().flatten().float()
            import torch
            hists[name] += torch.histc(a, bins=BINS, min=0.0, max=amax).double().numpy()
        return hook

    _run(model, paths, histogram, threads)
    return {name: (stats[name][0], stats[name][1], hists[name]) for name in stats}


def _percentile_threshold(hist, amax, pct):
    total = hist.sum()
    if total <= 0 or amax <= 0:
        return amax
    cum = np.cumsum(hist) / total
    i = int(np.searchsorted(cum, pct / 100.0))
    return min(amax, (i + 1) * amax / BINS)


def _entropy_threshold(hist, amax, levels):
    """The clipping threshold (a bin edge) whose distribution, quantized to
    `levels` levels above zero, has the least KL divergence from the
    clipped original (the outliers folded into the last kept bin)."""
    if hist.sum() <= 0 or amax <= 0:
        return amax
    best, best_i = None, BINS
    for i in range(levels, BINS + 1, 16):
        p = hist[:i].copy()
        p[i - 1] += hist[i:].sum()
        # quantize the i bins into `levels` groups; spread each group's mass
        # over its non-empty bins
        groups = np.linspace(0, i, levels + 1).astype(np.int64)
        q = np.zeros(i)
        for g in range(levels):
            a, b = groups[g], max(groups[g + 1], groups[g] + 1)
            seg = hist[a:b]
            nz = seg > 0
            if nz.any():
                q[a:b][nz] = seg.sum() / nz.sum()
        pm = p / p.sum()
        qs = q.sum()
        if qs <= 0:
            continue
        qm = q / qs
        mask = pm > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = float(np.sum(pm[mask] * np.log(pm[mask] / np.maximum(qm[mask], 1e-12))))
        if best is None or kl < best:
            best, best_i = kl, i
    return best_i * amax / BINS


def ranges(collected, method=DEFAULT_METHOD, percentile=DEFAULT_PERCENTILE):
    """{layer: [lo, hi]}: each layer's input range, clipped by the method."""
    out = {}
    for name, (lo, hi, hist) in sorted(collected.items()):
        amax = max(-lo, hi, 0.0)
        unsigned = lo >= 0
        if method == "minmax":
            t = amax
        elif method == "percentile":
            t = _percentile_threshold(hist, amax, percentile)
        elif method == "entropy":
            t = _entropy_threshold(hist, amax, 255 if unsigned else 127)
        else:
            raise CalibrationError("unknown calibration method %r; use one of %s" % (method, ", ".join(METHODS)))
        out[name] = [0.0 if unsigned else float(np.float32(max(lo, -t))), float(np.float32(min(hi, t)))]
    return out


def method_name(method, percentile=DEFAULT_PERCENTILE):
    return "percentile %g" % percentile if method == "percentile" else method


def calibration_json(layer_ranges, method, images, fp32=DEFAULT_FP32):
    return json.dumps({"method": method, "images": images, "fp32": sorted(fp32),
                       "inputs": layer_ranges}, separators=(",", ":"))


def write_metadata(src, dst, key, value):
    """Copies the safetensors file src to dst with metadata[key] = value; the
    tensor bytes are copied unchanged (the header is re-padded to 8 bytes)."""
    from .torch_model import read_safetensors_header, write_safetensors_raw
    header, start = read_safetensors_header(src)
    with open(src, "rb") as f:
        f.seek(start)
        data = f.read()
    md = header.setdefault("__metadata__", {})
    if value is None:
        md.pop(key, None)
    else:
        md[key] = value
    # the metadata first, as save_safetensors writes it
    ordered = {"__metadata__": md}
    ordered.update((k, v) for k, v in header.items() if k != "__metadata__")
    write_safetensors_raw(dst, ordered, [data])


def calibrate_file(src, dst, items, method=DEFAULT_METHOD, percentile=DEFAULT_PERCENTILE,
                   fp32=DEFAULT_FP32, threads=0, log=None):
    """Calibrates the model file src on the images (files or directories)
    and writes it with its calibration to dst (which may be src)."""
    from . import torch_model as M
    paths = image_files(items)
    t0 = time.time()
    model = M.model_from_safetensors(src)
    collected = collect(model, paths, threads)
    r = ranges(collected, method, percentile)
    write_metadata(src, dst, "int8_calibration",
                   calibration_json(r, method_name(method, percentile), len(paths), fp32))
    if log:
        log("int8 calibration (%s) of %d layers on %d images in %.1fs; float32 at int8: %s"
            % (method_name(method, percentile), len(r), len(paths), time.time() - t0,
               ", ".join(sorted(fp32)) or "none"))
    return r


def add_arguments(p):
    """The calibration options, shared by this tool and the exporter."""
    p.add_argument("--calibration-method", dest="calibration_method", choices=METHODS, default=DEFAULT_METHOD,
                   help="how the ranges are chosen (default %s)" % DEFAULT_METHOD)
    p.add_argument("--calibration-percentile", dest="calibration_percentile", type=float, default=DEFAULT_PERCENTILE,
                   help="for --calibration-method percentile (default %g)" % DEFAULT_PERCENTILE)
    p.add_argument("--int8-fp32", dest="int8_fp32", default=",".join(DEFAULT_FP32), metavar="LAYER,...",
                   help="layers that stay float32 at int8, by weight name without .weight "
                        "(default %s; '' for none)" % ",".join(DEFAULT_FP32))


def fp32_list(text):
    return tuple(x for x in (text or "").split(",") if x)


def main(argv):
    p = argparse.ArgumentParser(prog="python3 -m maskrcnn_tools.calibrate", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="the model file to calibrate")
    p.add_argument("--out", required=True, help="where to write it with its calibration (may be --model)")
    p.add_argument("--threads", type=int, default=0)
    add_arguments(p)
    p.add_argument("images", nargs="+", metavar="IMAGE|DIR")
    a = p.parse_args(argv)
    if not 0 < a.calibration_percentile <= 100:
        print("calibrate: --calibration-percentile must be in (0, 100]", file=sys.stderr)
        return 2
    try:
        calibrate_file(a.model, a.out, a.images, a.calibration_method, a.calibration_percentile,
                       fp32_list(a.int8_fp32), a.threads, log=lambda m: print(m, file=sys.stderr))
    except CalibrationError as e:
        print("calibrate: error: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
