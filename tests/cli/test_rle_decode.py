#!/usr/bin/python3
"""Decodes the COCO compressed RLE strings that rle_helper prints and checks
that they give back the masks. Uses pycocotools when it is importable (and
then also checks that pycocotools encodes each mask to the same string);
otherwise the independent decoder of maskrcnn_tools.rle.

usage: PYTHONPATH=tools test_rle_decode.py RLE_HELPER
"""
import os
import random
import subprocess
import sys

from maskrcnn_tools import rle


def main():
    helper = sys.argv[1]
    seed = int(os.environ.get("MRCNN_TEST_SEED", random.randrange(1, 2**62)))
    print("seed %d (replay with MRCNN_TEST_SEED=%d)" % (seed, seed))
    try:
        import numpy as np
        from pycocotools import mask as coco_mask
        decoder = "pycocotools"
    except ImportError:
        coco_mask = None
        decoder = "own decoder (pycocotools not importable)"
    print("decoding with", decoder)

    out = subprocess.run([helper, str(seed), "120"], check=True,
                         stdout=subprocess.PIPE, universal_newlines=True).stdout
    passed = failed = 0
    for n, line in enumerate(out.splitlines()):
        h, w, bits, counts = line.split(" ")
        h, w = int(h), int(w)
        mask = [int(b) for b in bits]
        if coco_mask is not None:
            coco_rle = {"size": [h, w], "counts": counts.encode()}
            got = coco_mask.decode(coco_rle).reshape(-1).tolist()
            arr = np.asfortranarray(np.array(mask, dtype=np.uint8).reshape(h, w))
            same_string = coco_mask.encode(arr)["counts"].decode() == counts
        else:
            try:
                got = list(rle.decode(counts, h, w))
            except ValueError as e:
                got = "undecodable: %s" % e
            same_string = True
        if got == mask and same_string:
            passed += 1
        else:
            failed += 1
            print("FAIL mask %d (%dx%d): %s" % (
                n, w, h, "decoded mask differs" if got != mask else
                "pycocotools encodes it differently"))
    if passed + failed < 124:
        print("FAIL: expected 124 masks from the helper, got %d" % (passed + failed))
        failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
