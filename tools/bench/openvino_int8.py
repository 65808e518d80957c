#!/usr/bin/env python3
"""The ResNet body + FPN of a model file through torchvision fp32, OpenVINO
(f32 and an ONNX Runtime quantize_static QDQ int8 export: per-channel s8
weights, u8 activations) and our engine (its backbone + fpn stages at fp32
and int8), interleaved rounds in one run, same thread count.

Needs PyPI's openvino, onnx and onnxruntime (a venv that also sees Debian's
torch: python3 -m venv --system-site-packages V; V/bin/pip install openvino
onnx onnxruntime). Ours runs through mrcnn-bench (its stage times).

    PYTHONPATH=tools V/bin/python tools/bench/openvino_int8.py --model r50-int8.safetensors \\
        --calibrate DIR --bench build/engine/tools/mrcnn-bench --width 640 --height 480 --threads 2
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def network_input(model, width, height):
    """The padded input size the transform gives a width x height frame."""
    import torch
    x = torch.zeros(3, height, width)
    il, _ = model.transform([x])
    return tuple(il.tensors.shape[-2:])


def calibration_tensors(model, paths, hw):
    import torch
    import torch.nn.functional as F
    from PIL import Image
    out = []
    for p in paths:
        img = np.asarray(Image.open(p).convert("RGB"), np.float32) / 255.0
        x = torch.from_numpy(img).permute(2, 0, 1)[None]
        x = F.interpolate(x, size=hw, mode="bilinear", align_corners=False)
        mean = torch.tensor(model.transform.image_mean)[None, :, None, None]
        std = torch.tensor(model.transform.image_std)[None, :, None, None]
        out.append(((x - mean) / std).numpy())
    return out


def best_ms(fn, frames):
    best = float("inf")
    for _ in range(frames):
        t = time.perf_counter()
        fn()
        best = min(best, (time.perf_counter() - t) * 1000)
    return best


def ours_ms(bench, model, w, h, threads, precision, frames, tmp):
    out = os.path.join(tmp, "ours-%s.json" % precision)
    subprocess.run([bench, "--model", model, "--width", str(w), "--height", str(h), "--threads", str(threads),
                    "--precision", precision, "--frames", str(frames), "--warmup", "1", "--json", out],
                   check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        r = json.load(f)
    st = r["stages_ms"]
    return st["backbone"] + st["fpn"], r.get("cpu_kernels", "")


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--calibrate", required=True, help="directory of calibration images")
    ap.add_argument("--bench", required=True)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--frames", type=int, default=3)
    a = ap.parse_args(argv)

    import torch
    import openvino as ov
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)
    from maskrcnn_tools import torch_model as M
    from maskrcnn_tools.calibrate import image_files

    torch.set_num_threads(a.threads)
    model = M.model_from_safetensors(a.model)
    hw = network_input(model, a.width, a.height)
    body = model.backbone.eval()
    tmp = tempfile.mkdtemp(prefix="ov-int8-")
    x = torch.from_numpy(calibration_tensors(model, image_files([a.calibrate])[:1], hw)[0])
    f32_onnx = os.path.join(tmp, "body_fpn.onnx")
    torch.onnx.export(body, x, f32_onnx, input_names=["x"], opset_version=13)
    cal = calibration_tensors(model, image_files([a.calibrate]), hw)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(cal)

        def get_next(self):
            v = next(self.it, None)
            return None if v is None else {"x": v}

    int8_onnx = os.path.join(tmp, "body_fpn_int8.onnx")
    quantize_static(f32_onnx, int8_onnx, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    core = ov.Core()
    cfg = {"INFERENCE_NUM_THREADS": a.threads, "PERFORMANCE_HINT": "LATENCY"}
    ov_f32 = core.compile_model(f32_onnx, "CPU", dict(cfg, INFERENCE_PRECISION_HINT="f32"))
    ov_int8 = core.compile_model(int8_onnx, "CPU", cfg)
    xn = x.numpy()
    print("input %dx%d -> network %dx%d, %d threads; OpenVINO %s, CPU %s" % (
        a.width, a.height, hw[1], hw[0], a.threads, ov.__version__,
        core.get_property("CPU", "FULL_DEVICE_NAME")), flush=True)
    rows = {k: [] for k in ("torchvision fp32", "OpenVINO f32", "OpenVINO int8", "ours fp32", "ours int8")}
    kernels = ""
    with torch.no_grad():
        body(x)
        ov_f32(xn)
        ov_int8(xn)
        for r in range(a.rounds):
            rows["torchvision fp32"].append(best_ms(lambda: body(x), a.frames))
            rows["OpenVINO f32"].append(best_ms(lambda: ov_f32(xn), a.frames))
            rows["OpenVINO int8"].append(best_ms(lambda: ov_int8(xn), a.frames))
            rows["ours fp32"].append(ours_ms(a.bench, a.model, a.width, a.height, a.threads, "fp32", a.frames,
                                             tmp)[0])
            ms, kernels = ours_ms(a.bench, a.model, a.width, a.height, a.threads, "int8", a.frames, tmp)
            rows["ours int8"].append(ms)
            print("round %d: " % (r + 1) + ", ".join("%s %.0f ms" % (k, v[-1]) for k, v in rows.items()),
                  flush=True)
    print("ours: oneDNN kernels %s (ours: backbone + fpn stage means)" % kernels)
    print("| body + FPN | best ms | vs torchvision fp32: median (range) of rounds |")
    print("| --- | ---: | --- |")
    tv = rows["torchvision fp32"]
    for k, v in rows.items():
        ratios = sorted(t / o for t, o in zip(tv, v))
        print("| %s | %.0f | %.2fx (%.2f-%.2f) |" % (k, min(v), ratios[len(ratios) // 2], ratios[0], ratios[-1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
