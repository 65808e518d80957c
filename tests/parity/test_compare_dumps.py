#!/usr/bin/python3
"""maskrcnn_tools.compare_dumps on made-up dumps: each differences it must
excuse (a near-tie that a measured difference explains) and each it must
report (the same difference without the near-tie). The parity tests only
ever show the first kind; this shows that the rules can fail.

One 64x64 frame, no resize. RPN candidates (level 0): c0 and c3 overlap
(IoU 0.805 > 0.7) with logits 1e-6 apart, so NMS keeps either; c1, c2, c4
are far from every other decision; c5 lies below the top-k cut. Detections
d0 and d2 (class 1) and d1 (class 2) with random M x M probabilities.

Exit 77 (skipped) without torch / torchvision.
"""
import os
import sys
import tempfile
import unittest

import numpy as np

try:
    import torch  # noqa: F401 (compare_dumps pastes with torchvision)
    from maskrcnn_tools import compare_dumps as C
except ImportError as e:  # pragma: no cover
    print("SKIP: torch / torchvision not available (%s)" % e)
    sys.exit(77)

H = W = 64
M = 28
CAND_BOX = np.array([[2, 2, 20, 20], [30, 30, 50, 50], [2, 30, 20, 50], [3, 3, 21, 21],
                     [40, 2, 60, 20], [10, 40, 30, 60]], np.float32)
CAND_LOGIT = np.array([5.0, 4.0, 3.0, 4.999999, 2.0, -1.0], np.float32)
REF_KEPT = [0, 1, 2, 4]  # NMS: c3 after c0, suppressed
DET_BOX = np.array([[5, 5, 25, 25], [35, 35, 55, 55], [5, 35, 25, 55]], np.float32)
DET_LABEL = np.array([1, 2, 1], np.int64)


def paste(probs, box):
    return C.paste(probs, box, (H, W))


class Case:
    """A reference and an engine dump that agree, to be spoiled by a test."""

    def __init__(self, seed=1):
        rng = np.random.default_rng(seed)
        self.rprobs = rng.random((3, M, M)).astype(np.float32)
        self.oprobs = np.clip(self.rprobs + rng.uniform(-5e-3, 5e-3, (3, M, M)), 0, 1).astype(np.float32)
        self.rscores = np.array([0.9, 0.8, 0.3], np.float32)
        self.oscores = self.rscores + np.float32(1e-6)
        self.oprops = CAND_BOX[REF_KEPT].copy()
        self.order = [0, 1, 2]  # our detections, as indices of the reference's
        self.introsort = False  # batched_nms' final sort: nms' stable one

    def write(self, root):
        image = np.zeros((1, 3, H, W), np.float32)
        fpn = np.linspace(-1, 1, 4 * 8 * 8, dtype=np.float32).reshape(1, 4, 8, 8)
        ref = {
            "image": image, "image_size": np.array([H, W], np.int32),
            "proposals": CAND_BOX[REF_KEPT], "boxes": DET_BOX, "scores": self.rscores, "labels": DET_LABEL,
            "mask_probs": self.rprobs,
            "masks_binary": np.stack([paste(p, b) > 0.5 for p, b in zip(self.rprobs, DET_BOX)]).astype(np.uint8),
            "score_thresh": np.float32(0.05), "detections_per_img": np.int32(100),
            "mask_threshold": np.float32(0.5), "box_nms_thresh": np.float32(0.5), "box_min_size": np.float32(1e-2),
            "rpn_cand_anchor": np.arange(6, dtype=np.int32), "rpn_cand_logit": CAND_LOGIT,
            "rpn_cand_box": CAND_BOX, "rpn_cand_level": np.zeros(6, np.int8),
            "rpn_cand_topk": np.array([1, 1, 1, 1, 1, 0], bool), "rpn_cand_valid": np.ones(6, bool),
            "rpn_proposal_cand": np.array(REF_KEPT, np.int32), "rpn_kept_cand": np.array(REF_KEPT, np.int32),
            "rpn_nms_thresh": np.float32(0.7), "rpn_pre_nms_top_n": np.int32(5),
            "rpn_post_nms_top_n": np.int32(1000), "rpn_min_size": np.float32(1e-3),
            "rpn_score_thresh": np.float32(0.0),
            # d0, d1, d2 are the box head's candidates for proposals 0, 1, 2
            "det_cand_boxes": DET_BOX, "det_cand_scores": self.rscores, "det_cand_labels": DET_LABEL,
            "det_cand_prop": np.arange(3, dtype=np.int32), "det_kept": np.arange(3, dtype=np.int32),
            "det_final": np.argsort(-self.rscores, kind="stable").astype(np.int32),
            "det_introsort": np.bool_(self.introsort),
        }
        for k in range(5):
            ref["fpn%d" % k] = fpn
        ours = os.path.join(root, "ours", "img")
        os.makedirs(ours)
        o = self.order
        obox = DET_BOX[o]
        arrays = {"image": image, "proposals": self.oprops, "boxes": obox, "scores": self.oscores[o],
                  "labels": DET_LABEL[o], "mask_probs": self.oprobs[o],
                  "masks": np.stack([(paste(p, b) > 0.5) * 255 for p, b in zip(self.oprobs[o], obox)]).astype(np.uint8)
                  if o else np.zeros((0, H, W), np.uint8)}
        for k in range(5):
            arrays["fpn%d" % k] = fpn
        self.spoil_masks(arrays)
        for k, v in arrays.items():
            np.save(os.path.join(ours, k + ".npy"), v)
        tv = {"rpn_logits": CAND_LOGIT + np.float32(1e-6), "rpn_rounding": np.float32(1e-7),
              "cand_boxes": DET_BOX, "cand_scores": self.rscores, "cand_labels": DET_LABEL,
              "cand_prop": np.arange(3, dtype=np.int32), "cand_scores64": self.rscores.astype(np.float64),
              "box_rounding": np.float32(1e-7)}
        return ref, ours, tv

    def spoil_masks(self, arrays):
        pass

    def failed(self):
        with tempfile.TemporaryDirectory() as root:
            ref, ours, tv = self.write(root)
            rep = C.compare_image("img", ref, ours, tv)
            rep.print()
            return rep.failed


