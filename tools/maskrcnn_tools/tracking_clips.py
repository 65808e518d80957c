"""Clips with ground-truth identities for the tracking evaluation: shapes
drawn by shapes.generate's renderer (what the shipped model was trained on)
that move, cross and hide each other, pause and speed up, encoded as VP8 in
WebM like data/shapes-640x360.webm.

    python3 -m maskrcnn_tools.tracking_clips --out DIR [--scenario crossing|count] [--seconds 10] [--seed 1]

Writes DIR/clip.webm and DIR/gt.json:

    {"width", "height", "fps", "frames", "scenario", "seed",
     "objects": [{"id", "class_id", "label"}],
     "frames_gt": [[{"id", "class_id", "box": [x, y, w, h] (visible part),
                     "visibility": visible / full area, "anchor": [x, y]}]],
     "line": {"name", "x1", "y1", "x2", "y2"} and "crossings":
             [{"id", "class_id", "frame", "direction": "to-left"|"to-right"}]}

Scenarios:
- crossing: movers on straight lines that bounce off the frame's edges,
  pause now and then and speed up, so that paths cross and shapes pass in
  front of each other (drawn in a fixed order: the later on top);
- count: shapes crossing a vertical line down the middle of the frame, some
  back again, one pausing on the line (its anchor jittering across it with
  the detector), with the crossings written down from the exact paths.

The anchor is the bottom centre of the shape's full (unoccluded) box, as
maskrcnncount's default. Uses numpy and PIL; gst-launch-1.0 encodes.
"""

import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np

from .shapes import generate as G
from .shapes import make_clip


class Mover:
    """A shape on a piecewise path: a sequence of (frames, vx, vy) legs in
    pixels per frame; bounces off the frame's edges unless `free`."""

    def __init__(self, oid, kind, size, x, y, legs, colour, bounce=True):
        self.id = oid
        self.kind = kind
        self.size = size
        self.x, self.y = x, y
        self.legs = legs
        self.colour = colour
        self.bounce = bounce
        self.angle = 0.0
        self.spin = 0.0

    def velocity(self, f):
        t = 0
        for n, vx, vy in self.legs:
            if f < t + n:
                return vx, vy
            t += n
        return self.legs[-1][1], self.legs[-1][2]

    def step(self, f, width, height):
        vx, vy = self.velocity(f)
        self.x += vx
        self.y += vy
        self.angle += self.spin
        if self.bounce:
            r = self.size / 2
            flip_x = (self.x < r and vx < 0) or (self.x > width - r and vx > 0)
            flip_y = (self.y < r and vy < 0) or (self.y > height - r and vy > 0)
            if flip_x or flip_y:
                self.legs = [(n, -a if flip_x else a, -b if flip_y else b) for n, a, b in self.legs]

    def shape(self):
        return G.make_shape(self.kind, self.x, self.y, self.size, self.angle)


def crossing_scene(rng, width, height, frames):
    kinds = ["circle", "square", "triangle"]
    movers = []
    n = int(rng.integers(6, 9))
    for i in range(n):
        kind = kinds[i % 3]
        size = float(rng.uniform(40, 85))
        x = float(rng.uniform(size, width - size))
        y = float(rng.uniform(size, height - size))
        speed = float(rng.uniform(1.5, 4.5))
        a = float(rng.uniform(0, 2 * math.pi))
        vx, vy = speed * math.cos(a), speed * math.sin(a)
        legs, t = [], 0
        while t < frames:
            n_f = int(rng.integers(20, 60))
            r = rng.random()
            if r < 0.2:
                legs.append((n_f, 0.0, 0.0))  # pause
            elif r < 0.4:
                legs.append((n_f, 2.0 * vx, 2.0 * vy))  # speed up
            else:
                legs.append((n_f, vx, vy))
            t += n_f
        m = Mover(i + 1, kind, size, x, y, legs, None)
        if kind != "circle":
            m.spin = float(rng.uniform(-0.03, 0.03))
            m.angle = float(rng.uniform(0, 2 * math.pi))
        movers.append(m)
    return movers, None


def count_scene(rng, width, height, frames):
    """Shapes crossing x = width / 2 at different heights; every path's
    crossings are in the ground truth."""
    kinds = ["circle", "square", "triangle"]
    movers = []
    lanes = np.linspace(0.15, 0.85, 6) * height
    for i, y in enumerate(lanes):
        kind = kinds[i % 3]
        size = float(rng.uniform(40, 60))
        speed = float(rng.uniform(2.0, 4.0))
        left = i % 2 == 0
        x = size if left else width - size
        vx = speed if left else -speed
        dist = width / 2 - x
        to_line = int(abs(dist / vx))
        if i == 1:
            # pauses with its anchor on the line, then goes on
            legs = [(to_line, vx, 0.0), (45, 0.0, 0.0), (frames, vx, 0.0)]
        elif i == 2:
            # crosses, turns back and crosses again
            legs = [(to_line + 30, vx, 0.0), (frames, -vx, 0.0)]
        else:
            legs = [(frames, vx, 0.0)]
        movers.append(Mover(i + 1, kind, size, x, float(y), legs, None, bounce=False))
    line = {"name": "door", "x1": width / 2, "y1": 0.05 * height, "x2": width / 2, "y2": 0.95 * height}
    return movers, line


