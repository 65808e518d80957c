/* The tensor-core path's element-wise ops on NHWC maps (kernels/nhwc.cu,
 * each calling the shared math its NCHW twin calls) and the
 * post-processing that leaves its counts on the device.
 *
 * Maps in the native layout are NHWC with mrcnn_tc_channels (c) channels,
 * stored in float32 or, for REDUCED maps at fp16, in fp16; maps the engine
 * asks for in NCHW (the network's image, the box head's pooled features)
 * are plain float32 NCHW. Every op sets its output's dimensions and then,
 * in a pass that only plans or whose captured graph is replayed (q->tc->
 * skip), launches nothing.
 *
 * Never run on a GPU yet (docs/cuda.md). */
#include <string.h>

#include "nms.h"
#include "tc.h"

static mrcnn_status
check_layout (const mrcnn_fmap *f, const char *op, mrcnn_error *err)
{
  if (f->layout != MRCNN_LAYOUT_NCHW && f->layout != MRCNN_LAYOUT_NATIVE)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "%s: unknown layout %d", op,
        (int) f->layout);
  return MRCNN_OK;
}

/* A float32 NHWC map, as the RPN, RoIAlign and the mask predictor read. */
static mrcnn_status
check_nhwc_f32 (mrcnn_tc_state *tc, const mrcnn_fmap *f, const char *op,
    mrcnn_error *err)
{
  if (f->layout != MRCNN_LAYOUT_NATIVE || mrcnn_tc_store (tc, f)
      != MRCNN_TC_F32)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "%s: the tensor-core path "
        "reads float32 NHWC maps here", op);
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- frames */

/* A host frame through a pinned slot into the device staging: the copy is
 * asynchronous, so the frame's caller may reuse it at once and the stream
 * is not waited for. A slot is refilled once its last copy has finished
 * (a wait only when a batch holds more than two host frames). */
static mrcnn_status
stage_frame (mrcnn_backend_cuda *cu, const mrcnn_image *img,
    mrcnn_pp_src *src, mrcnn_error *err)
{
  mrcnn_tc_state *tc = cu->tc;
  const int planes = mrcnn_pp_planes (img->format);
  const int slot = tc->pinned_next;
  uint8_t *pin = tc->pinned + (size_t) slot * tc->pinned_slot;
  size_t off = 0;
  CUDA_CHECK (cudaEventSynchronize (tc->pinned_ev[slot]), err);
  for (int p = 0; p < planes; p++) {
    const size_t row = (size_t) mrcnn_pp_plane_row_bytes (img->format,
        img->width, p);
    const size_t rows = (size_t) mrcnn_pp_plane_rows (img->format,
        img->height, p);
    if (!tc->pinned || off + row * rows > tc->pinned_slot
        || off + row * rows > cu->frame_size)
      return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
          "frame of %dx%d pixels is larger than the CUDA backend's staging "
          "of %zu bytes planned at engine creation", img->width, img->height,
          MIN (tc->pinned_slot, cu->frame_size));
    for (size_t r = 0; r < rows; r++)
      memcpy (pin + off + r * row, (const uint8_t *) img->planes[p]
          + r * (size_t) img->strides[p], row);
    src->planes[p] = cu->frame + off;
    src->strides[p] = (int) row;
    off += (row * rows + 255) / 256 * 256;
  }
  CUDA_CHECK (cudaMemcpyAsync (cu->frame, pin, off, cudaMemcpyHostToDevice,
          cu->stream), err);
  CUDA_CHECK (cudaEventRecord (tc->pinned_ev[slot], cu->stream), err);
  tc->pinned_next = (slot + 1) % 2;
  return MRCNN_OK;
}

mrcnn_status
mrcnn_tc_preprocess (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_image *img, const mrcnn_preprocess_desc *d, mrcnn_fmap *out,
    mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  out->n = 1;
  out->c = 3;
  out->h = d->pad_h;
  out->w = d->pad_w;
  if (q->tc->skip)
    return MRCNN_OK;
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
  if (out->layout != MRCNN_LAYOUT_NCHW)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "preprocess: the network's "
        "image is NCHW on this path");
  CUDA_CHECK (mrcnn_cuda_preprocess (&src, &d->pp, d->pad_w, d->pad_h,
          out->data, cu->stream), err);
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- maps */

