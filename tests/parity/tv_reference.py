#!/usr/bin/python3
"""torchvision reference outputs of a gst-maskrcnn model, for the parity test.

Builds the model with maskrcnn_tools.torch_model.model_from_safetensors
(widths from the tensor shapes, thresholds and sizes from the metadata) and
runs torchvision's eval path on each image one stage at a time, as
GeneralizedRCNN.forward does.
Writes OUTDIR/<image stem>.npz with:

  image        1x3xHpxWp float32  normalised, resized, zero-padded batch tensor
  image_size   (h, w) of the resized image inside the padding
  fpn0..fpn4   1xCxHxW float32    backbone outputs '0', '1', '2', '3', 'pool'
  proposals    Nx4 float32        RPN proposals, resized-image coordinates, torchvision's order
  boxes        Nx4 float32        final boxes in frame pixels
  scores       N float32
  labels       N int64
  mask_probs   NxMxM float32      mask probabilities of each detection's class (box-relative)
  masks_binary NxHxW uint8        pasted masks > mask_threshold, decided in float32
                                  (compare_dumps pastes mask_probs again where it
                                  needs the probabilities)
  score_thresh, detections_per_img, mask_threshold  the model's settings
  box_nms_thresh, box_min_size                      the box head's NMS settings
  rpn_cand_*   torchvision's RPN candidates, for compare_dumps to tell which
               proposals could have been kept instead (see rpn_candidates):
               _anchor K int32 anchor index, _logit K float32 objectness,
               _box Kx4 clipped box, _level K int8 FPN level, _topk K bool in
               the level's pre-NMS top-k, _valid K bool past the size and
               score filters
  rpn_proposal_cand  N int32  candidate of each proposal
  rpn_kept_cand      candidates NMS kept, in its order (before the post-NMS cut)
  det_cand_*   the box head's candidates before its NMS (box_candidates):
               _boxes Kx4 frame pixels, _scores, _labels, _prop proposal index
  det_kept     the candidates NMS kept, in candidate order (what batched_nms'
               final sort reads); det_final the detections' candidates;
               det_introsort whether that sort is torch's introsort
  rpn_nms_thresh, rpn_pre_nms_top_n, rpn_post_nms_top_n, rpn_min_size,
  rpn_score_thresh                                  the RPN's settings

With --on-ours OURS_DIR (after mrcnn-dump), torchvision's heads run on the
engine's own FPN outputs and proposals instead, and OUT/<stem>.npz gets:

  rpn_logits   A float32  objectness of every anchor on the engine's FPN
  rpn_rounding float32    max |float32 - float64| of those logits
  cand_boxes, cand_scores, cand_labels, cand_prop  the box head's detection
               candidates for the engine's proposals (frame pixels; before
               NMS, score above the threshold less TOL_SCORE)
  box_rounding float32    max |float32 - float64| of the box head's scores, and
  cand_scores64           the candidates' scores computed in float64, where
                          batched_nms takes torch's introsort (det_introsort)

so that compare_dumps measures how far the engine's objectness can lie from
torchvision's (the engine does not export it) and can identify a detection
that only the engine kept.

With --batch, all images go through one batched forward, as
model([img0, img1, ...]) runs them: padded to their common size; each
image's arrays are its slice of the batch.

usage: PYTHONPATH=tools tv_reference.py --model FILE --out DIR [--batch] [--verify-forward] IMAGE...
       PYTHONPATH=tools tv_reference.py --model FILE --out DIR --on-ours OURS_DIR REF_DIR
"""

import argparse
import copy
import os
import sys
import time
from collections import OrderedDict

import numpy as np
import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.rpn import concat_box_prediction_layers
from torchvision.models.detection.transform import resize_boxes
from torchvision.ops import boxes as box_ops

from maskrcnn_tools import compare_dumps
from maskrcnn_tools import torch_model as M

FPN_KEYS = ["0", "1", "2", "3", "pool"]
# roi_heads.postprocess_detections' remove_small_boxes(boxes, min_size=1e-2)
BOX_MIN_SIZE = 1e-2


def load_image(path):
    with Image.open(path) as im:
        return TF.to_tensor(im.convert("RGB"))


def rpn_objectness(head, features):
    """The RPN head's objectness logits of every anchor, per image (N x A),
    in the order of torchvision's anchors."""
    feats = list(features.values())
    objectness, deltas = head(feats)
    obj, dl = concat_box_prediction_layers(objectness, deltas)
    return obj.view(feats[0].shape[0], -1), dl, [o[0].numel() for o in objectness]


