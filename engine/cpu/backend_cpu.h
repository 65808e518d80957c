/* CPU backend internals shared by backend_cpu.c and ops_cpu.c. */
#ifndef MRCNN_BACKEND_CPU_H
#define MRCNN_BACKEND_CPU_H

#include <oneapi/dnnl/dnnl.h>

#include "backend.h"

typedef struct {
  mrcnn_backend base;
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  float *scratch;        /* grow-only scratch for the deconvolution */
  size_t scratch_size;
} mrcnn_backend_cpu;

void mrcnn_cpu_set_threads (int n);

mrcnn_status mrcnn_cpu_preprocess (mrcnn_backend *be, const mrcnn_image *img,
    const mrcnn_preprocess_desc *d, mrcnn_fmap *out, mrcnn_error *err);
mrcnn_status mrcnn_cpu_max_pool (mrcnn_backend *be, const mrcnn_fmap *in,
    int k, int s, int p, mrcnn_fmap *out, mrcnn_error *err);
mrcnn_status mrcnn_cpu_upsample_add (mrcnn_backend *be, const mrcnn_fmap *top,
    mrcnn_fmap *lateral, mrcnn_error *err);
mrcnn_status mrcnn_cpu_roi_align (mrcnn_backend *be,
    const mrcnn_roi_align_desc *d, mrcnn_fmap *out, mrcnn_error *err);
mrcnn_status mrcnn_cpu_deconv2x2_relu (mrcnn_backend *be, const mrcnn_fmap *in,
    const float *weight, const float *bias, int out_ch, mrcnn_fmap *out,
    mrcnn_error *err);
mrcnn_status mrcnn_cpu_mask_probs (mrcnn_backend *be, const mrcnn_fmap *in,
    const float *weight, const float *bias, const int *classes, float *probs,
    mrcnn_error *err);

#endif
