"""Runs torchvision and the gst-maskrcnn engine on the same weights and the
same input in one run, with the same thread count, and prints the ratio.

usage: python3 -m maskrcnn_tools.compare_torchvision --model M.safetensors
           [--image FILE | --width W --height H] [--frames N] [--warmup K]
           [--rounds R] [--threads T] [--precision fp32|bf16|int8]
           [--torch-autocast none|bf16] [--bench PATH] [--json OUT]

Rounds interleave the two sides (ours, then torchvision, R times) so that a
slow spell of the host hits both; the ratio is the median of the rounds'
ratios with its range, the frame times are each side's best round.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

# the source tree (tools/maskrcnn_tools/ -> ../..)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def torch_cpu_capability():
    import torch
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage" in line:
            return line.split(":", 1)[1].strip()
    return "unknown"


def run_ours(a, image, tmp):
    out_json = os.path.join(tmp, "bench.json")
    cmd = [a.bench, "--model", a.model, "--image", image, "--frames", str(a.frames),
           "--warmup", str(a.warmup), "--threads", str(a.threads), "--precision", a.precision,
           "--json", out_json]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out_json) as f:
        return json.load(f)


def autocast_backbone(model):
    """Runs the ResNet body and FPN under torch.autocast('cpu', bfloat16) and
    hands float32 features to the rest: torchvision 0.14's nms has no bf16
    kernel, so the whole model cannot run under autocast. The body and FPN
    are nearly all of the convolution work."""
    import torch
    body = model.backbone
    forward = body.forward

    def wrapped(x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            feats = forward(x)
        return type(feats)((k, v.float()) for k, v in feats.items())
    body.forward = wrapped


def run_torchvision(a, model, x, warmup):
    import torch
    times = []
    with torch.inference_mode():
        for i in range(warmup + a.frames):
            t0 = time.perf_counter()
            out = model([x])[0]
            t1 = time.perf_counter()
            if i >= warmup:
                times.append((t1 - t0) * 1000.0)
    return sum(times) / len(times), out


def main():
    ap = argparse.ArgumentParser(
        prog="python3 -m " + __spec__.name, description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--image")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--frames", type=int, default=5, help="timed frames per round and side")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1,
                    help="rounds of ours then torchvision, interleaved; the ratio is quoted as the "
                         "median over rounds with its range")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--precision", default="fp32", help="our engine's precision (fp32, bf16, int8)")
    ap.add_argument("--torch-autocast", choices=["none", "bf16"], default="none",
                    help="run torchvision's ResNet body and FPN under torch.autocast('cpu', bfloat16)")
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "engine", "tools", "mrcnn-bench"))
    ap.add_argument("--json")
    a = ap.parse_args()

    import torch
    import torchvision.transforms.functional as F
    from PIL import Image
    from . import torch_model

    tmp = tempfile.mkdtemp(prefix="mrcnn-compare-")
    image = a.image
    if not image:
        image = os.path.join(tmp, f"synthetic-{a.width}x{a.height}.png")
        synthetic(image, a.width, a.height)

    torch.set_num_threads(a.threads)
    model = torch_model.model_from_safetensors(a.model)
    if a.torch_autocast == "bf16":
        autocast_backbone(model)
    x = F.to_tensor(Image.open(image).convert("RGB"))

    # ours in its own process each round, so neither side's memory shows in
    # the other's; torchvision warms up fully in the first round only
    rounds = []
    for r in range(a.rounds):
        ours = run_ours(a, image, tmp)
        tv_ms, out = run_torchvision(a, model, x, a.warmup if r == 0 else 1)
        rounds.append((tv_ms, ours))
        print(f"round {r + 1}: torchvision {tv_ms:.1f} ms, ours {ours['mean_ms']:.1f} ms, "
              f"ratio {tv_ms / ours['mean_ms']:.2f}x", flush=True)
    ratios = sorted(tv / o["mean_ms"] for tv, o in rounds)
    median = ratios[len(ratios) // 2] if len(ratios) % 2 else 0.5 * (ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2])
    # each side's best round
    tv_ms = min(tv for tv, _ in rounds)
    ours = min((o for _, o in rounds), key=lambda o: o["mean_ms"])
    flops = count_flops(model, x)
    peak = measured_peak_gflops(a.threads)
    tv_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    rows = {
        "model": a.model, "image": image, "threads": a.threads, "frames": a.frames,
        "warmup": a.warmup, "rounds": a.rounds, "blas": blas_in_use(), "torch": torch.__version__,
        "cpu": cpu_model(), "torch_cpu_capability": torch_cpu_capability(),
        "ours_precision": a.precision, "ours_cpu_kernels": ours.get("cpu_kernels", ""),
        "torch_autocast": a.torch_autocast,
        "torchvision_ms": tv_ms, "torchvision_detections": int(len(out["boxes"])),
        "torchvision_peak_rss_mib": tv_rss,
        "ours_ms": ours["mean_ms"], "ours_detections": ours["detections"],
        "ours_peak_rss_mib": ours["peak_rss_mib"], "ours_stages_ms": ours["stages_ms"],
        "speedup": median, "speedup_min": ratios[0], "speedup_max": ratios[-1],
        "round_ratios": ratios,
        "gflop": flops / 1e9, "peak_gflops": peak,
    }
    print(f"model {a.model}, image {os.path.basename(image)}, {a.threads} threads, "
          f"{a.rounds} rounds of {a.frames} frames after warm-up")
    print(f"CPU: {rows['cpu']}; ours: {a.precision}, oneDNN kernels {rows['ours_cpu_kernels']}; "
          f"torch {torch.__version__} CPU capability {rows['torch_cpu_capability']}"
          f"{', body + FPN under autocast bf16' if a.torch_autocast == 'bf16' else ''}")
    print(f"libblas.so.3 -> {rows['blas']}")
    print(f"{'engine':<14}{'best ms':>10}{'frames/s':>10}{'dets':>6}{'peak RSS MiB':>14}")
    print(f"{'torchvision':<14}{tv_ms:>10.1f}{1000 / tv_ms:>10.2f}"
          f"{rows['torchvision_detections']:>6}{tv_rss:>14.0f}")
    print(f"{'gst-maskrcnn':<14}{ours['mean_ms']:>10.1f}{1000 / ours['mean_ms']:>10.2f}"
          f"{ours['detections']:>6}{ours['peak_rss_mib']:>14.0f}")
    print(f"speedup (torchvision ms / ours ms, per round): median {median:.2f}x, "
          f"range {ratios[0]:.2f}x .. {ratios[-1]:.2f}x over {a.rounds} rounds")
    print(f"work: {flops / 1e9:.1f} GFLOP per frame (convolutions and linear layers); "
          f"measured SGEMM peak {peak:.0f} GFLOP/s; achieved (best round): torchvision "
          f"{flops / tv_ms / 1e6:.0f} GFLOP/s, ours {flops / ours['mean_ms'] / 1e6:.0f} GFLOP/s")
    print("our stages (ms, best round): " + ", ".join(f"{k} {v:.1f}" for k, v in ours["stages_ms"].items()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
