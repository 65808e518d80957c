/* maskrcnn with a real model: every caps format, metadata equal to what the
 * engine returns for the same pixels, interval, messages, renegotiation,
 * tiny and large frames, many instances. Skipped without a model. */
#include <math.h>
#include <string.h>

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <gmodule.h>

#include <gst/maskrcnn-meta.h>
#include "mrcnn/mrcnn.h"

#include "gst-test-util.h"

static const gchar *model_path;

/* ------------------------------------------------------------ reference */

static mrcnn_pixel_format
pixel_format (GstVideoFormat f)
{
  switch (f) {
    case GST_VIDEO_FORMAT_RGB:
      return MRCNN_PIXEL_RGB;
    case GST_VIDEO_FORMAT_BGR:
      return MRCNN_PIXEL_BGR;
    case GST_VIDEO_FORMAT_RGBA:
      return MRCNN_PIXEL_RGBA;
    case GST_VIDEO_FORMAT_BGRA:
      return MRCNN_PIXEL_BGRA;
    case GST_VIDEO_FORMAT_RGBx:
      return MRCNN_PIXEL_RGBX;
    case GST_VIDEO_FORMAT_BGRx:
      return MRCNN_PIXEL_BGRX;
    case GST_VIDEO_FORMAT_NV12:
      return MRCNN_PIXEL_NV12;
    case GST_VIDEO_FORMAT_I420:
      return MRCNN_PIXEL_I420;
    default:
      fail ("unexpected format");
      return MRCNN_PIXEL_RGB;
  }
}

/* Runs the engine directly, through mrcnn.h, on the frame in `buf`. */
static mrcnn_result *
reference_run (GstBuffer * buf, const GstVideoInfo * info, float score,
    int max_detections, mrcnn_model ** model_out)
{
  mrcnn_model *model = NULL;
  mrcnn_engine *engine = NULL;
  mrcnn_engine_config cfg;
  mrcnn_error err = { 0, };
  mrcnn_image image = { 0, };
  mrcnn_result *result = NULL;
  GstVideoFrame frame;
  guint p;

  fail_unless_equals_int (mrcnn_model_open (model_path, &model, &err),
      MRCNN_OK);
  mrcnn_engine_config_init (&cfg, model);
  cfg.backend = MRCNN_BACKEND_CPU;
  cfg.max_width = MAX (GST_VIDEO_INFO_WIDTH (info), 2);
  cfg.max_height = MAX (GST_VIDEO_INFO_HEIGHT (info), 2);
  cfg.thresholds.score_threshold = score;
  cfg.thresholds.nms_threshold = 0.5f;
  cfg.thresholds.max_detections = max_detections;
  cfg.thresholds.mask_threshold = 0.5f;
  fail_unless (mrcnn_engine_new (model, &cfg, &engine, &err) == MRCNN_OK,
      "%s", err.message);

  fail_unless (gst_video_frame_map (&frame, info, buf, GST_MAP_READ));
  image.format = pixel_format (GST_VIDEO_INFO_FORMAT (info));
  image.width = GST_VIDEO_INFO_WIDTH (info);
  image.height = GST_VIDEO_INFO_HEIGHT (info);
  for (p = 0; p < GST_VIDEO_FRAME_N_PLANES (&frame); p++) {
    image.planes[p] = GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
    image.strides[p] = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p);
  }
  fail_unless (mrcnn_engine_run (engine, &image, &result, &err) == MRCNN_OK,
      "%s", err.message);
  gst_video_frame_unmap (&frame);
  mrcnn_engine_free (engine);
  *model_out = model;
  return result;
}

/* The documented box convention: the smallest pixel window holding the
 * float box. */
static void
window (const mrcnn_detection * d, gint fw, gint fh, gint * x, gint * y,
    gint * w, gint * h)
{
  gint x0 = CLAMP ((gint) floorf (d->x1), 0, fw - 1);
  gint y0 = CLAMP ((gint) floorf (d->y1), 0, fh - 1);
  gint x1 = CLAMP ((gint) ceilf (d->x2), x0 + 1, fw);
  gint y1 = CLAMP ((gint) ceilf (d->y2), y0 + 1, fh);

  *x = x0;
  *y = y0;
  *w = x1 - x0;
  *h = y1 - y0;
}

