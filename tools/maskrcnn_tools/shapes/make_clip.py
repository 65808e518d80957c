"""Renders the sample clip data/shapes-640x360.webm: moving, rotating,
overlapping shapes drawn by shapes.generate's renderer, encoded as VP8 in WebM.

    python3 -m maskrcnn_tools.shapes.make_clip [--out data/shapes-640x360.webm] [--seconds 10] [--fps 30] [--seed 7]

Frames are piped as raw RGB into gst-launch-1.0 (rawvideoparse, videoconvert,
vp8enc, webmmux: gstreamer1.0-tools, -plugins-base and -plugins-good), so
any Debian GStreamer decodes the result with no extra plugins. With --gt the
per-frame ground truth (COCO, visible masks) is written next to the clip.
"""

import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np

from .. import rle
from . import generate as G

# the source tree (tools/maskrcnn_tools/shapes/ -> ../../..)
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))


class Mover:
    """One shape moving on a straight line, bouncing off the frame's edges,
    spinning at a constant rate and breathing slowly in size."""

    def __init__(self, rng, kind, width, height):
        self.kind = kind
        self.base = float(rng.uniform(28, 130))
        self.x = float(rng.uniform(self.base, width - self.base))
        self.y = float(rng.uniform(self.base / 2, height - self.base / 2))
        speed = rng.uniform(40, 160)  # px per second
        a = rng.uniform(0, 2 * math.pi)
        self.vx, self.vy = speed * math.cos(a), speed * math.sin(a)
        self.angle = float(rng.uniform(0, 2 * math.pi))
        self.spin = float(rng.uniform(-1.5, 1.5)) if kind != "circle" else 0.0  # rad per second
        self.pulse = float(rng.uniform(0.0, 0.25))
        self.phase = float(rng.uniform(0, 2 * math.pi))
        self.colour = G.random_colour(rng)
        self.width, self.height = width, height

    def size(self, t):
        return self.base * (1 + self.pulse * math.sin(0.8 * t + self.phase))

    def step(self, dt, t):
        self.x += self.vx * dt
        self.y += self.vy * dt
        r = self.size(t) / 2
        if self.x < r and self.vx < 0 or self.x > self.width - r and self.vx > 0:
            self.vx = -self.vx
        if self.y < r and self.vy < 0 or self.y > self.height - r and self.vy > 0:
            self.vy = -self.vy
        self.angle += self.spin * dt

    def shape(self, t):
        return G.make_shape(self.kind, self.x, self.y, self.size(t), self.angle)


def encoder_command(out, width, height, fps, bitrate_kbit=1500):
    """gst-launch-1.0 reading raw RGB frames on its standard input and
    writing them to `out` as VP8 in WebM."""
    return ["gst-launch-1.0", "-q", "fdsrc", "fd=0", "blocksize=%d" % (width * height * 3), "!",
            "rawvideoparse", "width=%d" % width, "height=%d" % height, "format=rgb",
            "framerate=%d/1" % fps, "!", "videoconvert", "!", "video/x-raw,format=I420", "!",
            "vp8enc", "target-bitrate=%d" % (bitrate_kbit * 1000), "keyframe-max-dist=%d" % (2 * fps),
            "deadline=0", "cpu-used=4", "threads=2", "!", "webmmux", "!", "filesink", "location=" + out]


def render_frames(width, height, frames, fps, seed, ground_truth=None):
    rng = np.random.default_rng(seed)
    bg = None
    while bg is None:
        cand, kind = G.background(rng, height, width)
        if kind in ("gradient", "noise"):  # a calm background keeps the clip small and readable
            bg = cand
    kinds = ["circle", "square", "triangle"] * 3
    movers = [Mover(rng, k, width, height) for k in kinds[:8]]
    for m in movers:  # keep shapes visible against the background
        m.colour = G.pick_colour(rng, bg, (0, 0, width, height), 0.5)
    for f in range(frames):
        t = f / float(fps)
        img = bg.copy()
        masks = []
        for m in movers:
            full = G.paint(img, m.shape(t), m.colour)
            if full is None:
                masks.append(None)
                continue
            if ground_truth is not None:
                for prev in masks:
                    if prev is not None:
                        prev &= ~full
                masks.append(full)
        if ground_truth is not None:
            ground_truth.append([(G.CLASSES.index(m.kind) + 1, mk) for m, mk in zip(movers, masks)
                                 if mk is not None and mk.sum() >= 4])
        noise = rng.normal(0, 1.5, img.shape).astype(np.float32) / 255.0
        yield np.clip(np.round((img + noise) * 255), 0, 255).astype(np.uint8)
        for m in movers:
            m.step(1.0 / fps, t)


def main(argv):
    p = argparse.ArgumentParser(
        prog="python3 -m " + __spec__.name, description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join(ROOT, "data", "shapes-640x360.webm"))
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--bitrate", type=int, default=1500, help="VP8 target bitrate, kbit/s (default 1500)")
    p.add_argument("--gt", action="store_true", help="also write OUT.json with per-frame COCO ground truth")
    a = p.parse_args(argv)
    frames = int(round(a.seconds * a.fps))
    pipeline = encoder_command(a.out, a.width, a.height, a.fps, a.bitrate)
    gt = [] if a.gt else None
    proc = subprocess.Popen(pipeline, stdin=subprocess.PIPE)
    try:
        for frame in render_frames(a.width, a.height, frames, a.fps, a.seed, gt):
            proc.stdin.write(frame.tobytes())
    finally:
        proc.stdin.close()
    rc = proc.wait()
    if rc != 0:
        print("make_clip: gst-launch-1.0 failed (%d)" % rc, file=sys.stderr)
        return 1
    if gt is not None:
        images, anns = [], []
        for i, inst in enumerate(gt):
            images.append({"id": i + 1, "file_name": "frame-%05d" % i, "width": a.width, "height": a.height})
            for cid, mk in inst:
                ys, xs = np.nonzero(mk)
                anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": cid, "iscrowd": 0,
                             "area": float(mk.sum()),
                             "bbox": [float(xs.min()), float(ys.min()), float(xs.max() + 1 - xs.min()),
                                      float(ys.max() + 1 - ys.min())],
                             "segmentation": rle.encode(mk)})
        with open(os.path.splitext(a.out)[0] + ".json", "w") as f:
            json.dump({"images": images, "annotations": anns, "categories": G.coco_categories()}, f)
    print("wrote %s: %d frames %dx%d at %d fps, %.2f MB" % (
        a.out, frames, a.width, a.height, a.fps, os.path.getsize(a.out) / 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
