"""Export torchvision Mask R-CNN weights to a gst-maskrcnn model (.safetensors).

Sources (exactly one):
  --checkpoint FILE   a torchvision MaskRCNN state_dict (or {"model": state_dict},
                      as torchvision's reference training scripts save it) or a
                      pickled MaskRCNN module; the architecture and every width
                      are read from the tensor shapes
  --pretrained        torchvision's COCO weights (MaskRCNN_ResNet50_FPN_Weights.COCO_V1,
                      or MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1 with
                      --arch maskrcnn_resnet50_fpn_v2; downloaded into torch's
                      hub cache; needs internet)
  --random-init       a randomly initialised model for parity tests (--seed N):
                      every weight and every batch-norm statistic random,
                      scaled on a synthetic image so that activations stay well
                      conditioned and the model gives a few dozen detections

--arch maskrcnn_resnet50_fpn_v2 is torchvision's maskrcnn_resnet50_fpn_v2:
batch norm in the body, the FPN and every head (in eval mode each is the
same affine map as a frozen one), a two-convolution RPN head, the 4conv1fc
box head and a mask head with batch norm.

The file follows docs/model-format.md: torchvision's state_dict names without
num_batches_tracked, batch norm with epsilon 1e-5, and the metadata
table. The written file is reloaded and checked before the tool reports success.

--calibrate IMAGE|DIR ... also measures each layer's input range on those
images and stores it (metadata int8_calibration), which precision int8 needs
(maskrcnn_tools.calibrate; docs/precision.md).

Installed as mrcnn-export-torchvision; in the source tree
`PYTHONPATH=tools python3 -m maskrcnn_tools.export_torchvision ...`.
"""

import argparse
import math
import os
import sys
import time
from collections import OrderedDict

import numpy as np
import torch
from torch import nn
from torchvision.ops.misc import Conv2dNormActivation, FrozenBatchNorm2d

from . import calibrate as C
from . import torch_model as M

PROG = "export-torchvision"


class UsageError(Exception):
    pass


def log(msg):
    print("%s: %s" % (PROG, msg), flush=True)


# ------------------------------------------------------------------ arguments

def _int_list(text, what, n=None):
    try:
        vals = [int(v) for v in text.split(",")]
    except ValueError:
        raise UsageError("%s must be comma-separated integers, got %r" % (what, text))
    if n is not None and len(vals) != n:
        raise UsageError("%s needs %d values, got %d (%r)" % (what, n, len(vals), text))
    if min(vals) < 1:
        raise UsageError("%s must be positive, got %r" % (what, text))
    return vals


