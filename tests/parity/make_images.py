#!/usr/bin/python3
"""Writes the deterministic parity-test images (RGB PNG) into a directory.

Sizes cover landscape, portrait, a wide strip (downscaled by max_size), odd
sizes and a small image that the transform upscales. Content: smooth
gradients, overlapping filled shapes, stripes and pixel noise, so that the
network's features vary across the frame.

With --photos, writes instead the photographs of tests/parity/photos/
(decoded once by PIL, so that both sides read the same pixels).

usage: make_images.py OUTDIR [--photos] [--list]
"""

import argparse
import os
import sys

import numpy as np
from PIL import Image

# name, width, height, seed
IMAGES = [
    ("landscape_640x480", 640, 480, 1),
    ("portrait_480x640", 480, 640, 2),
    ("wide_1000x300", 1000, 300, 3),
    ("odd_333x517", 333, 517, 4),
    ("small_200x150", 200, 150, 5),
]


def render(width, height, seed):
    rs = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.empty((height, width, 3))
    for c in range(3):
        fx, fy, ph = rs.uniform(-2, 2), rs.uniform(-2, 2), rs.uniform(0, 2 * np.pi)
        img[..., c] = 0.5 + 0.3 * np.sin(fx * xx / width * np.pi + fy * yy / height * np.pi + ph)
    diag = max(width, height)
    for _ in range(10 + rs.randint(8)):
        col = rs.uniform(0, 1, 3)
        cx, cy = rs.uniform(0, width), rs.uniform(0, height)
        rx, ry = rs.uniform(0.03, 0.25) * diag, rs.uniform(0.03, 0.25) * diag
        kind = rs.randint(4)
        if kind == 0:
            m = (np.abs(xx - cx) < rx) & (np.abs(yy - cy) < ry)
        elif kind == 1:
            m = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 < 1
        elif kind == 2:  # triangle
            m = (yy > cy - ry) & (np.abs(xx - cx) < (yy - (cy - ry)) * rx / (2 * ry)) & (yy < cy + ry)
        else:  # ring
            r = np.hypot((xx - cx) / rx, (yy - cy) / ry)
            m = (r < 1) & (r > 0.6)
        alpha = rs.uniform(0.6, 1.0)
        img[m] = (1 - alpha) * img[m] + alpha * col
    # a patch of stripes: high frequencies for the first convolutions
    sx, sy = rs.randint(0, max(1, width - width // 4)), rs.randint(0, max(1, height - height // 4))
    sw, sh = width // 4, height // 4
    stripes = 0.5 + 0.5 * np.sign(np.sin(xx[sy:sy + sh, sx:sx + sw] / 3.0))
    img[sy:sy + sh, sx:sx + sw, 1] = 0.5 * img[sy:sy + sh, sx:sx + sw, 1] + 0.5 * stripes
    img += rs.normal(0, 0.03, img.shape)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("outdir")
    p.add_argument("--list", action="store_true", help="print the file names written")
    p.add_argument("--photos", action="store_true", help="the photographs instead of the synthetic images")
    a = p.parse_args(argv)
    os.makedirs(a.outdir, exist_ok=True)
    if a.photos:
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "photos")
        for f in sorted(os.listdir(src)):
            if not f.endswith(".jpg"):
                continue
            path = os.path.join(a.outdir, f[:-4] + ".png")
            with Image.open(os.path.join(src, f)) as im:
                im.convert("RGB").save(path, optimize=False)
            if a.list:
                print(path)
        return 0
    for name, w, h, seed in IMAGES:
        path = os.path.join(a.outdir, name + ".png")
        Image.fromarray(render(w, h, seed), "RGB").save(path, optimize=False)
        if a.list:
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
