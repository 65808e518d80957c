"""Synthetic "shapes" data for gst-maskrcnn's default model.

Images of circles, squares and triangles with COCO-format ground truth (boxes
and compressed-RLE masks of the *visible* part of each instance). What varies,
and why: real footage varies in object size (12..300 px at the model's input
scale), rotation, colour and contrast, background (flat, gradient, smooth
noise, texture), overlap and occlusion, edge sharpness (anti-aliased
rendering, blur), sensor noise, compression artefacts (a JPEG round trip) and
frame size (320x240 .. 1280x720).

Every image is a pure function of (seed, index): image i of seed s is the same
whatever else is generated, so a training run can resume and the held-out set
(a different seed) never overlaps the training stream.

    python3 -m maskrcnn_tools.shapes.generate --out DIR --count N --seed S   # DIR/images/*.png + DIR/annotations.json

Uses numpy and PIL only (Debian's python3-numpy, python3-pil).
"""

import argparse
import io
import json
import math
import os
import sys

import numpy as np
from PIL import Image, ImageFilter

from .. import rle

LABELS = ["__background__", "circle", "square", "triangle"]
CLASSES = LABELS[1:]

# The model resizes every frame so that its shorter side is MODEL_MIN_SIZE
# (and the longer at most MODEL_MAX_SIZE); object sizes are drawn at that
# scale so that a 1280x720 frame does not carry 6-pixel objects.
MODEL_MIN_SIZE = 360
MODEL_MAX_SIZE = 640
OBJ_MIN, OBJ_MAX = 12.0, 300.0

FRAME_SIZES = [(320, 240), (400, 300), (480, 360), (640, 360), (640, 480), (800, 450), (800, 600),
               (960, 540), (1024, 576), (1280, 720)]
TRAIN_FRAME_SIZES = [(320, 240), (400, 300), (480, 360), (640, 360), (640, 480)]


def image_rng(seed, index):
    """The generator of image `index` of stream `seed`."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index)]))


def model_scale(width, height):
    """Factor the model's transform resizes a width x height frame by."""
    return min(MODEL_MIN_SIZE / min(width, height), MODEL_MAX_SIZE / max(width, height))


# ------------------------------------------------------------------ geometry

def shape_vertices(kind, cx, cy, size, angle, rng=None, jitter=0.0):
    """Vertices (CCW in image coordinates, y down) of a square or triangle.

    size is the side length; triangles are equilateral, optionally with their
    vertices moved by up to `jitter` x side so not every triangle is perfect.
    """
    if kind == "square":
        r = size / math.sqrt(2.0)
        base = [math.pi / 4 + k * math.pi / 2 for k in range(4)]
    else:
        r = size / math.sqrt(3.0)
        base = [-math.pi / 2 + k * 2 * math.pi / 3 for k in range(3)]
    pts = []
    for b in base:
        a = b + angle
        x, y = cx + r * math.cos(a), cy + r * math.sin(a)
        if jitter and rng is not None:
            x += rng.uniform(-jitter, jitter) * size
            y += rng.uniform(-jitter, jitter) * size
        pts.append((x, y))
    # make the order counter-clockwise in a y-up sense (area > 0 with y down => clockwise on screen)
    area = sum(pts[i][0] * pts[(i + 1) % len(pts)][1] - pts[(i + 1) % len(pts)][0] * pts[i][1]
               for i in range(len(pts)))
    if area < 0:
        pts.reverse()
    return pts


def signed_distance(shape, xx, yy):
    """Signed distance (px, negative inside) of pixel centres to a shape's edge.

    Exact for circles; for convex polygons the maximum of the edge-line
    distances, exact inside and along edges, slightly rounded outside corners
    (within the one-pixel anti-aliasing ramp this does not show).
    """
    if shape["kind"] == "circle":
        return np.hypot(xx - shape["cx"], yy - shape["cy"]) - shape["size"] / 2.0
    pts = shape["pts"]
    sd = None
    n = len(pts)
    for i in range(n):
        x0, y0 = pts[i]
        x1, y1 = pts[(i + 1) % n]
        ex, ey = x1 - x0, y1 - y0
        ln = math.hypot(ex, ey) or 1.0
        # outward normal for a polygon with positive shoelace area in (x, y-down) coordinates
        nx, ny = ey / ln, -ex / ln
        d = (xx - x0) * nx + (yy - y0) * ny
        sd = d if sd is None else np.maximum(sd, d)
    return sd


