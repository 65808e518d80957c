/* CPU backend internals shared by backend_cpu.c and ops_cpu.c. */
#ifndef MRCNN_BACKEND_CPU_H
#define MRCNN_BACKEND_CPU_H

#include <oneapi/dnnl/dnnl.h>

#include "backend.h"

typedef struct {
  mrcnn_backend base;
  dnnl_engine_t engine;
  dnnl_format_tag_t native_tag; /* MRCNN_LAYOUT_NATIVE: nhwc, nChw8c, nChw16c */
  dnnl_cpu_isa_t isa;           /* what oneDNN runs on this CPU */
  int has_bf16;                 /* its bf16 kernels (AVX512_BF16, AMX) */
  char kernels[64];             /* "ISA, layout", for figures */
  char limits[256];             /* why not bf16, when not */

  mrcnn_precision precision;
  int emulate;                  /* float32 kernels rounding to precision */
  dnnl_data_type_t compute_dt;  /* what convolutions read: bf16 or f32 */
  dnnl_data_type_t reduced_dt;  /* how MRCNN_STORE_REDUCED maps are stored */
  long overflows;               /* emulated fp16: finite values that
                                 * rounded to infinity (atomic) */
  /* guards the plans of every convolution and linear layer (looked up,
   * made and replaced by passes that may run at once) and the packed
   * weights they add */
  GMutex plans_lock;
} mrcnn_backend_cpu;

/* One forward pass's oneDNN stream and scratch. Primitives run with
 * user-provided scratchpads (dnnl_scratchpad_mode_user), so that one
 * primitive may run in two passes at once. */
struct mrcnn_queue {
  dnnl_stream_t stream;
  void *scratch;                /* converted inputs of convs and linears */
  size_t scratch_size;
  void *pad;                    /* the primitives' scratchpad */
  size_t pad_size;
};

/* The data type a map is stored in: the precision's 16-bit type for
 * MRCNN_STORE_REDUCED maps at bf16, float32 otherwise. */
static inline dnnl_data_type_t
mrcnn_cpu_store_dt (const mrcnn_backend_cpu *cpu, const mrcnn_fmap *f)
{
  return f->store == MRCNN_STORE_REDUCED ? cpu->reduced_dt : dnnl_f32;
}
/* Channels per block of the native layout (8 or 16), or 0 for nhwc. */
int mrcnn_cpu_layout_lanes (const mrcnn_backend_cpu *cpu);

mrcnn_status mrcnn_cpu_preprocess (mrcnn_backend *be,
    mrcnn_queue *q, const mrcnn_image *img,
    const mrcnn_preprocess_desc *d, mrcnn_fmap *out, mrcnn_error *err);
mrcnn_status mrcnn_cpu_max_pool (mrcnn_backend *be,
    mrcnn_queue *q, const mrcnn_fmap *in,
    int k, int s, int p, mrcnn_fmap *out, mrcnn_error *err);
mrcnn_status mrcnn_cpu_upsample_add (mrcnn_backend *be,
    mrcnn_queue *q, const mrcnn_fmap *top,
    mrcnn_fmap *lateral, mrcnn_error *err);
mrcnn_status mrcnn_cpu_roi_align (mrcnn_backend *be,
    mrcnn_queue *q,
    const mrcnn_roi_align_desc *d, mrcnn_fmap *out, mrcnn_error *err);
void mrcnn_cpu_image_view (mrcnn_backend *be, const mrcnn_fmap *batch, int i,
    mrcnn_fmap *out);
mrcnn_status mrcnn_cpu_to_nchw (mrcnn_backend *be,
    mrcnn_queue *q, const mrcnn_fmap *in,
    mrcnn_fmap *out, mrcnn_error *err);
/* One oneDNN reorder between two descriptions of the same tensor. */
mrcnn_status mrcnn_cpu_reorder (mrcnn_backend_cpu *cpu, dnnl_stream_t stream,
    const dnnl_memory_desc_t *from_md, void *from,
    const dnnl_memory_desc_t *to_md, void *to, mrcnn_error *err);
mrcnn_status mrcnn_cpu_mask_probs (mrcnn_backend *be,
    mrcnn_queue *q, const mrcnn_fmap *taps,
    const float *deconv_bias, const float *weight, const float *bias,
    const int *classes, float *probs, mrcnn_error *err);

/* postproc_cpu.c */
mrcnn_status mrcnn_cpu_postproc_new (mrcnn_backend *be,
    const mrcnn_postproc_desc *d, mrcnn_postproc **out, mrcnn_error *err);
void mrcnn_cpu_postproc_free (mrcnn_backend *be, mrcnn_postproc *pp);
mrcnn_status mrcnn_cpu_rpn_proposals (mrcnn_backend *be,
    mrcnn_queue *q, mrcnn_postproc *pp,
    const mrcnn_fmap *head, int pad_w, int pad_h, int img_w, int img_h,
    float *proposals, int *n, mrcnn_error *err);
mrcnn_status mrcnn_cpu_detect (mrcnn_backend *be,
    mrcnn_queue *q, mrcnn_postproc *pp,
    const float *proposals, const float *pred, int n_props,
    const mrcnn_thresholds *th, int img_w, int img_h, float *boxes,
    float *scores, int *labels, int *n, mrcnn_error *err);

#endif