mrcnn_status
mrcnn_tc_max_pool (mrcnn_backend *be, mrcnn_queue *q, const mrcnn_fmap *in,
    int k, int s, int p, mrcnn_fmap *out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  mrcnn_tc_state *tc = cu->tc;
  out->n = in->n;
  out->c = in->c;
  out->h = (in->h + 2 * p - k) / s + 1;
  out->w = (in->w + 2 * p - k) / s + 1;
  if (in->layout != MRCNN_LAYOUT_NATIVE || out->layout != MRCNN_LAYOUT_NATIVE
      || mrcnn_tc_store (tc, in) != mrcnn_tc_store (tc, out))
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "max_pool: NHWC maps of one "
        "storage type in and out on this path");
  if (q->tc->skip || in->n == 0)
    return MRCNN_OK;
  CUDA_ENTER (cu, err);
  CUDA_CHECK (mrcnn_cuda_max_pool_nhwc (in->data, mrcnn_tc_f16 (tc, in),
          in->n, mrcnn_tc_channels (in->c), in->h, in->w, k, s, p, out->data,
          out->h, out->w, cu->stream), err);
  return MRCNN_OK;
}

mrcnn_status
mrcnn_tc_upsample_add (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap *top, mrcnn_fmap *lat, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  if (top->c != lat->c || top->n != lat->n)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "upsample_add: maps of %d and %d channels do not match", top->c,
        lat->c);
  MRCNN_TRY (check_nhwc_f32 (cu->tc, top, "upsample_add", err));
  MRCNN_TRY (check_nhwc_f32 (cu->tc, lat, "upsample_add", err));
  if (q->tc->skip || top->n == 0)
    return MRCNN_OK;
  CUDA_ENTER (cu, err);
  CUDA_CHECK (mrcnn_cuda_upsample_add_nhwc (top->data, top->n,
          mrcnn_tc_channels (top->c), top->h, top->w, lat->data, lat->h,
          lat->w, cu->stream), err);
  return MRCNN_OK;
}

mrcnn_status
mrcnn_tc_roi_align (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_roi_align_desc *d, mrcnn_fmap *out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  if (d->nlevels < 1 || d->nlevels > MRCNN_CUDA_MAX_LEVELS)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "roi_align: %d levels (1..%d)", d->nlevels, MRCNN_CUDA_MAX_LEVELS);
  for (int l = 0; l < d->nlevels; l++)
    MRCNN_TRY (check_nhwc_f32 (cu->tc, &d->features[l], "roi_align", err));
  mrcnn_cuda_roi_params p;
  mrcnn_cuda_roi_params_of (d, &p, out);
  MRCNN_TRY (check_layout (out, "roi_align", err));
  if (q->tc->skip || d->nboxes == 0)
    return MRCNN_OK;
  CUDA_ENTER (cu, err);
  /* NCHW for the box head's fc6 (torchvision's flatten order), NHWC for
   * the mask head's convolutions */
  const int out_cp = out->layout == MRCNN_LAYOUT_NCHW ? 0
      : mrcnn_tc_channels (p.channels);
  CUDA_CHECK (mrcnn_cuda_roi_align_nhwc (&p, mrcnn_tc_channels (p.channels),
          d->boxes, d->nboxes, out->data, out_cp, cu->stream), err);
  return MRCNN_OK;
}

void
mrcnn_tc_image_view (mrcnn_backend *be, const mrcnn_fmap *batch, int i,
    mrcnn_fmap *out)
{
  mrcnn_tc_state *tc = mrcnn_tc (be);
  *out = *batch;
  out->n = 1;
  size_t bytes = batch->layout == MRCNN_LAYOUT_NCHW
      ? (size_t) batch->c * batch->h * batch->w * sizeof (float)
      : (size_t) mrcnn_tc_channels (batch->c) * batch->h * batch->w
      * mrcnn_tc_type_size (mrcnn_tc_store (tc, batch));
  out->data = (float *) ((char *) batch->data + (size_t) i * bytes);
}