def shape_extent(shape):
    """Integer pixel window [x0, x1) x [y0, y1) that holds the shape plus its AA ramp."""
    if shape["kind"] == "circle":
        r = shape["size"] / 2.0
        xs, ys = (shape["cx"] - r, shape["cx"] + r), (shape["cy"] - r, shape["cy"] + r)
    else:
        xs = [p[0] for p in shape["pts"]]
        ys = [p[1] for p in shape["pts"]]
    return (int(math.floor(min(xs))) - 2, int(math.floor(min(ys))) - 2,
            int(math.ceil(max(xs))) + 3, int(math.ceil(max(ys))) + 3)


def make_shape(kind, cx, cy, size, angle, rng=None, jitter=0.0):
    s = {"kind": kind, "cx": float(cx), "cy": float(cy), "size": float(size), "angle": float(angle)}
    if kind != "circle":
        s["pts"] = shape_vertices(kind, cx, cy, size, angle, rng, jitter)
    return s


def rasterize(shape, width, height):
    """(window, coverage) of a shape: coverage in 0..1 over the clipped window
    (x0, y0, x1, y1), or (None, None) when it lies outside the frame."""
    x0, y0, x1, y1 = shape_extent(shape)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x0 >= x1 or y0 >= y1:
        return None, None
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    sd = signed_distance(shape, xx + 0.5, yy + 0.5)
    cov = np.clip(0.5 - sd, 0.0, 1.0).astype(np.float32)
    return (x0, y0, x1, y1), cov


def paint(img, shape, colour):
    """Draws a shape in a flat colour onto a float HxWx3 image in place;
    returns its full-frame mask (coverage >= 0.5, bool), or None when it
    lies outside the frame."""
    height, width = img.shape[:2]
    window, cov = rasterize(shape, width, height)
    if window is None:
        return None
    x0, y0, x1, y1 = window
    a = cov[..., None]
    img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - a) + colour[None, None] * a
    full = np.zeros((height, width), bool)
    full[y0:y1, x0:x1] = cov >= 0.5
    return full


# ------------------------------------------------------------------ backgrounds and fills

def smooth_noise(rng, height, width, cell):
    """Value noise: a coarse random grid upsampled bicubically (0..1)."""
    gh, gw = max(2, int(height / cell) + 2), max(2, int(width / cell) + 2)
    g = (rng.random((gh, gw)) * 255).astype(np.uint8)
    im = Image.fromarray(g).resize((width, height), Image.BICUBIC)
    return np.asarray(im, dtype=np.float32) / 255.0


def random_colour(rng):
    return rng.random(3).astype(np.float32)


def background(rng, height, width):
    """An HxWx3 float image in 0..1 and the name of its kind."""
    kind = rng.choice(["flat", "gradient", "noise", "texture"], p=[0.2, 0.3, 0.25, 0.25])
    c0, c1 = random_colour(rng), random_colour(rng)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == "flat":
        img = np.broadcast_to(c0, (height, width, 3)).copy()
    elif kind == "gradient":
        a = rng.uniform(0, 2 * math.pi)
        t = (xx * math.cos(a) + yy * math.sin(a))
        t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
        img = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    elif kind == "noise":
        n = smooth_noise(rng, height, width, rng.uniform(8, 120))
        amp = rng.uniform(0.3, 1.0)
        t = 0.5 + (n - 0.5) * amp
        img = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
        if rng.random() < 0.5:  # colour noise on top: each channel its own field
            for c in range(3):
                img[..., c] += (smooth_noise(rng, height, width, rng.uniform(4, 40)) - 0.5) * rng.uniform(0.05, 0.25)
    else:
        sub = rng.choice(["stripes", "plaid", "checker", "wood"])
        a = rng.uniform(0, math.pi)
        u = xx * math.cos(a) + yy * math.sin(a)
        v = -xx * math.sin(a) + yy * math.cos(a)
        period = rng.uniform(4, 40)
        if sub == "stripes":
            t = 0.5 + 0.5 * np.sin(2 * math.pi * u / period)
            if rng.random() < 0.5:
                t = (t > 0.5).astype(np.float32)
        elif sub == "plaid":
            p2 = rng.uniform(4, 40)
            t = 0.25 * (2 + np.sin(2 * math.pi * u / period) + np.sin(2 * math.pi * v / p2))
        elif sub == "checker":
            # small cells only: large checker cells would be squares without labels
            period = rng.uniform(3, 9)
            t = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
        else:
            n = smooth_noise(rng, height, width, rng.uniform(30, 150))
            t = 0.5 + 0.5 * np.sin(2 * math.pi * (u / period + 4 * n))
        contrast = rng.uniform(0.15, 0.8)
        t = 0.5 + (t - 0.5) * contrast
        img = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    return np.clip(img, 0, 1).astype(np.float32), str(kind)


