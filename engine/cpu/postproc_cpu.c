/* CPU backend: the box post-processing of the RPN and the box head
 * (torchvision's RegionProposalNetwork.filter_proposals and
 * RoIHeads.postprocess_detections in eval mode), on the host with the shared
 * math of kernels/. The CUDA backend's twin is engine/cuda/postproc_cuda.cu;
 * both give the same candidates in the same order. */
#include <math.h>
#include <string.h>

#include "backend_cpu.h"
#include "activation.h"
#include "anchors.h"
#include "box_decode.h"
#include "nms.h"
#include "topk.h"

struct mrcnn_postproc {
  size_t max_level;           /* most anchors of one level (plain, objf) */
  int nlevels, A, pre_nms_top_n, post_nms_top_n, num_classes, max_det;
  double rpn_nms_thresh;
  float rpn_score_thresh, rpn_min_size, box_min_size;
  float *cell_anchors;        /* nlevels x A x 4 */
  float *plain;               /* one level's head output as NCHW */
  float *objf;                /* one level's objectness, (y, x, anchor) */
  mrcnn_rank_item *rank;      /* max (largest level, cap): top-k and sorts */
  int cap;                    /* candidates */
  float *cand_boxes, *cand_scores, *nms_area, *nms_boxes;
  int *cand_idx, *cand_level, *nms_keep, *nms_group, *nms_pos;
  int ngroups;                /* groups are 0 .. ngroups - 1 (levels, classes) */
  int *nms_start, *nms_fill;  /* ngroups + 1 */
  uint8_t *nms_suppressed;
};

void
mrcnn_cpu_postproc_free (mrcnn_backend *be, mrcnn_postproc *pp)
{
  if (!pp)
    return;
  g_free (pp->cell_anchors);
  g_free (pp->plain);
  g_free (pp->objf);
  g_free (pp->rank);
  g_free (pp->cand_boxes);
  g_free (pp->cand_scores);
  g_free (pp->nms_area);
  g_free (pp->nms_boxes);
  g_free (pp->cand_idx);
  g_free (pp->cand_level);
  g_free (pp->nms_keep);
  g_free (pp->nms_group);
  g_free (pp->nms_pos);
  g_free (pp->nms_start);
  g_free (pp->nms_fill);
  g_free (pp->nms_suppressed);
  g_free (pp);
}

mrcnn_status
mrcnn_cpu_postproc_new (mrcnn_backend *be, const mrcnn_postproc_desc *d,
    mrcnn_postproc **out, mrcnn_error *err)
{
  *out = NULL;
  if (d->nlevels < 1 || d->num_anchors < 1 || d->num_classes < 2
      || d->pre_nms_top_n < 1 || d->post_nms_top_n < 1
      || d->max_detections < 1)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "postproc_new: bad plan");
  mrcnn_postproc *pp = g_new0 (mrcnn_postproc, 1);
  pp->nlevels = d->nlevels;
  pp->A = d->num_anchors;
  pp->pre_nms_top_n = d->pre_nms_top_n;
  pp->post_nms_top_n = d->post_nms_top_n;
  pp->num_classes = d->num_classes;
  pp->max_det = d->max_detections;
  pp->rpn_nms_thresh = d->rpn_nms_thresh;
  pp->rpn_score_thresh = d->rpn_score_thresh;
  pp->rpn_min_size = d->rpn_min_size;
  pp->box_min_size = d->box_min_size;
  pp->cell_anchors = g_memdup2 (d->cell_anchors,
      (size_t) d->nlevels * d->num_anchors * 4 * sizeof (float));
  size_t max_level = 0, rpn_cands = 0;
  for (int l = 0; l < d->nlevels; l++) {
    size_t na = d->max_locations[l] * (size_t) d->num_anchors;
    max_level = MAX (max_level, na);
    rpn_cands += MIN (na, (size_t) d->pre_nms_top_n);
  }
  pp->max_level = max_level;
  size_t det_cands = (size_t) d->post_nms_top_n * (d->num_classes - 1);
  size_t cap = MAX (rpn_cands, det_cands);
  if (cap > G_MAXINT / 8 || max_level > G_MAXINT / 8) {
    mrcnn_cpu_postproc_free (be, pp);
    return mrcnn_fail (err, MRCNN_ERR_NO_MEMORY,
        "postproc_new: %zu candidates are too many", cap);
  }
  pp->cap = (int) cap;
  pp->plain = g_try_new (float, 5 * max_level);
  pp->objf = g_try_new (float, max_level);
  pp->rank = g_try_new (mrcnn_rank_item, MAX (max_level, cap));
  pp->cand_boxes = g_try_new (float, cap * 4);
  pp->cand_scores = g_try_new (float, cap);
  pp->nms_area = g_try_new (float, cap);
  pp->nms_boxes = g_try_new (float, cap * 4);
  pp->cand_idx = g_try_new (int, cap);
  pp->cand_level = g_try_new (int, cap);
  pp->nms_keep = g_try_new (int, cap);
  pp->nms_group = g_try_new (int, cap);
  pp->nms_pos = g_try_new (int, cap);
  pp->ngroups = MAX (d->nlevels, d->num_classes);
  pp->nms_start = g_try_new (int, pp->ngroups + 1);
  pp->nms_fill = g_try_new (int, pp->ngroups + 1);
  pp->nms_suppressed = g_try_new (uint8_t, cap);
  if (!pp->plain || !pp->objf || !pp->rank || !pp->cand_boxes
      || !pp->cand_scores || !pp->nms_area || !pp->nms_boxes || !pp->cand_idx
      || !pp->cand_level || !pp->nms_keep || !pp->nms_group || !pp->nms_pos
      || !pp->nms_start || !pp->nms_fill || !pp->nms_suppressed) {
    mrcnn_cpu_postproc_free (be, pp);
    return mrcnn_fail (err, MRCNN_ERR_NO_MEMORY,
        "cannot allocate candidate buffers for %zu boxes", cap);
  }
  *out = pp;
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- top-k */

