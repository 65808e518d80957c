/* The metadata helper library: writing, reading, masks, and the metadata
 * surviving videoscale and videoconvert. Needs no model. */

/* test_deprecated_detections uses the deprecated type macro spellings on
 * purpose; GLib's switch keeps their pre-processor warnings out of the
 * build (the deprecated functions' warnings are silenced around the
 * test). */
#define GLIB_DISABLE_DEPRECATION_WARNINGS

#include <string.h>

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include <gst/maskrcnn-meta.h>

#include "gst-test-util.h"

/* A box-relative mask: the left half of a mw x mh box, with one hole. */
static GstBuffer *
make_mask (gint mw, gint mh)
{
  GstBuffer *mask = gst_buffer_new_allocate (NULL, (gsize) mw * mh, NULL);
  GstMapInfo map;
  gint x, y;

  gst_buffer_map (mask, &map, GST_MAP_WRITE);
  for (y = 0; y < mh; y++)
    for (x = 0; x < mw; x++)
      map.data[y * mw + x] = (x < mw / 2 && !(x == 1 && y == 1)) ? 255 : 0;
  gst_buffer_unmap (mask, &map);
  return mask;
}

static void
add_two (GstBuffer * buf)
{
  GstBuffer *m0 = make_mask (20, 10), *m1 = make_mask (8, 8);
  GstMaskRcnnInstanceInit in[2] = {
    {.label = "circle",.class_id = 1,.confidence = 0.9,.x = 10,.y = 12,
          .width = 20,.height = 10,.mask = m0,.mask_width = 20,
        .mask_height = 10},
    {.label = "square",.class_id = 2,.confidence = 0.4,.x = 40,.y = 30,
          .width = 16,.height = 16,.stale = TRUE,.age = 2,.mask = m1,
        .mask_width = 8,.mask_height = 8},
  };

  fail_unless (gst_maskrcnn_buffer_add_instances (buf, in, 2));
  gst_buffer_unref (m0);
  gst_buffer_unref (m1);
}

GST_START_TEST (test_write_read)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 64 * 48 * 3, NULL);
  GstMaskRcnnInstance inst;
  gpointer state = NULL;
  guint8 box[10][20], scaled[16][16];
  guint8 frame[48][64];
  gint x, y, n = 0;

  add_two (buf);
  fail_unless_equals_int (gst_maskrcnn_buffer_get_n_instances (buf), 2);

  fail_unless (gst_maskrcnn_buffer_iterate_instances (buf, &state, &inst));
  fail_unless_equals_string (inst.label, "circle");
  fail_unless_equals_int (inst.class_id, 1);
  fail_unless_equals_float (inst.confidence, 0.9);
  fail_unless_equals_int (inst.x, 10);
  fail_unless_equals_int (inst.y, 12);
  fail_unless_equals_int (inst.width, 20);
  fail_unless_equals_int (inst.height, 10);
  fail_unless (!inst.stale);
  fail_unless_equals_int (inst.age, 0);
  fail_unless (inst.mask != NULL);
  fail_unless_equals_int (inst.mask_width, 20);
  fail_unless_equals_int (inst.mask_height, 10);
  fail_unless_equals_string (g_quark_to_string (inst.roi->roi_type),
      "circle");
  /* The params are there for applications that read them directly. */
  fail_unless (gst_video_region_of_interest_meta_get_param (inst.roi,
          "detection"));
  fail_unless (gst_video_region_of_interest_meta_get_param (inst.roi,
          "mask"));

  fail_unless (gst_maskrcnn_instance_read_mask (&inst, &box[0][0], 20, 10,
          20));
  for (y = 0; y < 10; y++)
    for (x = 0; x < 20; x++)
      fail_unless_equals_int (box[y][x],
          (x < 10 && !(x == 1 && y == 1)) ? 255 : 0);

  memset (frame, 7, sizeof (frame));
  fail_unless (gst_maskrcnn_instance_rasterize (&inst, &frame[0][0], 64, 48,
          64, 200));
  for (y = 0; y < 48; y++)
    for (x = 0; x < 64; x++) {
      gboolean in = x >= 10 && x < 20 && y >= 12 && y < 22 &&
          !(x == 11 && y == 13);
      fail_unless_equals_int (frame[y][x], in ? 200 : 7);
    }

  fail_unless (gst_maskrcnn_buffer_iterate_instances (buf, &state, &inst));
  fail_unless_equals_string (inst.label, "square");
  fail_unless (inst.stale);
  fail_unless_equals_int (inst.age, 2);
  /* An 8x8 mask read at the box's 16x16: each sample doubles. */
  fail_unless (gst_maskrcnn_instance_read_mask (&inst, &scaled[0][0], 16, 16,
          16));
  for (y = 0; y < 16; y++)
    for (x = 0; x < 16; x++)
      fail_unless_equals_int (scaled[y][x],
          (x / 2 < 4 && !(x / 2 == 1 && y / 2 == 1)) ? 255 : 0);

  fail_if (gst_maskrcnn_buffer_iterate_instances (buf, &state, &inst));

  state = NULL;
  while (gst_maskrcnn_buffer_iterate_instances (buf, &state, &inst))
    n++;
  fail_unless_equals_int (n, 2);
  gst_buffer_unref (buf);
}

