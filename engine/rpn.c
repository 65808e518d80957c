/* Region proposal network: shared 3x3 conv head, anchors, per-level top-k,
 * decoding, clipping, small-box removal and per-level NMS, as torchvision's
 * RegionProposalNetwork does in eval mode. */
#include <math.h>
#include <string.h>

#include "engine_priv.h"
#include "anchors.h"
#include "box_decode.h"

mrcnn_status
mrcnn_rpn_init (mrcnn_engine *e, mrcnn_error *err)
{
  const mrcnn_arch *a = e->arch;
  const mrcnn_model *m = e->model;
  mrcnn_folded_conv hidden, cls, box, fused;
  MRCNN_TRY (mrcnn_fold_conv (m, "rpn.head.conv.0.0", NULL, 1, &hidden, err));
  mrcnn_conv_desc d = { &hidden, 1, 1, 1 };
  mrcnn_status st = e->be->ops->conv_new (e->be, &d, &e->rpn_conv, err);
  mrcnn_folded_conv_clear (&hidden);
  MRCNN_TRY (st);

  /* objectness and box deltas share their input: one 1x1 conv with
   * A + 4A output channels */
  MRCNN_TRY (mrcnn_fold_conv (m, "rpn.head.cls_logits", NULL, 1, &cls, err));
  st = mrcnn_fold_conv (m, "rpn.head.bbox_pred", NULL, 1, &box, err);
  if (st != MRCNN_OK) {
    mrcnn_folded_conv_clear (&cls);
    return st;
  }
  int A = a->num_anchors, C = a->fpn_ch;
  fused.out_ch = 5 * A;
  fused.in_ch = C;
  fused.kh = fused.kw = 1;
  fused.weight = g_new (float, (size_t) 5 * A * C);
  fused.bias = g_new (float, 5 * A);
  memcpy (fused.weight, cls.weight, (size_t) A * C * sizeof (float));
  memcpy (fused.weight + (size_t) A * C, box.weight, (size_t) 4 * A * C * sizeof (float));
  memcpy (fused.bias, cls.bias, A * sizeof (float));
  memcpy (fused.bias + A, box.bias, 4 * A * sizeof (float));
  mrcnn_folded_conv_clear (&cls);
  mrcnn_folded_conv_clear (&box);
  d.w = &fused;
  d.pad = 0;
  d.relu = 0;
  st = e->be->ops->conv_new (e->be, &d, &e->rpn_out, err);
  mrcnn_folded_conv_clear (&fused);
  MRCNN_TRY (st);

  e->anchors_base = g_new (float, (size_t) MRCNN_LEVELS * A * 4);
  for (int l = 0; l < MRCNN_LEVELS; l++)
    for (int r = 0; r < A; r++)
      mrcnn_anchor_base (m->anchor_sizes[l], m->aspect_ratios[r],
          e->anchors_base + ((size_t) l * A + r) * 4);
  return MRCNN_OK;
}

void
mrcnn_rpn_free (mrcnn_engine *e)
{
  e->be->ops->conv_free (e->be, e->rpn_conv);
  e->be->ops->conv_free (e->be, e->rpn_out);
  e->rpn_conv = e->rpn_out = NULL;
}

/* Indices of the k largest values of v[0..n), in descending order of value
 * (ties: lower index first), via a size-k min-heap. */
typedef struct { float v; int i; } heap_item;

static inline int
item_less (heap_item a, heap_item b)
{
  /* "a ranks below b": smaller value, or same value and larger index */
  return a.v < b.v || (a.v == b.v && a.i > b.i);
}

static void
sift_down (heap_item *h, int n, int i)
{
  for (;;) {
    int l = 2 * i + 1, r = l + 1, s = i;
    if (l < n && item_less (h[l], h[s]))
      s = l;
    if (r < n && item_less (h[r], h[s]))
      s = r;
    if (s == i)
      return;
    heap_item t = h[i];
    h[i] = h[s];
    h[s] = t;
    i = s;
  }
}

static int
top_k (const float *v, int n, int k, heap_item *heap, int *out)
{
  if (k > n)
    k = n;
  for (int i = 0; i < k; i++)
    heap[i] = (heap_item) { v[i], i };
  for (int i = k / 2 - 1; i >= 0; i--)
    sift_down (heap, k, i);
  for (int i = k; i < n; i++) {
    heap_item it = { v[i], i };
    if (item_less (heap[0], it)) {
      heap[0] = it;
      sift_down (heap, k, 0);
    }
  }
  /* pop ascending into the tail of out: out ends up descending */
  for (int m = k; m > 0; m--) {
    out[m - 1] = heap[0].i;
    heap[0] = heap[m - 1];
    sift_down (heap, m - 1, 0);
  }
  return k;
}