mrcnn_status
mrcnn_tc_to_nchw (mrcnn_backend *be, mrcnn_queue *q, const mrcnn_fmap *in,
    mrcnn_fmap *out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  MRCNN_TRY (check_layout (in, "to_nchw", err));
  out->n = in->n;
  out->c = in->c;
  out->h = in->h;
  out->w = in->w;
  out->layout = MRCNN_LAYOUT_NCHW;
  out->store = MRCNN_STORE_F32;
  if (q->tc->skip || mrcnn_fmap_numel (in) == 0)
    return MRCNN_OK;
  CUDA_ENTER (cu, err);
  if (in->layout == MRCNN_LAYOUT_NCHW) {
    if (out->data != in->data)
      CUDA_CHECK (cudaMemcpyAsync (out->data, in->data,
              mrcnn_fmap_numel (in) * sizeof (float),
              cudaMemcpyDeviceToDevice, cu->stream), err);
    return MRCNN_OK;
  }
  CUDA_CHECK (mrcnn_cuda_nhwc_to_nchw (in->data, mrcnn_tc_f16 (cu->tc, in),
          in->n, in->c, in->h, in->w, mrcnn_tc_channels (in->c), out->data,
          cu->stream), err);
  return MRCNN_OK;
}

mrcnn_status
mrcnn_tc_mask_probs (mrcnn_backend *be, mrcnn_queue *q,
    const mrcnn_fmap *taps, const float *deconv_bias, const float *weight,
    const float *bias, const int *classes, float *probs, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  MRCNN_TRY (check_nhwc_f32 (cu->tc, taps, "mask_probs", err));
  if (taps->c % 4)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "mask_probs: %d tap channels is not a multiple of 4", taps->c);
  if (q->tc->skip || taps->n == 0)
    return MRCNN_OK;
  CUDA_ENTER (cu, err);
  CUDA_CHECK (mrcnn_cuda_mask_probs_nhwc (taps->data, taps->n, taps->c / 4,
          taps->h, taps->w, mrcnn_tc_channels (taps->c), deconv_bias, weight,
          bias, classes, probs, cu->stream), err);
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- boxes */

/* The base path's plan, and room for one image's RPN head outputs as
 * NCHW: what its kernels read. */
mrcnn_status
mrcnn_tc_postproc_new (mrcnn_backend *be, const mrcnn_postproc_desc *d,
    mrcnn_postproc **out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  MRCNN_TRY (mrcnn_cuda_postproc_new_op (be, d, out, err));
  mrcnn_cuda_postproc_plan *p = &(*out)->plan;
  size_t floats = 0;
  for (int l = 0; l < d->nlevels; l++)
    floats += d->max_locations[l] * (size_t) (5 * d->num_anchors);
  cudaError_t e = cudaMalloc ((void **) &p->head_nchw,
      MAX (floats, 1) * sizeof (float));
  if (e != cudaSuccess) {
    p->head_nchw = NULL;
    mrcnn_cuda_postproc_free_op (be, *out);
    *out = NULL;
    return mrcnn_cuda_fail_lib (err, 1, __FILE__, __LINE__, "cannot "
        "allocate %zu MiB for the RPN's head outputs on GPU %d: %s",
        (floats * sizeof (float)) >> 20, cu->device, cudaGetErrorString (e));
  }
  p->head_nchw_floats = floats;
  return MRCNN_OK;
}

/* Each level's head output (NHWC) as NCHW in the plan's head_nchw, and the
 * frame the RPN's kernels read. */