def parse_args(argv):
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", metavar="FILE", help="torchvision MaskRCNN state_dict or pickled model")
    src.add_argument("--pretrained", action="store_true",
                     help="torchvision's COCO_V1 weights of maskrcnn_resnet50_fpn (or of --arch maskrcnn_resnet50_fpn_v2)")
    src.add_argument("--random-init", action="store_true", help="random weights (for tests)")
    p.add_argument("--seed", type=int, default=None, help="random seed for --random-init (default 0)")
    p.add_argument("--arch", choices=list(M.ARCHS), default=None,
                   help="architecture (default maskrcnn_resnet50_fpn; with --checkpoint it must agree)")
    p.add_argument("--body-widths", metavar="S,L1,L2,L3,L4",
                   help="stem and stage output widths for --random-init (default torchvision's)")
    p.add_argument("--fpn-channels", type=int, help="FPN width for --random-init (default 256)")
    p.add_argument("--representation-size", type=int, help="box head width for --random-init (default 1024)")
    p.add_argument("--mask-channels", type=int, help="mask head width for --random-init (default 256)")
    p.add_argument("--num-classes", type=int, help="classes including background (default 91 or the checkpoint's)")
    p.add_argument("--labels", metavar="FILE", help="one label per line, class 0 (background) first")
    p.add_argument("--min-size", type=int, help="resize: shorter side (default 800 or the model's)")
    p.add_argument("--max-size", type=int, help="resize: longer side limit (default 1333 or the model's)")
    p.add_argument("--score-thresh", type=float, help="default box score threshold (default 0.05)")
    p.add_argument("--bn-eps", default="auto",
                   help="batch-norm epsilon the checkpoint was trained/evaluated with; it is folded into "
                        "the weights so the file uses 1e-5 (auto: the module's own, 0 for torchvision's "
                        "COCO_V1 file, else 1e-5)")
    p.add_argument("--dtype", choices=["f32", "f16"], default="f32", help="tensor storage type (default f32)")
    p.add_argument("--out", required=True, metavar="FILE", help="output .safetensors file")
    p.add_argument("--calibrate", nargs="+", metavar="IMAGE|DIR",
                   help="int8 calibration images (files or directories of images): store each layer's "
                        "input range in the model, for precision int8")
    C.add_arguments(p)
    p.add_argument("--quiet", action="store_true", help="only report errors and the final line")
    a = p.parse_args(argv)

    if not a.random_init:
        for opt in ("body_widths", "fpn_channels", "representation_size", "mask_channels", "seed"):
            if getattr(a, opt) is not None:
                raise UsageError("--%s applies to --random-init only (a checkpoint's widths come from its tensors)"
                                 % opt.replace("_", "-"))
    if a.pretrained:
        if a.arch not in (None, "maskrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn_v2"):
            raise UsageError("--pretrained exists for maskrcnn_resnet50_fpn and maskrcnn_resnet50_fpn_v2 only, not %s"
                             % a.arch)
        if a.num_classes not in (None, 91):
            raise UsageError("--pretrained has 91 classes; --num-classes %d does not apply" % a.num_classes)
    if a.seed is None:
        a.seed = 0
    if a.body_widths is not None:
        a.body_widths = _int_list(a.body_widths, "--body-widths", 5)
    for opt in ("fpn_channels", "representation_size", "mask_channels", "min_size", "max_size"):
        v = getattr(a, opt)
        if v is not None and v < 1:
            raise UsageError("--%s must be a positive integer, got %d" % (opt.replace("_", "-"), v))
    if a.num_classes is not None and a.num_classes < 2:
        raise UsageError("--num-classes must be at least 2 (background + one class), got %d" % a.num_classes)
    if a.min_size and a.max_size and a.min_size > a.max_size:
        raise UsageError("--min-size %d is larger than --max-size %d" % (a.min_size, a.max_size))
    if a.score_thresh is not None and not (0.0 <= a.score_thresh < 1.0):
        raise UsageError("--score-thresh must be in [0, 1), got %g" % a.score_thresh)
    if a.bn_eps != "auto":
        try:
            a.bn_eps = float(a.bn_eps)
        except ValueError:
            raise UsageError("--bn-eps must be a number or 'auto', got %r" % a.bn_eps)
        if not (0.0 <= a.bn_eps < 1.0):
            raise UsageError("--bn-eps must be in [0, 1), got %g" % a.bn_eps)
    if a.calibrate:
        try:
            C.image_files(a.calibrate)
        except C.CalibrationError as e:
            raise UsageError(str(e))
        if not 0 < a.calibration_percentile <= 100:
            raise UsageError("--calibration-percentile must be in (0, 100], got %g" % a.calibration_percentile)
    if a.checkpoint and not os.path.isfile(a.checkpoint):
        raise UsageError("checkpoint %s does not exist" % a.checkpoint)
    if a.labels and not os.path.isfile(a.labels):
        raise UsageError("labels file %s does not exist" % a.labels)
    outdir = os.path.dirname(os.path.abspath(a.out))
    if not os.path.isdir(outdir):
        raise UsageError("output directory %s does not exist" % outdir)
    if a.body_widths and a.arch in ("maskrcnn_resnet50_fpn", "maskrcnn_resnet101_fpn", "maskrcnn_resnet50_fpn_v2", None):
        bad = [w for w in a.body_widths[1:] if w % 4]
        if bad:
            raise UsageError("bottleneck stage widths must be multiples of 4 (inner width = width/4), got %s" % bad)
    return a


def read_labels(path, num_classes):
    with open(path, encoding="utf-8") as f:
        labels = [line.rstrip("\r\n") for line in f]
    while labels and not labels[-1].strip():
        labels.pop()
    if any(not lab.strip() for lab in labels):
        raise UsageError("labels file %s has an empty line" % path)
    if num_classes is not None and len(labels) != num_classes:
        raise UsageError("labels file %s has %d labels, the model has %d classes (background included)"
                         % (path, len(labels), num_classes))
    return labels


