"""Trains gst-maskrcnn's default "shapes" model (on the CPU, or a GPU with --device) and exports it.

A narrow ResNet-18-FPN Mask R-CNN (torchvision's MaskRCNN, built by
maskrcnn_tools.torch_model so the state_dict names are the model format's)
is trained from scratch on synthetic images drawn on the fly by shapes.generate
(stream seed 1; the evaluation uses another seed). The body trains with
ordinary batch norm; on export its statistics become the frozen batch norm
that the engine folds into the convolutions.

    python3 -m maskrcnn_tools.shapes.train --workdir /tmp/shapes-train --time-budget 3300   # (resumes)
    python3 -m maskrcnn_tools.shapes.train --workdir /tmp/shapes-train --export-only \\
        --out models/shapes.safetensors
    python3 -m maskrcnn_tools.shapes.train --device cuda --init-from weights.pt --batch-size 16 --lr 2e-3 --workers 8 \\
        --time-budget 290 --stream-offset 10000 --out ''           # continue on a GPU (docs/models.md)

The learning-rate schedule (linear warm-up, cosine decay) runs over whichever
comes first of --iters iterations and --time-budget seconds of training, so
that a run fits the machine it is given; with a time budget the number of
iterations it will reach is re-estimated from the recent speed, so that a
shared machine that is slow for a while and fast later still gets a full
schedule. The log states what ended the run.
Checkpoints (every --checkpoint-every seconds and at the end) hold the model,
optimizer, iteration and elapsed time, so an interrupted run resumes where it
stopped with the same schedule.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict

# tools/maskrcnn_tools/shapes/ -> tools/ (holds the package) -> the source tree
TOOLS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROOT = os.path.dirname(TOOLS)

# OpenMP threads that spin while waiting burn the cycles of a shared machine
# (and, when it is busy, their own process's share): wait passively.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torchvision.ops.misc import FrozenBatchNorm2d  # noqa: E402

from .. import torch_model as M  # noqa: E402
from . import generate as G  # noqa: E402

TRAIN_SEED = 1

# The architecture: see docs/models.md for why these widths.
ARCH = "maskrcnn_resnet18_fpn"
BODY_WIDTHS = (16, 16, 32, 64, 128)
FPN_CHANNELS = 48
REPRESENTATION = 256
MASK_CHANNELS = 48
MIN_SIZE, MAX_SIZE = G.MODEL_MIN_SIZE, G.MODEL_MAX_SIZE
# Test-time settings written into the model's metadata. Objects are 12..300 px
# at the model's scale, so the anchors start at 16 px instead of 32.
HYPER = OrderedDict([
    ("box_score_thresh", 0.5),
    ("box_nms_thresh", 0.5),
    ("box_detections_per_img", 50),
    ("mask_threshold", 0.5),
    ("rpn_pre_nms_top_n_test", 300),
    ("rpn_post_nms_top_n_test", 100),
    ("rpn_nms_thresh", 0.7),
    ("rpn_score_thresh", 0.0),
    ("anchor_sizes", [16, 32, 64, 128, 256]),
    ("aspect_ratios", [0.5, 1.0, 2.0]),
])
# Multi-scale training around the test size (the transform picks one per batch).
TRAIN_MIN_SIZES = (288, 320, 352, 384)


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def build(min_size=MIN_SIZE, **over):
    h = dict(HYPER)
    h.update(over)
    return M.build_model(ARCH, len(G.LABELS), body_widths=BODY_WIDTHS, fpn_channels=FPN_CHANNELS,
                         representation_size=REPRESENTATION, mask_channels=MASK_CHANNELS,
                         min_size=min_size, max_size=MAX_SIZE, **h)


def trainable_body(model):
    """Swaps the body's FrozenBatchNorm2d for trainable BatchNorm2d (same
    tensor names) and initialises the body as torchvision's ResNet does, with
    the last batch norm of each residual block at zero so every block starts
    as the identity (trains better from scratch)."""
    body = model.backbone.body
    for name, mod in list(body.named_modules()):
        for cname, child in list(mod.named_children()):
            if isinstance(child, FrozenBatchNorm2d):
                setattr(mod, cname, nn.BatchNorm2d(child.weight.shape[0], eps=M.BN_EPS))
    for m in body.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for s in range(1, 5):
        for blk in getattr(body, "layer%d" % s):
            nn.init.zeros_(blk.bn2.weight)
    return model


def _deconv_2x2_forward(self, x):
    """ConvTranspose2d(kernel 2, stride 2, no padding) as one matrix product
    and a pixel interleave: the same result, but Debian's torch 1.13 runs the
    backward pass of this layer's native kernel on the slow reference path
    (~15x slower here), and it was the largest cost of a training step."""
    n, c, h, w = x.shape
    y = torch.einsum("nchw,cokl->nohkwl", x, self.weight).reshape(n, self.weight.shape[1], 2 * h, 2 * w)
    return y + self.bias.view(1, -1, 1, 1)


def make_train_model():
    model = trainable_body(build())
    model.transform.min_size = TRAIN_MIN_SIZES
    # fewer proposals and sampled RoIs than torchvision's defaults: the images
    # hold at most a dozen objects, and the CPU time goes to what is kept
    model.rpn._pre_nms_top_n["training"] = 1000
    model.rpn._post_nms_top_n["training"] = 300
    model.roi_heads.fg_bg_sampler.batch_size_per_image = 128
    deconv = model.roi_heads.mask_predictor.conv5_mask
    assert deconv.kernel_size == (2, 2) and deconv.stride == (2, 2) and deconv.padding == (0, 0)
    deconv.forward = _deconv_2x2_forward.__get__(deconv)
    return model


def export_model(state_dict):
    """The eval-mode model with frozen batch norm and the test-time settings."""
    model = build()
    sd = OrderedDict((k, v) for k, v in state_dict.items() if not k.endswith("num_batches_tracked"))
    M.load_into(model, sd)
    return model.eval()


# ------------------------------------------------------------------ data

def to_target(instances):
    if instances:
        boxes = torch.tensor([[b[0], b[1], b[0] + b[2], b[1] + b[3]] for b in (i["bbox"] for i in instances)],
                             dtype=torch.float32)
        labels = torch.tensor([i["category_id"] for i in instances], dtype=torch.int64)
        masks = torch.from_numpy(np.stack([i["mask"] for i in instances]).astype(np.uint8))
    else:
        boxes = torch.zeros((0, 4), dtype=torch.float32)
        labels = torch.zeros((0,), dtype=torch.int64)
        masks = torch.zeros((0, 1, 1), dtype=torch.uint8)
    return {"boxes": boxes, "labels": labels, "masks": masks}


class ShapesStream(torch.utils.data.Dataset):
    """Image i of the training stream (any i: the stream is unbounded)."""

    def __init__(self, seed, length):
        self.seed, self.length = seed, length

    def __len__(self):
        return self.length

    def __getitem__(self, i):
        img, inst, _ = G.sample(self.seed, i, G.TRAIN_FRAME_SIZES)
        x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div_(255.0)
        return x, to_target(inst)


def _collate(b):
    return tuple(zip(*b))


def batches(seed, start_image, batch_size, workers, pin_memory=False):
    ds = ShapesStream(seed, 10 ** 9)
    sampler = range(start_image, 10 ** 9)
    extra = dict(prefetch_factor=4, persistent_workers=True) if workers else {}
    return iter(torch.utils.data.DataLoader(
        ds, batch_size=batch_size, sampler=sampler, num_workers=workers,
        collate_fn=_collate, pin_memory=pin_memory, **extra))


# ------------------------------------------------------------------ schedule

def lr_at(progress, it, base_lr, warmup):
    w = min(1.0, (it + 1) / float(warmup))
    warm = 0.001 + (1 - 0.001) * w
    cos = 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return base_lr * warm * cos


def save_checkpoint(path, model, opt, it, elapsed, args):
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "iteration": it,
                "elapsed": elapsed, "args": vars(args)}, tmp)
    os.replace(tmp, path)


def export(ckpt_path, out, dtype="f16", quiet=False, score_thresh=None):
    """Writes the checkpoint as a gst-maskrcnn model through the project's exporter."""
    ck = torch.load(ckpt_path, map_location="cpu")
    model = export_model(ck["model"])
    with tempfile.TemporaryDirectory() as tmp:
        mod_path = os.path.join(tmp, "shapes-module.pt")
        torch.save(model, mod_path)
        labels = os.path.join(tmp, "labels.txt")
        with open(labels, "w") as f:
            f.write("\n".join(G.LABELS) + "\n")
        cmd = [sys.executable, "-m", "maskrcnn_tools.export_torchvision", "--checkpoint", mod_path,
               "--labels", labels, "--dtype", dtype, "--out", out]
        if quiet:
            cmd.append("--quiet")
        if score_thresh is not None:
            cmd += ["--score-thresh", str(score_thresh)]
        # (a process of its own: the exporter turns autograd off, and the
        # training may go on after an export)
        path = os.environ.get("PYTHONPATH")
        env = dict(os.environ, PYTHONPATH=TOOLS + (os.pathsep + path if path else ""))
        subprocess.run(cmd, check=True, env=env)
    return ck


