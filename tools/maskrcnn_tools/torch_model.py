"""Torchvision Mask R-CNN models in gst-maskrcnn's model format.

Shared by the exporter (export_torchvision), the shapes training and
evaluation, the benchmarks and the parity tests. It builds
torchvision ``MaskRCNN`` modules whose ``state_dict()`` names are exactly the
tensor names of docs/model-format.md, for ResNet-18/34/50/101 bodies of any
width, and reads and writes the safetensors files the engine loads.

The safetensors reader and writer use only numpy, json and struct, so that the
tools run on a stock Debian python3-torch without extra packages.
"""

import json
import os
import re
import struct
from collections import OrderedDict

import numpy as np
import torch
from torch import nn
from torchvision.models import resnet as tv_resnet
from torchvision.models._meta import _COCO_CATEGORIES
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN, _resnet_fpn_extractor, resnet_fpn_backbone
from torchvision.models.detection.faster_rcnn import FastRCNNConvFCHead, FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNN, MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.rpn import RPNHead
from torchvision.ops.misc import FrozenBatchNorm2d

FORMAT_NAME = "gst-maskrcnn"
FORMAT_VERSION = "1"
BN_EPS = 1e-5

# arch -> (block kind, blocks per stage)
ARCHS = OrderedDict([
    ("maskrcnn_resnet18_fpn", ("basic", (2, 2, 2, 2))),
    ("maskrcnn_resnet34_fpn", ("basic", (3, 4, 6, 3))),
    ("maskrcnn_resnet50_fpn", ("bottleneck", (3, 4, 6, 3))),
    ("maskrcnn_resnet101_fpn", ("bottleneck", (3, 4, 23, 3))),
    ("maskrcnn_resnet50_fpn_v2", ("bottleneck", (3, 4, 6, 3))),
])
# torchvision's maskrcnn_resnet50_fpn_v2 (Li et al., "Benchmarking Detection
# Transfer Learning with Vision Transformers"): BatchNorm2d in the body, the
# FPN and every head, a two-conv RPN head, the 4conv1fc box head
# (FastRCNNConvFCHead) and a mask head with batch norm.
V2_ARCHS = ("maskrcnn_resnet50_fpn_v2",)
# stem width + output width of each stage
DEFAULT_BODY_WIDTHS = {
    "basic": (64, 64, 128, 256, 512),
    "bottleneck": (64, 256, 512, 1024, 2048),
}
_TV_BACKBONE = {
    "maskrcnn_resnet18_fpn": "resnet18",
    "maskrcnn_resnet34_fpn": "resnet34",
    "maskrcnn_resnet50_fpn": "resnet50",
    "maskrcnn_resnet101_fpn": "resnet101",
    "maskrcnn_resnet50_fpn_v2": "resnet50",
}

COCO_LABELS = list(_COCO_CATEGORIES)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Metadata keys of docs/model-format.md with torchvision's MaskRCNN defaults.
DEFAULT_HYPER = OrderedDict([
    ("box_score_thresh", 0.05),
    ("box_nms_thresh", 0.5),
    ("box_detections_per_img", 100),
    ("mask_threshold", 0.5),
    ("rpn_pre_nms_top_n_test", 1000),
    ("rpn_post_nms_top_n_test", 1000),
    ("rpn_nms_thresh", 0.7),
    ("rpn_score_thresh", 0.0),
    ("anchor_sizes", [32, 64, 128, 256, 512]),
    ("aspect_ratios", [0.5, 1.0, 2.0]),
])
REQUIRED_METADATA = ["format", "format_version", "architecture", "num_classes", "labels",
                     "min_size", "max_size", "image_mean", "image_std"] + list(DEFAULT_HYPER)


class ModelError(ValueError):
    """A model file or checkpoint that cannot be used, with a message for the user."""


def default_labels(num_classes):
    if num_classes == len(COCO_LABELS):
        return list(COCO_LABELS)
    return ["__background__"] + ["class_%d" % i for i in range(1, num_classes)]


# ------------------------------------------------------------------ body

