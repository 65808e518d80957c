/* Box post-processing (RoIHeads.postprocess_detections) and the batched NMS
 * shared with the RPN. */
#include <math.h>
#include <string.h>

#include "engine_priv.h"
#include "box_decode.h"
#include "nms.h"

void
mrcnn_engine_free_candidates (mrcnn_engine *e)
{
  g_clear_pointer (&e->cand_boxes, g_free);
  g_clear_pointer (&e->cand_scores, g_free);
  g_clear_pointer (&e->cand_idx, g_free);
  g_clear_pointer (&e->cand_level, g_free);
  g_clear_pointer (&e->nms_keep, g_free);
  g_clear_pointer (&e->nms_suppressed, g_free);
  g_clear_pointer (&e->nms_area, g_free);
  g_clear_pointer (&e->nms_boxes, g_free);
  e->cand_cap = 0;
}

mrcnn_status
mrcnn_engine_reserve_candidates (mrcnn_engine *e, int n, mrcnn_error *err)
{
  if (n <= e->cand_cap)
    return MRCNN_OK;
  mrcnn_engine_free_candidates (e);
  e->cand_boxes = g_try_new (float, (size_t) n * 4);
  e->cand_scores = g_try_new (float, n);
  e->cand_idx = g_try_new (int, n);
  e->cand_level = g_try_new (int, n);
  e->nms_keep = g_try_new (int, n);
  e->nms_suppressed = g_try_new (uint8_t, n);
  e->nms_area = g_try_new (float, n);
  e->nms_boxes = g_try_new (float, (size_t) n * 4);
  e->cand_cap = n;
  if (!e->cand_boxes || !e->cand_scores || !e->cand_idx || !e->cand_level
      || !e->nms_keep || !e->nms_suppressed || !e->nms_area || !e->nms_boxes) {
    e->cand_cap = 0;
    return mrcnn_fail (err, MRCNN_ERR_NO_MEMORY,
        "cannot allocate candidate buffers for %d boxes", n);
  }
  return MRCNN_OK;
}

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

void
mrcnn_sort_desc (const float *key, int *idx, int n)
{
  g_qsort_with_data (idx, n, sizeof *idx, cmp_desc, (gpointer) key);
}

int
mrcnn_batched_nms (mrcnn_engine *e, const float *boxes, const float *scores,
    const int *group, int n, double iou_threshold, int *keep)
{
  if (n <= 0)
    return 0;
  int *order = e->cand_idx;
  for (int i = 0; i < n; i++)
    order[i] = i;
  mrcnn_sort_desc (scores, order, n);

  /* torchvision offsets each group's boxes by group * (max coordinate + 1)
   * when there are few boxes (<= 4000 coordinates on the CPU), and runs NMS
   * per group otherwise; both give the same suppression up to rounding, and
   * computing IoU on the same coordinates keeps that rounding identical. */
  int offset_trick = (size_t) n * 4 <= 4000;
  float max_coord = -INFINITY;
  if (offset_trick)
    for (int i = 0; i < 4 * n; i++)
      max_coord = fmaxf (max_coord, boxes[i]);
  float *sb = e->nms_boxes, *area = e->nms_area;
  for (int r = 0; r < n; r++) {
    float off = offset_trick ? mrcnn_nms_group_offset (max_coord, group[order[r]]) : 0.0f;
    mrcnn_box_offset (boxes + (size_t) order[r] * 4, off, sb + r * 4);
    area[r] = mrcnn_box_area (sb + r * 4);
  }
  const float thr = mrcnn_nms_threshold (iou_threshold);
  uint8_t *sup = e->nms_suppressed;
  memset (sup, 0, (size_t) n);
  int nk = 0;
  for (int r = 0; r < n; r++) {
    if (sup[r])
      continue;
    keep[nk++] = order[r];
    int gr = group[order[r]];
    for (int q = r + 1; q < n; q++) {
      if (sup[q] || (!offset_trick && group[order[q]] != gr))
        continue;
      if (mrcnn_box_suppresses (sb + r * 4, area[r], sb + q * 4, area[q], thr))
        sup[q] = 1;
    }
  }
  return nk;
}

mrcnn_status
mrcnn_box_postprocess (mrcnn_engine *e, int n_props, const float *pred,
    mrcnn_error *err)
{
  const int C = e->arch->num_classes;
  static const float weights[4] = { 10.0f, 10.0f, 5.0f, 5.0f };
  float *prob = g_newa (float, C);
  int nc = 0;
  for (int r = 0; r < n_props; r++) {
    const float *logit = pred + (size_t) r * 5 * C;
    const float *delta = logit + C;
    float mx = logit[0], sum = 0.0f;
    for (int c = 1; c < C; c++)
      mx = fmaxf (mx, logit[c]);
    for (int c = 0; c < C; c++) {
      prob[c] = expf (logit[c] - mx);
      sum += prob[c];
    }
    const float *prop = e->proposals.data + (size_t) r * 4;
    for (int c = 1; c < C; c++) {
      float score = prob[c] / sum;
      if (!(score > e->th.score_threshold))
        continue;
      float *box = e->cand_boxes + (size_t) nc * 4;
      mrcnn_box_decode (prop, delta + 4 * c, weights, box);
      mrcnn_box_clip (box, e->res_w, e->res_h);
      if (!mrcnn_box_keep_size (box, 1e-2f))
        continue;
      e->cand_scores[nc] = score;
      e->cand_level[nc] = c;
      nc++;
    }
  }
  int nk = mrcnn_batched_nms (e, e->cand_boxes, e->cand_scores, e->cand_level,
      nc, e->th.nms_threshold, e->nms_keep);
  if (nk > e->th.max_detections)
    nk = e->th.max_detections;
  for (int i = 0; i < nk; i++) {
    int k = e->nms_keep[i];
    memcpy (e->det_boxes + (size_t) i * 4, e->cand_boxes + (size_t) k * 4,
        4 * sizeof (float));
    e->det_scores[i] = e->cand_scores[k];
    e->det_labels[i] = e->cand_level[k];
  }
  e->n_det = nk;
  return MRCNN_OK;
}