class CompareDumpsTest(unittest.TestCase):
    def test_agreeing_dumps_pass(self):
        self.assertFalse(Case().failed())

    # masks ---------------------------------------------------------------
    def flip(self, near):
        case = Case()

        def spoil(arrays):
            p = paste(case.rprobs[0], DET_BOX[0]).astype(np.float64)
            dist = np.abs(p - 0.5) + np.where(p > 0, 0, 9)  # inside the window
            margin = float(np.abs(case.oprobs[0].astype(np.float64) - case.rprobs[0]).max()) + C.PASTE_ROUNDING
            y, x = np.unravel_index(np.argmin(np.where(dist <= margin, dist, 9) if near else
                                               np.where(dist > 10 * margin, dist, 9)), p.shape)
            self.assertEqual(dist[y, x] <= margin, near, "no pixel of the kind the test needs")
            arrays["masks"][0, y, x] = 255 - arrays["masks"][0, y, x]
        case.spoil_masks = spoil
        return case.failed()

    def test_mask_pixel_within_the_margin_may_differ(self):
        self.assertFalse(self.flip(near=True))

    def test_mask_pixel_beyond_the_margin_fails(self):
        self.assertTrue(self.flip(near=False))

    # detections ----------------------------------------------------------
    def test_missing_detection_fails(self):
        case = Case()
        case.order = [0, 1]
        self.assertTrue(case.failed())

    def test_missing_detection_at_the_threshold_passes(self):
        case = Case()
        case.rscores[2] = np.float32(0.05 + 5e-7)
        case.oscores = case.rscores + np.float32(1e-6)
        case.order = [0, 1]
        self.assertFalse(case.failed())

    def test_score_beyond_the_accuracy_bound_fails(self):
        case = Case()
        case.oscores[1] += np.float32(2e-4)
        self.assertTrue(case.failed())

    def tie_swap(self, proposals_differ=False, introsort=False, band=False):
        case = Case()
        case.rscores[:2] = 1.0
        case.oscores[:2] = 1.0
        case.order = [1, 0, 2]
        case.introsort = introsort
        if band:  # a third kept score that may round to 1.0 on our side
            case.rscores[2] = case.oscores[2] = np.float32(1 - 2 ** -24)
        if proposals_differ:  # the near-tie c0 / c3 went the other way
            case.oprops = CAND_BOX[[3, 1, 2, 4]]
        return case.failed()

    def test_exact_tie_swapped_in_an_unperturbed_list_fails(self):
        self.assertTrue(self.tie_swap())

    def test_exact_tie_swapped_after_a_certain_introsort_fails(self):
        self.assertTrue(self.tie_swap(introsort=True))

    def test_exact_tie_swapped_after_an_uncertain_introsort_passes(self):
        self.assertFalse(self.tie_swap(introsort=True, band=True))

    def test_exact_tie_swapped_below_a_proposal_near_tie_passes(self):
        self.assertFalse(self.tie_swap(proposals_differ=True))

    def test_detections_swapped_beyond_their_score_difference_fail(self):
        case = Case()
        case.order = [1, 0, 2]
        case.oscores[[0, 1]] = case.rscores[[0, 1]]
        self.assertTrue(case.failed())

    # proposals -----------------------------------------------------------
    @staticmethod
    def proposals_fail(boxes):
        case = Case()
        case.oprops = np.asarray(boxes, np.float32)
        return case.failed()

    def test_nms_near_tie_passes(self):
        self.assertFalse(self.proposals_fail(CAND_BOX[[3, 1, 2, 4]]))

    def test_missing_proposal_fails(self):
        self.assertTrue(self.proposals_fail(CAND_BOX[[0, 1, 2]]))

    def test_proposals_swapped_beyond_their_margins_fail(self):
        self.assertTrue(self.proposals_fail(CAND_BOX[[0, 2, 1, 4]]))

    def test_proposal_below_the_top_k_cut_fails(self):
        self.assertTrue(self.proposals_fail(CAND_BOX[[0, 1, 2, 4, 5]]))

    def test_proposal_that_is_no_candidate_fails(self):
        self.assertTrue(self.proposals_fail(np.concatenate([CAND_BOX[REF_KEPT], [[44, 44, 60, 60]]])))

if __name__ == "__main__":
    unittest.main(verbosity=2)
