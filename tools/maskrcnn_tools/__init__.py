"""gst-maskrcnn's Python tooling, one importable package.

The product is C; these are the tools around it, each a module run with
``python3 -m`` (with ``tools/`` on ``PYTHONPATH``, see docs/python-tools.md):

  export_torchvision   torchvision Mask R-CNN weights -> a gst-maskrcnn model
                       (installed as mrcnn-export-torchvision)
  torch_model          torchvision ``MaskRCNN`` modules in the model format's
                       names, and the safetensors reader and writer
  rle                  COCO compressed RLE: encode and decode
  compare_dumps        mrcnn-dump's stage outputs against a reference dump
  torch_sort           torch's CPU sort step by step (compare_dumps' ties)
  compare_torchvision  the engine against torchvision on the CPU, one run
  shapes.generate      synthetic shapes images with COCO ground truth
  shapes.train         trains the shipped shapes model
  shapes.evaluate      COCO AP of a shapes model (C engine and torchvision)
  shapes.make_clip     renders the sample clip data/shapes-640x360.webm
"""
