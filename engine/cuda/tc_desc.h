/* The tensor-core path's descriptors: what the CUDA backend hands cuDNN's
 * graph API and cuBLASLt for one layer at one size, worked out on the host.
 *
 * Pure functions of a layer, the size it runs at and the precision, with no
 * CUDA in them: every build compiles them and every machine tests them
 * (tests/unit/test_tc_desc.c), so the dims, strides, alignments and
 * workspace bounds the GPU will see are checked before a GPU ever runs them.
 * The CUDA backend (engine/cuda/conv_tc.c, linear_tc.c) turns a descriptor
 * into cuDNN / cuBLASLt descriptors field by field and keys its execution
 * plans by the descriptor's key, so layers of the same shape share one plan.
 *
 * Layout on this path: every feature map is NHWC, fully packed, its channels
 * rounded up to MRCNN_TC_CH_ALIGN (the padding channels hold zeros: weights
 * and biases are padded with zeros, so a convolution writes zeros there);
 * filters are KRSC, padded the same way on both K and C. So every tensor
 * starts at a multiple of 16 bytes, which cuDNN's and cuBLASLt's tensor-core
 * kernels need.
 */
#ifndef MRCNN_TC_DESC_H
#define MRCNN_TC_DESC_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* Storage types of the tensor-core path. */
typedef enum {
  MRCNN_TC_F32 = 0,
  MRCNN_TC_F16 = 1
} mrcnn_tc_type;

#define MRCNN_TC_CH_ALIGN 8       /* channels of a map round up to this */
#define MRCNN_TC_BASE_ALIGN 256   /* every buffer starts at a multiple */
#define MRCNN_TC_MAP_ALIGN 16     /* bytes: where any map (or image of a
                                   * batch) may start */
/* cuDNN's kernels index with 32-bit integers: no tensor may hold more
 * elements. */
#define MRCNN_TC_MAX_ELEMS ((int64_t) 1 << 31)

static inline int
mrcnn_tc_channels (int c)
{
  return (c + MRCNN_TC_CH_ALIGN - 1) / MRCNN_TC_CH_ALIGN * MRCNN_TC_CH_ALIGN;
}

static inline size_t
mrcnn_tc_type_size (mrcnn_tc_type t)
{
  return t == MRCNN_TC_F16 ? 2 : 4;
}

/* What a precision computes with on this path. Biases, accumulation and
 * every epilogue are float32 at every precision. */
typedef struct {
  mrcnn_tc_type weights;     /* F16 at fp16, else F32 */
  mrcnn_tc_type reduced;     /* the REDUCED maps' storage (mrcnn_storage):
                              * F16 at fp16, else F32 */
  int tensor_cores;          /* 0 at fp32: engines whose numerical notes
                              * say TENSOR_CORE (TF32 on float32 data) are
                              * not taken */
  int tf32;                  /* float32 inputs read as TF32 (tf32) */
} mrcnn_tc_math;

/* fp32, tf32 or fp16; bf16 and anything else is an error naming them. */
mrcnn_status mrcnn_tc_math_for (mrcnn_precision p, mrcnn_tc_math *out,
    mrcnn_error *err);

/* One tensor as the graph API takes it. */
typedef struct {
  int64_t dim[4];            /* N, C, H, W for maps (C padded); K, C, R, S
                              * for filters; 1, K, 1, 1 for a bias */
  int64_t stride[4];         /* in elements, in dim's order */
  mrcnn_tc_type type;
  int64_t align;             /* bytes: every address it may start at */
} mrcnn_tc_tensor;

/* A convolution as the engine made it (mrcnn_conv_desc). */
typedef struct {
  int in_ch, out_ch, kh, kw;
  int stride, pad;
  int relu;
} mrcnn_tc_conv_layer;

