/* The elements' CUDA-memory side as far as a machine without a GPU can see
 * it: the pad templates offer video/x-raw(memory:CUDAMemory) exactly when the
 * plugin is built with CUDA, and where no CUDA device answers, frames in CUDA
 * memory are refused with an error that says why (no crash), while system
 * memory runs on the CPU as before. The CUDA path itself is checked by
 * tests/gpu/run.sh on a GPU machine. */
#include <string.h>

#include <gmodule.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include <gst/maskrcnn-meta.h>

#include "gst-test-util.h"
#include "overlay.h"

#define CUDA_FEATURE "memory:CUDAMemory"

static gboolean
caps_have_cuda (GstCaps * caps)
{
  guint i;

  for (i = 0; i < gst_caps_get_size (caps); i++) {
    GstCapsFeatures *f = gst_caps_get_features (caps, i);
    if (f && gst_caps_features_contains (f, CUDA_FEATURE))
      return TRUE;
  }
  return FALSE;
}

/* Whether a CUDA driver and device could be there: then the "no GPU" tests
 * do not apply. */
G_GNUC_UNUSED static gboolean
machine_has_cuda_driver (void)
{
  GModule *m = g_module_open ("libcuda.so.1", G_MODULE_BIND_LAZY);

  if (!m)
    return FALSE;
  g_module_close (m);
  return TRUE;
}

static void
check_templates (const gchar * factory_name)
{
  GstElement *e = gst_element_factory_make (factory_name, NULL);
  const gchar *pads[] = { "sink", "src" };
  guint i;

  fail_unless (e != NULL, "%s not found: is GST_PLUGIN_PATH set?",
      factory_name);
  for (i = 0; i < G_N_ELEMENTS (pads); i++) {
    GstPad *pad = gst_element_get_static_pad (e, pads[i]);
    GstCaps *caps = gst_pad_query_caps (pad, NULL);
    GstCaps *sys = gst_caps_from_string ("video/x-raw, format=RGB");

#ifdef GST_MASK_RCNN_HAVE_CUDA
    fail_unless (caps_have_cuda (caps), "%s.%s offers no CUDA caps: %"
        GST_PTR_FORMAT, factory_name, pads[i], caps);
#else
    fail_if (caps_have_cuda (caps), "%s.%s offers CUDA caps in a build "
        "without CUDA: %" GST_PTR_FORMAT, factory_name, pads[i], caps);
#endif
    /* System memory always, in every format. */
    fail_unless (gst_caps_can_intersect (caps, sys));
    gst_caps_unref (sys);
    gst_caps_unref (caps);
    gst_object_unref (pad);
  }
  gst_object_unref (e);
}

GST_START_TEST (test_maskrcnn_templates)
{
  check_templates ("maskrcnn");
  check_templates ("maskrcnnoverlay");
}

GST_END_TEST;

/* The overlay math the CUDA kernel runs (kernels/overlay.h) against plain
 * references: the contour distance against a brute-force chessboard
 * distance to the nearest outside pixel (beyond the box is outside), the
 * box outline test against the four rectangles the CPU path fills. */
GST_START_TEST (test_overlay_math)
{
  GRand *rand = g_rand_new ();
  guint iter;

  GST_INFO ("seed-free random masks (%u)", g_rand_int (rand));
  for (iter = 0; iter < 40; iter++) {
    gint w = g_rand_int_range (rand, 1, 24), h = g_rand_int_range (rand, 1, 24);
    guint8 *mask = g_malloc ((gsize) w * h);
    gint x, y, t = g_rand_int_range (rand, 0, 5), tb;
    gint density = g_rand_int_range (rand, 50, 100);

    for (y = 0; y < h; y++)
      for (x = 0; x < w; x++)
        mask[y * w + x] = g_rand_int_range (rand, 0, 100) < density ? 255 : 0;
    for (y = 0; y < h; y++) {
      for (x = 0; x < w; x++) {
        guint ref = G_MAXUINT, got, cap = (guint) t + 1;
        gint qx, qy;

        if (mask[y * w + x] >= 128) {
          for (qy = -1; qy <= h; qy++)
            for (qx = -1; qx <= w; qx++) {
              gboolean outside = qx < 0 || qy < 0 || qx >= w || qy >= h ||
                  mask[qy * w + qx] < 128;
              guint d = MAX (ABS (qx - x), ABS (qy - y));
              if (outside && d < ref)
                ref = d;
            }
        } else {
          ref = 0;
        }
        got = mrcnn_overlay_outside_distance (mask, w, h, w, x, y, cap);
        fail_unless_equals_int (got, MIN (ref, cap));
      }
    }
    tb = mrcnn_overlay_box_thickness (w, h, t);
    for (y = 0; y < h; y++) {
      for (x = 0; x < w; x++) {
        gboolean rects = y < tb || y >= h - tb ||
            ((y >= tb && y < h - tb) && (x < tb || x >= w - tb));
        fail_unless_equals_int (mrcnn_overlay_on_box_outline (x, y, w, h, tb),
            rects);
      }
    }
    g_free (mask);
  }
  /* Blending rounds to nearest and keeps the ends. */
  fail_unless_equals_int (mrcnn_overlay_mix (200, 100, 255), 200);
  fail_unless_equals_int (mrcnn_overlay_mix (200, 100, 0), 100);
  fail_unless_equals_int (mrcnn_overlay_mix (255, 0, 128), 128);
  g_rand_free (rand);
}