# ------------------------------------------------------------------ sources

def _bn_eps_of(module):
    eps = {float(m.eps) for m in module.modules() if isinstance(m, (FrozenBatchNorm2d, nn.BatchNorm2d))}
    if len(eps) > 1:
        raise M.ModelError("the model's batch-norm layers use different epsilons %s" % sorted(eps))
    return eps.pop() if eps else M.BN_EPS


def fold_eps(sd, eps_src):
    """Rescales frozen-BN weights so that the format's epsilon 1e-5 gives the
    same affine map as eps_src: w' = w * sqrt(rv + 1e-5) / sqrt(rv + eps_src).
    running_var stays untouched (and non-negative)."""
    if abs(eps_src - M.BN_EPS) < 1e-12:
        return sd, 0
    n = 0
    out = OrderedDict(sd)
    for k in sd:
        if not k.endswith(".running_var"):
            continue
        prefix = k[:-len("running_var")]
        rv = sd[k].double()
        if eps_src == 0.0 and bool((rv <= 0).any()):
            raise M.ModelError("%s has zero variance with batch-norm epsilon 0" % k)
        w = sd[prefix + "weight"].double()
        out[prefix + "weight"] = (w * torch.sqrt(rv + M.BN_EPS) / torch.sqrt(rv + eps_src)).float()
        n += 1
    return out, n


def load_checkpoint(path):
    """(state_dict, module or None) of a checkpoint file."""
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # pickle errors come in many types
        raise M.ModelError("cannot read checkpoint %s: %s" % (path, e))
    module = None
    if isinstance(obj, nn.Module):
        module, obj = obj, obj.state_dict()
    elif isinstance(obj, dict):
        for key in ("model", "state_dict"):
            if key in obj and isinstance(obj[key], (dict, nn.Module)):
                obj = obj[key]
                if isinstance(obj, nn.Module):
                    module, obj = obj, obj.state_dict()
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise M.ModelError("%s holds neither a state_dict nor a MaskRCNN module" % path)
    return OrderedDict((k, v.float() if v.is_floating_point() else v) for k, v in obj.items()), module


def load_pretrained(arch):
    from torchvision.models import detection as D
    if M.is_v2(arch):
        w, build = D.MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1, D.maskrcnn_resnet50_fpn_v2
    else:
        w, build = D.MaskRCNN_ResNet50_FPN_Weights.COCO_V1, D.maskrcnn_resnet50_fpn
    try:
        model = build(weights=w)
    except Exception as e:
        raise M.ModelError("could not download torchvision's COCO weights from %s (%s: %s). Download the file "
                           "on a machine with internet access and pass it with --checkpoint FILE."
                           % (w.url, type(e).__name__, e))
    return model.eval()


# ------------------------------------------------------------------ random init

def calibration_image(seed, height=480, width=640):
    """A synthetic RGB image (3xHxW, 0..1): smooth colour gradients, large
    overlapping shapes (boxes, ellipses, rings), a striped patch and noise."""
    rs = np.random.RandomState(seed + 12345)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.empty((height, width, 3))
    for c in range(3):
        fx, fy, ph = rs.uniform(-2, 2), rs.uniform(-2, 2), rs.uniform(0, 2 * np.pi)
        img[..., c] = 0.5 + 0.3 * np.sin(fx * xx / width * np.pi + fy * yy / height * np.pi + ph)
    diag = max(width, height)
    for _ in range(8 + rs.randint(10)):
        col = rs.uniform(0, 1, 3)
        cx, cy = rs.uniform(0, width), rs.uniform(0, height)
        rx, ry = rs.uniform(0.02, 0.25) * diag, rs.uniform(0.02, 0.25) * diag
        kind = rs.randint(3)
        if kind == 0:
            m = (np.abs(xx - cx) < rx) & (np.abs(yy - cy) < ry)
        else:
            r = np.hypot((xx - cx) / rx, (yy - cy) / ry)
            m = (r < 1) & (r > (0.0 if kind == 1 else 0.5))
        alpha = rs.uniform(0.5, 1.0)
        img[m] = (1 - alpha) * img[m] + alpha * col
    sw, sh = width // 5, height // 5
    sx, sy = rs.randint(0, width - sw), rs.randint(0, height - sh)
    img[sy:sy + sh, sx:sx + sw, 2] = 0.5 * img[sy:sy + sh, sx:sx + sw, 2] + 0.25 * (
        1 + np.sign(np.sin(yy[sy:sy + sh, sx:sx + sw] / 2.5)))
    img += rs.normal(0, rs.uniform(0.01, 0.05), img.shape)
    img = np.clip(np.round(img * 255), 0, 255) / 255.0
    return torch.from_numpy(img.astype(np.float32)).permute(2, 0, 1).contiguous()


