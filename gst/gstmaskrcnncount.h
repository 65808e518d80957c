/* gst-maskrcnn: the maskrcnncount element (counts of tracked objects across
 * lines and in zones).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASK_RCNN_COUNT_H__
#define __GST_MASK_RCNN_COUNT_H__

#include <gst/gst.h>

#include "gstmaskrcnnbasetransform.h"

G_BEGIN_DECLS

#define GST_TYPE_MASK_RCNN_COUNT (gst_maskrcnn_count_get_type ())
G_DECLARE_FINAL_TYPE (GstMaskRcnnCount, gst_maskrcnn_count, GST,
    MASK_RCNN_COUNT, GstMaskRcnnBaseTransform);

GST_ELEMENT_REGISTER_DECLARE (maskrcnncount);

G_END_DECLS

#endif /* __GST_MASK_RCNN_COUNT_H__ */
