/* gst-maskrcnn: the maskrcnn element (Mask R-CNN instance segmentation).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASK_RCNN_H__
#define __GST_MASK_RCNN_H__

#include <gst/gst.h>

#include "gstmaskrcnnbasetransform.h"

G_BEGIN_DECLS

#define GST_TYPE_MASK_RCNN (gst_maskrcnn_get_type ())
G_DECLARE_FINAL_TYPE (GstMaskRcnn, gst_maskrcnn, GST, MASK_RCNN,
    GstMaskRcnnBaseTransform);

/**
 * GstMaskRcnnBackend:
 * @GST_MASK_RCNN_BACKEND_AUTO: CUDA where built and a device exists, else CPU
 * @GST_MASK_RCNN_BACKEND_CPU: the CPU backend
 * @GST_MASK_RCNN_BACKEND_CUDA: the CUDA backend (an error where unavailable)
 */
typedef enum {
  GST_MASK_RCNN_BACKEND_AUTO,
  GST_MASK_RCNN_BACKEND_CPU,
  GST_MASK_RCNN_BACKEND_CUDA,
} GstMaskRcnnBackend;

#define GST_TYPE_MASK_RCNN_BACKEND (gst_maskrcnn_backend_get_type ())
GType gst_maskrcnn_backend_get_type (void);

/**
 * GstMaskRcnnPrecision:
 * @GST_MASK_RCNN_PRECISION_FP32: float32 throughout
 * @GST_MASK_RCNN_PRECISION_TF32: CUDA tensor cores with TF32 inputs (no
 *   backend computes in it yet: not offered by the property)
 * @GST_MASK_RCNN_PRECISION_FP16: CUDA fp16 storage, fp32 accumulation (no
 *   backend computes in it yet: not offered by the property)
 * @GST_MASK_RCNN_PRECISION_BF16: CPU with AVX512_BF16 or AMX: bf16 weights
 *   and activations, fp32 accumulation
 * @GST_MASK_RCNN_PRECISION_INT8: CPU with AVX2 or newer (fastest with VNNI
 *   or AMX), a calibrated model: s8 weights, u8/s8 activations, int32
 *   accumulation
 *
 * The values are the engine's mrcnn_precision; the registered enum lists
 * only those a backend of this build computes in.
 */
typedef enum {
  GST_MASK_RCNN_PRECISION_FP32,
  GST_MASK_RCNN_PRECISION_TF32,
  GST_MASK_RCNN_PRECISION_FP16,
  GST_MASK_RCNN_PRECISION_BF16,
  GST_MASK_RCNN_PRECISION_INT8,
} GstMaskRcnnPrecision;

#define GST_TYPE_MASK_RCNN_PRECISION (gst_maskrcnn_precision_get_type ())
GType gst_maskrcnn_precision_get_type (void);

GST_ELEMENT_REGISTER_DECLARE (maskrcnn);

G_END_DECLS

#endif /* __GST_MASK_RCNN_H__ */