def calibration_images(seed):
    """The images random init is scaled on: three sizes and aspect ratios."""
    return [calibration_image(seed, 480, 640), calibration_image(seed + 1, 640, 480),
            calibration_image(seed + 2, 300, 900)]


class Randomizer:
    """Random weights scaled on data, so every stage's output is well conditioned.

    Each learned layer first gets N(0, 2/fan_in) weights; then, following the
    forward pass on a synthetic image, each frozen batch norm gets statistics
    near its input's actual channel statistics (mean + noise, var * U(0.5, 2))
    and random weight (some negative) and bias, and each head layer is rescaled
    so its output has a chosen spread. The classifier's background bias is
    searched so that the sample image gives a few dozen detections.
    """

    # Output spreads. Errors in a proposal's coordinates move RoIAlign's samples
    # and errors in features move the logits, so the gains after the FPN are
    # kept moderate: a model that amplifies rounding differences cannot test
    # parity at tight tolerances.
    RPN_LOGIT_STD = 1.5    # objectness logits
    RPN_DELTA_STD = 0.15   # RPN box deltas (box coder weights 1, 1, 1, 1)
    CLASS_SPREAD = 2.0     # foreground class logits
    BOX_DELTA_STD = 0.5    # box head deltas, before the coder weights 10, 10, 5, 5
    MASK_LOGIT_STD = 3.0   # mask logits

    def __init__(self, model, seed, target_detections=40):
        self.model = model
        self.g = torch.Generator().manual_seed(seed)
        self.seed = seed
        self.target = target_detections
        self.v2 = M.is_v2(model.arch)

    def randn(self, *shape):
        return torch.randn(*shape, generator=self.g)

    def rand(self, *shape, lo=0.0, hi=1.0):
        return torch.rand(*shape, generator=self.g) * (hi - lo) + lo

    def init_weights(self):
        for m in self.model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(self.randn(*m.weight.shape) * math.sqrt(2.0 / fan_in))
                if m.bias is not None:
                    m.bias.copy_(self.randn(*m.bias.shape) * 0.1)
            elif isinstance(m, nn.ConvTranspose2d):
                # stride == kernel: each output pixel sees in_channels inputs
                m.weight.copy_(self.randn(*m.weight.shape) * math.sqrt(2.0 / m.weight.shape[0]))
                m.bias.copy_(self.randn(*m.bias.shape) * 0.1)

    def randomize_bn(self, mod, t, closes_residual=False):
        """Statistics near those of the batch norm's input t (N x C x H x W),
        random weight (some negative) and bias: its output spreads about as
        much as a unit normal, and folding it is tested."""
        c = t.shape[1]
        mean = t.mean(dim=(0, 2, 3))
        var = t.var(dim=(0, 2, 3), unbiased=False)
        var = torch.maximum(var, var.median() * 1e-2 + 1e-6)
        mod.running_mean.copy_(mean + self.randn(c) * 0.5 * var.sqrt())
        mod.running_var.copy_(var * self.rand(c, lo=0.5, hi=2.0))
        w = self.rand(c, lo=0.5, hi=1.5)
        w = torch.where(self.rand(c) < 0.2, -w, w)
        if closes_residual:
            w = w * 0.5  # keeps the residual sum from growing block after block
        mod.weight.copy_(w)
        mod.bias.copy_(self.randn(c) * 0.25)

    def with_bn_randomized(self, module, fn):
        """fn() with every batch norm inside module randomized on the input
        it first sees (randomize_bn); returns fn's result."""
        basic = isinstance(self.model.backbone.body.layer1[0], M.tv_resnet.BasicBlock)
        hooks = []

        def pre_hook(name):
            closes_residual = name.endswith(".bn3") or (basic and name.endswith(".bn2"))
            done = []

            def hook(mod, inp):
                if not done:
                    self.randomize_bn(mod, inp[0], closes_residual)
                    done.append(True)
            return hook

        for name, mod in module.named_modules():
            if isinstance(mod, (FrozenBatchNorm2d, nn.BatchNorm2d)):
                hooks.append(mod.register_forward_pre_hook(pre_hook(name)))
        try:
            return fn()
        finally:
            for h in hooks:
                h.remove()

    def init_body_bn(self, x):
        body = self.model.backbone.body
        return self.with_bn_randomized(body, lambda: body(x))

    @staticmethod
    def fit(layer, outputs_fn, std, center=False, per_channel_dim=None):
        """Rescales layer.weight so that layer's output (bias excluded) has
        standard deviation `std`; with center, moves the bias so that each
        output channel has zero mean."""
        outs = outputs_fn()
        b = layer.bias
        flat = []
        for o in outs:
            c = o.shape[1]
            shape = [1, c] + [1] * (o.dim() - 2)
            flat.append((o - b.view(shape)).transpose(0, 1).reshape(c, -1))
        y = torch.cat(flat, dim=1)
        s = float(y.std())
        layer.weight.mul_(std / max(s, 1e-12))
        if center:
            layer.bias.sub_(y.mean(dim=1) * std / max(s, 1e-12))

    def init_fpn(self, body_out):
        fpn = self.model.backbone.fpn
        if self.v2:
            # each convolution's batch norm sets its output's spread
            return self.with_bn_randomized(fpn, lambda: fpn(body_out))
        hooks = []

        def hook(mod, inp, out):
            # rescale so this conv's output (bias excluded) has unit spread, and
            # return the rescaled output so later FPN convs see the final values
            b = mod.bias.view(1, -1, 1, 1)
            s = float((out - b).std())
            mod.weight.mul_(1.0 / max(s, 1e-12))
            return (out - b) / max(s, 1e-12) + b

        for blk in list(fpn.inner_blocks) + list(fpn.layer_blocks):
            hooks.append(blk[0].register_forward_hook(hook))
        try:
            feats = fpn(body_out)
        finally:
            for h in hooks:
                h.remove()
        return feats

    def init_rpn(self, feats):
        head = self.model.rpn.head
        hidden = [f for fs in feats for f in fs.values()]
        for blk in head.conv:  # one convolution (v1) or two (v2)
            conv = blk[0]
            self.fit(conv, lambda: [conv(f) for f in hidden], 1.0)
            hidden = [blk(f) for f in hidden]
        self.fit(head.cls_logits, lambda: [head.cls_logits(h) for h in hidden], self.RPN_LOGIT_STD, center=True)
        head.cls_logits.bias.add_(self.randn(head.cls_logits.bias.shape[0]) * 0.3)
        self.fit(head.bbox_pred, lambda: [head.bbox_pred(h) for h in hidden], self.RPN_DELTA_STD, center=True)

    def box_features(self, feats, proposals, image_lists):
        roi = self.model.roi_heads
        pooled = torch.cat([roi.box_roi_pool(f, p, il.image_sizes)
                            for f, p, il in zip(feats, proposals, image_lists)])
        head = roi.box_head
        if self.v2:
            # FastRCNNConvFCHead: conv + batch norm + ReLU blocks, Flatten, Linear, ReLU
            nconv = sum(isinstance(m, Conv2dNormActivation) for m in head)
            x = self.with_bn_randomized(head, lambda: nn.Sequential(*list(head)[:nconv])(pooled)).flatten(1)
            fc = head[nconv + 1]
            self.fit(fc, lambda: [fc(x)], 1.0)
            return torch.relu(fc(x))
        pooled = pooled.flatten(1)
        self.fit(head.fc6, lambda: [head.fc6(pooled)], 1.0)
        h6 = torch.relu(head.fc6(pooled))
        self.fit(head.fc7, lambda: [head.fc7(h6)], 1.0)
        return torch.relu(head.fc7(h6))

    def detect(self, logits, regression, proposals, image_lists):
        """postprocess_detections per image on the rows of one concatenated batch."""
        out, i = [], 0
        for p, il in zip(proposals, image_lists):
            n = p[0].shape[0]
            b, s, l = self.model.roi_heads.postprocess_detections(logits[i:i + n], regression[i:i + n], p,
                                                                  il.image_sizes)
            out.append((b[0], s[0], l[0]))
            i += n
        return out

    def init_classifier(self, h, proposals, image_lists):
        """Class scores that depend on the direction of the box features, not
        on their size. ReLU features share a common component u whose size
        varies several-fold between images and regions; class rows are
        orthogonal to u and the background row is u itself, so a larger
        feature raises background and foreground logits together, and the
        number of detections stays similar from image to image."""
        pred = self.model.roi_heads.box_predictor
        ncls = pred.cls_score.weight.shape[0]
        w, b = pred.cls_score.weight, pred.cls_score.bias
        u = h.mean(dim=0)
        u = u / u.norm().clamp(min=1e-12)
        w.sub_((w @ u)[:, None] * u[None, :])
        w[1:].mul_(self.CLASS_SPREAD / float((h @ w[1:].T).std(dim=0).mean()))
        b.copy_(self.randn(ncls) * 0.3)
        b[0] = 0.0
        mean_u = float((h @ u).mean())
        self.fit(pred.bbox_pred, lambda: [pred.bbox_pred(h)], self.BOX_DELTA_STD, center=True)
        regression = pred.bbox_pred(h)
        fg = h @ w[1:].T + b[1:]
        hu = (h @ u)[:, None] / mean_u
        target = self.target * len(image_lists)

        def detections(k):
            return self.detect(torch.cat([hu * k, fg], dim=1), regression, proposals, image_lists)

        # background logit k * (u.h) / mean(u.h): bisect k for the target count
        lo, hi = -10.0, 100.0
        best = None
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            n = sum(d[0].shape[0] for d in detections(mid))
            if best is None or abs(n - target) < abs(best[1] - target):
                best = (mid, n)
            if n > target:
                lo = mid
            elif n < target:
                hi = mid
            else:
                break
            if hi - lo < 1e-3:
                break
        w[0] = u * (best[0] / mean_u)
        return detections(best[0])

    def init_masks(self, feats, detections, image_lists):
        roi = self.model.roi_heads
        x = torch.cat([roi.mask_roi_pool(f, [d[0]], il.image_sizes)
                       for f, d, il in zip(feats, detections, image_lists) if d[0].shape[0]])
        if self.v2:
            x = self.with_bn_randomized(roi.mask_head, lambda: roi.mask_head(x))
        for blk in roi.mask_head if not self.v2 else []:
            conv = blk[0]
            self.fit(conv, lambda: [conv(x)], 1.0)
            x = blk(x)
        mp = roi.mask_predictor
        self.fit(mp.conv5_mask, lambda: [mp.conv5_mask(x)], 1.0)
        x = torch.relu(mp.conv5_mask(x))
        self.fit(mp.mask_fcn_logits, lambda: [mp.mask_fcn_logits(x)], self.MASK_LOGIT_STD, center=True)
        mp.mask_fcn_logits.bias.add_(self.randn(mp.mask_fcn_logits.bias.shape[0]) * 0.3)

    @torch.no_grad()
    def run(self):
        model = self.model.eval()
        self.init_weights()
        images = calibration_images(self.seed)
        ils = [model.transform([img], None)[0] for img in images]
        body_out = self.init_body_bn(ils[0].tensors)
        self.init_fpn(body_out)
        feats = [model.backbone(il.tensors) for il in ils]
        self.init_rpn(feats)
        proposals = [model.rpn(il, f, None)[0] for il, f in zip(ils, feats)]
        h = self.box_features(feats, proposals, ils)
        detections = self.init_classifier(h, proposals, ils)
        if sum(d[0].shape[0] for d in detections) == 0:
            raise M.ModelError("random init gave no detections on the calibration images")
        self.init_masks(feats, detections, ils)
        return images