static mrcnn_status
rpn_frame (mrcnn_backend_cuda *cu, mrcnn_queue *q, mrcnn_cuda_postproc_plan *p,
    const mrcnn_fmap *head, int pad_w, int pad_h, int img_w, int img_h,
    mrcnn_cuda_rpn_frame *f, mrcnn_error *err)
{
  memset (f, 0, sizeof *f);
  size_t off = 0;
  for (int l = 0; l < p->nlevels; l++) {
    MRCNN_TRY (check_nhwc_f32 (cu->tc, &head[l], "rpn_proposals", err));
    if (head[l].c != 5 * p->num_anchors || head[l].n != 1)
      return mrcnn_fail (err, MRCNN_ERR_BACKEND,
          "rpn_proposals: level %d has %d x %d channels, expected 1 x %d", l,
          head[l].n, head[l].c, 5 * p->num_anchors);
    const size_t n = mrcnn_fmap_numel (&head[l]);
    if (off + n > p->head_nchw_floats)
      return mrcnn_fail (err, MRCNN_ERR_BACKEND, "rpn_proposals: level %d's "
          "%dx%d head is larger than planned", l, head[l].h, head[l].w);
    if (!q->tc->skip)
      CUDA_CHECK (mrcnn_cuda_nhwc_to_nchw (head[l].data, 0, 1, head[l].c,
              head[l].h, head[l].w, mrcnn_tc_channels (head[l].c),
              p->head_nchw + off, cu->stream), err);
    f->head[l] = p->head_nchw + off;
    f->h[l] = head[l].h;
    f->w[l] = head[l].w;
    off += n;
  }
  f->pad_w = pad_w;
  f->pad_h = pad_h;
  f->img_w = img_w;
  f->img_h = img_h;
  return MRCNN_OK;
}

/* The RPN's proposals: the count to the host (*n, a wait) or, with dev,
 * left in device memory (*count). */
static mrcnn_status
rpn_run (mrcnn_backend *be, mrcnn_queue *q, mrcnn_postproc *pp,
    const mrcnn_fmap *head, int pad_w, int pad_h, int img_w, int img_h,
    float *proposals, int *count, int dev, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  mrcnn_cuda_rpn_frame f;
  if (!dev)
    *count = 0;
  CUDA_ENTER (cu, err);
  MRCNN_TRY (rpn_frame (cu, q, &pp->plan, head, pad_w, pad_h, img_w, img_h,
          &f, err));
  if (q->tc->skip)
    return MRCNN_OK;
  mrcnn_cuda_site site = { 0 };
  cudaError_t e = dev ? mrcnn_cuda_postproc_rpn_dev (&pp->plan, &f, proposals,
      count, cu->stream, &site) : mrcnn_cuda_postproc_rpn (&pp->plan, &f,
      proposals, count, cu->stream, &site);
  return e == cudaSuccess ? MRCNN_OK : mrcnn_cuda_fail_site (err, &site);
}

mrcnn_status
mrcnn_tc_rpn_proposals (mrcnn_backend *be, mrcnn_queue *q,
    mrcnn_postproc *pp, const mrcnn_fmap *head, int pad_w, int pad_h,
    int img_w, int img_h, float *proposals, int *n, mrcnn_error *err)
{
  return rpn_run (be, q, pp, head, pad_w, pad_h, img_w, img_h, proposals, n,
      0, err);
}

mrcnn_status
mrcnn_tc_rpn_proposals_dev (mrcnn_backend *be, mrcnn_queue *q,
    mrcnn_postproc *pp, const mrcnn_fmap *head, int pad_w, int pad_h,
    int img_w, int img_h, float *proposals, int *count, mrcnn_error *err)
{
  return rpn_run (be, q, pp, head, pad_w, pad_h, img_w, img_h, proposals,
      count, 1, err);
}

mrcnn_status
mrcnn_tc_detect_dev (mrcnn_backend *be, mrcnn_queue *q, mrcnn_postproc *pp,
    const float *proposals, const int *n_valid, const float *pred,
    int n_props, const mrcnn_thresholds *th, int img_w, int img_h,
    float *boxes, float *scores, int *labels, int *count, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  if (th->max_detections > pp->plan.max_detections
      || n_props > pp->plan.post_nms_top_n)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "detect: %d proposals or %d "
        "detections, more than planned (%d, %d)", n_props,
        th->max_detections, pp->plan.post_nms_top_n,
        pp->plan.max_detections);
  if (q->tc->skip)
    return MRCNN_OK;
  CUDA_ENTER (cu, err);
  mrcnn_cuda_site site = { 0 };
  if (mrcnn_cuda_postproc_detect_dev (&pp->plan, proposals, n_valid, pred,
          n_props, th->score_threshold,
          mrcnn_nms_threshold (th->nms_threshold), th->max_detections, img_w,
          img_h, boxes, scores, labels, count, cu->stream, &site)
      != cudaSuccess)
    return mrcnn_cuda_fail_site (err, &site);
  return MRCNN_OK;
}