/* Asserts that the instances on `out` are exactly the reference result:
 * order, labels, classes, scores, boxes and every mask byte. */
static void
assert_matches_reference (GstBuffer * out, const mrcnn_result * ref,
    const GstVideoInfo * info, const gchar * what)
{
  GstMaskRcnnInstance inst;
  gpointer state = NULL;
  gint i = 0, n = mrcnn_result_count (ref);
  gint fw = GST_VIDEO_INFO_WIDTH (info), fh = GST_VIDEO_INFO_HEIGHT (info);

  fail_unless_equals_int (gst_maskrcnn_buffer_get_n_instances (out), n);
  while (gst_maskrcnn_buffer_iterate_instances (out, &state, &inst)) {
    const mrcnn_detection *d = mrcnn_result_get (ref, i);
    mrcnn_error err = { 0, };
    gint x, y, w, h;
    guint8 *expect;
    GstMapInfo map;

    window (d, fw, fh, &x, &y, &w, &h);
    fail_unless_equals_string (inst.label, d->label);
    fail_unless_equals_int (inst.class_id, d->class_id);
    fail_unless (inst.confidence == (gdouble) d->score,
        "%s: instance %d score %f != %f", what, i, inst.confidence, d->score);
    fail_unless (inst.x == x && inst.y == y && inst.width == w &&
        inst.height == h, "%s: instance %d box %d,%d %dx%d != %d,%d %dx%d",
        what, i, inst.x, inst.y, inst.width, inst.height, x, y, w, h);
    fail_unless (!inst.stale);
    fail_unless (inst.mask != NULL);
    fail_unless_equals_int (inst.mask_width, w);
    fail_unless_equals_int (inst.mask_height, h);

    expect = g_malloc ((gsize) w * h);
    fail_unless (mrcnn_result_paste_mask (ref, i, 0.5f, x, y, w, h, expect, w,
            &err) == MRCNN_OK, "%s", err.message);
    gst_buffer_map (inst.mask, &map, GST_MAP_READ);
    fail_unless (memcmp (map.data, expect, (gsize) w * h) == 0,
        "%s: instance %d mask differs from the engine's", what, i);
    gst_buffer_unmap (inst.mask, &map);
    g_free (expect);
    i++;
  }
  fail_unless_equals_int (i, n);
}

/* Runs the engine directly on `frame` (a copy of what was pushed) and
 * asserts that `out` carries exactly its result; returns the number of
 * instances. */
static gint
assert_matches_engine (GstBuffer * out, GstBuffer * frame,
    const GstVideoInfo * info, float score, int max_detections,
    const gchar * what)
{
  mrcnn_model *model;
  mrcnn_result *ref = reference_run (frame, info, score, max_detections,
      &model);
  gint n = mrcnn_result_count (ref);

  assert_matches_reference (out, ref, info, what);
  mrcnn_result_free (ref);
  mrcnn_model_free (model);
  return n;
}

static gboolean
buffers_equal (GstBuffer * a, GstBuffer * b)
{
  GstMapInfo ma, mb;
  gboolean eq;

  gst_buffer_map (a, &ma, GST_MAP_READ);
  gst_buffer_map (b, &mb, GST_MAP_READ);
  eq = ma.size == mb.size && memcmp (ma.data, mb.data, ma.size) == 0;
  gst_buffer_unmap (a, &ma);
  gst_buffer_unmap (b, &mb);
  return eq;
}

/* A harness around "maskrcnn name=m <props>" (props may continue the
 * pipeline). The harness wraps it in a bin: see maskrcnn_of(). */
static GstHarness *
harness (const gchar * props)
{
  gchar *launch = g_strdup_printf ("maskrcnn name=m model=\"%s\" "
      "backend=cpu %s", model_path, props);
  GstHarness *h = gst_harness_new_parse (launch);

  g_free (launch);
  return h;
}