GST_END_TEST;

/* The owned copies that bindings see: same values as the iterator, masks
 * resampled onto the box (16x16 from an 8x8 mask) and pasted into a frame,
 * and the copies outlive the buffer. */
GST_START_TEST (test_instance_copies)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 64 * 48 * 3, NULL);
  GList *list;
  GstMaskRcnnInstance *a, *b, *c;
  GBytes *mask, *frame;
  const guint8 *m, *f;
  gsize size;
  gint x, y, inside = 0;

  add_two (buf);
  list = gst_maskrcnn_buffer_copy_instances (buf);
  gst_buffer_unref (buf);
  fail_unless_equals_int (g_list_length (list), 2);
  a = list->data;
  b = list->next->data;
  fail_unless (a->roi == NULL, "a copy points into the buffer's metadata");
  fail_unless_equals_string (a->label, "circle");
  fail_unless_equals_int (a->class_id, 1);
  fail_unless_equals_float (a->confidence, 0.9);
  fail_unless_equals_int (a->x, 10);
  fail_unless_equals_int (a->y, 12);
  fail_unless_equals_int (a->width, 20);
  fail_unless_equals_int (a->height, 10);
  fail_unless (!a->stale);
  fail_unless_equals_string (b->label, "square");
  fail_unless (b->stale);
  fail_unless_equals_int (b->age, 2);
  fail_unless (gst_maskrcnn_instance_has_mask (b));

  /* b: an 8x8 mask (left half inside, hole at (1,1)) on a 16x16 box. */
  mask = gst_maskrcnn_instance_get_mask (b);
  fail_unless (mask != NULL);
  m = g_bytes_get_data (mask, &size);
  fail_unless_equals_int (size, 16 * 16);
  for (y = 0; y < 16; y++)
    for (x = 0; x < 16; x++) {
      gboolean in = x / 2 < 4 && !(x / 2 == 1 && y / 2 == 1);
      fail_unless_equals_int (m[y * 16 + x], in ? 255 : 0);
    }
  g_bytes_unref (mask);

  frame = gst_maskrcnn_instance_get_frame_mask (b, 64, 48);
  fail_unless (frame != NULL);
  f = g_bytes_get_data (frame, &size);
  fail_unless_equals_int (size, 64 * 48);
  for (y = 0; y < 48; y++)
    for (x = 0; x < 64; x++) {
      gint bx = x - 40, by = y - 30;
      gboolean in = bx >= 0 && bx < 16 && by >= 0 && by < 16 && bx / 2 < 4
          && !(bx / 2 == 1 && by / 2 == 1);
      fail_unless_equals_int (f[y * 64 + x], in ? 255 : 0);
      inside += in;
    }
  fail_unless_equals_int (inside, 8 * 16 - 4);
  g_bytes_unref (frame);
  fail_unless (gst_maskrcnn_instance_get_frame_mask (b, 0, 48) == NULL);

  /* A copy of a copy is a copy of its own (the boxed type's copy). */
  c = g_boxed_copy (GST_TYPE_MASK_RCNN_INSTANCE, a);
  g_list_free_full (list, (GDestroyNotify) gst_maskrcnn_instance_free);
  fail_unless_equals_string (c->label, "circle");
  mask = gst_maskrcnn_instance_get_mask (c);
  fail_unless_equals_int (g_bytes_get_size (mask), 20 * 10);
  g_bytes_unref (mask);
  fail_unless (G_TYPE_IS_BOXED (GST_TYPE_MASK_RCNN_INSTANCE));
  g_boxed_free (GST_TYPE_MASK_RCNN_INSTANCE, c);

  /* A frame without instances gives an empty list. */
  buf = gst_buffer_new ();
  fail_unless (gst_maskrcnn_buffer_copy_instances (buf) == NULL);
  gst_buffer_unref (buf);
}

