"""Compares the engine's dump (mrcnn-dump) with torchvision's (tests/parity/tv_reference.py).

Two kinds of bounds (docs/precision.md, "Parity tolerances").

Accuracy requirements, fixed: what "the same value" means.
  image        preprocessed batch tensor: max |ours - ref| <= 1e-5
  fpn0..fpn4   max |ours - ref| / max |ref| <= 1e-4 (relative L2 printed too)
  proposals    the same box: IoU >= 0.999 (or every coordinate within 0.01 px)
  detections   the same detection: same class and box IoU >= 0.999 (or every
               coordinate within 0.01 px, for boxes a pixel or so thin); its
               scores within 1e-4 and its M x M mask probabilities within 1e-2

Decisions, from measured differences. A threshold, a sort or an NMS turns a
tiny difference into another pixel, order or list; such a difference passes
only where a difference measured on the same image explains it:
  masks        a pasted pixel may differ only where torchvision's probability
               lies within the detection's measured max |d mask probability|
               (plus the float32 rounding of the interpolation) of the mask
               threshold. Pasting interpolates the M x M probabilities with
               the same non-negative weights on both sides (torchvision's
               paste of its probabilities at our box is the comparison), so
               no pasted value moves further than that. Every other pixel
               matches exactly.
  order        two detections may swap only where their scores differ by
               less than the sum of their measured score differences; two
               proposals only where their objectness intervals overlap.
               Exact ties keep torchvision's order wherever the measured
               values determine it: nms' stable sort orders them by
               candidate; above 1000 candidates batched_nms' introsort is
               replayed (torch_sort) to see whether any comparison it makes
               could come out otherwise, and a kept set that differs frees
               them too.
  sets         a proposal or detection that only one side kept must be one
               of torchvision's candidates (the same box) and sit at a
               near-tie: at the score threshold, at the top-k, post-NMS or
               detections-per-image cut, at the minimum size, or at an NMS
               decision (its competitor's score within the measured
               differences, or their IoU within the measured box error of
               the NMS threshold, or a competitor that is itself a kept
               difference).
  Measured per image: max |d score| and max |d coordinate| of the matched
  detections and of the matched proposals; per detection max |d mask
  probability|; per RPN candidate, the objectness difference that the
  measured FPN difference causes (torchvision's RPN head on both FPNs) plus
  twice the head's float32 rounding (its float32 - float64 difference): the
  engine does not export its objectness; per box-head candidate likewise
  (for the replay of batched_nms' sort).

The candidates come from tv_reference.py (rpn_cand_*, det_* in the reference) and
from its --on-ours step (TV_ON_OURS_DIR: torchvision's heads on the engine's
FPN outputs and proposals). A reference without them (tests/gpu/: one
backend's dump against the other's) gets the former fixed bounds for lists:
98% of the proposals matched, ties within 1e-5 at the score threshold and at
the detections-per-image cap.

usage: python3 -m maskrcnn_tools.compare_dumps [--tv-on-ours DIR] REF_DIR OURS_DIR
(exit status 1 on any failure)
"""

import argparse
import os
import sys

import numpy as np

from maskrcnn_tools import torch_sort

# accuracy requirements
TOL_IMAGE = 1e-5
TOL_FPN = 1e-4
TOL_BOX_IOU = 0.999
TOL_BOX_PX = 0.01
TOL_SCORE = 1e-4
TOL_PROPOSAL_IOU = 0.999
TOL_MASK_PROBS = 1e-2
# float32 arithmetic, not machine luck:
U32 = 2.0 ** -24  # unit roundoff
# A pasted probability is at most 4 products and 3 sums of values in [0, 1]
# with float32 weights summing to at most 1 + 4u: in any order of evaluation
# each side is within 8u of the exact weighted sum, and the weights' excess
# over 1 scales the probabilities' difference (at most 1) by 4u more.
PASTE_ROUNDING = 32 * U32
# NMS's IoU in float32: a few roundings of a ratio in [0, 1].
IOU_ROUNDING = 16 * U32
# expf's relative error, as a bound for glibc's (1 ulp), Sleef's (1 ulp) and
# CUDA's (2 ulp): 4 ulp of float32.
EXPF_ERROR = 4 * 2.0 ** -23
# a reference without candidate lists (see the top comment)
FALLBACK_PROPOSAL_MATCH = 0.98
FALLBACK_TIE = 1e-5

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


def iou_interval(a, b, da, db):
    """Bounds on the IoU of boxes a (n) and b (m) when each coordinate of a
    may move by da and each of b by db: every box lies between itself
    shrunk and grown by that much. Returns (lo, hi), n x m, widened by
    the float32 rounding of NMS's own IoU."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)

    def moved(x, d):
        return x + np.array([d, d, -d, -d], np.float64)

    def inter(x, y):
        wh = np.clip(np.minimum(x[:, None, 2:], y[None, :, 2:]) - np.maximum(x[:, None, :2], y[None, :, :2]), 0, None)
        return wh[..., 0] * wh[..., 1]

    def area(x):
        return np.clip(x[:, 2] - x[:, 0], 0, None) * np.clip(x[:, 3] - x[:, 1], 0, None)

    a_in, a_out, b_in, b_out = moved(a, da), moved(a, -da), moved(b, db), moved(b, -db)
    i_lo, i_hi = inter(a_in, b_in), inter(a_out, b_out)
    u_hi = area(a_out)[:, None] + area(b_out)[None, :] - i_lo
    u_lo = np.maximum(area(a_in)[:, None] + area(b_in)[None, :] - i_hi,
                      np.maximum(area(a_in)[:, None], area(b_in)[None, :]))
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(u_hi > 0, i_lo / u_hi, 0.0)
        hi = np.where(u_lo > 0, np.minimum(i_hi / u_lo, 1.0), 1.0)
    return lo - IOU_ROUNDING, hi + IOU_ROUNDING


def same_boxes(a, b):
    """n x m: the same box by the accuracy requirement (IoU >= 0.999, or
    every coordinate within 0.01 px for boxes a pixel or so thin)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    return (box_iou(a, b) >= TOL_PROPOSAL_IOU) | (np.abs(a[:, None] - b[None]).max(-1) <= TOL_BOX_PX)


