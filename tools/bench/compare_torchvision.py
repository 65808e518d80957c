#!/usr/bin/python3
"""Runs torchvision and the gst-maskrcnn engine on the same weights and the
same input in one run, with the same thread count, and prints the ratio.

usage: compare_torchvision.py --model M.safetensors [--image FILE | --width W --height H]
                              [--frames N] [--warmup K] [--threads T] [--bench PATH] [--json OUT]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "engine", "tools"))


def synthetic(path, w, h):
    import numpy as np
    from PIL import Image
    y, x = np.mgrid[0:h, 0:w]
    cx, cy = x - w // 2, y - h // 3
    inside = cx * cx + cy * cy < (h // 5) ** 2
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = np.where(inside, 220, (x * 255) // w)
    img[..., 1] = np.where(inside, 40, (y * 255) // h)
    img[..., 2] = ((x ^ y) & 0x3F) + np.where(inside, 30, 120)
    Image.fromarray(img).save(path)


def count_flops(model, x):
    """FLOPs (2 per multiply-add) of the convolutions and linear layers that
    one torchvision forward runs on x, counted with hooks."""
    import torch
    total = [0]

    def conv(m, inp, out):
        k = m.weight.shape[2] * m.weight.shape[3]
        cin = m.weight.shape[1] if not isinstance(m, torch.nn.ConvTranspose2d) else m.weight.shape[0]
        if isinstance(m, torch.nn.ConvTranspose2d):
            total[0] += 2 * inp[0].numel() * m.weight.shape[1] * k
        else:
            total[0] += 2 * out.numel() * cin * k // m.groups

    def linear(m, inp, out):
        total[0] += 2 * out.numel() * m.in_features

    hooks = []
    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            hooks.append(m.register_forward_hook(conv))
        elif isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(linear))
    with torch.inference_mode():
        model([x])
    for h in hooks:
        h.remove()
    return total[0]


def measured_peak_gflops(threads):
    """Single-precision GEMM rate of the machine through torch's BLAS (a large
    square matmul, best of a few runs): the practical peak we compare with."""
    import torch
    torch.set_num_threads(threads)
    n = 2048
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    best = 0.0
    for _ in range(4):
        t0 = time.perf_counter()
        torch.mm(a, b)
        dt = time.perf_counter() - t0
        best = max(best, 2 * n ** 3 / dt / 1e9)
    return best


def blas_in_use():
    try:
        return os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    except OSError:
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--image")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--frames", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "engine", "tools", "mrcnn-bench"))
    ap.add_argument("--json")
    a = ap.parse_args()

    import torch
    import torchvision.transforms.functional as F
    from PIL import Image
    import mrcnn_torch

    tmp = tempfile.mkdtemp(prefix="mrcnn-compare-")
    image = a.image
    if not image:
        image = os.path.join(tmp, f"synthetic-{a.width}x{a.height}.png")
        synthetic(image, a.width, a.height)

    # ours first, in its own process, so neither run's memory shows in the other
    out_json = os.path.join(tmp, "bench.json")
    cmd = [a.bench, "--model", a.model, "--image", image, "--frames", str(a.frames),
           "--warmup", str(a.warmup), "--threads", str(a.threads), "--json", out_json]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out_json) as f:
        ours = json.load(f)

    torch.set_num_threads(a.threads)
    model = mrcnn_torch.model_from_safetensors(a.model)
    x = F.to_tensor(Image.open(image).convert("RGB"))
    times = []
    with torch.inference_mode():
        for i in range(a.warmup + a.frames):
            t0 = time.perf_counter()
            out = model([x])[0]
            t1 = time.perf_counter()
            if i >= a.warmup:
                times.append((t1 - t0) * 1000.0)
    tv_mean = sum(times) / len(times)
    flops = count_flops(model, x)
    peak = measured_peak_gflops(a.threads)
    tv_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    rows = {
        "model": a.model, "image": image, "threads": a.threads, "frames": a.frames,
        "warmup": a.warmup, "blas": blas_in_use(), "torch": torch.__version__,
        "torchvision_ms": tv_mean, "torchvision_detections": int(len(out["boxes"])),
        "torchvision_peak_rss_mib": tv_rss,
        "ours_ms": ours["mean_ms"], "ours_detections": ours["detections"],
        "ours_peak_rss_mib": ours["peak_rss_mib"], "ours_stages_ms": ours["stages_ms"],
        "speedup": tv_mean / ours["mean_ms"],
        "gflop": flops / 1e9, "peak_gflops": peak,
    }
    print(f"model {a.model}, image {os.path.basename(image)}, {a.threads} threads, "
          f"{a.frames} frames after {a.warmup} warm-up")
    print(f"libblas.so.3 -> {rows['blas']}")
    print(f"{'engine':<14}{'ms/frame':>10}{'frames/s':>10}{'dets':>6}{'peak RSS MiB':>14}")
    print(f"{'torchvision':<14}{tv_mean:>10.1f}{1000 / tv_mean:>10.2f}"
          f"{rows['torchvision_detections']:>6}{tv_rss:>14.0f}")
    print(f"{'gst-maskrcnn':<14}{ours['mean_ms']:>10.1f}{ours['fps']:>10.2f}"
          f"{ours['detections']:>6}{ours['peak_rss_mib']:>14.0f}")
    print(f"speedup (torchvision ms / ours ms): {rows['speedup']:.2f}x")
    print(f"work: {flops / 1e9:.1f} GFLOP per frame (convolutions and linear layers); "
          f"measured SGEMM peak {peak:.0f} GFLOP/s; achieved: torchvision "
          f"{flops / tv_mean / 1e6:.0f} GFLOP/s ({100 * flops / tv_mean / 1e6 / peak:.0f}%), "
          f"ours {flops / ours['mean_ms'] / 1e6:.0f} GFLOP/s "
          f"({100 * flops / ours['mean_ms'] / 1e6 / peak:.0f}%)")
    print("our stages (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in ours["stages_ms"].items()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
