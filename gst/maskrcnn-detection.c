/* gst-maskrcnn: GstMaskRcnnDetection, the deprecated owned copy of one
 * instance, kept for the applications that use it. Its reading functions
 * are those of GstMaskRcnnInstance (maskrcnn-instance.c), on a borrowed
 * view of the detection.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "maskrcnn-meta.h"

#include <string.h>

G_GNUC_BEGIN_IGNORE_DEPRECATIONS

GstMaskRcnnDetection *
gst_maskrcnn_detection_new_from_instance (const GstMaskRcnnInstance * instance)
{
  GstMaskRcnnDetection *d;

  g_return_val_if_fail (instance != NULL, NULL);

  d = g_new0 (GstMaskRcnnDetection, 1);
  d->ref_count = 1;
  d->label = g_strdup (instance->label ? instance->label : "");
  d->class_id = instance->class_id;
  d->score = instance->confidence;
  d->x = instance->x;
  d->y = instance->y;
  d->width = instance->width;
  d->height = instance->height;
  d->stale = instance->stale;
  d->age = instance->age;
  d->track_id = gst_maskrcnn_instance_get_track_id (instance);
  if (instance->mask) {
    d->mask_data = gst_buffer_ref (instance->mask);
    d->mask_width = instance->mask_width;
    d->mask_height = instance->mask_height;
  }
  return d;
}

GstMaskRcnnDetection *
gst_maskrcnn_detection_ref (GstMaskRcnnDetection * detection)
{
  g_return_val_if_fail (detection != NULL, NULL);

  g_atomic_int_inc (&detection->ref_count);
  return detection;
}

void
gst_maskrcnn_detection_unref (GstMaskRcnnDetection * detection)
{
  g_return_if_fail (detection != NULL);

  if (!g_atomic_int_dec_and_test (&detection->ref_count))
    return;
  g_free (detection->label);
  if (detection->mask_data)
    gst_buffer_unref (detection->mask_data);
  g_free (detection);
}

/* The borrowed view the instance functions take. */
static void
detection_as_instance (const GstMaskRcnnDetection * d,
    GstMaskRcnnInstance * inst)
{
  memset (inst, 0, sizeof (*inst));
  inst->label = d->label;
  inst->class_id = d->class_id;
  inst->confidence = d->score;
  inst->x = d->x;
  inst->y = d->y;
  inst->width = d->width;
  inst->height = d->height;
  inst->stale = d->stale;
  inst->age = d->age;
  inst->mask = d->mask_data;
  inst->mask_width = d->mask_width;
  inst->mask_height = d->mask_height;
}

gboolean
gst_maskrcnn_detection_has_mask (const GstMaskRcnnDetection * detection)
{
  GstMaskRcnnInstance inst;

  g_return_val_if_fail (detection != NULL, FALSE);

  detection_as_instance (detection, &inst);
  return gst_maskrcnn_instance_has_mask (&inst);
}

GBytes *
gst_maskrcnn_detection_get_mask (const GstMaskRcnnDetection * detection)
{
  GstMaskRcnnInstance inst;

  g_return_val_if_fail (detection != NULL, NULL);

  detection_as_instance (detection, &inst);
  return gst_maskrcnn_instance_get_mask (&inst);
}

GBytes *
gst_maskrcnn_detection_get_frame_mask (const GstMaskRcnnDetection *
    detection, gint frame_width, gint frame_height)
{
  GstMaskRcnnInstance inst;

  g_return_val_if_fail (detection != NULL, NULL);

  detection_as_instance (detection, &inst);
  return gst_maskrcnn_instance_get_frame_mask (&inst, frame_width,
      frame_height);
}

/* The instances' copies, each turned into a detection in the same list:
 * one copy more per instance than before, on a deprecated path. */
GList *
gst_maskrcnn_buffer_get_instances (GstBuffer * buffer)
{
  GList *list, *l;

  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);

  list = gst_maskrcnn_buffer_copy_instances (buffer);
  for (l = list; l; l = l->next) {
    GstMaskRcnnInstance *copy = l->data;

    l->data = gst_maskrcnn_detection_new_from_instance (copy);
    gst_maskrcnn_instance_free (copy);
  }
  return list;
}

/* A reference is the boxed copy: the fields are read-only. */
G_DEFINE_BOXED_TYPE (GstMaskRcnnDetection, gst_maskrcnn_detection,
    gst_maskrcnn_detection_ref, gst_maskrcnn_detection_unref);

G_GNUC_END_IGNORE_DEPRECATIONS
