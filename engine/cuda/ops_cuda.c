/* CUDA backend: the per-element ops (kernels in kernels/ (.cu), each calling
 * the shared math of kernels/ (.h)) and the post-processing entry points.
 * Feature maps are always NCHW here: NATIVE means NCHW on this backend. */
#include <string.h>

#include "backend_cuda.h"
#include "nms.h"

static mrcnn_status
check_plain (const mrcnn_fmap *f, const char *op, mrcnn_error *err)
{
  if (f->layout != MRCNN_LAYOUT_NCHW && f->layout != MRCNN_LAYOUT_NATIVE)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "%s: unknown layout %d", op,
        (int) f->layout);
  return MRCNN_OK;
}

/* Copies a host frame's planes, rows packed, into the staging buffer and
 * points src at the copies. */
static mrcnn_status
stage_frame (mrcnn_backend_cuda *cu, const mrcnn_image *img,
    mrcnn_pp_src *src, mrcnn_error *err)
{
  const int planes = mrcnn_pp_planes (img->format);
  size_t off = 0;
  for (int p = 0; p < planes; p++) {
    const size_t row = (size_t) mrcnn_pp_plane_row_bytes (img->format,
        img->width, p);
    const size_t rows = (size_t) mrcnn_pp_plane_rows (img->format,
        img->height, p);
    if (off + row * rows > cu->frame_size)
      return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
          "frame of %dx%d pixels is larger than the CUDA backend's staging "
          "buffer of %zu bytes planned at engine creation", img->width,
          img->height, cu->frame_size);
    CUDA_CHECK (cudaMemcpy2DAsync (cu->frame + off, row, img->planes[p],
            (size_t) img->strides[p], row, rows, cudaMemcpyHostToDevice,
            cu->stream), err);
    src->planes[p] = cu->frame + off;
    src->strides[p] = (int) row;
    off += (row * rows + 255) / 256 * 256;
  }
  return MRCNN_OK;
}

mrcnn_status
mrcnn_cuda_preprocess_op (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_image *img,
    const mrcnn_preprocess_desc *d, mrcnn_fmap *out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  CUDA_ENTER (cu, err);
  mrcnn_pp_src src = { .format = img->format, .width = img->width,
    .height = img->height };
  if (img->on_device) {
    for (int p = 0; p < 3; p++) {
      src.planes[p] = img->planes[p];
      src.strides[p] = img->strides[p];
    }
  } else {
    MRCNN_TRY (stage_frame (cu, img, &src, err));
  }
  out->n = 1;
  out->c = 3;
  out->h = d->pad_h;
  out->w = d->pad_w;
  CUDA_CHECK (mrcnn_cuda_preprocess (&src, &d->pp, d->pad_w, d->pad_h,
          out->data, cu->stream), err);
  if (!img->on_device)
    /* the caller may reuse the host frame once this returns */
    CUDA_CHECK (cudaStreamSynchronize (cu->stream), err);
  return MRCNN_OK;
}

mrcnn_status
mrcnn_cuda_max_pool_op (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap *in, int k, int s,
    int p, mrcnn_fmap *out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  MRCNN_TRY (check_plain (in, "max_pool", err));
  CUDA_ENTER (cu, err);
  out->n = in->n;
  out->c = in->c;
  out->h = (in->h + 2 * p - k) / s + 1;
  out->w = (in->w + 2 * p - k) / s + 1;
  CUDA_CHECK (mrcnn_cuda_max_pool (in->data, in->n * in->c, in->h, in->w, k,
          s, p, out->data, out->h, out->w, cu->stream), err);
  return MRCNN_OK;
}

mrcnn_status
mrcnn_cuda_upsample_add_op (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap *top, mrcnn_fmap *lat, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  if (top->c != lat->c || top->n != lat->n)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "upsample_add: maps of %d and %d channels do not match", top->c,
        lat->c);
  MRCNN_TRY (check_plain (top, "upsample_add", err));
  MRCNN_TRY (check_plain (lat, "upsample_add", err));
  CUDA_ENTER (cu, err);
  CUDA_CHECK (mrcnn_cuda_upsample_add (top->data, top->n * top->c, top->h,
          top->w, lat->data, lat->h, lat->w, cu->stream), err);
  return MRCNN_OK;
}