/* Indices of the k largest values of v[0..n) in the order torch.topk gives
 * them on the CPU, ties included (kernels/topk.h). */
static int
top_k (const float *v, int n, int k, mrcnn_rank_item *items, int *out)
{
  for (int i = 0; i < n; i++)
    items[i] = (mrcnn_rank_item) { v[i], i };
  k = mrcnn_rank_topk (items, n, k);
  for (int i = 0; i < k; i++)
    out[i] = items[i].i;
  return k;
}

/* ---------------------------------------------------------------- NMS */

static gint
cmp_desc (gconstpointer pa, gconstpointer pb, gpointer key_ptr)
{
  const float *key = key_ptr;
  int a = *(const int *) pa, b = *(const int *) pb;
  if (key[a] > key[b])
    return -1;
  if (key[a] < key[b])
    return 1;
  return (a > b) - (a < b);
}

/* Greedy NMS over candidates grouped by `group` (class or level) the way
 * torchvision's batched_nms does it, including its coordinate-offset variant
 * for small inputs. keep receives the kept indices in torchvision's order;
 * returns the count.
 *
 * torchvision's nms sorts stably, so within a group the greedy order is
 * (score descending, index ascending) in both variants. The order of the
 * result differs: the offset variant returns nms's own order (stable), the
 * per-group loop returns the kept indices in index order re-sorted with
 * torch's unstable sort(descending=True), whose order of equal scores is
 * introsort's (mrcnn_rank_sort). With saturated scores that order decides
 * which candidates the top-n cut keeps. */
