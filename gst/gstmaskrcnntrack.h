/* gst-maskrcnn: the maskrcnntrack element (track ids for Mask R-CNN
 * instances).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASK_RCNN_TRACK_H__
#define __GST_MASK_RCNN_TRACK_H__

#include <gst/gst.h>

#include "gstmaskrcnnbasetransform.h"

G_BEGIN_DECLS

#define GST_TYPE_MASK_RCNN_TRACK (gst_maskrcnn_track_get_type ())
G_DECLARE_FINAL_TYPE (GstMaskRcnnTrack, gst_maskrcnn_track, GST,
    MASK_RCNN_TRACK, GstMaskRcnnBaseTransform);

GST_ELEMENT_REGISTER_DECLARE (maskrcnntrack);

G_END_DECLS

#endif /* __GST_MASK_RCNN_TRACK_H__ */