GST_END_TEST;

/* The deprecated names keep working: GstMaskRcnnDetection (its score is
 * the instance's confidence), its functions, the old type macros. */
G_GNUC_BEGIN_IGNORE_DEPRECATIONS
GST_START_TEST (test_deprecated_detections)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 64 * 48 * 3, NULL);
  GList *dets, *insts, *d, *i;
  GstMaskRcnnDetection *kept;
  GBytes *mask, *want;

  add_two (buf);
  dets = gst_maskrcnn_buffer_get_instances (buf);
  insts = gst_maskrcnn_buffer_copy_instances (buf);
  gst_buffer_unref (buf);
  fail_unless_equals_int (g_list_length (dets), 2);
  for (d = dets, i = insts; d && i; d = d->next, i = i->next) {
    const GstMaskRcnnDetection *det = d->data;
    const GstMaskRcnnInstance *inst = i->data;

    fail_unless_equals_string (det->label, inst->label);
    fail_unless_equals_int (det->class_id, inst->class_id);
    fail_unless (det->score == inst->confidence, "score %f, confidence %f",
        det->score, inst->confidence);
    fail_unless (det->x == inst->x && det->y == inst->y &&
        det->width == inst->width && det->height == inst->height);
    fail_unless (det->stale == inst->stale && det->age == inst->age);
    fail_unless (gst_maskrcnn_detection_has_mask (det));
    mask = gst_maskrcnn_detection_get_mask (det);
    want = gst_maskrcnn_instance_get_mask (inst);
    fail_unless (g_bytes_equal (mask, want), "%s: masks differ", det->label);
    g_bytes_unref (mask);
    g_bytes_unref (want);
    mask = gst_maskrcnn_detection_get_frame_mask (det, 64, 48);
    want = gst_maskrcnn_instance_get_frame_mask (inst, 64, 48);
    fail_unless (g_bytes_equal (mask, want), "%s: frame masks differ",
        det->label);
    g_bytes_unref (mask);
    g_bytes_unref (want);
  }
  fail_unless (gst_maskrcnn_detection_get_frame_mask (dets->data, 0,
          48) == NULL);

  /* A reference keeps the detection (and its mask) alive. */
  kept = gst_maskrcnn_detection_ref (dets->data);
  g_list_free_full (dets, (GDestroyNotify) gst_maskrcnn_detection_unref);
  mask = gst_maskrcnn_detection_get_mask (kept);
  fail_unless_equals_int (g_bytes_get_size (mask), 20 * 10);
  g_bytes_unref (mask);
  gst_maskrcnn_detection_unref (kept);
  g_list_free_full (insts, (GDestroyNotify) gst_maskrcnn_instance_free);

  fail_unless (G_TYPE_IS_BOXED (GST_TYPE_MASKRCNN_DETECTION));
  fail_unless (GST_TYPE_MASKRCNN_DETECTION == GST_TYPE_MASK_RCNN_DETECTION);
  fail_unless (GST_MASKRCNN_META_API_TYPE == GST_MASK_RCNN_META_API_TYPE);
  buf = gst_buffer_new ();
  fail_unless (gst_maskrcnn_buffer_get_instances (buf) == NULL);
  gst_buffer_unref (buf);
}

