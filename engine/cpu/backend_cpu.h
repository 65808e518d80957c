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
  int has_int8;                 /* its int8 kernels (AVX2 and newer) */
  int has_vnni;                 /* ... with VNNI or AMX: faster than fp32 */
  char kernels[64];             /* "ISA, layout", for figures */
  char limits[512];             /* why not bf16 or int8, when not */
  char note[256];               /* mrcnn_backend_caps.note */

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

/* A convolution or fully connected layer at precision int8: its input
 * quantized per tensor (u8 when the calibration never saw it negative, s8
 * otherwise) and its weights per output channel (s8, -127 .. 127), with
 * exact int32 accumulation (quant_cpu.c). */
typedef struct {
  int on;                /* computes in int8 (else float32) */
  int u8;
  float scale, inv_scale;  /* the input's */
  float lo, hi;          /* the input's levels: 0 .. 255 or -128 .. 127 */
  float *wscale, *inv_wscale;  /* per output channel */
  float *oscale;         /* scale x wscale: the int32 result to float32 */
  float *bias_acc;       /* bias / oscale */
} mrcnn_q8_layer;

/* From the calibration's quant (NULL or off: q stays off) and the layer's
 * weights (rows x cols, row = output channel), which are rounded in place to
 * their int8 levels x scale: the float32 weights both paths compute with. */
void mrcnn_cpu_q8_init (mrcnn_q8_layer *q, const mrcnn_quant *quant, float *w,
    int rows, size_t cols, const float *bias);
/* Only the input's part of q (scale, levels) from quant; no weights. */
void mrcnn_cpu_q8_input_init (mrcnn_q8_layer *q, const mrcnn_quant *quant);
void mrcnn_cpu_q8_clear (mrcnn_q8_layer *q);
/* The reference's input: each value rounded to its level x scale. */
void mrcnn_cpu_q8_round (const mrcnn_q8_layer *q, float *x, size_t n);
/* The real path's input: n levels as u8 or s8 into dst. */
void mrcnn_cpu_q8_quantize (const mrcnn_q8_layer *q, const float *x,
    void *dst, size_t n);

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
 * MRCNN_STORE_REDUCED maps at bf16, u8 for MRCNN_STORE_U8 maps at int8
 * (float32 on its reference), float32 otherwise. */
static inline dnnl_data_type_t
mrcnn_cpu_store_dt (const mrcnn_backend_cpu *cpu, const mrcnn_fmap *f)
{
  if (f->store == MRCNN_STORE_U8)
    return cpu->emulate ? dnnl_f32 : dnnl_u8;
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
/* One oneDNN reorder between two descriptions of the same tensor, each
 * value multiplied by *scale first when scale is non-NULL (a quantizing
 * reorder). */
mrcnn_status mrcnn_cpu_reorder (mrcnn_backend_cpu *cpu, dnnl_stream_t stream,
    const dnnl_memory_desc_t *from_md, void *from,
    const dnnl_memory_desc_t *to_md, void *to, const float *scale,
    mrcnn_error *err);
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