static int
batched_nms (mrcnn_postproc *pp, const float *boxes, const float *scores,
    const int *group, int n, double iou_threshold, int *keep)
{
  if (n <= 0)
    return 0;
  int *order = pp->cand_idx;
  for (int i = 0; i < n; i++)
    order[i] = i;
  g_qsort_with_data (order, n, sizeof *order, cmp_desc, (gpointer) scores);

  /* torchvision offsets each group's boxes by group * (max coordinate + 1)
   * when there are few boxes (<= 4000 coordinates on the CPU), and runs NMS
   * per group otherwise; both give the same suppression up to rounding, and
   * computing IoU on the same coordinates keeps that rounding identical. */
  int offset_trick = (size_t) n * 4 <= 4000;
  float max_coord = -INFINITY;
  if (offset_trick)
    for (int i = 0; i < 4 * n; i++)
      max_coord = fmaxf (max_coord, boxes[i]);
  float *sb = pp->nms_boxes, *area = pp->nms_area;
  for (int r = 0; r < n; r++) {
    float off = offset_trick ? mrcnn_nms_group_offset (max_coord, group[order[r]]) : 0.0f;
    mrcnn_box_offset (boxes + (size_t) order[r] * 4, off, sb + r * 4);
    area[r] = mrcnn_box_area (sb + r * 4);
  }
  const float thr = mrcnn_nms_threshold (iou_threshold);
  uint8_t *sup = pp->nms_suppressed;
  memset (sup, 0, (size_t) n);
  /* Boxes of different groups never suppress each other: per group by
   * definition, and with the offset their boxes lie more than 1 apart, so
   * their intersection is empty and IoU 0 - unless the threshold is
   * negative, where torchvision's offset form suppresses across groups. */
  const int skip_other_groups = !offset_trick || iou_threshold >= 0.0;
  int *sgroup = pp->nms_group;
  int groups_in_range = 1;
  for (int r = 0; r < n; r++) {
    sgroup[r] = group[order[r]];
    groups_in_range &= sgroup[r] >= 0 && sgroup[r] < pp->ngroups;
  }
  if (skip_other_groups && groups_in_range) {
    /* each group's positions in score order (a stable counting sort), then
     * the greedy loop within each group only: the same suppressions */
    const int G = pp->ngroups;
    int *start = pp->nms_start, *fill = pp->nms_fill, *pos = pp->nms_pos;
    memset (start, 0, (size_t) (G + 1) * sizeof *start);
    for (int r = 0; r < n; r++)
      start[sgroup[r] + 1]++;
    for (int g = 0; g < G; g++)
      start[g + 1] += start[g];
    memcpy (fill, start, (size_t) (G + 1) * sizeof *fill);
    for (int r = 0; r < n; r++)
      pos[fill[sgroup[r]]++] = r;
    for (int g = 0; g < G; g++)
      for (int a = start[g]; a < start[g + 1]; a++) {
        const int r = pos[a];
        if (sup[r])
          continue;
        for (int b = a + 1; b < start[g + 1]; b++) {
          const int q = pos[b];
          if (!sup[q] && mrcnn_box_suppresses (sb + r * 4, area[r], sb + q * 4,
                  area[q], thr))
            sup[q] = 1;
        }
      }
  } else {
    for (int r = 0; r < n; r++) {
      if (sup[r])
        continue;
      int gr = sgroup[r];
      for (int q = r + 1; q < n; q++) {
        if (sup[q] || (skip_other_groups && sgroup[q] != gr))
          continue;
        if (mrcnn_box_suppresses (sb + r * 4, area[r], sb + q * 4, area[q],
                thr))
          sup[q] = 1;
      }
    }
  }
  int nk = 0;
  if (offset_trick) {
    for (int r = 0; r < n; r++)
      if (!sup[r])
        keep[nk++] = order[r];
    return nk;
  }
  /* the kept candidates in index order, then torch's sort */
  int *kept = pp->nms_pos;
  memset (kept, 0, (size_t) n * sizeof *kept);
  for (int r = 0; r < n; r++)
    if (!sup[r])
      kept[order[r]] = 1;
  mrcnn_rank_item *it = pp->rank;
  for (int i = 0; i < n; i++)
    if (kept[i])
      it[nk++] = (mrcnn_rank_item) { scores[i], i };
  mrcnn_rank_sort (it, nk);
  for (int j = 0; j < nk; j++)
    keep[j] = it[j].i;
  return nk;
}

/* ---------------------------------------------------------------- RPN */