GST_END_TEST;
G_GNUC_END_IGNORE_DEPRECATIONS

GST_START_TEST (test_invalid_input)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 16, NULL), *ref;
  GstBuffer *small = gst_buffer_new_allocate (NULL, 10, NULL);
  GstMaskRcnnInstanceInit bad_box = {.label = "x",.width = 0,.height = 4 };
  GstMaskRcnnInstanceInit bad_mask = {.label = "x",.width = 4,.height = 4,
    .mask = small,.mask_width = 4,.mask_height = 4
  };
  GstMaskRcnnInstanceInit ok = {.label = "x",.width = 4,.height = 4 };
  GstMaskRcnnInstanceInit two[2] = { ok, bad_box };
  GstMaskRcnnInstance inst;
  gpointer state = NULL;
  guint8 dst[16];

  fail_if (gst_maskrcnn_buffer_add_instances (buf, &bad_box, 1));
  fail_if (gst_maskrcnn_buffer_add_instances (buf, &bad_mask, 1));
  /* All or nothing. */
  fail_if (gst_maskrcnn_buffer_add_instances (buf, two, 2));
  fail_unless_equals_int (gst_maskrcnn_buffer_get_n_instances (buf), 0);

  ref = gst_buffer_ref (buf);
  fail_if (gst_maskrcnn_buffer_add_instances (buf, &ok, 1));
  gst_buffer_unref (ref);

  /* An instance without a mask reads as such. */
  fail_unless (gst_maskrcnn_buffer_add_instances (buf, &ok, 1));
  fail_unless (gst_maskrcnn_buffer_iterate_instances (buf, &state, &inst));
  fail_unless (inst.mask == NULL);
  fail_if (gst_maskrcnn_instance_read_mask (&inst, dst, 4, 4, 4));

  /* ROIs of other elements are not instances. */
  gst_buffer_add_video_region_of_interest_meta (buf, "face", 0, 0, 2, 2);
  fail_unless_equals_int (gst_maskrcnn_buffer_get_n_instances (buf), 1);

  gst_buffer_unref (small);
  gst_buffer_unref (buf);
}

GST_END_TEST;

/* The params travel in the companion meta too: readers find them where an
 * element dropped them from the ROI. */