def fill(rng, colour, window, height, width):
    """The paint of a shape over its window: flat, a gradient (shading) or
    faintly textured."""
    x0, y0, x1, y1 = window
    h, w = y1 - y0, x1 - x0
    kind = rng.choice(["flat", "gradient", "texture"], p=[0.65, 0.25, 0.10])
    if kind == "flat":
        return np.broadcast_to(colour, (h, w, 3))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "gradient":
        a = rng.uniform(0, 2 * math.pi)
        t = xx * math.cos(a) + yy * math.sin(a)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
        k = rng.uniform(0.5, 1.0)
        shade = k + (1 - k) * t
        return np.clip(colour[None, None] * shade[..., None], 0, 1)
    n = smooth_noise(rng, h, w, rng.uniform(2, 10))
    return np.clip(colour[None, None] * (0.85 + 0.3 * n[..., None]), 0, 1)


# ------------------------------------------------------------------ scenes

def pick_colour(rng, bg, window, min_contrast):
    """A shape colour that differs from the background under the window by at
    least min_contrast (Euclidean RGB distance, 0..1 channels)."""
    x0, y0, x1, y1 = window
    mean = bg[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0)
    best, best_d = None, -1.0
    for _ in range(30):
        c = random_colour(rng)
        d = float(np.linalg.norm(c - mean))
        if d >= min_contrast:
            return c
        if d > best_d:
            best, best_d = c, d
    return best


def sample_size(rng, width, height):
    """Side/diameter in frame pixels: log-uniform in 12..300 px at model scale."""
    s = model_scale(width, height)
    lo = OBJ_MIN / s
    hi = min(OBJ_MAX / s, 0.8 * min(width, height))
    u = rng.random()
    # a little more weight on small and mid sizes, which are the hard ones
    return float(math.exp(math.log(lo) + (u ** 1.3) * (math.log(hi) - math.log(lo))))


def render_scene(rng, width, height, max_objects=None, min_visible=0.45):
    """Draws one frame. Returns (uint8 HxWx3 image, instances, info) where each
    instance has "category_id", "mask" (HxW bool, visible part), "bbox"
    ([x, y, w, h] of the visible part), "area" and "shape" (geometry)."""
    bg, bg_kind = background(rng, height, width)
    img = bg.copy()
    area_scale = (width * height) / (640.0 * 360.0)
    if max_objects is None:
        max_objects = int(np.clip(round(8 * math.sqrt(area_scale)), 4, 12))
    n_obj = int(rng.integers(1, max_objects + 1))
    instances = []
    cover = np.zeros((height, width), np.float32)  # coverage of everything drawn so far
    for _ in range(n_obj):
        for _attempt in range(15):
            kind = CLASSES[int(rng.integers(len(CLASSES)))]
            size = sample_size(rng, width, height)
            # centres may leave a shape partly outside the frame (truncation), but mostly inside
            margin = -0.25 * size if rng.random() < 0.15 else 0.5 * size
            lo_x, hi_x = margin, width - margin
            lo_y, hi_y = margin, height - margin
            if hi_x <= lo_x or hi_y <= lo_y:
                continue
            cx, cy = rng.uniform(lo_x, hi_x), rng.uniform(lo_y, hi_y)
            angle = rng.uniform(0, 2 * math.pi)
            jitter = rng.uniform(0, 0.08) if kind == "triangle" else 0.0
            shape = make_shape(kind, cx, cy, size, angle, rng, jitter)
            window, cov = rasterize(shape, width, height)
            if window is None:
                continue
            x0, y0, x1, y1 = window
            own = cov >= 0.5
            full_area = int(own.sum())
            if full_area < 0.6 * (size * size * (0.43 if kind == "triangle" else 0.78 if kind == "circle" else 1.0)):
                continue  # mostly outside the frame
            # what this shape would leave visible of those below it
            ok = True
            for inst in instances:
                m = inst["mask"][y0:y1, x0:x1]
                hidden = int((m & own).sum())
                if hidden and inst["area"] - hidden < min_visible * inst["full_area"]:
                    ok = False
                    break
            if ok:
                break
        else:
            continue
        for inst in instances:
            sub = inst["mask"][y0:y1, x0:x1]
            hidden = sub & own
            if hidden.any():
                sub[hidden] = False
                inst["area"] = int(inst["mask"].sum())
        contrast = rng.uniform(0.12, 0.35) if rng.random() < 0.25 else rng.uniform(0.35, 1.0)
        colour = pick_colour(rng, img, window, contrast)
        paint = fill(rng, colour, window, height, width)
        a = cov[..., None]
        img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - a) + paint * a
        cover[y0:y1, x0:x1] = np.maximum(cover[y0:y1, x0:x1], cov)
        mask = np.zeros((height, width), bool)
        mask[y0:y1, x0:x1] = own
        instances.append({"category_id": CLASSES.index(kind) + 1, "mask": mask, "area": full_area,
                          "full_area": full_area, "shape": shape})
    out = []
    for inst in instances:
        if inst["area"] < 4:
            continue
        ys, xs = np.nonzero(inst["mask"])
        x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
        inst["bbox"] = [x0, y0, x1 - x0, y1 - y0]
        out.append(inst)
    info = {"background": bg_kind}
    return degrade(rng, img, info), out, info