void
mrcnn_cuda_roi_params_of (const mrcnn_roi_align_desc *d,
    mrcnn_cuda_roi_params *p, mrcnn_fmap *out)
{
  memset (p, 0, sizeof *p);
  for (int l = 0; l < d->nlevels; l++) {
    p->data[l] = d->features[l].data;
    p->h[l] = d->features[l].h;
    p->w[l] = d->features[l].w;
    p->scale[l] = d->scales[l];
  }
  p->nlevels = d->nlevels;
  p->k_min = d->k_min;
  p->k_max = d->k_max;
  p->channels = d->features[0].c;
  p->pooled = d->pooled;
  p->sampling_ratio = d->sampling_ratio;
  out->n = d->nboxes;
  out->c = p->channels;
  out->h = out->w = d->pooled;
}

mrcnn_status
mrcnn_cuda_roi_align_op (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_roi_align_desc *d, mrcnn_fmap *out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  if (d->nlevels < 1 || d->nlevels > MRCNN_CUDA_MAX_LEVELS)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "roi_align: %d levels (1..%d)", d->nlevels, MRCNN_CUDA_MAX_LEVELS);
  CUDA_ENTER (cu, err);
  for (int l = 0; l < d->nlevels; l++)
    MRCNN_TRY (check_plain (&d->features[l], "roi_align", err));
  mrcnn_cuda_roi_params p;
  mrcnn_cuda_roi_params_of (d, &p, out);
  CUDA_CHECK (mrcnn_cuda_roi_align (&p, d->boxes, d->nboxes, out->data,
          cu->stream), err);
  return MRCNN_OK;
}

void
mrcnn_cuda_image_view (mrcnn_backend *be, const mrcnn_fmap *batch, int i,
    mrcnn_fmap *out)
{
  /* every map on this backend is plain NCHW, float32 */
  *out = *batch;
  out->n = 1;
  out->data = batch->data + (size_t) i * batch->c * batch->h * batch->w;
}

mrcnn_status
mrcnn_cuda_to_nchw_op (mrcnn_backend *be, mrcnn_queue *q, const mrcnn_fmap *in,
    mrcnn_fmap *out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  MRCNN_TRY (check_plain (in, "to_nchw", err));
  CUDA_ENTER (cu, err);
  out->n = in->n;
  out->c = in->c;
  out->h = in->h;
  out->w = in->w;
  out->layout = MRCNN_LAYOUT_NCHW;
  if (out->data != in->data && mrcnn_fmap_numel (in))
    CUDA_CHECK (cudaMemcpyAsync (out->data, in->data,
            mrcnn_fmap_numel (in) * sizeof (float), cudaMemcpyDeviceToDevice,
            cu->stream), err);
  return MRCNN_OK;
}

mrcnn_status
mrcnn_cuda_mask_probs_op (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap *taps,
    const float *deconv_bias, const float *weight, const float *bias,
    const int *classes, float *probs, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  MRCNN_TRY (check_plain (taps, "mask_probs", err));
  if (taps->c % 4)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "mask_probs: %d tap channels is not a multiple of 4", taps->c);
  CUDA_ENTER (cu, err);
  CUDA_CHECK (mrcnn_cuda_mask_probs (taps->data, taps->n, taps->c / 4,
          taps->h, taps->w, deconv_bias, weight, bias, classes, probs,
          cu->stream), err);
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- postproc */