def rpn_candidates(model, image_list, features, proposals):
    """torchvision's RegionProposalNetwork.filter_proposals step by step,
    keeping what it drops: per level the pre-NMS top-k anchors and the next
    k (the ones that could enter the top-k), clipped, with their logits,
    levels and whether they pass the size and score filters. Checks that
    its kept boxes are the proposals the model returned."""
    rpn = model.rpn
    obj, dl, per_level = rpn_objectness(rpn.head, features)
    anchors = rpn.anchor_generator(image_list, list(features.values()))
    boxes_all = rpn.box_coder.decode(dl.detach(), anchors).view(len(anchors), -1, 4)
    top = rpn._get_top_n_idx(obj, per_level)
    # sigmoid over the same N x k tensor as filter_proposals (a vectorised
    # kernel may round a tail element otherwise)
    prob_top = torch.sigmoid(obj[torch.arange(len(anchors))[:, None], top])
    k = rpn.pre_nms_top_n()
    starts = np.cumsum([0] + per_level)
    result = []
    for i in range(len(anchors)):
        top_i = top[i]
        in_top = set(top_i.tolist())
        extra = []
        for lvl, ob in enumerate(obj[i].split(per_level)):
            _, idx = ob.topk(min(2 * k, ob.numel()))
            extra += [int(a) + int(starts[lvl]) for a in idx.tolist() if int(a) + int(starts[lvl]) not in in_top]
        anchor = torch.cat([top_i, torch.tensor(extra, dtype=torch.int64)])
        level = torch.from_numpy(np.searchsorted(starts, anchor.numpy(), side="right") - 1)
        logit = obj[i, anchor]
        box = box_ops.clip_boxes_to_image(boxes_all[i, anchor], image_list.image_sizes[i])
        valid = torch.zeros(len(anchor), dtype=torch.bool)
        valid[box_ops.remove_small_boxes(box, rpn.min_size)] = True
        n_top = len(top_i)
        prob = torch.cat([prob_top[i], torch.sigmoid(logit[n_top:])])
        valid &= prob >= rpn.score_thresh
        # the kept ones, as filter_proposals keeps them
        cand = torch.where(valid[:n_top])[0]
        kept = cand[box_ops.batched_nms(box[cand], prob[cand], level[cand], rpn.nms_thresh)]
        keep = kept[: rpn.post_nms_top_n()]
        if not torch.equal(box[keep], proposals[i]):
            raise RuntimeError("the RPN candidates do not reproduce the model's proposals")
        topk = torch.zeros(len(anchor), dtype=torch.bool)
        topk[:n_top] = True
        result.append({
            "rpn_cand_anchor": anchor.numpy().astype(np.int32),
            "rpn_cand_logit": logit.numpy().astype(np.float32),
            "rpn_cand_box": box.numpy().astype(np.float32),
            "rpn_cand_level": level.numpy().astype(np.int8),
            "rpn_cand_topk": topk.numpy(),
            "rpn_cand_valid": valid.numpy(),
            "rpn_proposal_cand": keep.numpy().astype(np.int32),
            "rpn_kept_cand": kept.numpy().astype(np.int32),
            "rpn_nms_thresh": np.float32(rpn.nms_thresh),
            "rpn_pre_nms_top_n": np.int32(k),
            "rpn_post_nms_top_n": np.int32(rpn.post_nms_top_n()),
            "rpn_min_size": np.float32(rpn.min_size),
            "rpn_score_thresh": np.float32(rpn.score_thresh),
        })
    return result


def box_scores(roi, features, proposals, image_sizes):
    """The box head's decoded boxes and softmax scores for every proposal
    (all images at once, as RoIHeads does)."""
    x = roi.box_head(roi.box_roi_pool(features, proposals, image_sizes))
    class_logits, box_regression = roi.box_predictor(x)
    return roi.box_coder.decode(box_regression, proposals), torch.nn.functional.softmax(class_logits, -1)


def detection_candidates(boxes, scores, image_size, frame, min_score):
    """postprocess_detections' candidates of one image up to its NMS:
    clipped, background dropped, flattened proposal-major, scores above
    min_score. Returns boxes (frame pixels), scores, labels, proposal index,
    whether each passes the size filter, and the clipped boxes in resized
    coordinates for NMS."""
    boxes = box_ops.clip_boxes_to_image(boxes, image_size)
    n, c = scores.shape
    labels = torch.arange(c).view(1, -1).expand_as(scores)
    prop = torch.arange(n).view(-1, 1).expand_as(scores)
    boxes, scores = boxes[:, 1:].reshape(-1, 4), scores[:, 1:].reshape(-1)
    labels, prop = labels[:, 1:].reshape(-1), prop[:, 1:].reshape(-1)
    keep = torch.where(scores > min_score)[0]
    boxes, scores, labels, prop = boxes[keep], scores[keep], labels[keep], prop[keep]
    sized = torch.zeros(len(scores), dtype=torch.bool)
    sized[box_ops.remove_small_boxes(boxes, BOX_MIN_SIZE)] = True
    return resize_boxes(boxes, image_size, frame), scores, labels, prop, sized, boxes


