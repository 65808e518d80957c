#!/usr/bin/python3
"""The table tests/gpu/run.sh prints last: its benchmark's JSON (mrcnn-bench,
bench_torchvision.py) and peak device memory files (.mem, MiB), read from
one directory.

  ours-<fp32|fp32tc|tf32|fp16>-<size>-b<1|8>.json / .mem
  tv-<fp32|tf32|fp16>-<size>.json / .mem

Ratios are torchvision's median over ours (above 1: ours is faster). The
issue's targets are shown beside the figures they concern; they are
targets, not assertions: a missed one is reported, not failed. A missing
result of ours or torchvision's at batch 1 fails (exit 1).

usage: bench_table.py DIR "CARD, DRIVER"
"""
import json
import os
import sys

STAGES = ["preprocess", "backbone", "fpn", "rpn", "box_head", "mask_head", "paste"]
SIZES = ["1280x720", "640x480"]
OURS = [("fp32", "fp32 (verified path)"), ("fp32tc", "fp32 tensor-core path"),
        ("tf32", "tf32"), ("fp16", "fp16")]
# our precision -> torchvision's mode it is set against
PEER = {"fp32": "fp32", "fp32tc": "fp32", "tf32": "tf32", "fp16": "fp16"}
TV_NAME = {"fp32": "eager fp32", "tf32": "eager TF32", "fp16": "autocast fp16"}


def load(d, name):
    f = os.path.join(d, name + ".json")
    if not os.path.exists(f):
        return None
    try:
        with open(f) as fh:
            return json.load(fh)
    except ValueError:
        return None


def mem(d, name):
    f = os.path.join(d, name + ".mem")
    try:
        with open(f) as fh:
            v = int(fh.read().strip() or 0)
        return v if v > 0 else None
    except (OSError, ValueError):
        return None


def fmt(v, spec="%.2f"):
    return spec % v if v is not None else "-"


def table(d, card):
    missing = 0
    print()
    print("R50-FPN (random init), box score threshold 0, batch 1, on %s" % card)
    print("%-9s %-22s %8s %8s %-14s %7s %9s %9s %5s"
          % ("size", "ours", "ms", "tv ms", "tv", "tv/ours", "ours MiB", "tv MiB", "dets"))
    for size in SIZES:
        for key, label in OURS:
            o = load(d, "ours-%s-%s-b1" % (key, size))
            mode = PEER[key]
            t = load(d, "tv-%s-%s" % (mode, size))
            if o is None or t is None:
                missing += 1
            om, tm = (o or {}).get("median_ms"), (t or {}).get("median_ms")
            ratio = tm / om if om and tm else None
            print("%-9s %-22s %8s %8s %-14s %7s %9s %9s %5s"
                  % (size, label, fmt(om), fmt(tm), TV_NAME[mode], fmt(ratio, "%.2fx"),
                     fmt(mem(d, "ours-%s-%s-b1" % (key, size)), "%d"),
                     fmt(mem(d, "tv-%s-%s" % (mode, size)), "%d"),
                     fmt((o or {}).get("detections"), "%d")))
    size = SIZES[0]
    print()
    print("stages at %s, batch 1 (ms; ours: mean of event marks, torchvision: median)" % size)
    cols = [("ours " + k, load(d, "ours-%s-%s-b1" % (k, size)), "stages_ms") for k, _ in OURS]
    cols += [("tv " + m, load(d, "tv-%s-%s" % (m, size)), "stages_median_ms")
             for m in ("fp32", "tf32", "fp16")]
    print("%-11s" % "stage" + "".join("%12s" % c[0] for c in cols))
    for s in STAGES:
        print("%-11s" % s + "".join("%12s" % fmt(((c[1] or {}).get(c[2]) or {}).get(s))
                                    for c in cols))
    print()
    print("batch 8 against batch 1 at %s (frames/s, device MiB)" % size)
    for k in ("fp32", "fp16"):
        b1, b8 = load(d, "ours-%s-%s-b1" % (k, size)), load(d, "ours-%s-%s-b8" % (k, size))
        m1, m8 = mem(d, "ours-%s-%s-b1" % (k, size)), mem(d, "ours-%s-%s-b8" % (k, size))
        f1, f8 = (b1 or {}).get("fps"), (b8 or {}).get("fps")
        per = (m8 - m1) / 7.0 if m1 and m8 else None
        print("  %-5s batch 1 %s, batch 8 %s: %s; %s MiB per extra frame"
              % (k, fmt(f1, "%.1f"), fmt(f8, "%.1f"),
                 fmt(f8 / f1 if f1 and f8 else None, "%.2fx"), fmt(per, "%.0f")))
    # the targets (H100/H200, batch 1, 1280x720, 100 detections)
    g = lambda n, f="median_ms": (load(d, n) or {}).get(f)
    o16, o32t = g("ours-fp16-%s-b1" % size), g("ours-tf32-%s-b1" % size)
    tv32, tvt, tv16 = g("tv-fp32-%s" % size), g("tv-tf32-%s" % size), g("tv-fp16-%s" % size)
    best_tv = min([x for x in (tv32, tvt, tv16) if x] or [0]) or None
    f1, f8 = g("ours-fp16-%s-b1" % size, "fps"), g("ours-fp16-%s-b8" % size, "fps")
    m16, m32 = mem(d, "ours-fp16-%s-b1" % size), mem(d, "ours-fp32tc-%s-b1" % size)

    def target(name, ok, got):
        print("  %-44s %-6s %s" % (name, "-" if ok is None else ("met" if ok else "MISSED"), got))
    print()
    print("targets at %s, batch 1" % size)
    target("fp16 <= 4 ms end to end", o16 <= 4.0 if o16 else None, fmt(o16) + " ms")
    target(">= 5x torchvision eager fp32", tv32 / o16 >= 5 if o16 and tv32 else None,
           fmt(tv32 / o16 if o16 and tv32 else None, "%.2fx"))
    target(">= 2x torchvision autocast fp16", tv16 / o16 >= 2 if o16 and tv16 else None,
           fmt(tv16 / o16 if o16 and tv16 else None, "%.2fx"))
    target("tf32 >= 2x torchvision's best eager", best_tv / o32t >= 2 if o32t and best_tv else None,
           fmt(best_tv / o32t if o32t and best_tv else None, "%.2fx"))
    target("device memory fp16 <= 500 MiB (process)", m16 <= 500 if m16 else None, fmt(m16, "%d"))
    target("device memory fp32 <= 800 MiB (process)", m32 <= 800 if m32 else None, fmt(m32, "%d"))
    target("fp16 batch 8 >= 2x batch 1's frames/s", f8 / f1 >= 2 if f1 and f8 else None,
           fmt(f8 / f1 if f1 and f8 else None, "%.2fx"))
    if missing:
        print("benchmark: %d of %d rows lack a result (bench.log in logs.tar.gz)"
              % (missing, len(SIZES) * len(OURS)))
    return 1 if missing else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    sys.exit(table(sys.argv[1], sys.argv[2]))