# ------------------------------------------------------------------ main

def train(a):
    os.makedirs(a.workdir, exist_ok=True)
    ckpt = os.path.join(a.workdir, "checkpoint.pt")
    torch.manual_seed(a.seed)
    device = torch.device(a.device)
    model = make_train_model()
    if a.init_from:
        init = torch.load(a.init_from, map_location="cpu")
        model.load_state_dict(init.get("model", init) if isinstance(init, dict) else init)
        log("initialised from %s" % a.init_from)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() > 1]
    no_decay = [p for p in params if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=a.lr)
    it, elapsed = 0, 0.0
    if os.path.exists(ckpt) and not a.restart:
        ck = torch.load(ckpt, map_location="cpu")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        it, elapsed = ck["iteration"], ck["elapsed"]
        log("resumed from %s at iteration %d (%.0fs trained)" % (ckpt, it, elapsed))
    n_params = sum(p.numel() for p in params)
    log("%s body %s fpn %d rep %d mask %d: %.2fM parameters; batch %d, %d threads, lr %g"
        % (ARCH, BODY_WIDTHS, FPN_CHANNELS, REPRESENTATION, MASK_CHANNELS, n_params / 1e6, a.batch_size,
           torch.get_num_threads(), a.lr))
    model.train()
    data = batches(TRAIN_SEED, it * a.batch_size + a.stream_offset, a.batch_size, a.workers,
                   pin_memory=device.type == "cuda")
    last_ckpt = last_export = time.time()
    t_start = time.time() - elapsed
    t_log, it_log = time.time(), it
    avg = {}
    sec_per_it, t_prev = None, time.time()
    while True:
        elapsed = time.time() - t_start
        if it >= a.iters or (a.time_budget and elapsed >= a.time_budget):
            break
        progress = it / float(a.iters)
        if a.time_budget:
            # the share of the iterations this run will get done: on a shared
            # machine the speed changes, so the end of the schedule is
            # re-estimated from the recent speed rather than from wall time
            if sec_per_it is None:
                progress = max(progress, elapsed / float(a.time_budget))
            else:
                left = (a.time_budget - elapsed) / sec_per_it
                progress = max(progress, it / (it + left))
        lr = lr_at(progress, it, a.lr, a.warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        images, targets = next(data)
        if device.type != "cpu":
            images = [im.to(device, non_blocking=True) for im in images]
            targets = [{k: v.to(device, non_blocking=True) for k, v in t.items()} for t in targets]
        losses = model(list(images), list(targets))
        loss = sum(losses.values())
        if not torch.isfinite(loss):
            log("non-finite loss at iteration %d, batch skipped: %s" % (
                it, {k: float(v) for k, v in losses.items()}))
            opt.zero_grad(set_to_none=True)
            it += 1
            continue
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, a.clip)
        opt.step()
        it += 1
        now = time.time()
        sec_per_it = (now - t_prev) if sec_per_it is None else 0.95 * sec_per_it + 0.05 * (now - t_prev)
        t_prev = now
        for k, v in losses.items():
            avg[k] = 0.95 * avg.get(k, float(v)) + 0.05 * float(v)
        if it % a.log_every == 0:
            elapsed = time.time() - t_start
            now = time.time()
            log("it %d  %.0fs (%.0f%%)  lr %.2e  loss %.3f  %s  %.2fs/it" % (
                it, elapsed, 100 * progress, lr, sum(avg.values()),
                " ".join("%s %.3f" % (k.replace("loss_", ""), v) for k, v in avg.items()),
                (now - t_log) / max(it - it_log, 1)))
            t_log, it_log = now, it
        now = time.time()
        if now - last_ckpt > a.checkpoint_every:
            save_checkpoint(ckpt, model, opt, it, now - t_start, a)
            last_ckpt = now
            log("checkpoint %s (iteration %d)" % (ckpt, it))
            if a.out and a.export_every and now - last_export > a.export_every:
                export(ckpt, a.out, a.dtype, quiet=True, score_thresh=a.score_thresh)
                last_export = now
    elapsed = time.time() - t_start
    save_checkpoint(ckpt, model, opt, it, elapsed, a)
    # the weights alone, on the CPU: what --init-from and --export-only need
    torch.save({"model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "iteration": it,
                "elapsed": elapsed}, os.path.join(a.workdir, "weights.pt"))
    log("done: %d iterations, %d images, %.0fs (%s)" % (
        it, it * a.batch_size, elapsed, "time budget" if it < a.iters else "iteration count"))
    if a.out:
        export(ckpt, a.out, a.dtype, score_thresh=a.score_thresh)
    return 0