def boxes_agree(a, b):
    iou = box_iou(a, b)[0, 0]
    return iou >= TOL_BOX_IOU or np.abs(np.asarray(a, np.float64) - b).max() <= TOL_BOX_PX, iou


def match_boxes(ours, ref, same):
    """One-to-one pairs (i ours, j ref), greedy by IoU, of the pairs for
    which same(i, j, iou) holds."""
    if not len(ours) or not len(ref):
        return []
    iou = box_iou(ours, ref)
    near = np.abs(np.asarray(ours, np.float64)[:, None] - np.asarray(ref, np.float64)[None]).max(-1) <= TOL_BOX_PX
    cand = np.argwhere((iou >= 0.5) | near)
    cand = sorted(((iou[i, j], i, j) for i, j in cand), key=lambda t: -t[0])
    used_o, used_r, pairs = set(), set(), []
    for v, i, j in cand:
        if i not in used_o and j not in used_r and same(i, j, v):
            used_o.add(i)
            used_r.add(j)
            pairs.append((int(i), int(j)))
    return pairs


def offset_ulp(max_group, max_coord):
    """batched_nms' coordinate trick adds group * (max coordinate + 1) to
    every box before one NMS, in float32: a box that moves by d may move by
    d plus one ulp of the shifted coordinate there (the same rounding on both
    sides for the same box)."""
    return float(np.spacing(np.float32(max_group * (max_coord + 1.0) + max_coord)))


def inversions(pos_ref, pos_ours):
    """Pairs (a, b) of indices into the matched list that torchvision orders
    a before b and we order b before a."""
    pr, po = np.asarray(pos_ref), np.asarray(pos_ours)
    inv = (pr[:, None] < pr[None, :]) & (po[:, None] > po[None, :])
    return np.argwhere(inv)


class Report:
    def __init__(self, image):
        self.image = image
        self.rows = []
        self.failed = False
        self.measured = {}

    def add(self, stage, text, ok):
        self.rows.append((stage, text, ok))
        if not ok:
            self.failed = True

    def note(self, text):
        self.rows.append(("", text, None))

    def measure(self, name, value):
        self.measured[name] = max(self.measured.get(name, 0.0), float(value))

    def print(self):
        for i, (stage, text, ok) in enumerate(self.rows):
            mark = "" if ok is None else ("ok" if ok else "FAIL")
            print("%-22s %-12s %-78s %s" % (self.image if i == 0 else "", stage, text, mark))


def load_ours(d, name):
    path = os.path.join(d, name + ".npy")
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    return np.load(path)


def paste(probs, box, frame):
    """torchvision's paste_masks_in_image of one M x M float32 probability
    map at box (frame pixels) into a frame of (h, w)."""
    import torch
    from torchvision.models.detection.roi_heads import paste_masks_in_image
    return paste_masks_in_image(torch.from_numpy(np.ascontiguousarray(probs, np.float32))[None, None],
                                torch.from_numpy(np.asarray(box, np.float32).reshape(1, 4)), frame)[0, 0].numpy()


# ------------------------------------------------------------ continuous values
def compare_tensors(rep, ref, ours):
    a, b = ours["image"], ref["image"]
    if a.shape != b.shape:
        rep.add("image", "shape %s, torchvision %s" % (a.shape, b.shape), False)
    else:
        d = float(np.abs(a.astype(np.float64) - b).max())
        rep.add("image", "%s  max|d| %.2e" % ("x".join(map(str, a.shape)), d), d <= TOL_IMAGE)
    for name in FPN_NAMES:
        a, b = ours[name].astype(np.float64), ref[name].astype(np.float64)
        if a.shape != b.shape:
            rep.add(name, "shape %s, torchvision %s" % (a.shape, b.shape), False)
            continue
        scale = np.abs(b).max()
        rel = float(np.abs(a - b).max() / scale) if scale > 0 else float(np.abs(a).max())
        l2 = float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))
        rep.measure("fpn rel max", rel)
        rep.add(name, "%s  rel max %.2e  rel L2 %.2e" % ("x".join(map(str, a.shape[1:])), rel, l2), rel <= TOL_FPN)


