"""Compares the engine's dump (mrcnn-dump) with torchvision's (tests/parity/tv_reference.py).

Per image, with the tolerances below:
  image        preprocessed batch tensor: max |ours - ref| <= 1e-5
  fpn0..fpn4   max |ours - ref| / max |ref| <= 1e-4 (relative L2 printed too)
  proposals    matched to torchvision's in order, else by IoU; at least 98% of
               each side must have a partner (a few may differ where two
               anchors tie at a top-k cut)
  detections   matched one to one (greedy by IoU, same class): box IoU >= 0.999,
               |score diff| <= 1e-4, pasted binary mask IoU >= 0.99
               (ref masks > the model's mask threshold, decided in float32).
               A detection without a partner is allowed only when its score is
               within 1e-5 of the score threshold, or the list is at the
               detections-per-image cap and it ties (within 1e-5) with the
               last one kept.
  Boxes and masks only a pixel or so thin cannot meet an IoU bound with float
  rounding, so a box also passes with every coordinate within 0.01 px, and a
  mask with fewer than 3 differing pixels.

With --strict (the saturated-score cases, where the order of equal scores
decides what survives): every proposal and every detection must have a
partner, with no excuse for ties at the cap or the threshold, and the
detections must come in torchvision's order.

usage: python3 -m maskrcnn_tools.compare_dumps [--strict] REF_DIR OURS_DIR     (exit status 1 on any failure)
"""

import argparse
import os
import sys

import numpy as np

TOL_IMAGE = 1e-5
TOL_FPN = 1e-4
TOL_BOX_IOU = 0.999
TOL_BOX_PX = 0.01
TOL_SCORE = 1e-4
TOL_MASK_IOU = 0.99
TOL_MASK_PIXELS = 2
TOL_TIE = 1e-5
TOL_PROPOSAL_IOU = 0.999
MIN_PROPOSAL_MATCH = 0.98
TOL_MASK_PROBS = 1e-2  # sanity bound; pasted masks are the real test

FPN_NAMES = ["fpn0", "fpn1", "fpn2", "fpn3", "fpn4"]


def box_iou(a, b):
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, (np.abs(a[:, None] - b[None]).max(-1) == 0).astype(np.float64))
    return iou


def boxes_agree(a, b):
    iou = box_iou(a, b)[0, 0]
    return iou >= TOL_BOX_IOU or np.abs(np.asarray(a, np.float64) - b).max() <= TOL_BOX_PX, iou


class Report:
    def __init__(self, image):
        self.image = image
        self.rows = []
        self.failed = False

    def add(self, stage, text, ok):
        self.rows.append((stage, text, ok))
        if not ok:
            self.failed = True

    def note(self, text):
        self.rows.append(("", text, None))

    def print(self):
        for i, (stage, text, ok) in enumerate(self.rows):
            mark = "" if ok is None else ("ok" if ok else "FAIL")
            print("%-22s %-12s %-78s %s" % (self.image if i == 0 else "", stage, text, mark))


def load_ours(d, name):
    path = os.path.join(d, name + ".npy")
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    return np.load(path)