GST_END_TEST;

/* The allocation query `e` (negotiated on 64x48 RGBA through a harness
 * that pushed one frame) answers: GstBaseTransform's proposal plus
 * GstVideoMeta, from the base class. */
static void
check_allocation_proposal (GstElement * e)
{
  const gchar *caps_str = "video/x-raw, format=RGBA, width=64, height=48, "
      "framerate=30/1";
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");
  GstCaps *caps = gst_caps_from_string (caps_str);
  GstQuery *q = gst_query_new_allocation (caps, TRUE);
  GstBuffer *out;

  gst_harness_set_src_caps_str (h, caps_str);
  out = gst_harness_push_and_pull (h, gst_buffer_new_allocate (NULL,
          64 * 48 * 4, NULL));
  fail_unless (out != NULL, "%s passed no frame", GST_ELEMENT_NAME (e));
  gst_buffer_unref (out);
  fail_unless (gst_pad_peer_query (h->srcpad, q),
      "%s did not answer the allocation query", GST_ELEMENT_NAME (e));
  fail_unless (gst_query_find_allocation_meta (q, GST_VIDEO_META_API_TYPE,
          NULL), "%s proposes no GstVideoMeta", GST_ELEMENT_NAME (e));
  gst_query_unref (q);
  gst_caps_unref (caps);
  gst_harness_teardown (h);
}

/* Both elements derive from the abstract GstMaskRcnnBaseTransform in every
 * build, with or without CUDA, and it chains up: a context of another type
 * reaches GstElement's store, the state changes run through it, a context
 * query is left to the neighbours where it holds no CUDA context (no
 * driver here), and allocation queries get GstVideoMeta. */
GST_START_TEST (test_base_class)
{
  const gchar *names[] = { "maskrcnn", "maskrcnnoverlay" };
  const gchar *model = test_model_path ();
  guint i;

  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    GstElement *e =
        gst_object_ref_sink (gst_element_factory_make (names[i], NULL));
    GType base = g_type_from_name ("GstMaskRcnnBaseTransform");
    GstContext *ctx = gst_context_new ("gst-maskrcnn.test", FALSE), *got;
    GstPad *pad;
    GstQuery *q;

    fail_unless (e != NULL, "%s not found", names[i]);
    fail_unless (base != 0, "no GstMaskRcnnBaseTransform type");
    fail_unless (G_TYPE_IS_ABSTRACT (base));
    fail_unless (g_type_parent (base) == GST_TYPE_BASE_TRANSFORM);
    fail_unless (g_type_parent (G_OBJECT_TYPE (e)) == base,
        "%s derives from %s", names[i],
        g_type_name (g_type_parent (G_OBJECT_TYPE (e))));

    gst_element_set_context (e, ctx);
    got = gst_element_get_context (e, "gst-maskrcnn.test");
    fail_unless (got == ctx, "%s did not chain set_context up", names[i]);
    gst_context_unref (got);
    gst_context_unref (ctx);

    fail_unless_equals_int (gst_element_set_state (e, GST_STATE_READY),
        GST_STATE_CHANGE_SUCCESS);
    if (!machine_has_cuda_driver ()) {
      pad = gst_element_get_static_pad (e, "sink");
      q = gst_query_new_context ("gst.cuda.context");
      fail_if (gst_pad_query (pad, q), "%s answered a CUDA context query "
          "without a driver", names[i]);
      gst_query_unref (q);
      gst_object_unref (pad);
    }
    fail_unless_equals_int (gst_element_set_state (e, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);

    if (i == 0 && model)
      g_object_set (e, "model", model, NULL);
    if (i == 1 || model)
      check_allocation_proposal (e);
    gst_object_unref (e);
  }
}