# -------------------------------------------------------------------- proposals
class ProposalCheck:
    """Our proposals against torchvision's, with its candidates (see the top
    comment). Sets self.perturbed when the list differs from torchvision's
    in content or order: the box head's candidates follow the proposals'
    order, so the detections' exact ties may then come out otherwise.

    Each candidate's objectness on our side lies within e of torchvision's
    logit, so its probability lies in [lo, hi] (prob_intervals). Two
    probabilities are an exact tie only when both intervals are that same
    single value (saturated at 1.0).

    Exact ties: the RPN's NMS orders each level by probability, ties in
    candidate order (level, then logit: torch's top-k), and above 1000
    candidates batched_nms sorts the kept ones with torch's introsort, whose
    order of ties follows from the comparisons it makes. That sort is
    replayed (torch_sort) on torchvision's values: where no comparison it
    makes could come out otherwise on our side, where the kept set is the
    same and no two kept ones of a level may trade places in candidate
    order, our ties must come out in torchvision's order."""

    def __init__(self, rep, ref, ours, tv):
        self.rep, self.ref, self.tv = rep, ref, tv
        self.a = ours["proposals"].reshape(-1, 4).astype(np.float64)
        self.b = ref["proposals"].reshape(-1, 4).astype(np.float64)
        self.perturbed = False

    def run(self):
        a, b, rep = self.a, self.b, self.rep
        same = same_boxes(a, b)
        pairs = match_boxes(a, b, lambda i, j, v: same[i, j])
        self.pairs = pairs
        in_place = sum(1 for i, j in pairs if i == j)
        self.perturbed = not (len(a) == len(b) == len(pairs) == in_place)
        if self.tv is None or "rpn_cand_box" not in self.ref:
            return self.fallback(pairs, in_place)
        r = self.ref
        self.cbox = r["rpn_cand_box"].astype(np.float64)
        self.clogit = r["rpn_cand_logit"].astype(np.float64)
        self.clevel = r["rpn_cand_level"].astype(np.int64)
        self.ctopk, self.cvalid = r["rpn_cand_topk"], r["rpn_cand_valid"]
        tv_logit = self.tv["rpn_logits"].astype(np.float64)[r["rpn_cand_anchor"]]
        rounding = float(self.tv["rpn_rounding"])
        self.e = np.abs(tv_logit - self.clogit) + 2 * rounding
        self.p, self.plo, self.phi = prob_intervals(self.clogit, self.e)
        self.thr = float(r["rpn_nms_thresh"])
        self.post = int(r["rpn_post_nms_top_n"])
        self.db = max([float(np.abs(a[i] - b[j]).max()) for i, j in pairs] or [0.0])
        self.d_nms = self.db + offset_ulp(int(self.clevel.max(initial=0)), float(np.abs(self.cbox).max(initial=0)))
        rep.measure("proposal max |d| px", self.db)
        rep.measure("objectness margin", self.e.max(initial=0))

        ref_cand = r["rpn_proposal_cand"].astype(np.int64)
        ours_cand = np.full(len(a), -1, np.int64)
        for i, j in pairs:
            ours_cand[i] = ref_cand[j]
        matched = {"ours": {i for i, _ in pairs}, "ref": {j for _, j in pairs}}
        fails = []
        for i in range(len(a)):
            if i in matched["ours"]:
                continue
            iou = box_iou(a[i], self.cbox)[0]
            same = np.where(same_boxes(a[i], self.cbox)[0])[0]
            if not len(same):
                fails.append("ours #%d %s is none of torchvision's candidates (best IoU %.6f)" % (
                    i, fmt_box(a[i]), iou.max(initial=0)))
            else:
                ours_cand[i] = same[np.argmax(iou[same])]
        lists = {"ref": (ref_cand, b, matched["ref"]), "ours": (ours_cand, a, matched["ours"])}
        kept_ref = r["rpn_kept_cand"].astype(np.int64)
        kept = np.unique(np.concatenate([kept_ref, ours_cand[ours_cand >= 0]]))
        movable, moves_values = self.position_changes(kept)

        # pass 1: differences that a measured difference explains alone
        pending, explained = [], []
        for side, other in (("ref", "ours"), ("ours", "ref")):
            cands, boxes, mine = lists[side]
            for k in range(len(cands)):
                if k in mine or cands[k] < 0:
                    continue
                why = self.explain(cands[k], boxes[k], lists[other])
                (explained if why else pending).append((side, k, why))
        # the final order: torch's introsort over the kept ones (above 1000
        # candidates), else nms' stable order (ties in candidate order)
        introsort = int((self.cvalid & self.ctopk).sum()) * 4 > 4000
        sort_note = "stable (ties in candidate order)"
        sort_free = False
        if introsort:
            order_k = np.sort(kept_ref)
            got, uncertain = torch_sort.sort(self.p[order_k].tolist(), self.plo[order_k].tolist(),
                                             self.phi[order_k].tolist())
            if not np.array_equal(order_k[got], kept_ref):
                sort_free, sort_note = True, "introsort, free (the replay differs from torchvision's order)"
            elif uncertain or moves_values or explained or pending:
                sort_free = True
                sort_note = "introsort, free (%s)" % (
                    "a comparison it makes may differ" if uncertain else
                    "two kept ones may trade places" if moves_values else "the kept set differs")
            else:
                sort_note = "introsort, checked"
        order = sorted(pairs, key=lambda p: p[1])
        inv = inversions([j for _, j in order], [i for i, _ in order])
        n_tie, bad_inv = 0, []
        for x, y in inv:
            ca, cb = ref_cand[order[x][1]], ref_cand[order[y][1]]
            if self.exact_tie(ca, cb):
                n_tie += 1
                if not (sort_free or ca in movable or cb in movable):
                    bad_inv.append((order[x][1], order[y][1], ca, cb, True))
            elif not self.prob_overlap(ca, cb):
                bad_inv.append((order[x][1], order[y][1], ca, cb, False))
        # pass 2: exact ties at the post-NMS cut
        cut_free = sort_free or bool(explained) or bool(bad_inv)
        for side, k, _ in pending:
            cands, boxes, _ = lists[side]
            c = cands[k]
            o_cands = lists["ours" if side == "ref" else "ref"][0]
            o_cands = o_cands[o_cands >= 0]
            if len(o_cands) >= self.post and self.plo[c] <= self.phi[o_cands].min() and (cut_free or c in movable):
                explained.append((side, k, "an exact tie at the %d-proposal cut, %s" % (
                    self.post, "the list above differing" if cut_free else "its candidate position moving")))
            else:
                fails.append("%s #%d %s level %d logit %.7f +- %.1e: kept by %s only, no near-tie explains it" % (
                    side, k, fmt_box(boxes[k]), self.clevel[c], self.clogit[c], self.e[c],
                    "torchvision" if side == "ref" else "ours"))
        for j1, j2, ca, cb, tie in bad_inv[:5]:
            fails.append("ref #%d and #%d swapped: probability %.9g [%.9g, %.9g] and %.9g [%.9g, %.9g]%s" % (
                j1, j2, self.p[ca], self.plo[ca], self.phi[ca], self.p[cb], self.plo[cb], self.phi[cb],
                ", exact ties whose order is determined" if tie else " do not overlap"))
        fails += self.own_overlaps(lists["ours"])
        ok = not fails
        rep.add("proposals", "%d ours / %d ref, %d matched (%d in place), %d swapped pairs (%d exact ties), "
                "%d kept by one side" % (len(a), len(b), len(pairs), in_place, len(inv), n_tie,
                                         len(explained) + len(pending)), ok)
        rep.note("measured: max |d| %.2e px (NMS box margin %.2e), objectness margin max %.2e "
                 "(FPN-caused max %.2e + 2 x head rounding %.1e); order of ties: %s, %d of %d kept may move" % (
                     self.db, self.d_nms, self.e.max(initial=0), (self.e - 2 * rounding).max(initial=0), rounding,
                     sort_note, len(movable), len(kept)))
        for side, k, why in explained:
            rep.note("%s #%d kept by %s only: %s" % (side, k, "torchvision" if side == "ref" else "ours", why))
        for f in fails:
            rep.note(f)
        return ok

    # objectness intervals ------------------------------------------------
    def exact_tie(self, c1, c2):
        return self.plo[c1] == self.phi[c1] == self.plo[c2] == self.phi[c2]

    def prob_overlap(self, c1, c2):
        return self.plo[c1] <= self.phi[c2] and self.plo[c2] <= self.phi[c1]

    def logits_overlap(self, c1, c2):
        return abs(self.clogit[c1] - self.clogit[c2]) <= self.e[c1] + self.e[c2]

    def order_ambiguous(self, c1, c2):
        """Whether NMS may take c1 and c2 (one level) in either order:
        probability first, ties in candidate (logit) order."""
        if self.exact_tie(c1, c2):
            return self.logits_overlap(c1, c2)
        return self.prob_overlap(c1, c2)

    def certainly_after(self, y, x):
        """y comes after x in NMS order on both sides."""
        if self.order_ambiguous(x, y):
            return False
        return self.p[y] < self.p[x] or (self.p[y] == self.p[x] and self.clogit[y] < self.clogit[x])

    def position_changes(self, kept):
        """The kept candidates whose place in candidate order may change (a
        kept one of the same level within the logit margins), and whether
        such a change may change the values torch sorts (not an exact tie)."""
        movable, values = set(), False
        for lvl in np.unique(self.clevel[kept]):
            k = kept[self.clevel[kept] == lvl]
            near = np.abs(self.clogit[k][:, None] - self.clogit[k][None, :]) <= self.e[k][:, None] + self.e[k][None, :]
            np.fill_diagonal(near, False)
            movable.update(k[near.any(1)].tolist())
            single = self.plo[k] == self.phi[k]
            tie = single[:, None] & single[None, :] & (self.plo[k][:, None] == self.plo[k][None, :])
            values = values or bool((near & ~tie).any())
        return movable, values

    def explain(self, c, box, other):
        """Why candidate c, kept by one side, may be missing from the other
        side's list, by a measured difference alone; None otherwise."""
        o_cands, o_boxes, o_matched = other
        lvl = self.clevel[c]
        same_lvl = self.clevel == lvl
        lo, hi = self.clogit[c] - self.e[c], self.clogit[c] + self.e[c]
        w, h = box[2] - box[0], box[3] - box[1]
        if not self.ctopk[c]:
            inn = same_lvl & self.ctopk
            if (self.clogit[inn] - self.e[inn]).min(initial=np.inf) <= hi:
                return "at level %d's pre-NMS top-k cut (logit %.7f +- %.1e)" % (lvl, self.clogit[c], self.e[c])
            return None
        out = same_lvl & ~self.ctopk
        if (self.clogit[out] + self.e[out]).max(initial=-np.inf) >= lo:
            return "at level %d's pre-NMS top-k cut (logit %.7f +- %.1e)" % (lvl, self.clogit[c], self.e[c])
        if abs(min(w, h) - float(self.ref["rpn_min_size"])) <= 2 * self.db:
            return "at the minimum size (side %.3g)" % min(w, h)
        if not self.cvalid[c]:
            return None
        valid = o_cands >= 0
        oc = o_cands[valid]
        if len(o_cands) >= self.post and len(oc) and self.plo[c] <= self.phi[oc].min():
            # below every one the other side kept; exact ties wait for pass 2
            near = self.phi[oc] >= self.plo[c]
            if not all(self.exact_tie(c, k) for k in oc[near]):
                return "at the %d-proposal cut (probability %.9g, interval [%.9g, %.9g])" % (
                    self.post, self.p[c], self.plo[c], self.phi[c])
        # NMS: a competitor of the same level that the other side kept
        sel = np.where(valid)[0]
        sel = sel[(self.clevel[o_cands[sel]] == lvl) & (o_cands[sel] != c)]
        if len(sel):
            ilo, ihi = iou_interval(box, o_boxes[sel], self.d_nms, self.d_nms)
            for n in np.where(ihi[0] > self.thr)[0]:
                y = o_cands[sel[n]]
                if self.certainly_after(y, c):
                    continue
                if self.order_ambiguous(y, c):
                    return "NMS with #%d (IoU %.4f; logits %.7f and %.7f, margins %.1e and %.1e)" % (
                        sel[n], ihi[0, n], self.clogit[c], self.clogit[y], self.e[c], self.e[y])
                if ilo[0, n] <= self.thr:
                    return "NMS with #%d (IoU %.4f..%.4f around the threshold %g)" % (
                        sel[n], ilo[0, n], ihi[0, n], self.thr)
                if sel[n] not in o_matched:
                    return "NMS with #%d (IoU %.4f), itself kept by one side only" % (sel[n], ihi[0, n])
        return None

    def own_overlaps(self, ours):
        """No two of our proposals of one level may overlap past the NMS
        threshold, whatever torchvision did."""
        cands, boxes, _ = ours
        fails = []
        have = cands >= 0
        d = self.d_nms - self.db  # our own boxes: only the offsets' rounding
        for lvl in np.unique(self.clevel[cands[have]]):
            idx = np.where(have & (self.clevel[np.maximum(cands, 0)] == lvl))[0]
            ilo, _ = iou_interval(boxes[idx], boxes[idx], d, d)
            np.fill_diagonal(ilo, 0)
            for x, y in np.argwhere(np.triu(ilo > self.thr))[:3]:
                fails.append("ours keeps #%d and #%d of level %d with IoU %.4f > %g" % (
                    idx[x], idx[y], lvl, ilo[x, y], self.thr))
        return fails

    def fallback(self, pairs, in_place):
        a, b = self.a, self.b
        ok = (len(a) == len(b) == 0) or (
            len(pairs) >= FALLBACK_PROPOSAL_MATCH * len(b) and len(pairs) >= FALLBACK_PROPOSAL_MATCH * len(a))
        self.rep.add("proposals", "%d ours / %d ref, %d matched (%d in place); no candidate lists: "
                     "%.0f%% must match" % (len(a), len(b), len(pairs), in_place, 100 * FALLBACK_PROPOSAL_MATCH), ok)
        return ok