# ------------------------------------------------------------------ checks

@torch.no_grad()
def describe(model, image, name):
    r = M.run_stages(model, [image])
    out = r["outputs"][0]
    n = out["scores"].shape[0]
    msg = "%s: %dx%d -> %dx%d input, %d proposals, %d detections" % (
        name, image.shape[2], image.shape[1], r["image"].shape[3], r["image"].shape[2],
        r["proposals"][0].shape[0], n)
    if n:
        s = out["scores"]
        m = out["masks"][:, 0]
        frac = float((m > 0.5).float().sum((1, 2)).div(
            ((out["boxes"][:, 2] - out["boxes"][:, 0]) * (out["boxes"][:, 3] - out["boxes"][:, 1])).clamp(min=1)
        ).median())
        probs = r_mask_probs(model, r)
        msg += ", scores %.3f..%.3f, %d classes, mask probs |p-0.5| median %.2f, mask/box area median %.2f" % (
            float(s.min()), float(s.max()), len(set(out["labels"].tolist())),
            float((probs - 0.5).abs().median()), frac)
        gaps = (s[:-1] - s[1:]).abs()
        if gaps.numel():
            msg += ", min score gap %.2g" % float(gaps.min())
    return msg, r


def r_mask_probs(model, r):
    d = r["detections"][0]
    roi = model.roi_heads
    x = roi.mask_roi_pool(r["features"], [d["boxes"]], r["image_sizes"])
    x = roi.mask_predictor(roi.mask_head(x))
    idx = torch.arange(x.shape[0])
    return x[idx, d["labels"]].sigmoid()