def main(argv):
    p = argparse.ArgumentParser(
        prog="python3 -m " + __spec__.name, description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", default="/tmp/shapes-train", help="checkpoints (default /tmp/shapes-train)")
    p.add_argument("--out", default=os.path.join(ROOT, "models", "shapes.safetensors"),
                   help="exported model (default models/shapes.safetensors; '' to skip)")
    p.add_argument("--dtype", choices=["f16", "f32"], default="f16")
    p.add_argument("--iters", type=int, default=100000, help="iterations (default: until the time budget)")
    p.add_argument("--time-budget", type=float, default=3300, help="seconds of training (default 3300; 0: none)")
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW peak learning rate")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=100, help="warm-up iterations")
    p.add_argument("--clip", type=float, default=10.0, help="gradient norm clip")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default all cores)")
    p.add_argument("--workers", type=int, default=1, help="data generation processes")
    p.add_argument("--seed", type=int, default=0, help="initialisation seed")
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--checkpoint-every", type=float, default=300, help="seconds")
    p.add_argument("--export-every", type=float, default=900, help="seconds between interim exports (0: none)")
    p.add_argument("--score-thresh", type=float, default=None,
                   help="default score threshold written into the exported model (default %g)"
                   % HYPER["box_score_thresh"])
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    p.add_argument("--device", default="cpu", help="torch device to train on (default cpu; e.g. cuda)")
    p.add_argument("--init-from", default=None,
                   help="start from these weights (a checkpoint or weights.pt), with a fresh optimizer and schedule")
    p.add_argument("--stream-offset", type=int, default=0,
                   help="first image of the training stream (so that a continued run sees new images)")
    p.add_argument("--export-from", default=None, help="with --export-only: this checkpoint or weights.pt")
    p.add_argument("--export-only", action="store_true", help="export the workdir's checkpoint and exit")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads or os.cpu_count() or 1)
    if a.export_only:
        ck = export(a.export_from or os.path.join(a.workdir, "checkpoint.pt"), a.out, a.dtype, score_thresh=a.score_thresh)
        log("exported iteration %d (%.0fs of training)" % (ck["iteration"], ck["elapsed"]))
        return 0
    return train(a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
