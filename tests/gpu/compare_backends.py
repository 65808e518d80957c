#!/usr/bin/python3
"""End to end, CUDA backend vs CPU backend: mrcnn-dump's output of both,
compared with maskrcnn_tools.compare_dumps' checks and tolerances (the ones the
CPU backend meets against torchvision), the CPU dump taking torchvision's
place as the reference.

usage: PYTHONPATH=tools compare_backends.py MODEL CPU_DUMP_DIR CUDA_DUMP_DIR
"""
import os
import sys
import tempfile

import numpy as np

from maskrcnn_tools import compare_dumps
from maskrcnn_tools import torch_model as M


def main(argv):
    model, cpu_dir, cuda_dir = argv
    header, _ = M.read_safetensors_header(model)
    md = M.parse_metadata(header["__metadata__"])
    stems = sorted(d for d in os.listdir(cpu_dir) if os.path.isdir(os.path.join(cpu_dir, d)))
    if not stems:
        print("compare_backends: no dumps in %s" % cpu_dir)
        return 1
    with tempfile.TemporaryDirectory() as ref:
        for s in stems:
            d = os.path.join(cpu_dir, s)
            arrays = {f[:-4]: np.load(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".npy")}
            # mrcnn-dump's masks are already binarised at the mask threshold
            arrays["masks_binary"] = (arrays["masks"] > 0).astype(np.uint8)
            arrays["score_thresh"] = np.float32(md["box_score_thresh"])
            arrays["detections_per_img"] = np.int32(md["box_detections_per_img"])
            arrays["mask_threshold"] = np.float32(md["mask_threshold"])
            np.savez(os.path.join(ref, s + ".npz"), **arrays)
        return compare_dumps.main([ref, cuda_dir])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