def _norm(width):
    return FrozenBatchNorm2d(width, eps=BN_EPS)


def is_v2(arch):
    return arch in V2_ARCHS


def _make_block(kind, inplanes, inner, out, stride, norm=_norm):
    """One torchvision residual block with arbitrary widths.

    torchvision's blocks fix the output width (planes * expansion); where the
    requested widths differ, the affected conv/bn children are swapped for
    ones of the right shape. Replacing a child keeps its place in _modules,
    so the state_dict names and order stay torchvision's.
    """
    downsample = None
    if stride != 1 or inplanes != out:
        downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), norm(out))
    if kind == "basic":
        block = tv_resnet.BasicBlock(inplanes, out, stride, downsample, norm_layer=norm)
        if inner != out:
            block.conv1 = nn.Conv2d(inplanes, inner, 3, stride, 1, bias=False)
            block.bn1 = norm(inner)
            block.conv2 = nn.Conv2d(inner, out, 3, 1, 1, bias=False)
    else:
        block = tv_resnet.Bottleneck(inplanes, inner, stride, downsample, norm_layer=norm)
        if inner * tv_resnet.Bottleneck.expansion != out:
            block.conv3 = nn.Conv2d(inner, out, 1, bias=False)
            block.bn3 = norm(out)
    return block


class ResNetBody(nn.Module):
    """A ResNet trunk (no avgpool/fc) with torchvision's attribute names.

    Children are registered in forward order because IntermediateLayerGetter
    runs them in that order.
    """

    def __init__(self, kind, blocks, widths, inner_widths, norm=_norm):
        super().__init__()
        stem = widths[0]
        self.conv1 = nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = stem
        for s in range(4):
            layers = []
            for b in range(blocks[s]):
                stride = 2 if (s > 0 and b == 0) else 1
                layers.append(_make_block(kind, inplanes, inner_widths[s][b], widths[s + 1], stride, norm))
                inplanes = widths[s + 1]
            setattr(self, "layer%d" % (s + 1), nn.Sequential(*layers))

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for s in range(1, 5):
            x = getattr(self, "layer%d" % s)(x)
        return x


