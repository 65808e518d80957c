#!/usr/bin/python3
"""torchvision eager on the GPU, stage by stage, on a gst-maskrcnn model file.

The same weights (the .safetensors file the engine loads, turned back into
torchvision's MaskRCNN by maskrcnn_tools.torch_model), the same image, and
the same stage boundaries as mrcnn-bench: each stage ends with
torch.cuda.synchronize (), as the engine's stage timings end with the
backend's sync. The frame starts in host memory as uint8, as mrcnn-bench's
does. fp32; --tf32 allows TensorFloat-32 in convolutions and matrix products
(PyTorch's own default allows it in cuDNN convolutions); --fp16 runs the
model under torch.autocast (float16), PyTorch's own mixed precision.
--score-thresh sets the box score threshold (0 keeps detections_per_img
detections, as mrcnn-bench --score-threshold 0 does).

usage: PYTHONPATH=tools bench_torchvision.py --model M --image PNG
           [--frames N] [--warmup K] [--tf32] [--fp16] [--cudnn-benchmark]
           [--score-thresh T] [--json OUT]
"""
import argparse
import json
import statistics
import sys
import time

STAGES = ["preprocess", "backbone", "fpn", "rpn", "box_head", "mask_head", "paste"]


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--tf32", action="store_true")
    p.add_argument("--fp16", action="store_true")
    p.add_argument("--score-thresh", type=float)
    p.add_argument("--cudnn-benchmark", action="store_true")
    p.add_argument("--json")
    a = p.parse_args(argv)

    import numpy as np
    import torch
    import torchvision
    from PIL import Image
    from torchvision.models.detection.roi_heads import maskrcnn_inference

    from maskrcnn_tools import torch_model as M

    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.benchmark = a.cudnn_benchmark
    dev = torch.device("cuda")
    model = M.model_from_safetensors(a.model).eval().to(dev)
    if a.score_thresh is not None:
        model.roi_heads.score_thresh = a.score_thresh
    import contextlib
    amp = (lambda: torch.autocast("cuda", dtype=torch.float16)) if a.fp16 \
        else contextlib.nullcontext
    frame = np.asarray(Image.open(a.image).convert("RGB"))
    host = torch.from_numpy(frame.copy())

    def sync():
        torch.cuda.synchronize()
        return time.perf_counter()

    def run_staged():
        t = {}
        t0 = sync()
        img = host.to(dev, non_blocking=False).permute(2, 0, 1).float().div_(255.0)
        original = [tuple(img.shape[-2:])]
        image_list, _ = model.transform([img], None)
        t1 = sync()
        body = model.backbone.body(image_list.tensors)
        t2 = sync()
        features = model.backbone.fpn(body)
        t3 = sync()
        proposals, _ = model.rpn(image_list, features, None)
        t4 = sync()
        rh = model.roi_heads
        sizes = image_list.image_sizes
        bf = rh.box_roi_pool(features, proposals, sizes)
        bf = rh.box_head(bf)
        logits, deltas = rh.box_predictor(bf)
        boxes, scores, labels = rh.postprocess_detections(logits, deltas, proposals, sizes)
        t5 = sync()
        mf = rh.mask_roi_pool(features, boxes, sizes)
        mf = rh.mask_head(mf)
        ml = rh.mask_predictor(mf)
        probs = maskrcnn_inference(ml, labels)
        t6 = sync()
        det = [{"boxes": boxes[0], "scores": scores[0], "labels": labels[0], "masks": probs[0]}]
        out = model.transform.postprocess(det, sizes, original)
        n = int(out[0]["boxes"].shape[0])
        t7 = sync()
        ts = [t0, t1, t2, t3, t4, t5, t6, t7]
        for i, s in enumerate(STAGES):
            t[s] = (ts[i + 1] - ts[i]) * 1000.0
        return t, n, tuple(image_list.tensors.shape[-2:])

    def run_whole():
        t0 = sync()
        img = host.to(dev).permute(2, 0, 1).float().div_(255.0)
        out = model([img])
        n = int(out[0]["boxes"].shape[0])
        return (sync() - t0) * 1000.0, n

    torch.cuda.reset_peak_memory_stats()
    with torch.inference_mode(), amp():
        for _ in range(a.warmup):
            run_staged()
            run_whole()
        staged, whole, ndet = [], [], 0
        for _ in range(a.frames):
            t, ndet, padded = run_staged()
            staged.append(t)
            whole.append(run_whole()[0])
    stages = {s: statistics.median(x[s] for x in staged) for s in STAGES}
    res = {
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "device": torch.cuda.get_device_name(0), "tf32": a.tf32,
        "fp16_autocast": a.fp16,
        "cudnn_benchmark": a.cudnn_benchmark, "frames": a.frames,
        "detections": ndet, "padded_input": list(padded),
        "median_ms": statistics.median(whole),
        "stages_median_ms": stages,
        "staged_sum_ms": sum(stages.values()),
        "peak_mem_mib": torch.cuda.max_memory_allocated() / 2**20,
    }
    print("torchvision %s (torch %s) on %s, tf32 %s, autocast fp16 %s, "
          "cudnn.benchmark %s: median %.2f ms per frame (model(images)), %d "
          "detections, input %s"
          % (res["torchvision"], res["torch"], res["device"], a.tf32, a.fp16,
             a.cudnn_benchmark, res["median_ms"], ndet, "x".join(map(str, padded))))
    for s in STAGES:
        print("  %-10s %8.2f ms" % (s, stages[s]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