@torch.no_grad()
def validate(path, expected_sd, expected_md, dtype, reference=None, images=()):
    md, sd = M.load_safetensors(path)
    if md != dict(expected_md):
        raise M.ModelError("reloaded metadata differs from what was written")
    if list(sd) != list(expected_sd):
        raise M.ModelError("reloaded tensor names differ from what was written")
    for k, v in expected_sd.items():
        want = v.half().float() if dtype == "F16" else v.float()
        if tuple(sd[k].shape) != tuple(v.shape) or not torch.equal(sd[k], want):
            raise M.ModelError("reloaded tensor %s differs from what was written" % k)
    model = M.model_from_safetensors(path)
    lines = []
    for i, img in enumerate(images):
        msg, r = describe(model, img, "check image %d" % i)
        if reference is not None:
            ref = reference([img])[0]
            ours = r["outputs"][0]
            if ref["boxes"].shape == ours["boxes"].shape and ref["boxes"].numel():
                msg += ", vs source model: max |box diff| %.3g, max |score diff| %.3g" % (
                    float((ref["boxes"] - ours["boxes"]).abs().max()),
                    float((ref["scores"] - ours["scores"]).abs().max()))
            else:
                msg += ", vs source model: %d vs %d detections" % (ref["boxes"].shape[0], ours["boxes"].shape[0])
        lines.append(msg)
    return model, lines