mrcnn_status
mrcnn_cuda_postproc_new_op (mrcnn_backend *be, const mrcnn_postproc_desc *d,
    mrcnn_postproc **out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  *out = NULL;
  if (d->nlevels < 1 || d->nlevels > MRCNN_CUDA_MAX_LEVELS
      || d->num_anchors < 1 || d->num_classes < 2 || d->pre_nms_top_n < 1
      || d->post_nms_top_n < 1 || d->max_detections < 1)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "postproc_new: bad plan");
  CUDA_ENTER (cu, err);
  mrcnn_postproc *pp = g_new0 (mrcnn_postproc, 1);
  mrcnn_cuda_postproc_plan *p = &pp->plan;
  p->nlevels = d->nlevels;
  p->num_anchors = d->num_anchors;
  p->pre_nms_top_n = d->pre_nms_top_n;
  p->post_nms_top_n = d->post_nms_top_n;
  p->rpn_nms_thr = mrcnn_nms_threshold (d->rpn_nms_thresh);
  p->rpn_score_thresh = d->rpn_score_thresh;
  p->rpn_min_size = d->rpn_min_size;
  p->box_min_size = d->box_min_size;
  p->num_classes = d->num_classes;
  p->max_detections = d->max_detections;
  size_t keys = 0, max_level = 0, cand = 0;
  for (int l = 0; l < d->nlevels; l++) {
    size_t na = d->max_locations[l] * (size_t) d->num_anchors;
    keys += na;
    max_level = MAX (max_level, na);
    cand += MIN (na, (size_t) d->pre_nms_top_n);
  }
  size_t det = (size_t) d->post_nms_top_n * (d->num_classes - 1);
  if (keys > G_MAXINT / 8 || det > G_MAXINT / 8) {
    g_free (pp);
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "postproc_new: %zu anchors or %zu box candidates are too many", keys,
        det);
  }
  p->max_level_anchors = (int) max_level;
  p->max_rpn_keys = (int) keys;
  p->max_rpn_cand = (int) cand;
  p->max_det_cand = (int) det;
  mrcnn_cuda_site site = { 0 };
  if (mrcnn_cuda_postproc_alloc (p, &site) != cudaSuccess) {
    g_free (pp);
    return mrcnn_cuda_fail_site (err, &site);
  }
  cudaError_t e = cudaMemcpy (p->cell_anchors, d->cell_anchors,
      (size_t) d->nlevels * d->num_anchors * 4 * sizeof (float),
      cudaMemcpyHostToDevice);
  if (e != cudaSuccess) {
    mrcnn_cuda_postproc_release (p);
    g_free (pp);
    return mrcnn_cuda_fail_rt (err, e, "cudaMemcpy (cell anchors)", __FILE__,
        __LINE__);
  }
  *out = pp;
  return MRCNN_OK;
}

void
mrcnn_cuda_postproc_free_op (mrcnn_backend *be, mrcnn_postproc *pp)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  if (!pp)
    return;
  cudaSetDevice (cu->device);
  mrcnn_cuda_postproc_release (&pp->plan);
  g_free (pp);
}

mrcnn_status
mrcnn_cuda_rpn_proposals_op (mrcnn_backend *be, mrcnn_queue *q,
    mrcnn_postproc *pp,
    const mrcnn_fmap *head, int pad_w, int pad_h, int img_w, int img_h,
    float *proposals, int *n, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  mrcnn_cuda_postproc_plan *p = &pp->plan;
  CUDA_ENTER (cu, err);
  mrcnn_cuda_rpn_frame f;
  memset (&f, 0, sizeof f);
  for (int l = 0; l < p->nlevels; l++) {
    MRCNN_TRY (check_plain (&head[l], "rpn_proposals", err));
    if (head[l].c != 5 * p->num_anchors || head[l].n != 1)
      return mrcnn_fail (err, MRCNN_ERR_BACKEND,
          "rpn_proposals: level %d has %d x %d channels, expected 1 x %d", l,
          head[l].n, head[l].c, 5 * p->num_anchors);
    f.head[l] = head[l].data;
    f.h[l] = head[l].h;
    f.w[l] = head[l].w;
  }
  f.pad_w = pad_w;
  f.pad_h = pad_h;
  f.img_w = img_w;
  f.img_h = img_h;
  mrcnn_cuda_site site = { 0 };
  if (mrcnn_cuda_postproc_rpn (p, &f, proposals, n, cu->stream, &site)
      != cudaSuccess)
    return mrcnn_cuda_fail_site (err, &site);
  return MRCNN_OK;
}

mrcnn_status
mrcnn_cuda_detect_op (mrcnn_backend *be, mrcnn_queue *q, mrcnn_postproc *pp,
    const float *proposals, const float *pred, int n_props,
    const mrcnn_thresholds *th, int img_w, int img_h, float *boxes,
    float *scores, int *labels, int *n, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  CUDA_ENTER (cu, err);
  mrcnn_cuda_site site = { 0 };
  if (mrcnn_cuda_postproc_detect (&pp->plan, proposals, pred, n_props,
          th->score_threshold, mrcnn_nms_threshold (th->nms_threshold),
          th->max_detections, img_w, img_h, boxes, scores, labels, n,
          cu->stream, &site) != cudaSuccess)
    return mrcnn_cuda_fail_site (err, &site);
  return MRCNN_OK;
}