mrcnn_status
mrcnn_cpu_rpn_proposals (mrcnn_backend *be, mrcnn_queue *q,
    mrcnn_postproc *pp,
    const mrcnn_fmap *head, int pad_w, int pad_h, int img_w, int img_h,
    float *proposals, int *n_out, mrcnn_error *err)
{
  const int A = pp->A;
  int ncand = 0;
  static const float unit_weights[4] = { 1.0f, 1.0f, 1.0f, 1.0f };

  for (int l = 0; l < pp->nlevels; l++) {
    const int H = head[l].h, W = head[l].w, HW = H * W, n = HW * A;
    if (head[l].c != 5 * A || head[l].n != 1)
      return mrcnn_fail (err, MRCNN_ERR_BACKEND,
          "rpn_proposals: level %d has %d x %d channels, expected 1 x %d", l,
          head[l].n, head[l].c, 5 * A);
    if ((size_t) n > pp->max_level || ncand + MIN (n, pp->pre_nms_top_n) > pp->cap)
      return mrcnn_fail (err, MRCNN_ERR_BACKEND,
          "rpn_proposals: level %d of %dx%d is larger than planned", l, W, H);
    mrcnn_fmap raw_map = { pp->plain, .layout = MRCNN_LAYOUT_NCHW };
    MRCNN_TRY (mrcnn_cpu_to_nchw (be, q, &head[l], &raw_map, err));
    const float *raw = raw_map.data;

    /* objectness in torchvision's (y, x, anchor) order */
    float *objf = pp->objf;
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++)
        for (int a = 0; a < A; a++)
          objf[(y * W + x) * A + a] = raw[(size_t) a * HW + y * W + x];
    int k = top_k (objf, n, pp->pre_nms_top_n, pp->rank, pp->cand_idx + ncand);

    int stride_x = pad_w / W, stride_y = pad_h / H;
    for (int j = 0; j < k; j++) {
      int i = pp->cand_idx[ncand + j];
      int a = i % A, loc = i / A, x = loc % W, y = loc / W;
      float anchor[4], delta[4];
      mrcnn_anchor_at (pp->cell_anchors + ((size_t) l * A + a) * 4, x, y,
          stride_x, stride_y, anchor);
      for (int c = 0; c < 4; c++)
        delta[c] = raw[(size_t) (A + a * 4 + c) * HW + y * W + x];
      float *box = pp->cand_boxes + (size_t) (ncand + j) * 4;
      mrcnn_box_decode (anchor, delta, unit_weights, box);
      pp->cand_scores[ncand + j] = mrcnn_sigmoid (objf[i]);
      pp->cand_level[ncand + j] = l;
    }
    ncand += k;
  }

  /* filter_proposals: clip, drop small and low-scoring, NMS per level */
  int kept = 0;
  for (int i = 0; i < ncand; i++) {
    float *b = pp->cand_boxes + (size_t) i * 4;
    mrcnn_box_clip (b, img_w, img_h);
    if (!mrcnn_box_keep_size (b, pp->rpn_min_size)
        || !(pp->cand_scores[i] >= pp->rpn_score_thresh))
      continue;
    if (kept != i) {
      memcpy (pp->cand_boxes + (size_t) kept * 4, b, 4 * sizeof (float));
      pp->cand_scores[kept] = pp->cand_scores[i];
      pp->cand_level[kept] = pp->cand_level[i];
    }
    kept++;
  }
  int nkeep = batched_nms (pp, pp->cand_boxes, pp->cand_scores,
      pp->cand_level, kept, pp->rpn_nms_thresh, pp->nms_keep);
  if (nkeep > pp->post_nms_top_n)
    nkeep = pp->post_nms_top_n;
  for (int i = 0; i < nkeep; i++)
    memcpy (proposals + (size_t) i * 4,
        pp->cand_boxes + (size_t) pp->nms_keep[i] * 4, 4 * sizeof (float));
  *n_out = nkeep;
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- boxes */

mrcnn_status
mrcnn_cpu_detect (mrcnn_backend *be, mrcnn_queue *q,
    mrcnn_postproc *pp,
    const float *proposals, const float *pred, int n_props,
    const mrcnn_thresholds *th, int img_w, int img_h, float *boxes,
    float *scores, int *labels, int *n_out, mrcnn_error *err)
{
  const int C = pp->num_classes;
  static const float weights[4] = { 10.0f, 10.0f, 5.0f, 5.0f };
  if (n_props > pp->post_nms_top_n || th->max_detections > pp->max_det)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "detect: %d proposals or %d detections are more than planned",
        n_props, th->max_detections);
  int nc = 0;
  for (int r = 0; r < n_props; r++) {
    const float *logit = pred + (size_t) r * 5 * C;
    const float *delta = logit + C;
    float mx, sum;
    mrcnn_softmax_stats (logit, C, &mx, &sum);
    const float *prop = proposals + (size_t) r * 4;
    for (int c = 1; c < C; c++) {
      float score = mrcnn_softmax_prob (logit[c], mx, sum);
      if (!(score > th->score_threshold))
        continue;
      float *box = pp->cand_boxes + (size_t) nc * 4;
      mrcnn_box_decode (prop, delta + 4 * c, weights, box);
      mrcnn_box_clip (box, img_w, img_h);
      if (!mrcnn_box_keep_size (box, pp->box_min_size))
        continue;
      pp->cand_scores[nc] = score;
      pp->cand_level[nc] = c;
      nc++;
    }
  }
  int nk = batched_nms (pp, pp->cand_boxes, pp->cand_scores, pp->cand_level,
      nc, th->nms_threshold, pp->nms_keep);
  if (nk > th->max_detections)
    nk = th->max_detections;
  for (int i = 0; i < nk; i++) {
    int k = pp->nms_keep[i];
    memcpy (boxes + (size_t) i * 4, pp->cand_boxes + (size_t) k * 4,
        4 * sizeof (float));
    scores[i] = pp->cand_scores[k];
    labels[i] = pp->cand_level[k];
  }
  *n_out = nk;
  return MRCNN_OK;
}