/* The maskrcnn element in a harness() (a borrowed reference). */
static GstElement *
maskrcnn_of (GstHarness * h)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (h->element), "m");

  fail_unless (e != NULL);
  gst_object_unref (e);         /* the bin keeps it alive */
  return e;
}

/* ------------------------------------------------------------ tests */

GST_START_TEST (test_formats_match_engine)
{
  guint f;

  for (f = 0; test_formats[f]; f++) {
    GstHarness *h = harness ("score-threshold=0.05 max-detections=20");
    gchar *caps = test_caps_string (test_formats[f], 160, 120);
    GstVideoInfo info;
    GstBuffer *in = test_scene_buffer (160, 120, test_formats[f], &info);
    GstBuffer *copy = gst_buffer_copy_deep (in), *out;
    gint n;

    gst_harness_set_src_caps_str (h, caps);
    out = gst_harness_push_and_pull (h, in);
    fail_unless (out != NULL);
    /* Never changes pixels. */
    fail_unless (buffers_equal (copy, out), "%s: pixels changed",
        test_formats[f]);

    n = assert_matches_engine (out, copy, &info, 0.05f, 20, test_formats[f]);
    GST_INFO ("%s: %d instances", test_formats[f], n);

    gst_buffer_unref (out);
    gst_buffer_unref (copy);
    gst_harness_teardown (h);
    g_free (caps);
  }
}

GST_END_TEST;