def prob_intervals(logits, e):
    """torch's float32 sigmoid of each logit, and the interval of float32
    values the other side's sigmoid may give for a logit within e. Both
    compute 1 / (1 + exp (-x)) in float32 with correctly rounded + and /; an
    expf off by a relative d is exp (-(x - d)), so a logit shifted by d: the
    interval is the float32 sigmoid at logit -+ (e + EXPF_ERROR), the
    argument rounded outwards to float32 (sigmoid is monotone)."""
    import torch
    f = lambda x: torch.sigmoid(torch.from_numpy(x)).numpy().astype(np.float64)
    p = f(np.asarray(logits, np.float32))
    lo_arg = np.nextafter((logits - e - EXPF_ERROR).astype(np.float32), np.float32(-np.inf))
    hi_arg = np.nextafter((logits + e + EXPF_ERROR).astype(np.float32), np.float32(np.inf))
    return p, f(lo_arg), f(hi_arg)


def fmt_box(b):
    return "[%s]" % ", ".join("%.2f" % v for v in b)


# ------------------------------------------------------------------- detections
class DetectionCheck:
    """Our detections and masks against torchvision's (see the top comment)."""

    def __init__(self, rep, ref, ours, tv, proposals):
        self.rep, self.ref, self.tv = rep, ref, tv
        self.proposal_pairs = proposals.pairs
        self.ob, self.os, self.ol = ours["boxes"].reshape(-1, 4).astype(np.float64), \
            ours["scores"].astype(np.float64), ours["labels"]
        self.rb, self.rs, self.rl = ref["boxes"].reshape(-1, 4).astype(np.float64), \
            ref["scores"].astype(np.float64), ref["labels"]
        self.omask, self.oprobs, self.rprobs = ours["masks"], ours["mask_probs"], ref["mask_probs"]
        self.upstream = proposals.perturbed

    def run(self):
        rep, ref = self.rep, self.ref
        ob, os_, ol, rb, rs, rl = self.ob, self.os, self.ol, self.rb, self.rs, self.rl
        pairs = match_boxes(ob, rb, lambda i, j, v: ol[i] == rl[j] and boxes_agree(ob[i], rb[j])[0])
        self.pairs = pairs
        bad = []
        ds = np.array([abs(os_[i] - rs[j]) for i, j in pairs])
        self.ds = {i: d for (i, _), d in zip(pairs, ds)}
        self.ds_r = {j: d for (_, j), d in zip(pairs, ds)}
        self.dmax = float(ds.max(initial=0))
        self.db = max([float(np.abs(ob[i] - rb[j]).max()) for i, j in pairs] or [0.0])
        min_iou = min([boxes_agree(ob[i], rb[j])[1] for i, j in pairs] or [1.0])
        for (i, j), d in zip(pairs, ds):
            if d > TOL_SCORE:
                bad.append("ours #%d / ref #%d class %d: score %.7f vs %.7f" % (i, j, rl[j], os_[i], rs[j]))
        rep.measure("score max |d|", self.dmax)
        rep.measure("box max |d| px", self.db)
        if np.any(np.diff(os_) > 0):
            bad.append("our scores are not in descending order")
        # torch sorts the kept candidates' scores: a near-tie among them (two
        # different scores within their margins) may reorder exact ties
        near = np.abs(rs[:, None] - rs[None, :]) < np.array([self.margin_r(j) for j in range(len(rs))])[:, None] \
            + np.array([self.margin_r(j) for j in range(len(rs))])[None, :]
        self.near_ties = bool((near & (rs[:, None] != rs[None, :])).any())
        has_cands = self.tv is not None and "cand_boxes" in self.tv
        self.tie_note = self.tie_order() if has_cands else "free (no candidate lists)"
        if has_cands:
            ok_sets, notes, perturbed = self.sets()
        else:
            ok_sets, notes, perturbed = self.fallback_sets()
        ok_order, order_notes, n_inv, n_tie = self.order(perturbed)
        in_order = sum(1 for i, j in pairs if i == j)
        ok = not bad and ok_sets and ok_order
        rep.add("detections", "%d ours / %d ref, %d matched (%d in place), %d swapped pairs (%d exact ties), "
                "min box IoU %.6f" % (len(ob), len(rb), len(pairs), in_order, n_inv, n_tie, min_iou), ok)
        rep.note("measured: max |d score| %.2e, max |d| %.2e px (NMS box margin %.2e); exact-tie order %s" % (
            self.dmax, self.db, getattr(self, "d_nms", self.db),
            self.tie_note if self.tie_note.startswith("free") else
            "free (the list differs or has near-ties)" if perturbed else self.tie_note))
        if len(rs):
            rep.note("ref scores %.4f..%.4f, %d classes, threshold %g" % (
                rs.min(), rs.max(), len(set(rl.tolist())), float(ref["score_thresh"])))
        for t in bad + notes + order_notes:
            rep.note(t)
        self.masks()
        return ok

    def tie_order(self):
        """Whether our exact ties must come out in torchvision's order:
        "checked ..." or "free (why)". Above 1000 candidates batched_nms
        sorts the kept ones with torch's introsort, which is replayed on
        torchvision's scores with each candidate's interval: a score that
        is 1.0 robustly (its float64 value within 2^-25 of 1, so that any
        float32 sum of the softmax's terms rounds to 1) is exactly 1.0 on
        our side too; any other may lie within |torchvision on our inputs -
        torchvision| + 2 x the box head's float32 rounding (max over the
        candidates). Below 1000, nms' stable sort orders ties by candidate,
        that is by proposal."""
        ref, tv = self.ref, self.tv
        if self.upstream:
            return "free (the proposals differ)"
        if "det_kept" not in ref or "cand_prop" not in tv:
            return "free (no candidate lists)"
        if not bool(ref["det_introsort"]):
            return "checked (nms' stable order)"
        if "cand_scores64" not in tv:
            return "free (no float64 scores of the candidates)"
        kept = ref["det_kept"].astype(np.int64)
        s = ref["det_cand_scores"].astype(np.float64)[kept]
        labels, prop = ref["det_cand_labels"][kept], ref["det_cand_prop"][kept]
        ours_of = {j: i for i, j in self.proposal_pairs}
        tv_at = {(int(p), int(c)): k for k, (p, c) in enumerate(zip(tv["cand_prop"], tv["cand_labels"]))}
        rounding = 2 * float(tv["box_rounding"])
        lo, hi = np.full(len(kept), -np.inf), np.full(len(kept), np.inf)
        for n in range(len(kept)):
            t = tv_at.get((ours_of.get(int(prop[n]), -1), int(labels[n])))
            if t is None:
                continue
            st, s64 = float(tv["cand_scores"][t]), float(tv["cand_scores64"][t])
            if s[n] == 1.0 and st == 1.0 and 1.0 - s64 <= 2.0 ** -25:
                lo[n] = hi[n] = 1.0
            else:
                e = abs(st - s[n]) + rounding
                lo[n], hi[n] = s[n] - e, s[n] + e
        order, uncertain = torch_sort.sort(s.tolist(), lo.tolist(), hi.tolist())
        cap = int(ref["detections_per_img"])
        if not np.array_equal(kept[order][:cap], ref["det_final"]):
            return "free (the replay of torch's sort differs from torchvision's order)"
        if uncertain:
            return "free (a comparison torch's sort makes may differ)"
        return "checked (torch's sort replayed: %d kept, %d robustly 1.0)" % (len(kept), int((lo == hi).sum()))

    # sets ----------------------------------------------------------------
    def margin_o(self, i):
        return self.ds.get(i, self.dmax)

    def margin_r(self, j):
        return self.ds_r.get(j, self.dmax)

    def sets(self):
        ref, tv = self.ref, self.tv
        ob, os_, ol, rb, rs, rl = self.ob, self.os, self.ol, self.rb, self.rs, self.rl
        thresh, cap = float(ref["score_thresh"]), int(ref["detections_per_img"])
        thr, min_size = float(ref["box_nms_thresh"]), float(ref["box_min_size"])
        frame = ref["masks_binary"].shape[1:]
        size = ref["image_size"].astype(np.float64)
        ratio = max(frame[0] / size[0], frame[1] / size[1])
        labels = np.concatenate([tv["cand_labels"], rl, ol])
        self.d_nms = self.db + ratio * offset_ulp(int(labels.max(initial=0)), float(size.max()))
        matched_o, matched_r = {i for i, _ in self.pairs}, {j for _, j in self.pairs}
        fails, explained, pending = [], [], []
        for i in range(len(ob)):
            if i in matched_o:
                continue
            # the same box among torchvision's candidates for our proposals
            same = np.where(tv["cand_labels"] == ol[i])[0]
            found = [k for k in same if boxes_agree(ob[i], tv["cand_boxes"][k])[0]
                     and abs(float(tv["cand_scores"][k]) - os_[i]) <= TOL_SCORE]
            if not found:
                fails.append("ours #%d class %d score %.7f %s is none of torchvision's candidates" % (
                    i, ol[i], os_[i], fmt_box(ob[i])))
        sides = (("ours", ob, os_, ol, matched_o, self.margin_o, (rb, rs, rl, matched_r, self.margin_r)),
                 ("ref", rb, rs, rl, matched_r, self.margin_r, (ob, os_, ol, matched_o, self.margin_o)))
        for side, boxes, scores, labels_, matched, margin, other in sides:
            for k in range(len(boxes)):
                if k in matched:
                    continue
                args = (boxes[k], scores[k], labels_[k], self.dmax, other, thresh, cap, thr, min_size)
                why = self.explain(*args, ties=False, perturbed=False)
                (explained if why else pending).append((side, k, why, args))
        perturbed = self.tie_note.startswith("free") or self.near_ties or bool(explained)
        for side, k, _, args in pending:
            why = self.explain(*args, ties=True, perturbed=perturbed)
            if why:
                explained.append((side, k, why, args))
            else:
                fails.append("%s #%d class %d score %.7f %s: kept by %s only, no near-tie explains it" % (
                    side, k, args[2], args[1], fmt_box(args[0]), "torchvision" if side == "ref" else "ours"))
        fails += self.own_overlaps(thr)
        notes = ["%s #%d kept by %s only: %s" % (side, k, "torchvision" if side == "ref" else "ours", why)
                 for side, k, why, _ in explained] + fails
        return not fails, notes, perturbed

    def explain(self, box, score, label, d, other, thresh, cap, thr, min_size, ties, perturbed):
        o_boxes, o_scores, o_labels, o_matched, o_margin = other
        if not ties:
            if abs(score - thresh) <= d:
                return "at the score threshold (%.7f +- %.1e)" % (score, d)
            if abs(min(box[2] - box[0], box[3] - box[1]) - min_size) <= 2 * self.db:
                return "at the minimum size"
        if len(o_scores) >= cap:
            low = float(o_scores.min())
            if score - d < low + self.dmax and not ties:
                return "at the %d-detection cap (%.7f vs %.7f, margin %.1e)" % (cap, score, low, d + self.dmax)
            if ties and score == low and perturbed:
                return "an exact tie at the %d-detection cap, the candidate list differing above" % cap
        sel = np.where(o_labels == label)[0]
        if len(sel):
            ilo, ihi = iou_interval(box, o_boxes[sel], self.d_nms, self.d_nms)
            for n in np.where(ihi[0] > thr)[0]:
                y = sel[n]
                dy = o_margin(y)
                if o_scores[y] + dy < score - d:
                    continue
                gap = abs(o_scores[y] - score)
                if gap < d + dy or (ties and perturbed and gap == 0):
                    return "NMS with #%d (IoU %.4f, scores %.7f and %.7f within %.1e)" % (
                        y, ihi[0, n], score, o_scores[y], d + dy)
                if ilo[0, n] <= thr:
                    return "NMS with #%d (IoU %.4f..%.4f around the threshold %g)" % (y, ilo[0, n], ihi[0, n], thr)
                if y not in o_matched:
                    return "NMS with #%d (IoU %.4f), itself kept by one side only" % (y, ihi[0, n])
        return None

    def own_overlaps(self, thr):
        fails = []
        for c in np.unique(self.ol):
            idx = np.where(self.ol == c)[0]
            ilo, _ = iou_interval(self.ob[idx], self.ob[idx], self.d_nms - self.db, self.d_nms - self.db)
            np.fill_diagonal(ilo, 0)
            for x, y in np.argwhere(np.triu(ilo > thr))[:3]:
                fails.append("ours keeps #%d and #%d of class %d with IoU %.4f > %g" % (idx[x], idx[y], c, ilo[x, y], thr))
        return fails

    def fallback_sets(self):
        thresh, cap = float(self.ref["score_thresh"]), int(self.ref["detections_per_img"])
        matched_o, matched_r = {i for i, _ in self.pairs}, {j for _, j in self.pairs}
        notes, ok = [], True
        for side, boxes, scores, labels, matched, other in (
                ("ours", self.ob, self.os, self.ol, matched_o, self.rs), ("ref", self.rb, self.rs, self.rl, matched_r, self.os)):
            for k in range(len(boxes)):
                if k in matched:
                    continue
                s = float(scores[k])
                why = ("at the score threshold" if abs(s - thresh) <= FALLBACK_TIE else
                       "tied at the cap" if len(other) >= cap and abs(s - float(other.min())) <= FALLBACK_TIE else None)
                ok = ok and why is not None
                notes.append("%s #%d unmatched: class %d score %.6f box %s%s" % (
                    side, k, labels[k], s, fmt_box(boxes[k]), " (allowed: %s, no candidate lists)" % why if why else ""))
        return ok, notes, True

    # order ---------------------------------------------------------------
    def order(self, perturbed):
        pairs = sorted(self.pairs, key=lambda p: p[1])
        inv = inversions([j for _, j in pairs], [i for i, _ in pairs])
        notes, n_tie, ok = [], 0, True
        for x, y in inv:
            (ia, ja), (ib, jb) = pairs[x], pairs[y]
            da, db = abs(self.os[ia] - self.rs[ja]), abs(self.os[ib] - self.rs[jb])
            gap = abs(self.rs[ja] - self.rs[jb])
            tie = self.rs[ja] == self.rs[jb] and self.os[ia] == self.os[ib]
            n_tie += tie
            if gap < da + db or (tie and perturbed):
                continue
            ok = False
            if len(notes) < 5:
                notes.append("ref #%d and #%d swapped: scores %.7f and %.7f differ by %.1e, measured %.1e + %.1e%s" % (
                    ja, jb, self.rs[ja], self.rs[jb], gap, da, db, " (an exact tie in an unperturbed list)" if tie else ""))
        return ok, notes, len(inv), n_tie

    # masks ---------------------------------------------------------------
    def masks(self):
        rep, ref = self.rep, self.ref
        rm = ref["masks_binary"] > 0
        thresh = float(ref["mask_threshold"])
        if not self.pairs:
            return
        if self.omask.shape[1:] != rm.shape[1:]:
            rep.add("masks", "frame %s, torchvision %s" % (self.omask.shape[1:], rm.shape[1:]), False)
            return
        frame = tuple(rm.shape[1:])
        worst_dp, worst_margin, near, near_diff, beyond, min_iou, notes = 0.0, 0.0, 0, 0, 0, 1.0, []
        for i, j in self.pairs:
            dp = float(np.abs(self.oprobs[i].astype(np.float64) - self.rprobs[j]).max())
            margin = dp + PASTE_ROUNDING
            # torchvision's paste of its own probabilities reproduces its mask...
            if not np.array_equal(paste(self.rprobs[j], self.rb[j], frame) > thresh, rm[j]):
                notes.append("ref #%d: torchvision's paste of its probabilities differs from its mask" % j)
                beyond += 1
                continue
            # ...and at our box it is what our paste interpolates
            p = paste(self.rprobs[j], self.ob[i], frame).astype(np.float64)
            mine = self.omask[i] > 0
            differ = mine != (p > thresh)
            close = np.abs(p - thresh) <= margin
            n_bad = int((differ & ~close).sum())
            near += int(close.sum())
            near_diff += int((differ & close).sum())
            beyond += n_bad
            worst_dp, worst_margin = max(worst_dp, dp), max(worst_margin, margin)
            union = int(np.logical_or(mine, rm[j]).sum())
            min_iou = min(min_iou, np.logical_and(mine, rm[j]).sum() / union if union else 1.0)
            if n_bad and len(notes) < 5:
                y, x = np.argwhere(differ & ~close)[0]
                notes.append("ours #%d / ref #%d: %d pixels differ beyond the margin %.2e, e.g. (%d, %d) "
                             "torchvision %.7f, ours %s" % (i, j, n_bad, margin, x, y, p[y, x],
                                                            "in" if mine[y, x] else "out"))
            if dp > TOL_MASK_PROBS:
                notes.append("ours #%d / ref #%d: mask probabilities differ by %.2e > %g" % (i, j, dp, TOL_MASK_PROBS))
                beyond += 1
        rep.measure("mask prob max |d|", worst_dp)
        rep.measure("mask margin", worst_margin)
        rep.add("masks", "max |d prob| %.2e, margin <= %.2e: %d px within it (%d differ), %d beyond it differ; "
                "min IoU %.4f" % (worst_dp, worst_margin, near, near_diff, beyond, min_iou), beyond == 0)
        for t in notes:
            rep.note(t)


