#!/usr/bin/python3
"""Checks the kernel headers against torchvision on random inputs.

Usage: tv_check.py TV_DRIVER

TV_DRIVER is the tv_driver executable built from tv_driver.c: it runs the
C headers on inputs this script writes and writes their outputs back (the
stream layouts are documented in tv_driver.c). Each group prints one line
with the largest difference seen and how many values matched bit for bit.
The seed comes from MRCNN_TEST_SEED or the clock and is printed first.
Exits 77 (skipped) when torch / torchvision cannot be imported.
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

try:
    import torch
    import torchvision
    from torchvision.models.detection._utils import BoxCoder
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.image_list import ImageList
    from torchvision.models.detection.roi_heads import paste_masks_in_image
    from torchvision.models.detection.transform import GeneralizedRCNNTransform, _resize_image_and_masks
    from torchvision.ops import boxes as box_ops
    from torchvision.ops.poolers import LevelMapper
except ImportError as e:  # pragma: no cover
    print(f"SKIP: torch / torchvision not available ({e})")
    sys.exit(77)

# mrcnn_pixel_format values (engine/include/mrcnn/mrcnn.h)
RGB, BGR, RGBA, BGRA, RGBX, BGRX, NV12, I420, GRAY8 = range(9)

DRIVER = sys.argv[1] if len(sys.argv) > 1 else "./tv_driver"
SEED = int(os.environ.get("MRCNN_TEST_SEED", "0") or 0) or (int(time.time() * 1000) & 0x7FFFFFFF)
rng = np.random.default_rng(SEED)
torch.set_num_threads(1)
failures = 0
print(f"tv_check: seed {SEED} (MRCNN_TEST_SEED={SEED} reproduces this run); "
      f"torch {torch.__version__}, torchvision {torchvision.__version__}")


def i32(*v):
    return np.asarray(v, dtype="<i4").tobytes()


def f32(a):
    return np.ascontiguousarray(a, dtype="<f4").tobytes()


def run(op, payload):
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "in.bin"), os.path.join(d, "out.bin")
        with open(src, "wb") as f:
            f.write(payload)
        r = subprocess.run([DRIVER, op, src, dst], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"tv_driver {op} failed: {r.stderr.strip()}")
        with open(dst, "rb") as f:
            return f.read()


class Group:
    """Accumulates the comparisons of one check group."""

    def __init__(self, name):
        self.name, self.n, self.exact, self.worst, self.bad, self.notes = name, 0, 0, 0.0, 0, []

    def values(self, got, want, atol=0.0, rtol=0.0, what=""):
        got = np.asarray(got, dtype=np.float64).ravel()
        want = np.asarray(want, dtype=np.float64).ravel()
        if got.shape != want.shape:
            self.fail(f"{what}: {got.size} values, want {want.size}")
            return
        both_nan = np.isnan(got) & np.isnan(want)
        diff = np.where(both_nan, 0.0, np.abs(got - want))
        diff = np.where(np.isnan(diff), np.inf, diff)
        tol = np.ravel(atol + rtol * np.abs(want)) if np.ndim(atol) == 0 else np.ravel(atol) + rtol * np.abs(want)
        self.n += got.size
        self.exact += int(np.sum((got == want) | both_nan))
        if got.size:
            self.worst = max(self.worst, float(diff.max()))
        over = diff > tol
        if over.any():
            i = int(np.argmax(diff - tol))
            self.fail(f"{what}: {int(over.sum())} values off, e.g. [{i}] {got[i]!r} want {want[i]!r}")

    def same(self, got, want, what=""):
        got, want = list(got), list(want)
        self.n += 1
        if got == want:
            self.exact += 1
        else:
            self.fail(f"{what}: {got[:12]} want {want[:12]}")

    def fail(self, msg):
        self.bad += 1
        if len(self.notes) < 5:
            self.notes.append(msg)

    def end(self):
        global failures
        status = "ok  " if not self.bad else "FAIL"
        print(f"  {status}  {self.name:<34} {self.n} compared, {self.exact} bit-exact, max diff {self.worst:.3g}")
        for m in self.notes:
            print(f"        {m}")
        failures += self.bad


# ------------------------------------------------------------------ interp
def check_interp():
    g = Group("F.interpolate bilinear/nearest")
    for t in range(40):
        C = [1, 3][t % 2]
        H, W = int(rng.integers(1, 60)), int(rng.integers(1, 60))
        OH, OW = int(rng.integers(1, 200)), int(rng.integers(1, 200))
        x = rng.standard_normal((C, H, W)).astype(np.float32) * 3
        for mode in ("bilinear", "nearest"):
            kw = {"align_corners": False} if mode == "bilinear" else {}
            want = torch.nn.functional.interpolate(torch.from_numpy(x)[None], size=(OH, OW), mode=mode, **kw)[0]
            out = np.frombuffer(run("interp", i32(C, H, W, OH, OW, int(mode == "nearest")) + f32(x)), "<f4")
            # bit-exact on the reference build; one rounding of slack for
            # torch builds that do not contract to FMA
            g.values(out, want.numpy(), atol=4e-7 * 3, what=f"{mode} C{C} {H}x{W}->{OH}x{OW}")
    # the mask-paste shape: (M + 2) -> box size, single channel, upscaling
    for t in range(20):
        M = int(rng.integers(2, 30))
        OH, OW = int(rng.integers(1, 400)), int(rng.integers(1, 400))
        x = rng.random((1, M + 2, M + 2)).astype(np.float32)
        want = torch.nn.functional.interpolate(torch.from_numpy(x)[None], size=(OH, OW), mode="bilinear", align_corners=False)[0]
        out = np.frombuffer(run("interp", i32(1, M + 2, M + 2, OH, OW, 0) + f32(x)), "<f4")
        g.values(out, want.numpy(), atol=1.2e-7, what=f"1ch {M + 2}->{OH}x{OW}")
    g.end()


# -------------------------------------------------------------- preprocess
def yuv_to_rgb(Y, U, V):
    """BT.601 limited range, rounded, chroma from the 2x2 block."""
    H, W = Y.shape
    u = U.repeat(2, 0).repeat(2, 1)[:H, :W].astype(np.float64) - 128
    v = V.repeat(2, 0).repeat(2, 1)[:H, :W].astype(np.float64) - 128
    y = (Y.astype(np.float64) - 16) * 255 / 219
    kr, kb = 0.299, 0.114
    kg = 1 - kr - kb
    s = 255 / 224
    r = y + 2 * (1 - kr) * s * v
    gch = y - 2 * (1 - kb) * kb / kg * s * u - 2 * (1 - kr) * kr / kg * s * v
    b = y + 2 * (1 - kb) * s * u
    return np.clip(np.floor(np.stack([r, gch, b], -1) + 0.5), 0, 255).astype(np.uint8)


def pack(rgb, fmt):
    """Returns (bytes of the planes, stride) of an RGB image in format fmt,
    and the RGB image torchvision should see."""
    H, W, _ = rgb.shape
    pad = int(rng.integers(0, 9)) * 2
    if fmt in (RGB, BGR):
        px = rgb if fmt == RGB else rgb[..., ::-1]
        stride = 3 * W + pad
    elif fmt in (RGBA, BGRA, RGBX, BGRX):
        a = rng.integers(0, 256, (H, W, 1), dtype=np.uint8)
        px = np.concatenate([rgb if fmt in (RGBA, RGBX) else rgb[..., ::-1], a], -1)
        stride = 4 * W + pad
    elif fmt == GRAY8:
        px = rgb[..., :1]
        rgb = np.repeat(px, 3, -1)
        stride = W + pad
    else:
        stride = W + pad + (W + pad) % 2
        ch, cw = (H + 1) // 2, (W + 1) // 2
        Y = rng.integers(0, 256, (H, W), dtype=np.uint8)
        U = rng.integers(0, 256, (ch, cw), dtype=np.uint8)
        V = rng.integers(0, 256, (ch, cw), dtype=np.uint8)
        yp = np.zeros((H, stride), np.uint8)
        yp[:, :W] = Y
        if fmt == NV12:
            cp = np.zeros((ch, stride), np.uint8)
            cp[:, 0:2 * cw:2] = U
            cp[:, 1:2 * cw:2] = V
            data = yp.tobytes() + cp.tobytes()
        else:
            up = np.zeros((ch, stride // 2), np.uint8)
            vp = np.zeros((ch, stride // 2), np.uint8)
            up[:, :cw] = U
            vp[:, :cw] = V
            data = yp.tobytes() + up.tobytes() + vp.tobytes()
        return data + b"\0" * 4, stride, yuv_to_rgb(Y, U, V)
    rows = np.zeros((H, stride), np.uint8)
    rows[:, :px.shape[1] * px.shape[2]] = px.reshape(H, -1)
    return rows.tobytes(), stride, rgb


def torch_refuses(fn):
    """The message of the RuntimeError torchvision raises for a frame it
    cannot resize (an output side of 0 pixels), or None when it resizes."""
    try:
        fn()
    except RuntimeError as e:
        if "sizes should be greater than 0" not in str(e):
            raise
        return str(e).splitlines()[0]
    return None


def check_preprocess():
    """Random frame sizes and min/max sizes. An extreme aspect ratio can
    resize a side to 0 pixels: torchvision raises there, and the kernel
    must give that 0 (mrcnn_pp_resized_size: the engine's callers refuse
    such a frame), so both sides refuse the same inputs."""
    g = Group("GeneralizedRCNNTransform")
    gs = Group("resized sizes")
    refused = 0
    mean = [0.485, 0.456, 0.406]
    std = [0.229, 0.224, 0.225]
    fmts = [RGB, BGR, RGBA, BGRA, RGBX, BGRX, NV12, I420, GRAY8]
    for t in range(27):
        fmt = fmts[t % len(fmts)]
        H, W = int(rng.integers(2, 70)), int(rng.integers(2, 70))
        mn = int(rng.integers(8, 120))
        mx = int(rng.integers(mn, 200))
        rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        data, stride, seen = pack(rgb, fmt)
        tr = GeneralizedRCNNTransform(mn, mx, mean, std).eval()
        img = torchvision.transforms.functional.to_tensor(seen)
        out = run("preprocess", i32(fmt, W, H, stride, mn, mx) + f32(mean) + f32(std) + data)
        ow, oh = np.frombuffer(out[:8], "<i4")
        res = {}
        with torch.no_grad():
            why = torch_refuses(lambda: res.setdefault("il", tr([img])[0]))
        if why:
            refused += 1
            gs.same([ow == 0 or oh == 0], [True], what=f"{W}x{H} min {mn} max {mx}: torchvision refuses "
                    f"({why}), the kernel gives {ow}x{oh}")
            continue
        il = res["il"]
        th, tw = il.image_sizes[0]
        want = il.tensors[0, :, :th, :tw].numpy()
        gs.same([ow, oh], [tw, th], what=f"{W}x{H} min {mn} max {mx}")
        if (ow, oh) == (tw, th):
            g.values(np.frombuffer(out[8:], "<f4"), want, atol=4e-7 * 3, what=f"fmt {fmt} {W}x{H}->{tw}x{th}")
    dims = rng.integers(2, 4000, (20000, 2))
    out = np.frombuffer(run("sizes", i32(len(dims), 800, 1333) + i32(*dims.ravel())), "<i4").reshape(-1, 2)
    for k, (W, H) in enumerate(dims.tolist()):
        # the float32 tensor arithmetic of _resize_image_and_masks, then
        # F.interpolate's floor (in * scale) in double
        mn_t = torch.tensor(float(min(H, W)), dtype=torch.float32)
        mx_t = torch.tensor(float(max(H, W)), dtype=torch.float32)
        scale = torch.min(800.0 / mn_t, 1333.0 / mx_t).item()
        want = [int(np.floor(float(W) * scale)), int(np.floor(float(H) * scale))]
        gs.same(out[k].tolist(), want, what=f"{W}x{H}")
        if k < 8:  # the formula against the real resize
            res = {}
            why = torch_refuses(lambda: res.setdefault("r", _resize_image_and_masks(torch.zeros(1, H, W), 800.0, 1333.0)[0]))
            got = [0 in want] if why else [res["r"].shape[-1], res["r"].shape[-2]]
            gs.same(got, [True] if why else want, what=f"formula {W}x{H}" + (f": torchvision refuses ({why})" if why else ""))
            refused += bool(why)
    print(f"        {refused} drawn frames resize a side to 0 pixels: both sides refuse them")
    gs.end()
    g.end()


# ----------------------------------------------------------------- anchors
def check_anchors():
    g = Group("AnchorGenerator")
    for t in range(10):
        ph = 32 * int(rng.integers(1, 30))
        pw = 32 * int(rng.integers(1, 30))
        ratios = (0.5, 1.0, 2.0) if t == 0 else tuple(float(v) for v in np.round(rng.uniform(0.2, 5, int(rng.integers(1, 4))), 3))
        sizes = ((32,), (64,), (128,), (256,), (512,)) if t < 5 else tuple((int(rng.integers(4, 700)),) for _ in range(5))
        feats = [(max(ph // s, 1), max(pw // s, 1)) for s in (4, 8, 16, 32, 64)]
        gen = AnchorGenerator(sizes, (ratios,) * 5)
        il = ImageList(torch.zeros(1, 3, ph, pw), [(ph, pw)])
        fm = [torch.zeros(1, 1, fh, fw) for fh, fw in feats]
        want = gen(il, fm)[0].numpy()
        payload = i32(5, len(ratios), ph, pw, *[v for f in feats for v in f])
        payload += f32([s[0] for s in sizes]) + f32(ratios)
        out = np.frombuffer(run("anchors", payload), "<f4")
        g.values(out, want, what=f"{pw}x{ph} sizes {sizes} ratios {ratios}")
    g.end()


# ------------------------------------------------------------------ decode
def check_decode():
    g = Group("BoxCoder.decode_single")
    gc = Group("clip_boxes_to_image")
    gk = Group("remove_small_boxes")
    for t in range(20):
        wt = (1.0, 1.0, 1.0, 1.0) if t % 2 == 0 else (10.0, 10.0, 5.0, 5.0)
        N = 3000
        iw, ih = int(rng.integers(50, 1400)), int(rng.integers(50, 1400))
        x1 = rng.uniform(-100, 1300, N)
        y1 = rng.uniform(-100, 1300, N)
        ref = np.stack([x1, y1, x1 + rng.uniform(0, 500, N), y1 + rng.uniform(0, 500, N)], 1).astype(np.float32)
        dl = (rng.standard_normal((N, 4)) * [1, 1, 2, 2] * np.array(wt)).astype(np.float32)
        dl[: N // 20, 2:] = 9.0  # beyond the clip
        min_size = 1e-3 if t % 2 == 0 else 1e-2
        coder = BoxCoder(wt)
        want = coder.decode_single(torch.from_numpy(dl), torch.from_numpy(ref))
        clipped = box_ops.clip_boxes_to_image(want, (ih, iw))
        keep = box_ops.remove_small_boxes(clipped, min_size)
        out = run("decode", i32(N, iw, ih) + f32(wt) + f32([min_size]) + f32(ref) + f32(dl))
        dec = np.frombuffer(out[: 16 * N], "<f4").reshape(N, 4)
        clp = np.frombuffer(out[16 * N: 32 * N], "<f4").reshape(N, 4)
        kp = np.nonzero(np.frombuffer(out[32 * N:], "<i4"))[0]
        # torch's vectorised exp (Sleef) and libm's expf differ by one ulp
        # for ~10% of inputs; everything else is bit-exact. The ulp lands in
        # exp (dw) * width, so the slack scales with the box's coordinates.
        wn = want.numpy()
        mag = (np.abs(wn[:, 0:1]) + np.abs(wn[:, 2:3]) + np.abs(wn[:, 1:2]) + np.abs(wn[:, 3:4]))
        tol = 2.5e-7 * np.repeat(mag, 4, 1) + 1e-6
        g.values(dec, wn, atol=tol, what=f"weights {wt}")
        gc.values(clp, clipped.numpy(), atol=tol, what="clip")
        gk.same(kp.tolist(), keep.tolist(), what=f"min {min_size}")
    g.end()
    gc.end()
    gk.end()


# --------------------------------------------------------------------- nms
def random_boxes(N, spread=400):
    cx = rng.integers(0, 6, N) * spread / 5 + rng.uniform(-25, 25, N)
    cy = rng.integers(0, 6, N) * spread / 5 + rng.uniform(-25, 25, N)
    w = rng.uniform(4, 90, N)
    h = rng.uniform(4, 90, N)
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1).astype(np.float32)


def check_nms():
    g = Group("ops.nms")
    gb = Group("ops.batched_nms (offset trick)")
    for t in range(40):
        N = int(rng.integers(1, 1000))
        boxes = random_boxes(N)
        scores = rng.permutation(N).astype(np.float32) / N  # distinct
        order = np.argsort(-scores, kind="stable")
        thr = float(rng.uniform(0.1, 0.9)) if t % 4 else [0.7, 0.5, 0.3, 1 / 3][t // 4 % 4]
        sb = boxes[order]
        want = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), thr).numpy()
        rank = np.empty(N, np.int64)
        rank[order] = np.arange(N)
        out = np.frombuffer(run("nms", i32(N, 0) + np.float64(thr).tobytes() + f32(sb)), "<i4")
        g.same(out[1:].tolist(), rank[want].tolist(), what=f"N {N} thr {thr}")
        idx = rng.integers(0, 5, N).astype(np.int64)
        wantb = torchvision.ops.batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(idx), thr).numpy()
        outb = np.frombuffer(run("nms", i32(N, 1) + np.float64(thr).tobytes() + f32(sb) + i32(*idx[order])), "<i4")
        gb.same(outb[1:].tolist(), rank[wantb].tolist(), what=f"N {N} thr {thr}")
    g.end()
    gb.end()


# ------------------------------------------------------------ tie order
def tie_arrays():
    """Arrays dominated by exact ties: few distinct values (saturated scores,
    flat regions), runs of one value, ties around the k-th value, and sizes
    on both sides of every threshold of torch's algorithms (16 for the
    insertion sort, k * 64 <= n for partial_sort, introsort's depth)."""
    sizes = [1, 2, 3, 4, 5, 15, 16, 17, 18, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129,
             255, 256, 257, 999, 1000, 1001, 1024, 2000, 4000, 4096, 5000, 12000]
    sizes += [int(x) for x in rng.integers(1, 6000, 40)]
    for n in sizes:
        kind = int(rng.integers(0, 6))
        if kind == 0:    # all equal
            v = np.ones(n, np.float32)
        elif kind == 1:  # two or three levels
            v = rng.integers(0, int(rng.integers(2, 4)), n).astype(np.float32)
        elif kind == 2:  # saturated sigmoids: many exact 1.0 among distinct values
            x = rng.normal(10, 10, n).astype(np.float32)
            v = torch.sigmoid(torch.from_numpy(x)).numpy()
        elif kind == 3:  # a few distinct values with NaN-free noise of ties
            v = np.round(rng.normal(0, 2, n)).astype(np.float32)
        elif kind == 4:  # runs (flat regions of a feature map)
            v = np.repeat(rng.normal(0, 1, n // 7 + 1), 7)[:n].astype(np.float32)
        else:            # sorted or reversed with ties
            v = np.sort(rng.integers(0, 5, n)).astype(np.float32)
            if rng.integers(0, 2):
                v = v[::-1].copy()
        ks = {1, n, max(1, n // 64), max(1, n // 64 + 1), int(rng.integers(1, n + 1)), min(n, 1000)}
        yield v, sorted(ks)


def check_tie_order():
    gt = Group("topk order of ties")
    gs = Group("sort(descending) order of ties")
    cases, want = [], []
    for v, ks in tie_arrays():
        t = torch.from_numpy(v)
        for k in ks:
            cases.append((0, v, k))
            want.append(("topk", len(v), k, t.view(1, -1).topk(k, dim=1)[1][0].numpy()))
        cases.append((1, v, len(v)))
        want.append(("sort", len(v), len(v), t.sort(descending=True)[1].numpy()))
    payload = i32(len(cases)) + b"".join(i32(m, len(v), k) + f32(v) for m, v, k in cases)
    out = np.frombuffer(run("rank", payload), "<i4")
    pos, unstable = 0, 0
    for (m, v, k), (what, n, _, w) in zip(cases, want):
        got = out[pos:pos + len(w)]
        pos += len(w)
        (gt if what == "topk" else gs).same(got.tolist(), w.tolist(), what=f"{what} n {n} k {k}")
        unstable += not np.array_equal(w, np.argsort(-v, kind="stable")[:len(w)])
    # the check proves something only where torch's order is not the stable one
    if unstable < len(cases) // 4:
        gs.fail(f"only {unstable} of {len(cases)} cases differ from a stable sort")
    print(f"        {unstable} of {len(cases)} cases order ties otherwise than a stable sort")
    gt.end()
    gs.end()


# --------------------------------------------------------------- roi_align
def check_roi_align():
    g = Group("ops.roi_align")
    gl = Group("MultiScaleRoIAlign LevelMapper")
    for t in range(60):
        C, H, W = int(rng.integers(1, 5)), int(rng.integers(1, 50)), int(rng.integers(1, 50))
        K = int(rng.integers(1, 30))
        PH, PW = [(7, 7), (14, 14), (int(rng.integers(1, 9)), int(rng.integers(1, 9)))][t % 3]
        sr = [2, 2, 0, 1, 3][t % 5]
        aligned = bool(t % 4 == 3)
        scale = [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125][t % 6]
        feat = rng.standard_normal((C, H, W)).astype(np.float32)
        ext_w, ext_h = W / scale, H / scale
        x1 = rng.uniform(-0.2 * ext_w, 1.1 * ext_w, K)
        y1 = rng.uniform(-0.2 * ext_h, 1.1 * ext_h, K)
        rois = np.stack([x1, y1, x1 + rng.uniform(0, 0.8 * ext_w, K), y1 + rng.uniform(0, 0.8 * ext_h, K)], 1).astype(np.float32)
        want = torchvision.ops.roi_align(torch.from_numpy(feat)[None], [torch.from_numpy(rois)], (PH, PW), scale, sr, aligned).numpy()
        out = np.frombuffer(run("roi_align", i32(C, H, W, K, PH, PW, sr, int(aligned)) + f32([scale]) + f32(feat) + f32(rois)), "<f4")
        g.values(out, want, atol=2e-7 * np.abs(feat).max(), what=f"{C}x{H}x{W} K {K} {PH}x{PW} sr {sr} aligned {aligned} scale {scale}")
    for t in range(5):
        K = 20000
        x1 = rng.uniform(0, 1000, K)
        y1 = rng.uniform(0, 1000, K)
        b = np.stack([x1, y1, x1 + np.exp(rng.uniform(-3, 7.5, K)), y1 + np.exp(rng.uniform(-3, 7.5, K))], 1).astype(np.float32)
        b[:50, 2] = b[:50, 0] + 224 * 2.0 ** rng.integers(-3, 3, 50)  # level boundaries
        b[:50, 3] = b[:50, 1] + (b[:50, 2] - b[:50, 0])
        want = LevelMapper(2, 5)([torch.from_numpy(b)]).numpy()
        out = np.frombuffer(run("levels", i32(K, 2, 5) + f32(b)), "<i4")
        gl.values(out, want, what="levels")
    g.end()
    gl.end()


# ------------------------------------------------------------------- paste
def check_paste():
    g = Group("paste_masks_in_image")
    for t in range(30):
        N, M = int(rng.integers(1, 6)), [28, 14, int(rng.integers(1, 40))][t % 3]
        iw, ih = int(rng.integers(1, 200)), int(rng.integers(1, 200))
        masks = rng.random((N, M, M)).astype(np.float32)
        x1 = rng.uniform(-0.3 * iw, 0.85 * iw, N)
        y1 = rng.uniform(-0.3 * ih, 0.85 * ih, N)
        # x2, y2 >= 1: torchvision fails (negative slice ends) for a box
        # wholly left of or above the frame; the engine clips boxes first
        x2 = np.maximum(x1 + rng.uniform(0, 0.9 * iw, N), 1)
        y2 = np.maximum(y1 + rng.uniform(0, 0.9 * ih, N), 1)
        boxes = np.stack([x1, y1, x2, y2], 1).astype(np.float32)
        if t % 5 == 0:
            boxes[0] = [-0.5 * iw, -0.5 * ih, 1.4 * iw, 1.4 * ih]  # larger than the frame
        want = paste_masks_in_image(torch.from_numpy(masks)[:, None], torch.from_numpy(boxes), (ih, iw))[:, 0].numpy()
        out = np.frombuffer(run("paste", i32(N, M, iw, ih) + f32(masks) + f32(boxes)), "<f4")
        g.values(out, want, atol=1.2e-7, what=f"N {N} M {M} frame {iw}x{ih}")
    g.end()


def main():
    if not os.access(DRIVER, os.X_OK):
        print(f"tv_driver not found at {DRIVER}")
        return 1
    for check in (check_interp, check_preprocess, check_anchors, check_decode, check_nms, check_tie_order, check_roi_align, check_paste):
        check()
    print("all checks passed" if not failures else f"FAILED: {failures} comparisons")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