def box_candidates(model, features, proposals, image_sizes, frames, detections):
    """postprocess_detections step by step: per image its candidates, the
    ones batched_nms kept (in the order its final sort reads them) and
    whether that sort is torch's introsort (above 1000 candidates) or nms'
    stable one. Checks that they reproduce the model's detections."""
    roi = model.roi_heads
    boxes, scores = box_scores(roi, features, proposals, image_sizes)
    per = [len(p) for p in proposals]
    result = []
    for i, (b, s) in enumerate(zip(boxes.split(per), scores.split(per))):
        fb, sc, lb, pr, sized, rb = detection_candidates(b, s, image_sizes[i], frames[i], roi.score_thresh)
        cand = torch.where(sized)[0]
        introsort = rb[cand].numel() > 4000
        keep = cand[box_ops.batched_nms(rb[cand], sc[cand], lb[cand], roi.nms_thresh)]
        final = keep[: roi.detections_per_img]
        if not (torch.equal(rb[final], detections[i]["boxes"]) and torch.equal(sc[final], detections[i]["scores"])):
            raise RuntimeError("the box head's candidates do not reproduce the model's detections")
        result.append({
            "det_cand_boxes": fb.numpy().astype(np.float32),
            "det_cand_scores": sc.numpy().astype(np.float32),
            "det_cand_labels": lb.numpy().astype(np.int64),
            "det_cand_prop": pr.numpy().astype(np.int32),
            # the kept ones in candidate order: the array batched_nms sorts
            "det_kept": np.sort(keep.numpy()).astype(np.int32),
            "det_final": final.numpy().astype(np.int32),
            "det_introsort": np.bool_(introsort),
        })
    return result


@torch.no_grad()
def reference(model, imgs):
    """Per image of one batched forward: its arrays and its output."""
    r = M.run_stages(model, imgs)
    cands = rpn_candidates(model, ImageList(r["image"], r["image_sizes"]), r["features"], r["proposals"])
    dets = box_candidates(model, r["features"], r["proposals"], r["image_sizes"],
                          [tuple(img.shape[-2:]) for img in imgs], r["detections"])
    result = []
    for i in range(len(imgs)):
        out = r["outputs"][i]
        pre = r["detections"][i]
        arrays = {
            "image": r["image"][i:i + 1].numpy().astype(np.float32),
            "image_size": np.array(r["image_sizes"][i], np.int32),
            "proposals": r["proposals"][i].numpy().astype(np.float32),
            "boxes": out["boxes"].numpy().astype(np.float32),
            "scores": out["scores"].numpy().astype(np.float32),
            "labels": out["labels"].numpy().astype(np.int64),
            "mask_probs": pre["masks"][:, 0].numpy().astype(np.float32),
            "masks_binary": (out["masks"][:, 0] > getattr(model, "mask_threshold", 0.5)).numpy().astype(np.uint8),
            "score_thresh": np.float32(model.roi_heads.score_thresh),
            "detections_per_img": np.int32(model.roi_heads.detections_per_img),
            "mask_threshold": np.float32(getattr(model, "mask_threshold", 0.5)),
            "box_nms_thresh": np.float32(model.roi_heads.nms_thresh),
            "box_min_size": np.float32(BOX_MIN_SIZE),
        }
        arrays.update(cands[i])
        arrays.update(dets[i])
        for k, key in enumerate(FPN_KEYS):
            arrays["fpn%d" % k] = r["features"][key][i:i + 1].numpy().astype(np.float32)
        result.append((arrays, out))
    return result


