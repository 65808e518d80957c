/* gst-maskrcnn: what the metadata library's files share and applications
 * do not see (not exported from the library).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_MASKRCNN_META_PRIV_H__
#define __GST_MASKRCNN_META_PRIV_H__

#include "maskrcnn-meta.h"

G_BEGIN_DECLS

/* Records (or, with 0, forgets) the track id of an instance copy, which
 * gst_maskrcnn_instance_get_track_id() then gives; gst_maskrcnn_instance_free()
 * forgets it. */
G_GNUC_INTERNAL
void _gst_maskrcnn_instance_copy_set_track_id (const GstMaskRcnnInstance *
    copy, guint64 track_id);

G_END_DECLS

#endif /* __GST_MASKRCNN_META_PRIV_H__ */