/* 100 instances on a frame: the most max-detections allows by default. */
GST_START_TEST (test_many_instances)
{
  GstHarness *h = harness ("score-threshold=0.0 max-detections=100");
  GstVideoInfo info;
  GstBuffer *in = test_scene_buffer (320, 240, "RGB", &info);
  GstBuffer *copy = gst_buffer_copy_deep (in), *out;
  gint n;

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGB,width=320,height=240,framerate=30/1");
  out = gst_harness_push_and_pull (h, in);
  n = assert_matches_engine (out, copy, &info, 0.0f, 100, "many");
  GST_INFO ("%d instances", n);
  fail_unless (n <= 100);
  gst_buffer_unref (out);
  gst_buffer_unref (copy);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Thresholds changed while playing apply from the next frame. */
GST_START_TEST (test_threshold_change)
{
  GstHarness *h = harness ("score-threshold=0.0 max-detections=50");
  GstVideoInfo info;
  GstBuffer *in = test_scene_buffer (160, 120, "RGBx", &info), *out;
  GstBuffer *copy = gst_buffer_copy_deep (in);

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGBx,width=160,height=120,framerate=30/1");
  out = gst_harness_push_and_pull (h, gst_buffer_copy_deep (in));
  gst_buffer_unref (out);

  g_object_set (maskrcnn_of (h), "score-threshold", 0.26f, "max-detections", 7,
      NULL);
  out = gst_harness_push_and_pull (h, in);
  assert_matches_engine (out, copy, &info, 0.26f, 7, "changed thresholds");
  gst_buffer_unref (out);
  gst_buffer_unref (copy);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* threads=1: the property is read, and one thread gives the same instances
 * as the reference run with all cores. */
GST_START_TEST (test_threads)
{
  GstHarness *h = harness ("score-threshold=0.0 max-detections=20 threads=1");
  GstVideoInfo info;
  GstBuffer *in = test_scene_buffer (160, 120, "RGBx", &info), *out;
  GstBuffer *copy = gst_buffer_copy_deep (in);
  gint threads = -1;

  g_object_get (maskrcnn_of (h), "threads", &threads, NULL);
  fail_unless_equals_int (threads, 1);
  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGBx,width=160,height=120,framerate=30/1");
  out = gst_harness_push_and_pull (h, in);
  assert_matches_engine (out, copy, &info, 0.0f, 20, "threads=1");
  gst_buffer_unref (out);
  gst_buffer_unref (copy);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Nothing above the threshold: no metadata, and a message with an empty
 * list. */
GST_START_TEST (test_no_instances)
{
  GstHarness *h = harness ("score-threshold=1.0 post-messages=true");
  GstBus *bus = test_attach_bus (h->element);
  GstVideoInfo info;
  GstBuffer *out;
  GstMessage *msg;
  const GValue *list;

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=BGRA,width=160,height=120,framerate=30/1");
  out = gst_harness_push_and_pull (h,
      test_scene_buffer (160, 120, "BGRA", &info));
  fail_unless_equals_int (gst_maskrcnn_buffer_get_n_instances (out), 0);
  fail_unless (gst_buffer_get_meta (out,
          GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE) == NULL);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
  fail_unless (msg != NULL);
  list = gst_structure_get_value (gst_message_get_structure (msg),
      "instances");
  fail_unless (list != NULL && GST_VALUE_HOLDS_LIST (list));
  fail_unless_equals_int (gst_value_list_get_size (list), 0);
  gst_message_unref (msg);
  gst_buffer_unref (out);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

typedef struct
{
  gint x, y, w, h, class_id;
  gdouble confidence;
} Box;

static GArray *
boxes_of (GstBuffer * buf, gboolean * stale, guint * age)
{
  GArray *boxes = g_array_new (FALSE, FALSE, sizeof (Box));
  GstMaskRcnnInstance inst;
  gpointer state = NULL;

  *stale = FALSE;
  *age = 0;
  while (gst_maskrcnn_buffer_iterate_instances (buf, &state, &inst)) {
    Box b;

    memset (&b, 0, sizeof (b));  /* padding too: boxes are memcmp'd */
    b.x = inst.x;
    b.y = inst.y;
    b.w = inst.width;
    b.h = inst.height;
    b.class_id = inst.class_id;
    b.confidence = inst.confidence;
    g_array_append_val (boxes, b);
    *stale = inst.stale;
    *age = inst.age;
  }
  return boxes;
}

/* interval=3: frames 0, 3, 6 run the network; the others carry the last
 * result, marked stale with their age, even though their pixels differ. */
GST_START_TEST (test_interval)
{
  GstHarness *h = harness ("score-threshold=0.05 interval=3");
  GArray *fresh = NULL;
  gint i;

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=I420,width=160,height=120,framerate=30/1");
  for (i = 0; i < 7; i++) {
    GstVideoInfo info;
    guint8 *rgb = test_scene_rgb (160, 120);
    GstBuffer *in, *out;
    GArray *boxes;
    gboolean stale;
    guint age;

    if (i % 3 != 0)             /* stale frames: something else entirely */
      memset (rgb, 10 * i, 160 * 120 * 3);
    in = test_buffer_from_rgb (rgb, 160, 120, "I420", &info);
    g_free (rgb);
    out = gst_harness_push_and_pull (h, in);
    boxes = boxes_of (out, &stale, &age);
    fail_unless (boxes->len > 0, "frame %d: no instances at 0.05", i);
    if (i % 3 == 0) {
      fail_unless (!stale);
      fail_unless_equals_int (age, 0);
      if (fresh)
        g_array_unref (fresh);
      fresh = g_array_ref (boxes);
    } else {
      fail_unless (stale, "frame %d not marked stale", i);
      fail_unless_equals_int (age, i % 3);
      fail_unless_equals_int (boxes->len, fresh->len);
      fail_unless (memcmp (boxes->data, fresh->data,
              boxes->len * sizeof (Box)) == 0);
    }
    g_array_unref (boxes);
    gst_buffer_unref (out);
  }
  g_array_unref (fresh);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_messages)
{
  GstHarness *h = harness ("score-threshold=0.05 post-messages=true "
      "interval=2");
  GstBus *bus = test_attach_bus (h->element);
  gint i;

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=NV12,width=160,height=120,framerate=30/1");
  for (i = 0; i < 3; i++) {
    GstVideoInfo info;
    GstBuffer *in = test_scene_buffer (160, 120, "NV12", &info), *out;
    GstMessage *msg;
    const GstStructure *s;
    const GValue *list;
    GstClockTime ts, rt, st;
    GstMaskRcnnInstance inst;
    gpointer state = NULL;
    gboolean stale;
    guint j = 0;

    GST_BUFFER_PTS (in) = i * 33 * GST_MSECOND;
    GST_BUFFER_DURATION (in) = 33 * GST_MSECOND;
    out = gst_harness_push_and_pull (h, in);

    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
    fail_unless (msg != NULL, "frame %d: no element message", i);
    fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (maskrcnn_of (h)));
    s = gst_message_get_structure (msg);
    fail_unless (gst_structure_has_name (s, "maskrcnn"));
    fail_unless (gst_structure_get_clock_time (s, "timestamp", &ts));
    fail_unless (gst_structure_get_clock_time (s, "running-time", &rt));
    fail_unless (gst_structure_get_clock_time (s, "stream-time", &st));
    fail_unless_equals_uint64 (ts, i * 33 * GST_MSECOND);
    fail_unless_equals_uint64 (rt, ts);
    fail_unless_equals_uint64 (st, ts);
    fail_unless (gst_structure_get_boolean (s, "stale", &stale));
    fail_unless_equals_int (stale, i % 2 == 1);

    list = gst_structure_get_value (s, "instances");
    fail_unless (list != NULL && GST_VALUE_HOLDS_LIST (list));
    fail_unless_equals_int (gst_value_list_get_size (list),
        gst_maskrcnn_buffer_get_n_instances (out));
    fail_unless (gst_value_list_get_size (list) > 0);
    while (gst_maskrcnn_buffer_iterate_instances (out, &state, &inst)) {
      const GstStructure *is =
          gst_value_get_structure (gst_value_list_get_value (list, j++));
      gint v;
      gdouble score;

      fail_unless_equals_string (gst_structure_get_string (is, "label"),
          inst.label);
      fail_unless (gst_structure_get_int (is, "class-id", &v));
      fail_unless_equals_int (v, inst.class_id);
      fail_unless (gst_structure_get_double (is, "score", &score));
      fail_unless (score == inst.confidence);
      fail_unless (gst_structure_get_int (is, "x", &v) && v == inst.x);
      fail_unless (gst_structure_get_int (is, "y", &v) && v == inst.y);
      fail_unless (gst_structure_get_int (is, "width", &v) &&
          v == inst.width);
      fail_unless (gst_structure_get_int (is, "height", &v) &&
          v == inst.height);
    }
    gst_message_unref (msg);
    gst_buffer_unref (out);
  }

  /* Off: no messages. */
  g_object_set (maskrcnn_of (h), "post-messages", FALSE, NULL);
  {
    GstVideoInfo info;
    GstBuffer *out = gst_harness_push_and_pull (h,
        test_scene_buffer (160, 120, "NV12", &info));
    fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT) == NULL);
    gst_buffer_unref (out);
  }
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Renegotiation mid-stream, tiny and thin frames and frames beyond the
 * engine's planned size: each one is processed and its boxes are inside
 * it. */
GST_START_TEST (test_sizes)
{
  static const struct
  {
    const gchar *format;
    gint w, h;
  } sizes[] = {
    {"RGB", 160, 120}, {"RGB", 320, 240}, {"RGB", 64, 48}, {"RGB", 1, 1},
    {"RGB", 7, 5}, {"NV12", 7, 5}, {"I420", 2, 2}, {"RGB", 160, 120},
    {"BGRx", 3840, 2160}, {"RGB", 4096, 2304}, {"NV12", 160, 120},
    /* resized for the model, a side of 0: nothing to find */
    {"RGB", 2, 3000}, {"RGB", 3000, 2},
  };
  GstHarness *h = harness ("score-threshold=0.05");
  guint i;

  for (i = 0; i < G_N_ELEMENTS (sizes); i++) {
    gchar *caps = test_caps_string (sizes[i].format, sizes[i].w, sizes[i].h);
    GstVideoInfo info;
    GstBuffer *in = test_scene_buffer (sizes[i].w, sizes[i].h,
        sizes[i].format, &info), *out;
    GstMaskRcnnInstance inst;
    gpointer state = NULL;
    guint n = 0;

    gst_harness_set_src_caps_str (h, caps);
    out = gst_harness_push_and_pull (h, in);
    fail_unless (out != NULL, "%s %dx%d: no output", sizes[i].format,
        sizes[i].w, sizes[i].h);
    while (gst_maskrcnn_buffer_iterate_instances (out, &state, &inst)) {
      fail_unless (inst.x >= 0 && inst.y >= 0 && inst.width > 0 &&
          inst.height > 0 && inst.x + inst.width <= sizes[i].w &&
          inst.y + inst.height <= sizes[i].h);
      n++;
    }
    if (sizes[i].w < 2 || sizes[i].h < 2 || sizes[i].w * 100 < sizes[i].h
        || sizes[i].h * 100 < sizes[i].w)
      fail_unless_equals_int (n, 0);
    GST_INFO ("%s %dx%d: %u instances", sizes[i].format, sizes[i].w,
        sizes[i].h, n);
    gst_buffer_unref (out);
    g_free (caps);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

/* The instances stay readable after videoscale, on the scaled boxes. */
GST_START_TEST (test_through_videoscale)
{
  GstHarness *h = harness ("score-threshold=0.05 ! videoscale ! "
      "capsfilter caps=video/x-raw,width=320,height=240 ! videoconvert ! "
      "capsfilter caps=video/x-raw,format=I420");
  GstHarness *ref = harness ("score-threshold=0.05");
  GstVideoInfo info;
  GstBuffer *in = test_scene_buffer (160, 120, "RGBA", &info), *out, *out_ref;
  GstMaskRcnnInstance a, b;
  gpointer sa = NULL, sb = NULL;
  guint n = 0;

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGBA,width=160,height=120,framerate=30/1");
  gst_harness_set_src_caps_str (ref,
      "video/x-raw,format=RGBA,width=160,height=120,framerate=30/1");
  out_ref = gst_harness_push_and_pull (ref, gst_buffer_copy_deep (in));
  out = gst_harness_push_and_pull (h, in);
  while (gst_maskrcnn_buffer_iterate_instances (out_ref, &sa, &a)) {
    fail_unless (gst_maskrcnn_buffer_iterate_instances (out, &sb, &b));
    fail_unless_equals_string (a.label, b.label);
    fail_unless_equals_int (b.x, a.x * 2);
    fail_unless_equals_int (b.y, a.y * 2);
    fail_unless_equals_int (b.width, a.width * 2);
    fail_unless_equals_int (b.height, a.height * 2);
    fail_unless (b.mask != NULL && b.mask_width == a.width);
    n++;
  }
  fail_unless (n > 0);
  fail_if (gst_maskrcnn_buffer_iterate_instances (out, &sb, &b));
  gst_buffer_unref (out);
  gst_buffer_unref (out_ref);
  gst_harness_teardown (ref);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* The properties read at start, set while the element runs: refused with a
 * warning that names the property and the model in use; the getters keep
 * reporting what runs, frames keep their instances; in READY the new value
 * is taken. */
GST_START_TEST (test_start_properties_while_running)
{
  GstHarness *h = harness ("score-threshold=0.0 max-detections=20");
  GstElement *e = maskrcnn_of (h);
  GstBus *bus = test_attach_bus (h->element);
  GstVideoInfo info;
  GstBuffer *out;
  GstMessage *msg;
  GError *err = NULL;
  gchar *got = NULL, *debug = NULL;
  gint backend = -1, device_id = 0;

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=RGB,width=160,height=120,framerate=30/1");
  out = gst_harness_push_and_pull (h, test_scene_buffer (160, 120, "RGB",
          &info));
  fail_unless (gst_maskrcnn_buffer_get_n_instances (out) > 0);
  gst_buffer_unref (out);

  g_object_set (e, "model", "/nonexistent/other.safetensors", NULL);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL, "no warning for a model set while running");
  gst_message_parse_warning (msg, &err, &debug);
  fail_unless (g_error_matches (err, GST_LIBRARY_ERROR,
          GST_LIBRARY_ERROR_SETTINGS), "%s", err->message);
  fail_unless (strstr (err->message, "\"model\"") != NULL, "%s",
      err->message);
  fail_unless (strstr (err->message, model_path) != NULL, "%s", err->message);
  fail_unless (strstr (err->message, "READY") != NULL, "%s", err->message);
  g_clear_error (&err);
  g_free (debug);
  gst_message_unref (msg);
  g_object_get (e, "model", &got, NULL);
  fail_unless_equals_string (got, model_path);
  g_free (got);

  gst_util_set_object_arg (G_OBJECT (e), "backend", "cuda");
  g_object_set (e, "device-id", 3, NULL);
  g_object_get (e, "backend", &backend, "device-id", &device_id, NULL);
  fail_unless_equals_int (backend, 1 /* cpu */ );
  fail_unless_equals_int (device_id, -1);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL, "no warning for backend set while running");
  gst_message_unref (msg);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL, "no warning for device-id set while running");
  gst_message_unref (msg);

  /* The old model still runs on the next frame. */
  out = gst_harness_push_and_pull (h, test_scene_buffer (160, 120, "RGB",
          &info));
  fail_unless (gst_maskrcnn_buffer_get_n_instances (out) > 0);
  gst_buffer_unref (out);

  /* Stopped (READY), the new value is taken and reads back. */
  fail_unless (gst_element_set_state (h->element, GST_STATE_READY) ==
      GST_STATE_CHANGE_SUCCESS);
  g_object_set (e, "model", "/nonexistent/other.safetensors", NULL);
  g_object_get (e, "model", &got, NULL);
  fail_unless_equals_string (got, "/nonexistent/other.safetensors");
  g_free (got);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING) == NULL);

  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* backend=cuda either works (a CUDA build on a GPU) or fails the state
 * change with an error that says so. */
GST_START_TEST (test_cuda_backend)
{
  GstElement *e = gst_element_factory_make ("maskrcnn", NULL);
  GstBus *bus = test_attach_bus (e);

  g_object_set (e, "model", model_path, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "backend", "cuda");
  if (gst_element_set_state (e, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE) {
    GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    GError *err = NULL;

    fail_unless (msg != NULL);
    gst_message_parse_error (msg, &err, NULL);
    fail_unless (g_error_matches (err, GST_LIBRARY_ERROR,
            GST_LIBRARY_ERROR_INIT), "%s", err->message);
    fail_unless (strstr (err->message, "cuda") != NULL, "%s", err->message);
    fail_unless (strstr (err->message, model_path) != NULL, "%s",
        err->message);
#ifdef GST_MASK_RCNN_HAVE_CUDA
    {
      /* Without any NVIDIA driver the error says so, not that a driver
       * version is insufficient. */
      GModule *libcuda = g_module_open ("libcuda.so.1", G_MODULE_BIND_LAZY);
      if (libcuda == NULL)
        fail_unless (strstr (err->message, "no NVIDIA driver is installed")
            != NULL, "%s", err->message);
      else
        g_module_close (libcuda);
    }
#else
    fail_unless (strstr (err->message, "no CUDA backend") != NULL, "%s",
        err->message);
#endif
    GST_INFO ("cuda unavailable: %s", err->message);
    g_error_free (err);
    gst_message_unref (msg);
  }
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
}

GST_END_TEST;

static Suite *
maskrcnn_suite (void)
{
  Suite *s = suite_create ("maskrcnn");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_formats_match_engine);
  tcase_add_test (tc, test_many_instances);
  tcase_add_test (tc, test_threshold_change);
  tcase_add_test (tc, test_threads);
  tcase_add_test (tc, test_no_instances);
  tcase_add_test (tc, test_interval);
  tcase_add_test (tc, test_messages);
  tcase_add_test (tc, test_sizes);
  tcase_add_test (tc, test_through_videoscale);
  tcase_add_test (tc, test_cuda_backend);
  tcase_add_test (tc, test_start_properties_while_running);
  return s;
}

int
main (int argc, char **argv)
{
  Suite *s;

  gst_check_init (&argc, &argv);
  model_path = test_model_path ();
  if (!model_path) {
    g_print ("SKIP: no model (set MRCNN_TEST_MODEL, or install "
        "python3-torchvision so the build can generate one)\n");
    return 77;
  }
  s = maskrcnn_suite ();
  return gst_check_run_suite (s, "maskrcnn", __FILE__);
}