GST_END_TEST;

#ifdef GST_MASK_RCNN_HAVE_CUDA
/* The sink pad's caps for a neighbour that offers `offer` (system memory
 * first, as Debian 12's cudaupload does). */
static GstCaps *
sink_caps_for (GstElement * e, const gchar * offer)
{
  GstPad *pad = gst_element_get_static_pad (e, "sink");
  GstCaps *filter = gst_caps_from_string (offer);
  GstCaps *caps = gst_pad_query_caps (pad, filter);

  gst_caps_unref (filter);
  gst_object_unref (pad);
  return caps;
}

static gboolean
first_is_cuda (GstCaps * caps)
{
  GstCapsFeatures *f;

  if (gst_caps_is_empty (caps) || gst_caps_is_any (caps))
    return FALSE;
  f = gst_caps_get_features (caps, 0);
  return f && gst_caps_features_contains (f, CUDA_FEATURE);
}

/* Offered both, the elements answer with device memory first, so that the
 * offering neighbour (which fixates on the first structure) keeps the
 * frames on the device; maskrcnn backend=cpu answers with system memory
 * alone. */
GST_START_TEST (test_caps_prefer_cuda_memory)
{
  const gchar *offer = "video/x-raw, format=RGBA, width=64, height=48, "
      "framerate=30/1; video/x-raw(" CUDA_FEATURE "), format=RGBA, "
      "width=64, height=48, framerate=30/1";
  const gchar *names[] = { "maskrcnn", "maskrcnnoverlay" };
  GstElement *e;
  GstCaps *caps;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    e = gst_object_ref_sink (gst_element_factory_make (names[i], NULL));
    caps = sink_caps_for (e, offer);
    fail_unless_equals_int (gst_caps_get_size (caps), 2);
    fail_unless (first_is_cuda (caps), "%s answers %" GST_PTR_FORMAT,
        names[i], caps);
    gst_caps_unref (caps);
    /* nothing offered: the template's order, device memory first */
    caps = sink_caps_for (e, "ANY");
    fail_unless (first_is_cuda (caps), "%s answers %" GST_PTR_FORMAT,
        names[i], caps);
    gst_caps_unref (caps);
    gst_object_unref (e);
  }

  e = gst_object_ref_sink (gst_element_factory_make ("maskrcnn", NULL));
  gst_util_set_object_arg (G_OBJECT (e), "backend", "cpu");
  caps = sink_caps_for (e, offer);
  fail_unless_equals_int (gst_caps_get_size (caps), 1);
  fail_if (caps_have_cuda (caps), "backend=cpu answers %" GST_PTR_FORMAT,
      caps);
  gst_caps_unref (caps);
  gst_object_unref (e);
}

GST_END_TEST;

/* Pushes one 64x48 `format` frame of `size` bytes with CUDA-memory caps
 * into `e` (a reference the call takes), which must refuse it with a
 * LIBRARY INIT error that speaks of CUDA memory and holds `reason`. */