GST_START_TEST (test_companion_fallback)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 16, NULL);
  GstVideoRegionOfInterestMeta *roi;
  GstMaskRcnnInstance inst;
  gpointer state = NULL;
  guint n = 0;

  add_two (buf);
  while ((roi = (GstVideoRegionOfInterestMeta *)
          gst_buffer_iterate_meta_filtered (buf, &state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    g_list_free_full (roi->params, (GDestroyNotify) gst_structure_free);
    roi->params = NULL;
  }
  state = NULL;
  while (gst_maskrcnn_buffer_iterate_instances (buf, &state, &inst)) {
    fail_unless (inst.mask != NULL);
    fail_unless_equals_string (inst.label, n == 0 ? "circle" : "square");
    n++;
  }
  fail_unless_equals_int (n, 2);
  gst_buffer_unref (buf);
}

GST_END_TEST;

/* Pushes a 64x48 RGBA frame with two instances through `launch` and returns
 * the output buffer. */
static GstBuffer *
through (const gchar * launch)
{
  GstHarness *h = gst_harness_new_parse (launch);
  GstVideoInfo info;
  GstBuffer *in, *out;

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGBA,width=64,height=48,framerate=30/1");
  in = test_scene_buffer (64, 48, "RGBA", &info);
  add_two (in);
  out = gst_harness_push_and_pull (h, in);
  fail_unless (out != NULL);
  gst_harness_teardown (h);
  return out;
}

static void
check_params_on_rois (GstBuffer * out)
{
  gpointer state = NULL;
  GstVideoRegionOfInterestMeta *roi;
  guint n = 0;

  while ((roi = (GstVideoRegionOfInterestMeta *)
          gst_buffer_iterate_meta_filtered (out, &state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    fail_unless (gst_video_region_of_interest_meta_get_param (roi,
            "detection") != NULL);
    fail_unless (gst_video_region_of_interest_meta_get_param (roi,
            "mask") != NULL);
    n++;
  }
  fail_unless_equals_int (n, 2);
}

GST_START_TEST (test_survives_videoscale)
{
  GstBuffer *out = through ("videoscale ! "
      "capsfilter caps=video/x-raw,width=128,height=96");
  GstMaskRcnnInstance inst;
  gpointer state = NULL;
  guint8 frame[96][128];
  gint x, y;

  check_params_on_rois (out);
  fail_unless (gst_maskrcnn_buffer_iterate_instances (out, &state, &inst));
  fail_unless_equals_string (inst.label, "circle");
  fail_unless_equals_int (inst.x, 20);
  fail_unless_equals_int (inst.y, 24);
  fail_unless_equals_int (inst.width, 40);
  fail_unless_equals_int (inst.height, 20);
  fail_unless_equals_int (inst.mask_width, 20);

  /* The box-relative mask lands on the scaled box. */
  memset (frame, 0, sizeof (frame));
  fail_unless (gst_maskrcnn_instance_rasterize (&inst, &frame[0][0], 128, 96,
          128, 255));
  for (y = 0; y < 96; y++)
    for (x = 0; x < 128; x++) {
      gboolean in = x >= 20 && x < 40 && y >= 24 && y < 44 &&
          !((x - 20) / 2 == 1 && (y - 24) / 2 == 1);
      fail_unless_equals_int (frame[y][x], in ? 255 : 0);
    }

  fail_unless (gst_maskrcnn_buffer_iterate_instances (out, &state, &inst));
  fail_unless_equals_string (inst.label, "square");
  fail_unless_equals_int (inst.x, 80);
  fail_unless_equals_int (inst.width, 32);
  gst_buffer_unref (out);
}

GST_END_TEST;

GST_START_TEST (test_survives_videoconvert)
{
  const gchar *formats[] = { "I420", "NV12", "BGRx", "RGB" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (formats); i++) {
    gchar *launch = g_strdup_printf ("videoconvert ! "
        "capsfilter caps=video/x-raw,format=%s",
        formats[i]);
    GstBuffer *out = through (launch);
    GstMaskRcnnInstance inst;
    gpointer state = NULL;

    check_params_on_rois (out);
    fail_unless (gst_maskrcnn_buffer_iterate_instances (out, &state, &inst));
    fail_unless_equals_int (inst.x, 10);
    fail_unless_equals_int (inst.width, 20);
    fail_unless (inst.mask != NULL);
    gst_buffer_unref (out);
    g_free (launch);
  }
}

GST_END_TEST;

GST_START_TEST (test_survives_chain)
{
  GstBuffer *out = through ("videoconvert ! "
      "capsfilter caps=video/x-raw,format=NV12 ! videoscale ! "
      "capsfilter caps=video/x-raw,width=32,height=24 ! queue ! "
      "videoconvert ! capsfilter caps=video/x-raw,format=BGRx");
  GstMaskRcnnInstance inst;
  gpointer state = NULL;

  check_params_on_rois (out);
  fail_unless (gst_maskrcnn_buffer_iterate_instances (out, &state, &inst));
  fail_unless_equals_int (inst.x, 5);
  fail_unless_equals_int (inst.width, 10);
  fail_unless_equals_int (inst.mask_width, 20);
  gst_buffer_unref (out);
}

GST_END_TEST;

static Suite *
meta_suite (void)
{
  Suite *s = suite_create ("maskrcnn-meta");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_write_read);
  tcase_add_test (tc, test_instance_copies);
  tcase_add_test (tc, test_deprecated_detections);
  tcase_add_test (tc, test_invalid_input);
  tcase_add_test (tc, test_companion_fallback);
  tcase_add_test (tc, test_survives_videoscale);
  tcase_add_test (tc, test_survives_videoconvert);
  tcase_add_test (tc, test_survives_chain);
  return s;
}

GST_CHECK_MAIN (meta);