def compare_image(stem, ref, ours_dir, strict=False):
    rep = Report(stem)
    try:
        ours = {k: load_ours(ours_dir, k) for k in
                ["image"] + FPN_NAMES + ["proposals", "mask_probs", "boxes", "scores", "labels", "masks"]}
    except (FileNotFoundError, ValueError) as e:
        rep.add("dump", "missing or unreadable: %s" % e, False)
        return rep

    # preprocessed input
    a, b = ours["image"], ref["image"]
    if a.shape != b.shape:
        rep.add("image", "shape %s, torchvision %s" % (a.shape, b.shape), False)
    else:
        d = float(np.abs(a.astype(np.float64) - b).max())
        rep.add("image", "%s  max|d| %.2e" % ("x".join(map(str, a.shape)), d), d <= TOL_IMAGE)

    # FPN levels
    for name in FPN_NAMES:
        a, b = ours[name].astype(np.float64), ref[name].astype(np.float64)
        if a.shape != b.shape:
            rep.add(name, "shape %s, torchvision %s" % (a.shape, b.shape), False)
            continue
        scale = np.abs(b).max()
        rel = float(np.abs(a - b).max() / scale) if scale > 0 else float(np.abs(a).max())
        l2 = float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))
        rep.add(name, "%s  rel max %.2e  rel L2 %.2e" % ("x".join(map(str, a.shape[1:])), rel, l2), rel <= TOL_FPN)

    # proposals
    a, b = ours["proposals"].reshape(-1, 4), ref["proposals"].reshape(-1, 4)
    n = min(len(a), len(b))
    same = 0
    if n:
        diag = np.array([boxes_agree(a[i], b[i])[0] for i in range(n)])
        same = int(diag.sum())
    matched_ref = matched_ours = 0
    if len(a) and len(b):
        iou = box_iou(b, a)
        matched_ref = int((iou.max(1) >= TOL_PROPOSAL_IOU).sum())
        matched_ours = int((iou.max(0) >= TOL_PROPOSAL_IOU).sum())
    need = 1.0 if strict else MIN_PROPOSAL_MATCH
    ok = (len(a) == len(b) == 0) or (
        matched_ref >= need * len(b) and matched_ours >= need * len(a))
    rep.add("proposals", "%d ours / %d ref, same position %d, IoU-matched %d ref / %d ours" % (
        len(a), len(b), same, matched_ref, matched_ours), ok)

    # detections
    thresh = float(ref["score_thresh"])
    cap = int(ref["detections_per_img"])
    mthresh = float(ref["mask_threshold"])
    ob, os_, ol, om = ours["boxes"].reshape(-1, 4), ours["scores"], ours["labels"], ours["masks"]
    rb, rs, rl = ref["boxes"].reshape(-1, 4), ref["scores"], ref["labels"]
    # binary masks decided in float32 where the reference has them (float16
    # probabilities round values just above the threshold onto it)
    rm = ref["masks_binary"] > 0 if "masks_binary" in ref else ref["masks"].astype(np.float32) > mthresh
    if len(om) and om.shape[1:] != rm.shape[1:] and len(rm):
        rep.add("masks", "frame %s, torchvision %s" % (om.shape[1:], rm.shape[1:]), False)
        return rep
    pairs = []
    if len(ob) and len(rb):
        iou = box_iou(ob, rb)
        cand = [(iou[i, j], i, j) for i in range(len(ob)) for j in range(len(rb))
                if ol[i] == rl[j] and (iou[i, j] >= 0.5 or np.abs(ob[i] - rb[j]).max() <= TOL_BOX_PX)]
        cand.sort(key=lambda t: (-t[0], abs(float(os_[t[1]]) - float(rs[t[2]]))))
        used_o, used_r = set(), set()
        for v, i, j in cand:
            if i not in used_o and j not in used_r:
                used_o.add(i)
                used_r.add(j)
                pairs.append((i, j))
    min_iou, max_ds, min_miou, max_mp = 1.0, 0.0, 1.0, 0.0
    bad = []
    for i, j in pairs:
        okb, v = boxes_agree(ob[i], rb[j])
        ds = abs(float(os_[i]) - float(rs[j]))
        mo = om[i] > 0
        mr = rm[j]
        inter = int(np.logical_and(mo, mr).sum())
        union = int(np.logical_or(mo, mr).sum())
        xor = union - inter
        miou = inter / union if union else 1.0
        okm = miou >= TOL_MASK_IOU or xor <= TOL_MASK_PIXELS
        min_iou, max_ds, min_miou = min(min_iou, v), max(max_ds, ds), min(min_miou, miou)
        if i < len(ours["mask_probs"]) and j < len(ref["mask_probs"]):
            max_mp = max(max_mp, float(np.abs(ours["mask_probs"][i] - ref["mask_probs"][j]).max()))
        if not (okb and ds <= TOL_SCORE and okm):
            bad.append("ours #%d / ref #%d class %d: box IoU %.6f (max|d| %.3g px), score %.6f vs %.6f, "
                       "mask IoU %.4f (%d px differ)" % (i, j, rl[j], v, np.abs(ob[i] - rb[j]).max(),
                                                         os_[i], rs[j], miou, xor))

    def excusable(score, other_scores, other_count):
        if strict:
            return None
        if abs(score - thresh) <= TOL_TIE:
            return "at the score threshold"
        if other_count >= cap and len(other_scores) and abs(score - float(other_scores.min())) <= TOL_TIE:
            return "tied at the %d-detection cap" % cap
        return None

    unmatched = []
    matched_o = {i for i, _ in pairs}
    matched_r = {j for _, j in pairs}
    for side, boxes, scores, labels, matched, other_scores in (
            ("ours", ob, os_, ol, matched_o, rs), ("ref", rb, rs, rl, matched_r, os_)):
        for k in range(len(boxes)):
            if k in matched:
                continue
            why = excusable(float(scores[k]), other_scores, len(other_scores))
            unmatched.append((why is not None, "%s #%d unmatched: class %d score %.6f box %s%s" % (
                side, k, labels[k], scores[k], "[%s]" % ", ".join("%.2f" % v for v in boxes[k]),
                " (allowed: %s)" % why if why else "")))
    in_order = sum(1 for i, j in pairs if i == j)
    ok = not bad and all(allowed for allowed, _ in unmatched)
    if strict:
        ok = ok and in_order == len(pairs) == len(ob) == len(rb)
    rep.add("detections", "%d ours / %d ref, %d matched (%d in order), min box IoU %.6f, max |dscore| %.1e, "
            "min mask IoU %.4f" % (len(ob), len(rb), len(pairs), in_order, min_iou, max_ds, min_miou), ok)
    if pairs:
        rep.add("mask_probs", "matched detections: max |d| %.2e" % max_mp, max_mp <= TOL_MASK_PROBS)
    if len(rs):
        rep.note("ref scores %.4f..%.4f, %d classes, threshold %g" % (
            rs.min(), rs.max(), len(set(rl.tolist())), thresh))
    for text in bad:
        rep.note(text)
    for _, text in unmatched:
        rep.note(text)
    return rep


def main(argv):
    p = argparse.ArgumentParser(
        prog="python3 -m " + __spec__.name, description=__doc__.split("\n\n")[0])
    p.add_argument("ref_dir")
    p.add_argument("ours_dir")
    p.add_argument("--strict", action="store_true",
                   help="every proposal and detection matched, detections in order, no tie excuses")
    a = p.parse_args(argv)
    stems = sorted(f[:-4] for f in os.listdir(a.ref_dir) if f.endswith(".npz"))
    if not stems:
        print("compare: no reference .npz files in %s" % a.ref_dir)
        return 1
    print("%-22s %-12s %-78s %s" % ("image", "stage", "result", ""))
    failed = []
    for stem in stems:
        with np.load(os.path.join(a.ref_dir, stem + ".npz")) as z:
            ref = {k: z[k] for k in z.files}
        rep = compare_image(stem, ref, os.path.join(a.ours_dir, stem), a.strict)
        rep.print()
        if rep.failed:
            failed.append(stem)
    print()
    if failed:
        print("compare: FAILED for %d of %d images: %s" % (len(failed), len(stems), ", ".join(failed)))
        return 1
    print("compare: all %d images within tolerance" % len(stems))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
