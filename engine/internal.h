/* Engine internals shared by the stage files. Not installed. */
#ifndef MRCNN_INTERNAL_H
#define MRCNN_INTERNAL_H

#include <glib.h>
#include <stdint.h>

#include "mrcnn/mrcnn.h"

/* Writes a formatted message into err (when non-NULL) and returns status, so
 * error paths read `return mrcnn_fail (err, MRCNN_ERR_IO, "...", ...);`. */
mrcnn_status mrcnn_fail (mrcnn_error *err, mrcnn_status status,
    const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* Prefixes an existing message with more context ("model 'x': " + message). */
mrcnn_status mrcnn_fail_prefix (mrcnn_error *err, mrcnn_status status,
    const char *fmt, ...) G_GNUC_PRINTF (3, 4);

#define MRCNN_TRY(expr) \
  do { mrcnn_status _st = (expr); if (_st != MRCNN_OK) return _st; } while (0)

/* ---------------------------------------------------------------- tensors */

typedef enum { MRCNN_DTYPE_F32 = 0, MRCNN_DTYPE_F16 } mrcnn_dtype;

#define MRCNN_MAX_DIMS 4

typedef struct {
  const char *name;          /* owned by the model */
  mrcnn_dtype dtype;
  int ndim;
  int64_t shape[MRCNN_MAX_DIMS];
  int64_t numel;
  const uint8_t *data;       /* inside the mapping */
} mrcnn_tensor_entry;

/* How a layer computes at precision int8 (calibration.c): on, with the
 * range [lo, hi] of its input measured by the model's calibration (lo >= 0:
 * the input is never negative and is quantized to u8, else to s8, both
 * symmetric around 0), or off: the layer stays float32. Nothing reads it at
 * the other precisions. */
typedef struct {
  int on;
  float lo, hi;
} mrcnn_quant;

struct mrcnn_calibration;

/* ---------------------------------------------------------------- architecture */

#define MRCNN_FPN_LEVELS 4      /* P2..P5 from the body; P6 is a max-pool */
#define MRCNN_MAX_RATIOS 8
#define MRCNN_MASK_CONVS 4
#define MRCNN_RPN_CONVS_MAX 2   /* v1: one shared 3x3 conv; v2: two */
#define MRCNN_BOX_CONVS_MAX 8   /* v2's box head has four */

typedef struct {
  int in_ch, mid_ch, out_ch;
  int stride;
  int has_downsample;
} mrcnn_block_spec;

/* The network's shape, read from the tensors' shapes at load time. */
typedef struct {
  int v2;                     /* torchvision's maskrcnn_resnet50_fpn_v2:
                               * batch norm (folded) after the FPN's, the
                               * box head's and the mask head's
                               * convolutions, which then have no bias */
  int depth;                  /* 18, 34, 50 or 101 */
  int bottleneck;             /* Bottleneck (50/101) or BasicBlock (18/34) */
  int blocks[4];
  int stem_ch;
  int stage_ch[4];            /* output channels of layer1..layer4 */
  mrcnn_block_spec *block;    /* sum(blocks) entries, layer-major */
  int fpn_ch;
  int num_anchors;            /* per location = number of aspect ratios */
  int rpn_convs;              /* the RPN head's 3x3 convs: 1 (v1), 2 (v2) */
  int box_convs;              /* v2: the box head's 3x3 convs (0 in v1) */
  int box_conv_ch[MRCNN_BOX_CONVS_MAX];  /* their widths */
  int box_in;                 /* the first FC's input: fpn_ch * 7 * 7 (v1)
                               * or the last box conv's width * 7 * 7 */
  int representation;         /* fc6/fc7 width (v1), the one FC's (v2) */
  int num_classes;
  int mask_ch;                /* mask head conv width */
  int mask_deconv_ch;         /* conv5_mask output channels */
} mrcnn_arch;

struct mrcnn_model {
  char *path;
  void *map;
  size_t map_size;
  GHashTable *by_name;        /* name -> mrcnn_tensor_entry* */
  mrcnn_tensor_entry *entries;
  int n_entries;

  char *architecture;
  int num_classes;
  char **labels;              /* num_classes strings */
  int min_size, max_size;
  float mean[3], std[3];
  mrcnn_thresholds defaults;
  int rpn_pre_nms_top_n, rpn_post_nms_top_n;
  double rpn_nms_thresh;       /* torchvision compares IoU with a double */
  float rpn_score_thresh;
  float anchor_sizes[5];
  float aspect_ratios[MRCNN_MAX_RATIOS];
  int n_ratios;

  mrcnn_arch arch;
  struct mrcnn_calibration *calib;  /* int8 ranges; NULL when uncalibrated */
  GHashTable *arch_seen;      /* names used, while mrcnn_arch_check runs */
};

const mrcnn_tensor_entry *mrcnn_model_find (const mrcnn_model *model,
    const char *name);

/* Copies a tensor as float32 into dst (numel floats), widening F16. */
void mrcnn_tensor_to_f32 (const mrcnn_tensor_entry *t, float *dst);

/* The quantization of a layer at int8 (calibration.c): off when the model
 * has no calibration or keeps the layer in float32. layer is the name of
 * its weights without ".weight"; a fused layer goes by its first part's. */
mrcnn_quant mrcnn_model_layer_quant (const mrcnn_model *model,
    const char *layer);

/* Validates every tensor the architecture needs and fills model->arch. */
mrcnn_status mrcnn_arch_check (mrcnn_model *model, mrcnn_error *err);
void mrcnn_arch_clear (mrcnn_arch *arch);

/* A convolution's weights in float32 with any frozen batch norm folded in:
 * weight is OIHW, bias has out_ch entries. Free with mrcnn_folded_conv_clear. */
typedef struct {
  int out_ch, in_ch, kh, kw;
  float *weight;
  float *bias;
} mrcnn_folded_conv;

/* Loads `<conv>.weight` (+ `<conv>.bias` when has_bias) and folds the batch
 * norm `<bn>.*` when bn is non-NULL. */
mrcnn_status mrcnn_fold_conv (const mrcnn_model *model, const char *conv,
    const char *bn, int has_bias, mrcnn_folded_conv *out, mrcnn_error *err);
void mrcnn_folded_conv_clear (mrcnn_folded_conv *c);

#endif