@torch.no_grad()
def on_ours(model, ref_dir, ours_dir, out_dir):
    """torchvision's heads on the engine's FPN outputs and proposals (see the
    top comment); one OUT/<stem>.npz per reference image."""
    head64 = copy.deepcopy(model.rpn.head).double()
    roi = model.roi_heads
    roi64 = copy.deepcopy(roi).double()
    for f in sorted(os.listdir(ref_dir)):
        if not f.endswith(".npz"):
            continue
        stem = f[:-4]
        ours = os.path.join(ours_dir, stem)
        with np.load(os.path.join(ref_dir, f)) as z:
            image, image_size = torch.from_numpy(z["image"]), tuple(int(v) for v in z["image_size"])
            introsort = bool(z["det_introsort"])
        feats = OrderedDict((key, torch.from_numpy(np.load(os.path.join(ours, "fpn%d.npy" % k))))
                            for k, key in enumerate(FPN_KEYS))
        il = ImageList(image, [image_size])
        logits, _, _ = rpn_objectness(model.rpn.head, feats)
        logits64, _, _ = rpn_objectness(head64, OrderedDict((k, v.double()) for k, v in feats.items()))
        rounding = float((logits.double() - logits64).abs().max()) if logits.numel() else 0.0

        # the box head on our proposals, up to postprocess_detections' NMS
        props = torch.from_numpy(np.load(os.path.join(ours, "proposals.npy")))
        frame = tuple(int(v) for v in np.load(os.path.join(ours, "frame_size.npy")))
        boxes, scores = box_scores(roi, feats, [props], il.image_sizes)
        fb, sc, lb, pr, _, _ = detection_candidates(boxes, scores, image_size, frame,
                                                    roi.score_thresh - compare_dumps.TOL_SCORE)
        arrays = {"rpn_logits": logits[0].numpy().astype(np.float32), "rpn_rounding": np.float32(rounding),
                  "cand_boxes": fb.numpy().astype(np.float32), "cand_scores": sc.numpy().astype(np.float32),
                  "cand_labels": lb.numpy().astype(np.int64), "cand_prop": pr.numpy().astype(np.int32)}
        note = ""
        if introsort:  # only torch's introsort needs them (compare_dumps' tie order)
            _, scores64 = box_scores(roi64, OrderedDict((k, v.double()) for k, v in feats.items()),
                                     [props.double()], il.image_sizes)
            sel = scores[:, 1:].reshape(-1) > roi.score_thresh - compare_dumps.TOL_SCORE
            arrays["box_rounding"] = np.float32((scores.double() - scores64).abs().max())
            arrays["cand_scores64"] = scores64[:, 1:].reshape(-1)[sel].numpy()
            note = ", of box scores %.2e" % arrays["box_rounding"]
        np.savez_compressed(os.path.join(out_dir, stem + ".npz"), **arrays)
        print("tv_reference: %-24s torchvision's heads on the engine's FPN: rounding of objectness %.2e%s; "
              "%d detection candidates" % (stem, rounding, note, len(sc)), flush=True)
    return 0


def save(a, path, img, arrays, dt):
    stem = os.path.splitext(os.path.basename(path))[0]
    np.savez_compressed(os.path.join(a.out, stem + ".npz"), **arrays)
    s = arrays["scores"]
    print("tv_reference: %-24s %4dx%-4d -> %s  %4d proposals %3d detections%s  %.2fs" % (
        stem, img.shape[2], img.shape[1], "x".join(map(str, arrays["image"].shape[2:][::-1])),
        arrays["proposals"].shape[0], s.shape[0],
        "  scores %.3f..%.3f" % (s.min(), s.max()) if s.size else "", dt), flush=True)


def verify_forward(model, imgs, outs, paths):
    """model(images) must return what the staged run returned."""
    with torch.no_grad():
        full = model(imgs)
    for f, out, path in zip(full, outs, paths):
        for k in ("boxes", "scores", "labels", "masks"):
            if not torch.equal(f[k], out[k]):
                print("tv_reference: error: model() and the staged run differ in %s for %s" % (k, path),
                      file=sys.stderr)
                return False
    return True


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--verify-forward", action="store_true",
                   help="also run model(images) and check it returns the same detections")
    p.add_argument("--batch", action="store_true",
                   help="run all images as one batch (model([img0, img1, ...])): padded to their common size")
    p.add_argument("--on-ours", metavar="OURS_DIR",
                   help="torchvision's heads on mrcnn-dump's FPN outputs and proposals in OURS_DIR; "
                   "the one positional argument is the reference directory")
    p.add_argument("images", nargs="+")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    model = M.model_from_safetensors(a.model)
    if a.on_ours:
        if len(a.images) != 1:
            p.error("--on-ours takes one reference directory")
        return on_ours(model, a.images[0], a.on_ours, a.out)
    print("tv_reference: %s (%s, %d classes, min/max size %d/%d) loaded in %.1fs" % (
        a.model, model.arch, len(model.labels), model.transform.min_size[0], model.transform.max_size,
        time.time() - t0), flush=True)
    if a.batch:
        imgs = [load_image(path) for path in a.images]
        t = time.time()
        per_image = reference(model, imgs)
        dt = time.time() - t
        if a.verify_forward and not verify_forward(model, imgs, [o for _, o in per_image], a.images):
            return 1
        for path, img, (arrays, _) in zip(a.images, imgs, per_image):
            save(a, path, img, arrays, dt)
        return 0
    for path in a.images:
        img = load_image(path)
        t = time.time()
        [(arrays, out)] = reference(model, [img])
        dt = time.time() - t
        if a.verify_forward and not verify_forward(model, [img], [out], [path]):
            return 1
        save(a, path, img, arrays, dt)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