def _default_inner(kind, widths, blocks):
    inner = []
    for s in range(4):
        out = widths[s + 1]
        if kind == "bottleneck":
            if out % 4:
                raise ModelError("bottleneck stage widths must be multiples of 4 (inner width = out/4), got %d" % out)
            inner.append([out // 4] * blocks[s])
        else:
            inner.append([out] * blocks[s])
    return inner


# ------------------------------------------------------------------ model

def build_model(arch, num_classes, body_widths=None, fpn_channels=256, representation_size=1024,
                mask_channels=256, min_size=800, max_size=1333, image_mean=None, image_std=None,
                inner_widths=None, mask_layers=None, mask_dim_reduced=None, box_conv_layers=None, **hyper):
    """Builds an eval-mode torchvision MaskRCNN with FrozenBatchNorm2d in the body
    (v1), or with BatchNorm2d in the body, the FPN and the heads (v2).

    body_widths: stem width and the output width of each of the 4 stages
      (default torchvision's). inner_widths: per stage, per block, the inner
      width (default out/4 for bottlenecks, out for basic blocks).
    mask_layers: widths of the mask head convs (default 4 x mask_channels);
      mask_dim_reduced: conv5_mask width (default mask_channels).
    box_conv_layers: v2 only, widths of the box head's convolutions (default
      4 x fpn_channels; torchvision's 4 x 256).
    hyper: the metadata hyper-parameters of DEFAULT_HYPER (box_score_thresh,
      rpn_nms_thresh, anchor_sizes, ...).

    With every width at its default this is torchvision's
    maskrcnn_resnet{18,34,50,101}_fpn built the way torchvision builds it for
    trained weights (FrozenBatchNorm2d body), or its
    maskrcnn_resnet50_fpn_v2 built as torchvision builds it.
    """
    if arch not in ARCHS:
        raise ModelError("unknown architecture %r (expected one of %s)" % (arch, ", ".join(ARCHS)))
    kind, blocks = ARCHS[arch]
    num_classes = int(num_classes)
    if num_classes < 2:
        raise ModelError("num_classes must be >= 2 (background + at least one class), got %d" % num_classes)
    unknown = set(hyper) - set(DEFAULT_HYPER)
    if unknown:
        raise TypeError("build_model: unknown arguments %s" % ", ".join(sorted(unknown)))
    h = dict(DEFAULT_HYPER)
    h.update(hyper)

    widths = tuple(int(w) for w in (body_widths or DEFAULT_BODY_WIDTHS[kind]))
    if len(widths) != 5 or min(widths) < 1:
        raise ModelError("body widths must be 5 positive integers (stem + 4 stages), got %r" % (widths,))
    if inner_widths is None:
        inner_widths = _default_inner(kind, widths, blocks)
    else:
        inner_widths = [list(map(int, s)) for s in inner_widths]
        if [len(s) for s in inner_widths] != list(blocks):
            raise ModelError("inner widths %r do not match the block counts %r of %s" % (
                [len(s) for s in inner_widths], blocks, arch))

    v2 = is_v2(arch)
    if box_conv_layers is not None and not v2:
        raise ModelError("%s has no box head convolutions (box_conv_layers is for v2 models)" % arch)
    return_layers = {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"}
    standard = widths == DEFAULT_BODY_WIDTHS[kind] and inner_widths == _default_inner(kind, widths, blocks)
    if v2 and standard and fpn_channels == 256:
        # as torchvision's maskrcnn_resnet50_fpn_v2 does it
        backbone = _resnet_fpn_extractor(tv_resnet.resnet50(weights=None), 5, norm_layer=nn.BatchNorm2d)
    elif v2:
        body = ResNetBody(kind, blocks, widths, inner_widths, norm=nn.BatchNorm2d)
        backbone = BackboneWithFPN(body, return_layers, list(widths[1:]), int(fpn_channels),
                                   norm_layer=nn.BatchNorm2d)
    elif standard and fpn_channels == 256:
        # torchvision's own construction, as maskrcnn_resnet50_fpn does it for trained weights
        backbone = resnet_fpn_backbone(backbone_name=_TV_BACKBONE[arch], weights=None,
                                       norm_layer=FrozenBatchNorm2d, trainable_layers=5)
    else:
        body = ResNetBody(kind, blocks, widths, inner_widths)
        backbone = BackboneWithFPN(body, return_layers, list(widths[1:]), int(fpn_channels))

    sizes = tuple((int(s),) for s in h["anchor_sizes"])
    ratios = (tuple(float(r) for r in h["aspect_ratios"]),) * len(sizes)
    if len(sizes) != 5:
        raise ModelError("anchor_sizes must have 5 entries (P2..P6), got %r" % (h["anchor_sizes"],))
    anchor_gen = AnchorGenerator(sizes, ratios)
    fpn = backbone.out_channels
    rpn_head = RPNHead(fpn, anchor_gen.num_anchors_per_location()[0], conv_depth=2 if v2 else 1)

    rep = int(representation_size)
    if v2:
        box_conv_layers = [int(c) for c in (box_conv_layers or [fpn] * 4)]
        box_head = FastRCNNConvFCHead((fpn, 7, 7), box_conv_layers, [rep], norm_layer=nn.BatchNorm2d)
    else:
        box_head = TwoMLPHead(fpn * 7 * 7, rep)
    box_predictor = FastRCNNPredictor(rep, num_classes)
    mask_layers = [int(m) for m in (mask_layers or [mask_channels] * 4)]
    mask_dim_reduced = int(mask_dim_reduced or mask_channels)
    mask_head = MaskRCNNHeads(fpn, mask_layers, 1, norm_layer=nn.BatchNorm2d if v2 else None)
    mask_predictor = MaskRCNNPredictor(mask_layers[-1], mask_dim_reduced, num_classes)

    model = MaskRCNN(
        backbone, num_classes=None,
        min_size=int(min_size), max_size=int(max_size),
        image_mean=list(image_mean or IMAGENET_MEAN), image_std=list(image_std or IMAGENET_STD),
        rpn_anchor_generator=anchor_gen, rpn_head=rpn_head,
        rpn_pre_nms_top_n_test=int(h["rpn_pre_nms_top_n_test"]),
        rpn_post_nms_top_n_test=int(h["rpn_post_nms_top_n_test"]),
        rpn_nms_thresh=float(h["rpn_nms_thresh"]), rpn_score_thresh=float(h["rpn_score_thresh"]),
        box_head=box_head, box_predictor=box_predictor,
        box_score_thresh=float(h["box_score_thresh"]), box_nms_thresh=float(h["box_nms_thresh"]),
        box_detections_per_img=int(h["box_detections_per_img"]),
        mask_head=mask_head, mask_predictor=mask_predictor)
    # torchvision binarises pasted masks outside the model; keep the value with it
    model.mask_threshold = float(h["mask_threshold"])
    model.arch = arch
    return model.eval()


def model_hyper(model):
    """The DEFAULT_HYPER values a built model uses."""
    rpn, roi = model.rpn, model.roi_heads
    ag = rpn.anchor_generator
    return OrderedDict([
        ("box_score_thresh", float(roi.score_thresh)),
        ("box_nms_thresh", float(roi.nms_thresh)),
        ("box_detections_per_img", int(roi.detections_per_img)),
        ("mask_threshold", float(getattr(model, "mask_threshold", 0.5))),
        ("rpn_pre_nms_top_n_test", int(rpn._pre_nms_top_n["testing"])),
        ("rpn_post_nms_top_n_test", int(rpn._post_nms_top_n["testing"])),
        ("rpn_nms_thresh", float(rpn.nms_thresh)),
        ("rpn_score_thresh", float(rpn.score_thresh)),
        ("anchor_sizes", [int(s[0]) for s in ag.sizes]),
        ("aspect_ratios", [float(r) for r in ag.aspect_ratios[0]]),
    ])


def make_metadata(arch, labels, min_size, max_size, image_mean=IMAGENET_MEAN, image_std=IMAGENET_STD,
                  extra=None, **hyper):
    """The __metadata__ map of docs/model-format.md (all values strings)."""
    h = dict(DEFAULT_HYPER)
    h.update(hyper)
    md = OrderedDict()
    md["format"] = FORMAT_NAME
    md["format_version"] = FORMAT_VERSION
    md["architecture"] = arch
    md["num_classes"] = str(len(labels))
    md["labels"] = json.dumps(list(labels))
    md["min_size"] = str(int(min_size))
    md["max_size"] = str(int(max_size))
    md["image_mean"] = json.dumps([float(v) for v in image_mean])
    md["image_std"] = json.dumps([float(v) for v in image_std])
    for k in DEFAULT_HYPER:
        v = h[k]
        if k in ("anchor_sizes",):
            v = [int(x) for x in v]
        elif k == "aspect_ratios":
            v = [float(x) for x in v]
        elif isinstance(DEFAULT_HYPER[k], int):
            v = int(v)
        else:
            v = float(v)
        md[k] = json.dumps(v)
    for k, v in (extra or {}).items():
        md[k] = str(v)
    return md


def metadata_from_model(model, labels, extra=None):
    t = model.transform
    return make_metadata(model.arch, labels, t.min_size[0], t.max_size, t.image_mean, t.image_std,
                         extra=extra, **model_hyper(model))


# ------------------------------------------------------------------ shapes -> widths

def normalize_state_dict(sd):
    """torchvision's state_dict names for older spellings; drops num_batches_tracked.

    Old checkpoints name the mask head convs mask_fcn{1..4} and the RPN conv
    rpn.head.conv; torchvision upgrades both when loading, so do we.
    """
    out = OrderedDict()
    for k, v in sd.items():
        if k.startswith("module."):
            k = k[len("module."):]
        if k.endswith("num_batches_tracked"):
            continue
        m = re.match(r"roi_heads\.mask_head\.mask_fcn(\d+)\.(weight|bias)$", k)
        if m:
            k = "roi_heads.mask_head.%d.0.%s" % (int(m.group(1)) - 1, m.group(2))
        m = re.match(r"rpn\.head\.conv\.(weight|bias)$", k)
        if m:
            k = "rpn.head.conv.0.0.%s" % m.group(1)
        out[k] = v
    return out


def _need(sd, name):
    if name not in sd:
        raise ModelError("tensor %s is missing" % name)
    return sd[name]


def config_from_state_dict(sd):
    """Infers the architecture and every width from tensor names and shapes.

    Returns a dict of build_model keyword arguments (arch, num_classes,
    body_widths, inner_widths, fpn_channels, representation_size,
    mask_layers, mask_dim_reduced and, for v2, box_conv_layers) plus
    "num_anchors". A v2 model is told by its batch-normed FPN.
    """
    sd = normalize_state_dict(sd)
    stem = _need(sd, "backbone.body.conv1.weight").shape[0]
    counts, widths, inner = [], [stem], []
    bottleneck = "backbone.body.layer1.0.conv3.weight" in sd
    kind = "bottleneck" if bottleneck else "basic"
    last = "conv3" if bottleneck else "conv2"
    for s in range(1, 5):
        idx = set()
        for k in sd:
            m = re.match(r"backbone\.body\.layer%d\.(\d+)\.conv1\.weight$" % s, k)
            if m:
                idx.add(int(m.group(1)))
        if not idx:
            raise ModelError("no blocks found for backbone.body.layer%d" % s)
        n = max(idx) + 1
        if sorted(idx) != list(range(n)):
            raise ModelError("backbone.body.layer%d has blocks %s, expected 0..%d" % (s, sorted(idx), n - 1))
        counts.append(n)
        widths.append(_need(sd, "backbone.body.layer%d.0.%s.weight" % (s, last)).shape[0])
        inner.append([sd["backbone.body.layer%d.%d.conv1.weight" % (s, b)].shape[0] for b in range(n)])
    v2 = "backbone.fpn.inner_blocks.0.1.running_mean" in sd
    arch = None
    for name, (k, blocks) in ARCHS.items():
        if k == kind and tuple(counts) == blocks and is_v2(name) == v2:
            arch = name
    if arch is None:
        raise ModelError("block counts %s with %s blocks%s match no supported architecture" % (
            counts, kind, " and batch norm in the FPN (v2)" if v2 else ""))
    fpn = _need(sd, "backbone.fpn.inner_blocks.0.0.weight").shape[0]
    extra = {}
    if v2:
        box_convs = []
        while "roi_heads.box_head.%d.0.weight" % len(box_convs) in sd:
            box_convs.append(int(sd["roi_heads.box_head.%d.0.weight" % len(box_convs)].shape[0]))
        if not box_convs:
            raise ModelError("tensor roi_heads.box_head.0.0.weight is missing")
        # FastRCNNConvFCHead: the convolutions, a Flatten, then Linear + ReLU
        rep = _need(sd, "roi_heads.box_head.%d.weight" % (len(box_convs) + 1)).shape[0]
        extra["box_conv_layers"] = box_convs
    else:
        fc6 = _need(sd, "roi_heads.box_head.fc6.weight").shape[0]
        rep = _need(sd, "roi_heads.box_head.fc7.weight").shape[0]
        if fc6 != rep:
            raise ModelError("box head fc6 (%d) and fc7 (%d) widths differ" % (fc6, rep))
    num_classes = _need(sd, "roi_heads.box_predictor.cls_score.weight").shape[0]
    mask_layers = []
    while "roi_heads.mask_head.%d.0.weight" % len(mask_layers) in sd:
        mask_layers.append(sd["roi_heads.mask_head.%d.0.weight" % len(mask_layers)].shape[0])
    if not mask_layers:
        raise ModelError("tensor roi_heads.mask_head.0.0.weight is missing")
    dim_reduced = _need(sd, "roi_heads.mask_predictor.conv5_mask.weight").shape[1]
    num_anchors = _need(sd, "rpn.head.cls_logits.weight").shape[0]
    return dict(arch=arch, num_classes=int(num_classes), body_widths=[int(w) for w in widths],
                inner_widths=[[int(i) for i in s] for s in inner], fpn_channels=int(fpn),
                representation_size=int(rep), mask_layers=[int(m) for m in mask_layers],
                mask_dim_reduced=int(dim_reduced), num_anchors=int(num_anchors), **extra)


def load_into(model, sd):
    """load_state_dict(strict) with a readable error."""
    sd = normalize_state_dict(sd)
    # BatchNorm2d's training counter is no weight (the format leaves it out)
    own = OrderedDict((k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked"))
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    if missing or unexpected:
        raise ModelError("state_dict does not match the architecture: missing %s; unexpected %s" % (
            missing[:5] + (["..."] if len(missing) > 5 else []),
            unexpected[:5] + (["..."] if len(unexpected) > 5 else [])))
    for k, v in own.items():
        if tuple(sd[k].shape) != tuple(v.shape):
            raise ModelError("tensor %s has shape %s, expected %s" % (k, list(sd[k].shape), list(v.shape)))
    model.load_state_dict(sd, strict=True)
    return model


# ------------------------------------------------------------------ safetensors

_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "F64": np.dtype("<f8"),
           "I64": np.dtype("<i8"), "I32": np.dtype("<i4")}


def save_safetensors(path, tensors, metadata=None, dtype="F32"):
    """Writes {name: tensor} as safetensors with every tensor in `dtype` (F32 or F16).

    The header is padded with spaces so the data starts 8-byte aligned.
    Written to a temporary file first and renamed, so a reader never sees a
    half-written model.
    """
    dtype = dtype.upper()
    if dtype not in ("F32", "F16"):
        raise ValueError("dtype must be F32 or F16, got %r" % dtype)
    npdt = _DTYPES[dtype]
    header = OrderedDict()
    if metadata:
        header["__metadata__"] = OrderedDict((str(k), str(v)) for k, v in metadata.items())
    blobs, off = [], 0
    for name, t in tensors.items():
        a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        if dtype == "F16":
            finite = np.isfinite(a)
            if np.any(np.abs(a[finite]) > 65504):
                raise ValueError("tensor %s has values beyond the float16 range" % name)
        a = np.ascontiguousarray(a.astype(npdt))
        b = a.tobytes()
        header[name] = OrderedDict([("dtype", dtype), ("shape", list(a.shape)),
                                    ("data_offsets", [off, off + len(b)])])
        blobs.append(b)
        off += len(b)
    write_safetensors_raw(path, header, blobs)


def write_safetensors_raw(path, header, chunks):
    """Writes a safetensors file from its header dict and its data (bytes
    chunks in order), the header padded with spaces so that the data starts
    8-byte aligned; through a temporary file renamed at the end, so that a
    reader never sees half a model."""
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((8 - (8 + len(hb)) % 8) % 8)
    tmp = path + ".tmp%d" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in chunks:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors_header(path):
    """(header dict, data start offset) of a safetensors file, validated."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ModelError("%s: too short for a safetensors file" % path)
        (n,) = struct.unpack("<Q", raw)
        if n > size - 8 or n > 100 * 1024 * 1024:
            raise ModelError("%s: header length %d exceeds the file" % (path, n))
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ModelError("%s: header is not valid JSON: %s" % (path, e))
    if not isinstance(header, dict):
        raise ModelError("%s: header is not a JSON object" % path)
    data_len = size - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = info.get("dtype")
        if dt not in _DTYPES:
            raise ModelError("%s: tensor %s has unsupported dtype %r" % (path, name, dt))
        b, e = info["data_offsets"]
        nbytes = int(np.prod(info["shape"], dtype=np.int64)) * _DTYPES[dt].itemsize
        if not (0 <= b <= e <= data_len) or e - b != nbytes:
            raise ModelError("%s: tensor %s has bad data_offsets %r" % (path, name, [b, e]))
    return header, 8 + n


def load_safetensors(path):
    """Returns (metadata dict, OrderedDict name -> float32 torch.Tensor)."""
    header, start = read_safetensors_header(path)
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    tensors = OrderedDict()
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        a = np.frombuffer(data, dtype=_DTYPES[info["dtype"]], count=(e - b) // _DTYPES[info["dtype"]].itemsize,
                          offset=b).reshape(info["shape"])
        tensors[name] = torch.from_numpy(a.astype(np.float32))
    return dict(header.get("__metadata__", {})), tensors


# ------------------------------------------------------------------ model files

def parse_metadata(md):
    """Checks a model's metadata and decodes the JSON values."""
    missing = [k for k in REQUIRED_METADATA if k not in md]
    if missing:
        raise ModelError("metadata keys missing: %s" % ", ".join(missing))
    if md["format"] != FORMAT_NAME:
        raise ModelError("metadata format is %r, expected %r" % (md["format"], FORMAT_NAME))
    if md["format_version"] != FORMAT_VERSION:
        raise ModelError("format_version %r is not supported (expected %s)" % (md["format_version"], FORMAT_VERSION))
    out = {"architecture": md["architecture"]}
    try:
        for k in REQUIRED_METADATA[3:]:
            out[k] = json.loads(md[k])
    except ValueError as e:
        raise ModelError("metadata value is not valid JSON: %s" % e)
    if len(out["labels"]) != int(out["num_classes"]):
        raise ModelError("labels has %d entries, num_classes is %s" % (len(out["labels"]), out["num_classes"]))
    return out


def model_from_safetensors(path):
    """Builds the torchvision model of a gst-maskrcnn .safetensors file.

    Every width comes from the tensor shapes; thresholds, sizes and the
    normalisation from the metadata. Returns the eval-mode model with
    model.labels and model.metadata set.
    """
    md, sd = load_safetensors(path)
    meta = parse_metadata(md)
    cfg = config_from_state_dict(sd)
    if cfg["arch"] != meta["architecture"]:
        raise ModelError("%s: metadata says %s but the tensors are a %s" % (path, meta["architecture"], cfg["arch"]))
    if cfg["num_classes"] != int(meta["num_classes"]):
        raise ModelError("%s: metadata num_classes %s but cls_score has %d rows" % (
            path, meta["num_classes"], cfg["num_classes"]))
    if cfg.pop("num_anchors") != len(meta["aspect_ratios"]):
        raise ModelError("%s: rpn.head.cls_logits does not have one output per aspect ratio" % path)
    hyper = {k: meta[k] for k in DEFAULT_HYPER}
    model = build_model(min_size=meta["min_size"], max_size=meta["max_size"], image_mean=meta["image_mean"],
                        image_std=meta["image_std"], **cfg, **hyper)
    load_into(model, sd)
    model.labels = meta["labels"]
    model.metadata = md
    return model.eval()


# ------------------------------------------------------------------ running

@torch.no_grad()
def run_stages(model, images):
    """GeneralizedRCNN.forward (eval) one stage at a time, keeping the intermediates.

    images: list of 3xHxW float tensors in 0..1. Returns a dict with
    "image" (the padded batch tensor), "features" (OrderedDict of the FPN
    outputs), "proposals" (list, one Nx4 tensor per image, resized-image
    coordinates), "detections" (before transform.postprocess, resized-image
    coordinates) and "outputs" (the list torchvision's forward returns).
    """
    original_sizes = [tuple(img.shape[-2:]) for img in images]
    image_list, _ = model.transform(images, None)
    features = model.backbone(image_list.tensors)
    proposals, _ = model.rpn(image_list, features, None)
    detections, _ = model.roi_heads(features, proposals, image_list.image_sizes, None)
    pre = [{k: v.clone() for k, v in d.items()} for d in detections]
    outputs = model.transform.postprocess(detections, image_list.image_sizes, original_sizes)
    return {"image": image_list.tensors, "image_sizes": image_list.image_sizes, "features": features,
            "proposals": proposals, "detections": pre, "outputs": outputs}