def degrade(rng, img, info):
    """Camera and codec: blur, sensor noise, JPEG round trip. Returns uint8."""
    u8 = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
    pil = Image.fromarray(u8)
    if rng.random() < 0.5:
        sigma = float(rng.uniform(0.3, 1.6))
        pil = pil.filter(ImageFilter.GaussianBlur(sigma))
        info["blur"] = round(sigma, 2)
    arr = np.asarray(pil, dtype=np.float32)
    if rng.random() < 0.6:
        sigma = float(rng.uniform(1.0, 10.0))
        arr = arr + rng.normal(0.0, sigma, arr.shape).astype(np.float32)
        info["noise"] = round(sigma, 2)
    u8 = np.clip(np.round(arr), 0, 255).astype(np.uint8)
    if rng.random() < 0.6:
        q = int(rng.integers(25, 96))
        buf = io.BytesIO()
        Image.fromarray(u8).save(buf, format="JPEG", quality=q)
        buf.seek(0)
        u8 = np.asarray(Image.open(buf).convert("RGB"))
        info["jpeg_quality"] = q
    return u8


def sample(seed, index, frame_sizes=FRAME_SIZES):
    """Image `index` of stream `seed`: (image, instances, info)."""
    rng = image_rng(seed, index)
    width, height = frame_sizes[int(rng.integers(len(frame_sizes)))]
    if rng.random() < 0.5 and (width, height) not in ((320, 240), (1280, 720)):
        # in-between sizes too, within 320x240 .. 1280x720
        width = int(np.clip(round(width * rng.uniform(0.9, 1.1) / 2) * 2, 320, 1280))
        height = int(np.clip(round(height * rng.uniform(0.9, 1.1) / 2) * 2, 240, 720))
    return render_scene(rng, width, height)


# ------------------------------------------------------------------ COCO

def coco_categories():
    return [{"id": i, "name": n, "supercategory": "shape"} for i, n in enumerate(LABELS) if i]


def write_dataset(out_dir, count, seed, start=0, frame_sizes=FRAME_SIZES, log=None):
    """Writes out_dir/images/NNNNNN.png and out_dir/annotations.json (COCO)."""
    img_dir = os.path.join(out_dir, "images")
    os.makedirs(img_dir, exist_ok=True)
    images, anns = [], []
    for k in range(count):
        idx = start + k
        img, inst, info = sample(seed, idx, frame_sizes)
        name = "%06d.png" % idx
        Image.fromarray(img).save(os.path.join(img_dir, name), compress_level=1)
        image_id = k + 1
        images.append({"id": image_id, "file_name": "images/" + name, "width": img.shape[1],
                       "height": img.shape[0], "seed": seed, "index": idx, "render": info})
        for it in inst:
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": it["category_id"],
                         "bbox": [float(v) for v in it["bbox"]], "area": float(it["mask"].sum()),
                         "iscrowd": 0, "segmentation": rle.encode(it["mask"])})
        if log and (k + 1) % 50 == 0:
            log("%d/%d images" % (k + 1, count))
    coco = {"info": {"description": "gst-maskrcnn synthetic shapes", "seed": seed, "start": start,
                     "count": count},
            "images": images, "annotations": anns, "categories": coco_categories()}
    with open(os.path.join(out_dir, "annotations.json"), "w") as f:
        json.dump(coco, f)
    return coco


def main(argv):
    p = argparse.ArgumentParser(
        prog="python3 -m " + __spec__.name, description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output directory (images/ and annotations.json)")
    p.add_argument("--count", type=int, default=300, help="number of images (default 300)")
    p.add_argument("--seed", type=int, default=2, help="stream seed (training uses 1; default 2, held out)")
    p.add_argument("--start", type=int, default=0, help="index of the first image in the stream")
    p.add_argument("--train-sizes", action="store_true", help="frame sizes of training (320x240..640x480)")
    a = p.parse_args(argv)
    sizes = TRAIN_FRAME_SIZES if a.train_sizes else FRAME_SIZES
    coco = write_dataset(a.out, a.count, a.seed, a.start, sizes, log=lambda m: print(m, flush=True))
    print("wrote %d images, %d instances to %s" % (len(coco["images"]), len(coco["annotations"]), a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