static void
check_cuda_caps_refused (GstElement * e, const gchar * format, gsize size,
    const gchar * reason)
{
  GstBus *bus = test_attach_bus (e);
  GstHarness *h = gst_harness_new_with_element (e, "sink", "src");
  gchar *caps = g_strdup_printf ("video/x-raw(" CUDA_FEATURE "), "
      "format=%s, width=64, height=48, framerate=30/1", format);
  GstMessage *msg;
  GError *err = NULL;

  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
  fail_if (gst_harness_push (h, gst_buffer_new_allocate (NULL, size,
              NULL)) == GST_FLOW_OK,
      "a CUDA-caps frame was accepted without GPU");

  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error posted");
  gst_message_parse_error (msg, &err, NULL);
  GST_INFO ("error: %s", err->message);
  fail_unless (g_error_matches (err, GST_LIBRARY_ERROR,
          GST_LIBRARY_ERROR_INIT), "%s", err->message);
  fail_unless (strstr (err->message, "CUDA memory") &&
      strstr (err->message, reason), "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);

  gst_harness_teardown (h);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
}

/* backend=auto, no GPU: the element starts on the CPU; CUDA caps are then
 * refused with an error naming the reason, and the buffer is not read. */
GST_START_TEST (test_cuda_caps_without_gpu)
{
  const gchar *model = test_model_path ();
  GstElement *e;

  if (machine_has_cuda_driver ()) {
    GST_INFO ("a CUDA driver is installed: test does not apply");
    return;
  }
  if (!model) {
    GST_INFO ("no test model: skipped");
    return;
  }
  e = gst_object_ref_sink (gst_element_factory_make ("maskrcnn", NULL));
  g_object_set (e, "model", model, NULL);
  check_cuda_caps_refused (e, "RGBA", 64 * 48 * 4, "engine runs on the CPU");
}

GST_END_TEST;

/* maskrcnnoverlay, no GPU: CUDA caps are refused with a clear error. */
GST_START_TEST (test_overlay_cuda_caps_without_gpu)
{
  GstElement *e;

  if (machine_has_cuda_driver ())
    return;
  e = gst_object_ref_sink (gst_element_factory_make ("maskrcnnoverlay",
          NULL));
  check_cuda_caps_refused (e, "NV12", 64 * 48 * 3 / 2, "driver");
}

GST_END_TEST;

/* backend=cuda, no GPU: the state change fails with the engine's reason. */
GST_START_TEST (test_cuda_backend_without_gpu)
{
  const gchar *model = test_model_path ();
  GstElement *e;
  GstMessage *msg;
  GError *err = NULL;

  if (machine_has_cuda_driver () || !model)
    return;
  e = gst_element_factory_make ("maskrcnn", NULL);
  g_object_set (e, "model", model, "backend", 2 /* cuda */ , NULL);
  msg = test_expect_start_error (e);
  gst_message_parse_error (msg, &err, NULL);
  GST_INFO ("error: %s", err->message);
  fail_unless (strstr (err->message, "cuda backend") != NULL, "%s",
      err->message);
  fail_unless (strstr (err->message, "CUDA") != NULL, "%s", err->message);
  g_error_free (err);
  gst_message_unref (msg);
  gst_object_unref (e);
}

GST_END_TEST;
#endif

/* backend=auto, system memory, no GPU: runs on the CPU and attaches
 * metadata as before (the CUDA build changes nothing there). */
GST_START_TEST (test_system_memory_on_cpu)
{
  const gchar *model = test_model_path ();
  GstElement *e;
  GstHarness *h;
  GstBuffer *in, *out;
  GstVideoInfo info;
  gchar *caps;
  gint backend = -1;

  if (!model)
    return;
  e = gst_object_ref_sink (gst_element_factory_make ("maskrcnn", NULL));
  g_object_set (e, "model", model, NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  caps = test_caps_string ("RGBA", 96, 64);
  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
  in = test_scene_buffer (96, 64, "RGBA", &info);
  out = gst_harness_push_and_pull (h, in);
  fail_unless (out != NULL);
  g_object_get (e, "backend", &backend, NULL);
  fail_unless_equals_int (backend, 0);  /* the property stays auto */
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  gst_object_unref (e);
}

GST_END_TEST;

static Suite *
maskrcnn_cuda_suite (void)
{
  Suite *s = suite_create ("maskrcnn-cuda");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_maskrcnn_templates);
  tcase_add_test (tc, test_overlay_math);
  tcase_add_test (tc, test_base_class);
#ifdef GST_MASK_RCNN_HAVE_CUDA
  tcase_add_test (tc, test_caps_prefer_cuda_memory);
  tcase_add_test (tc, test_cuda_caps_without_gpu);
  tcase_add_test (tc, test_cuda_backend_without_gpu);
  tcase_add_test (tc, test_overlay_cuda_caps_without_gpu);
#endif
  tcase_add_test (tc, test_system_memory_on_cpu);
  return s;
}

GST_CHECK_MAIN (maskrcnn_cuda);