def compare_image(stem, ref, ours_dir, tv=None):
    rep = Report(stem)
    try:
        ours = {k: load_ours(ours_dir, k) for k in
                ["image"] + FPN_NAMES + ["proposals", "mask_probs", "boxes", "scores", "labels", "masks"]}
    except (FileNotFoundError, ValueError) as e:
        rep.add("dump", "missing or unreadable: %s" % e, False)
        return rep
    compare_tensors(rep, ref, ours)
    props = ProposalCheck(rep, ref, ours, tv)
    props.run()
    DetectionCheck(rep, ref, ours, tv, props).run()
    return rep


def main(argv):
    p = argparse.ArgumentParser(
        prog="python3 -m " + __spec__.name, description=__doc__.split("\n\n")[0])
    p.add_argument("ref_dir")
    p.add_argument("ours_dir")
    p.add_argument("--tv-on-ours", metavar="DIR",
                   help="tv_reference.py --on-ours output: torchvision's heads on our FPN outputs and proposals")
    a = p.parse_args(argv)
    stems = sorted(f[:-4] for f in os.listdir(a.ref_dir) if f.endswith(".npz"))
    if not stems:
        print("compare: no reference .npz files in %s" % a.ref_dir)
        return 1
    print("%-22s %-12s %-78s %s" % ("image", "stage", "result", ""))
    failed, measured = [], {}
    for stem in stems:
        with np.load(os.path.join(a.ref_dir, stem + ".npz")) as z:
            ref = {k: z[k] for k in z.files}
        tv = None
        if a.tv_on_ours:
            with np.load(os.path.join(a.tv_on_ours, stem + ".npz")) as z:
                tv = {k: z[k] for k in z.files}
        rep = compare_image(stem, ref, os.path.join(a.ours_dir, stem), tv)
        rep.print()
        for k, v in rep.measured.items():
            measured[k] = max(measured.get(k, 0.0), v)
        if rep.failed:
            failed.append(stem)
    print()
    print("compare: measured over %d images: %s" % (
        len(stems), ", ".join("%s %.2e" % kv for kv in sorted(measured.items()))))
    if failed:
        print("compare: FAILED for %d of %d images: %s" % (len(failed), len(stems), ", ".join(failed)))
        return 1
    print("compare: all %d images within tolerance" % len(stems))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