mrcnn_status
mrcnn_rpn_run (mrcnn_engine *e, mrcnn_error *err)
{
  const mrcnn_model *m = e->model;
  const int A = e->arch->num_anchors;
  mrcnn_backend *be = e->be;
  int pad_w = e->in_map.w, pad_h = e->in_map.h;
  int ncand = 0;
  static const float unit_weights[4] = { 1.0f, 1.0f, 1.0f, 1.0f };

  for (int l = 0; l < MRCNN_LEVELS; l++) {
    const mrcnn_fmap *p = &e->pyr[l];
    mrcnn_fmap hidden = { e->rpn_hidden, .layout = MRCNN_LAYOUT_NATIVE };
    mrcnn_fmap raw_native = { e->rpn_raw[l], .layout = MRCNN_LAYOUT_NATIVE };
    mrcnn_fmap raw_map = { e->rpn_plain, .layout = MRCNN_LAYOUT_NCHW };
    MRCNN_TRY (be->ops->conv_run (be, e->rpn_conv, p, 0, &hidden, err));
    MRCNN_TRY (be->ops->conv_run (be, e->rpn_out, &hidden, 0, &raw_native, err));
    MRCNN_TRY (be->ops->to_nchw (be, &raw_native, &raw_map, err));
    int H = p->h, W = p->w, HW = H * W, n = HW * A;
    const float *raw = be->ops->download (be, raw_map.data,
        mrcnn_fmap_numel (&raw_map), e->host_scratch, err);
    if (!raw)
      return err ? err->status : MRCNN_ERR_BACKEND;

    /* objectness in torchvision's (y, x, anchor) order */
    float *objf = e->nms_area;   /* scratch, cand_cap floats */
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++)
        for (int a = 0; a < A; a++)
          objf[(y * W + x) * A + a] = raw[(size_t) a * HW + y * W + x];
    int k = top_k (objf, n, m->rpn_pre_nms_top_n, (heap_item *) e->nms_boxes,
        e->cand_idx + ncand);

    int stride_x = pad_w / W, stride_y = pad_h / H;
    for (int j = 0; j < k; j++) {
      int i = e->cand_idx[ncand + j];
      int a = i % A, loc = i / A, x = loc % W, y = loc / W;
      float anchor[4], delta[4];
      mrcnn_anchor_at (e->anchors_base + ((size_t) l * A + a) * 4, x, y,
          stride_x, stride_y, anchor);
      for (int c = 0; c < 4; c++)
        delta[c] = raw[(size_t) (A + a * 4 + c) * HW + y * W + x];
      float *box = e->cand_boxes + (size_t) (ncand + j) * 4;
      mrcnn_box_decode (anchor, delta, unit_weights, box);
      e->cand_scores[ncand + j] = 1.0f / (1.0f + expf (-objf[i]));
      e->cand_level[ncand + j] = l;
    }
    ncand += k;
  }

  /* filter_proposals: clip, drop small and low-scoring, NMS per level */
  int kept = 0;
  for (int i = 0; i < ncand; i++) {
    float *b = e->cand_boxes + (size_t) i * 4;
    mrcnn_box_clip (b, e->res_w, e->res_h);
    if (!mrcnn_box_keep_size (b, 1e-3f) || !(e->cand_scores[i] >= m->rpn_score_thresh))
      continue;
    if (kept != i) {
      memcpy (e->cand_boxes + (size_t) kept * 4, b, 4 * sizeof (float));
      e->cand_scores[kept] = e->cand_scores[i];
      e->cand_level[kept] = e->cand_level[i];
    }
    kept++;
  }
  int nkeep = mrcnn_batched_nms (e, e->cand_boxes, e->cand_scores,
      e->cand_level, kept, m->rpn_nms_thresh, e->nms_keep);
  if (nkeep > m->rpn_post_nms_top_n)
    nkeep = m->rpn_post_nms_top_n;
  for (int i = 0; i < nkeep; i++)
    memcpy (e->proposals.data + (size_t) i * 4,
        e->cand_boxes + (size_t) e->nms_keep[i] * 4, 4 * sizeof (float));
  e->proposals.n = nkeep;
  return MRCNN_OK;
}
