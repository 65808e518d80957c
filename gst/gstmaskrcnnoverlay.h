/* gst-maskrcnn: the maskrcnnoverlay element (draws Mask R-CNN instances).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASK_RCNN_OVERLAY_H__
#define __GST_MASK_RCNN_OVERLAY_H__

#include <gst/gst.h>

#include "gstmaskrcnnbasetransform.h"

G_BEGIN_DECLS

#define GST_TYPE_MASK_RCNN_OVERLAY (gst_maskrcnn_overlay_get_type ())
G_DECLARE_FINAL_TYPE (GstMaskRcnnOverlay, gst_maskrcnn_overlay, GST,
    MASK_RCNN_OVERLAY, GstMaskRcnnBaseTransform);

GST_ELEMENT_REGISTER_DECLARE (maskrcnnoverlay);

G_END_DECLS

#endif /* __GST_MASK_RCNN_OVERLAY_H__ */