# ------------------------------------------------------------------ main

def main(argv):
    t0 = time.time()
    try:
        a = parse_args(argv)
    except UsageError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 2
    say = (lambda m: None) if a.quiet else log
    torch.set_grad_enabled(False)
    try:
        labels = read_labels(a.labels, a.num_classes) if a.labels else None
        source_model = None
        extra = OrderedDict()
        kwargs = {}
        if a.random_init:
            arch = a.arch or "maskrcnn_resnet50_fpn"
            num_classes = a.num_classes or (len(labels) if labels else 91)
            torch.manual_seed(a.seed)
            model = M.build_model(
                arch, num_classes, body_widths=a.body_widths, fpn_channels=a.fpn_channels or 256,
                representation_size=a.representation_size or 1024, mask_channels=a.mask_channels or 256,
                min_size=a.min_size or 800, max_size=a.max_size or 1333,
                box_score_thresh=0.05 if a.score_thresh is None else a.score_thresh)
            t1 = time.time()
            sample = Randomizer(model, a.seed).run()[0]
            say("random init (seed %d) in %.1fs" % (a.seed, time.time() - t1))
            sd = model.state_dict()
            extra["source"] = "random init, seed %d" % a.seed
            extra["description"] = "random weights for parity tests; not a trained model"
        else:
            if a.pretrained:
                say("loading torchvision's COCO_V1 weights")
                module = load_pretrained(a.arch or "maskrcnn_resnet50_fpn")
                sd = module.state_dict()
                extra["source"] = "torchvision %s.COCO_V1" % (
                    "MaskRCNN_ResNet50_FPN_V2_Weights" if M.is_v2(a.arch) else "MaskRCNN_ResNet50_FPN_Weights")
                extra["license"] = "BSD-3-Clause (torchvision); trained on COCO 2017"
            else:
                sd, module = load_checkpoint(a.checkpoint)
                extra["source"] = "torchvision checkpoint %s" % os.path.basename(a.checkpoint)
            sd = M.normalize_state_dict(sd)
            cfg = M.config_from_state_dict(sd)
            if a.arch and a.arch != cfg["arch"]:
                raise M.ModelError("--arch %s given but the checkpoint is a %s" % (a.arch, cfg["arch"]))
            arch = cfg["arch"]
            if a.num_classes and a.num_classes != cfg["num_classes"]:
                raise M.ModelError("--num-classes %d given but the checkpoint has %d classes"
                                   % (a.num_classes, cfg["num_classes"]))
            if labels and len(labels) != cfg["num_classes"]:
                raise M.ModelError("labels file has %d labels, the checkpoint has %d classes"
                                   % (len(labels), cfg["num_classes"]))
            num_classes = cfg["num_classes"]
            if a.bn_eps != "auto":
                eps = a.bn_eps
            elif module is not None:
                eps = _bn_eps_of(module)
            else:
                from torchvision.models.detection import MaskRCNN_ResNet50_FPN_Weights
                coco_file = os.path.basename(MaskRCNN_ResNet50_FPN_Weights.COCO_V1.url)
                eps = 0.0 if os.path.basename(a.checkpoint) == coco_file else M.BN_EPS
            # settings the source module carries unless overridden on the command line
            if module is not None and hasattr(module, "transform") and hasattr(module, "roi_heads"):
                t = module.transform
                kwargs = dict(M.model_hyper(module))
                kwargs.update(image_mean=list(t.image_mean), image_std=list(t.image_std))
                min_size, max_size = t.min_size[0], t.max_size
            else:
                min_size, max_size = 800, 1333
            if a.score_thresh is not None:
                kwargs["box_score_thresh"] = a.score_thresh
            cfg.pop("num_anchors")
            model = M.build_model(min_size=a.min_size or min_size, max_size=a.max_size or max_size,
                                  **cfg, **kwargs)
            if module is not None and hasattr(module, "forward") and hasattr(module, "roi_heads"):
                source_model = module.eval()
            else:
                # the checkpoint as torchvision evaluates it: same weights, its own epsilon
                source_model = M.build_model(min_size=a.min_size or min_size, max_size=a.max_size or max_size,
                                             **cfg, **kwargs)
                M.load_into(source_model, sd)
                for m in source_model.modules():
                    if isinstance(m, (FrozenBatchNorm2d, nn.BatchNorm2d)):
                        m.eps = eps
            sd, n = fold_eps(sd, eps)
            if n:
                say("batch-norm epsilon %g folded into %d weight vectors (the file uses 1e-5)" % (eps, n))
            M.load_into(model, sd)
            sd = model.state_dict()
            sample = calibration_images(0)[0]

        if labels is None:
            labels = M.default_labels(num_classes)
        sd = OrderedDict((k, v) for k, v in sd.items() if not k.endswith("num_batches_tracked"))
        md = M.metadata_from_model(model, labels, extra=extra)
        dtype = a.dtype.upper()
        M.save_safetensors(a.out, sd, md, dtype=dtype)
        say("wrote %s (%s, %d tensors, %.1f MB, %s)" % (a.out, arch, len(sd), os.path.getsize(a.out) / 1e6, dtype))

        images = [sample] if a.quiet else [sample, calibration_image(a.seed + 100, 360, 600)]
        _, lines = validate(a.out, sd, md, dtype, reference=source_model, images=images)
        for line in lines:
            say(line)
        if a.calibrate:
            C.calibrate_file(a.out, a.out, a.calibrate, a.calibration_method, a.calibration_percentile,
                             C.fp32_list(a.int8_fp32), log=say)
    except UsageError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 2
    except M.ModelError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 1
    log("ok: %s in %.1fs" % (a.out, time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
