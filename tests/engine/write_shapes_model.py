#!/usr/bin/python3
"""A model file with the shapes of a torchvision Mask R-CNN and torch's
default initialisation (not calibrated: its detections mean nothing), for
tests that need only a real network's layers and sizes, such as the CUDA
backend's memory plan of ResNet-50-FPN (tests/engine/test_counting.c).
Writing it takes seconds; maskrcnn_tools.export_torchvision --random-init
calibrates its weights on images, which takes a minute or more.

usage: PYTHONPATH=tools write_shapes_model.py ARCH OUT
"""
import sys
from collections import OrderedDict

import torch

from maskrcnn_tools import torch_model as M


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    arch, out = argv
    torch.manual_seed(0)
    torch.set_grad_enabled(False)
    model = M.build_model(arch, 91)
    sd = OrderedDict((k, v) for k, v in model.state_dict().items()
                     if not k.endswith("num_batches_tracked"))
    md = M.metadata_from_model(model, M.default_labels(91),
                               extra={"source": "shapes only, torch's default init",
                                      "description": "not a trained or calibrated model"})
    M.save_safetensors(out, sd, md, dtype="F16")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