def render(movers, line, width, height, frames, rng):
    bg = None
    while bg is None:
        cand, kind = G.background(rng, height, width)
        if kind in ("gradient", "noise"):
            bg = cand
    for m in movers:
        m.colour = G.pick_colour(rng, bg, (0, 0, width, height), 0.5)
    gt_frames, crossings = [], []
    side = {}
    for f in range(frames):
        img = bg.copy()
        drawn = []
        for m in movers:
            drawn.append(G.paint(img, m.shape(), m.colour))
        visible = [d.copy() if d is not None else None for d in drawn]
        for i in range(len(visible)):
            if visible[i] is None:
                continue
            for j in range(i + 1, len(drawn)):
                if drawn[j] is not None:
                    visible[i] &= ~drawn[j]
        objs = []
        for m, full, vis in zip(movers, drawn, visible):
            if full is None or full.sum() < 16:
                continue
            ys, xs = np.nonzero(full)
            fx0, fy0, fx1, fy1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
            anchor = [float((fx0 + fx1) / 2), float(fy1)]
            entry = {"id": m.id, "class_id": G.CLASSES.index(m.kind) + 1,
                     "visibility": float(vis.sum() / full.sum()), "anchor": anchor,
                     "box": None}
            if vis.sum() > 0:
                vy, vx = np.nonzero(vis)
                entry["box"] = [int(vx.min()), int(vy.min()), int(vx.max() + 1 - vx.min()),
                                int(vy.max() + 1 - vy.min())]
            objs.append(entry)
            if line is not None:
                d = anchor[0] - line["x1"]
                s = 1 if d > 0 else -1 if d < 0 else 0
                prev = side.get(m.id)
                if s and prev and s != prev and line["y1"] <= anchor[1] <= line["y2"]:
                    # facing down the line (+y), +x is on its left
                    crossings.append({"id": m.id, "class_id": entry["class_id"], "frame": f,
                                      "direction": "to-left" if s > 0 else "to-right"})
                if s:
                    side[m.id] = s
        gt_frames.append(objs)
        noise = rng.normal(0, 1.5, img.shape).astype(np.float32) / 255.0
        yield np.clip(np.round((img + noise) * 255), 0, 255).astype(np.uint8), gt_frames, crossings
        for m in movers:
            m.step(f, width, height)


def write_clip(out_dir, scenario="crossing", seconds=10.0, fps=30, seed=1, width=640, height=360):
    """Renders the clip and its ground truth into out_dir; returns the gt
    dictionary."""
    os.makedirs(out_dir, exist_ok=True)
    frames = int(round(seconds * fps))
    rng = np.random.default_rng([int(seed), 1 if scenario == "crossing" else 2])
    scene = crossing_scene if scenario == "crossing" else count_scene
    movers, line = scene(rng, width, height, frames)
    clip = os.path.join(out_dir, "clip.webm")
    pipeline = make_clip.encoder_command(clip, width, height, fps)
    proc = subprocess.Popen(pipeline, stdin=subprocess.PIPE)
    gt_frames, crossings = [], []
    try:
        for img, gt_frames, crossings in render(movers, line, width, height, frames, rng):
            proc.stdin.write(img.tobytes())
    finally:
        proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("gst-launch-1.0 could not encode %s" % clip)
    gt = {"width": width, "height": height, "fps": fps, "frames": frames, "scenario": scenario,
          "seed": seed,
          "objects": [{"id": m.id, "class_id": G.CLASSES.index(m.kind) + 1, "label": m.kind}
                      for m in movers],
          "frames_gt": gt_frames}
    if line is not None:
        gt["line"] = line
        gt["crossings"] = crossings
    with open(os.path.join(out_dir, "gt.json"), "w") as f:
        json.dump(gt, f)
    return gt


def main(argv):
    p = argparse.ArgumentParser(prog="python3 -m " + __spec__.name, description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output directory (clip.webm, gt.json)")
    p.add_argument("--scenario", choices=["crossing", "count"], default="crossing")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    gt = write_clip(a.out, a.scenario, a.seconds, a.fps, a.seed)
    print("wrote %s/clip.webm: %d frames, %d objects%s" % (
        a.out, gt["frames"], len(gt["objects"]),
        ", %d crossings" % len(gt["crossings"]) if "crossings" in gt else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