/* How it runs this time. */
typedef struct {
  int n, h, w;               /* the input's batch and size */
  int residual;              /* out = act (conv + bias + out) */
  int in_nchw;               /* the input is plain NCHW float32 (the
                              * network's image) */
  mrcnn_tc_type in_type;     /* how the input map is stored (F32 maps:
                              * F32; REDUCED maps: the math's reduced) */
  mrcnn_tc_type out_type;    /* how the output map is stored */
  int64_t in_align, out_align;  /* bytes: the alignment of the input's
                              * and the output's addresses (powers of
                              * two) */
} mrcnn_tc_conv_io;

typedef struct {
  mrcnn_tc_tensor x;         /* what the convolution reads: the input, or
                              * its conversion (convert_input) */
  mrcnn_tc_tensor w, b;      /* filter (KRSC) and bias (float32) */
  mrcnn_tc_tensor z;         /* the residual: the output's own buffer */
  mrcnn_tc_tensor y;         /* the output */
  mrcnn_tc_tensor acc;       /* the virtual float32 intermediates of the
                              * fused graph (conv, + bias, + residual) */
  int64_t pre_pad[2], post_pad[2], stride[2], dilation[2];
  int out_h, out_w;
  int relu, residual;
  int tensor_cores;          /* engines with the TENSOR_CORE note allowed */
  int convert_input;         /* the input is converted into scratch first
                              * (float32 read as fp16, or NCHW to NHWC) */
  size_t cvt_bytes;          /* that conversion's scratch, 0 without */
  size_t in_bytes, out_bytes;
  size_t workspace_limit;    /* the most workspace a plan may ask for */
  uint64_t key;              /* equal for convolutions one plan runs */
} mrcnn_tc_conv_desc;

/* Every descriptor of a convolution at one size, or an error saying what
 * does not fit (channels, an empty output, a tensor beyond 2^31 elements).
 * workspace_limit is the backend's workspace. */
mrcnn_status mrcnn_tc_conv_describe (const mrcnn_tc_conv_layer *l,
    const mrcnn_tc_conv_io *io, const mrcnn_tc_math *m,
    size_t workspace_limit, mrcnn_tc_conv_desc *out, mrcnn_error *err);

/* A column-major matrix as cuBLASLt takes it. */
typedef struct {
  int64_t rows, cols, ld;
  mrcnn_tc_type type;
  int64_t align;             /* bytes: start and every column */
} mrcnn_tc_matrix;

/* A fully connected layer y[n x out] = act (x[n x in] W^T + b), row major,
 * as the column-major D (out x n) = op(A) B + bias with A = W stored in x
 * out (op = transpose), B = x^T (in x n), bias per row of D. */
typedef struct {
  mrcnn_tc_matrix a, b, d;
  int relu;
  int compute_tf32;          /* CUBLAS_COMPUTE_32F_FAST_TF32, else 32F */
  int convert_input;         /* x (float32) converted to fp16 into scratch */
  size_t cvt_bytes;
  size_t workspace_limit;
  uint64_t key;
} mrcnn_tc_linear_desc;

typedef struct {
  int out_features, in_features;
  int relu;
} mrcnn_tc_linear_layer;

typedef struct {
  int n;                     /* rows of x */
  int64_t x_align, y_align;  /* bytes: of x's and y's addresses */
} mrcnn_tc_linear_io;

mrcnn_status mrcnn_tc_linear_describe (const mrcnn_tc_linear_layer *l,
    const mrcnn_tc_linear_io *io, const mrcnn_tc_math *m,
    size_t workspace_limit, mrcnn_tc_linear_desc *out, mrcnn_error *err);

/* The alignment of base + k * step for every k: the largest power of two
 * dividing both base_align (a power of two) and step_bytes, at most
 * MRCNN_TC_BASE_ALIGN. */
int64_t mrcnn_tc_align (int64_t base_align, int64_t step_bytes);
/* The alignment of an address: its largest power-of-two divisor, at most
 * MRCNN_TC_BASE_ALIGN. */
int64_t mrcnn_tc_addr_align (const void *p);

#endif
