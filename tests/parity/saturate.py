#!/usr/bin/python3
"""Scales a model's score logits so that its scores saturate and tie exactly.

A sigmoid of a float32 logit above ~16.6 is exactly 1.0, and so is a softmax
whose top logit leads the others by more than ~17; real models get there
(strong RPN objectness, confident classifiers), and then the order of equal
scores in torch's top-k, sort and NMS decides what survives. Multiplying the
RPN's objectness layer (rpn.head.cls_logits) or the box classifier
(roi_heads.box_predictor.cls_score) by a factor keeps every comparison
between two logits as it was (the relative precision of both sides is
unchanged) while the scores of the best candidates become equal. A random
model's background class wins most proposals, which scaling would make
absolute; --cls-background adds a constant to the background's scaled bias
so that foreground classes win and saturate.

usage: PYTHONPATH=tools saturate.py MODEL [--rpn-scale S] [--cls-scale S] [--cls-background B]
       (rewrites MODEL)
"""

import argparse
import sys

from maskrcnn_tools import torch_model as M


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("--rpn-scale", type=float, default=1.0)
    p.add_argument("--cls-scale", type=float, default=1.0)
    p.add_argument("--cls-background", type=float, default=0.0)
    a = p.parse_args(argv)
    header, _ = M.read_safetensors_header(a.model)
    dtypes = {v["dtype"] for k, v in header.items() if k != "__metadata__"}
    md, sd = M.load_safetensors(a.model)
    for prefix, s in (("rpn.head.cls_logits", a.rpn_scale), ("roi_heads.box_predictor.cls_score", a.cls_scale)):
        if s != 1.0:
            for suffix in ("weight", "bias"):
                sd["%s.%s" % (prefix, suffix)] = sd["%s.%s" % (prefix, suffix)] * s
    if a.cls_background:
        sd["roi_heads.box_predictor.cls_score.bias"][0] += a.cls_background
    M.save_safetensors(a.model, sd, md, dtype=dtypes.pop() if len(dtypes) == 1 else "F32")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
