/* maskrcnn with a missing or broken model: the state change to PAUSED fails
 * with an error that names the file and the problem. */
#include <string.h>

#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>

#include "gst-test-util.h"
#include "mrcnn/mrcnn.h"

static gchar *tmpdir;

static gchar *
write_file (const gchar * name, const void *data, gsize size)
{
  gchar *path = g_build_filename (tmpdir, name, NULL);

  fail_unless (g_file_set_contents (path, data, (gssize) size, NULL));
  return path;
}

/* Starts maskrcnn with model=path and returns the error it posts. */
static GError *
start_error (const gchar * path, gchar ** debug)
{
  GstElement *e = gst_element_factory_make ("maskrcnn", NULL);
  GstMessage *msg;
  GError *err = NULL;

  fail_unless (e != NULL, "maskrcnn not found: is GST_PLUGIN_PATH set?");
  g_object_set (e, "model", path, "backend", 1 /* cpu */ , NULL);
  msg = test_expect_start_error (e);
  gst_message_parse_error (msg, &err, debug);
  GST_INFO ("error for %s: %s", path, err->message);
  gst_message_unref (msg);
  gst_object_unref (e);
  return err;
}

static void
assert_contains (const gchar * haystack, const gchar * needle)
{
  fail_unless (haystack && strstr (haystack, needle),
      "\"%s\" does not contain \"%s\"", haystack, needle);
}

GST_START_TEST (test_missing_file)
{
  gchar *path = g_build_filename (tmpdir, "no-such-model.safetensors", NULL);
  GError *err = start_error (path, NULL);

  fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
          GST_RESOURCE_ERROR_NOT_FOUND), "%s", err->message);
  assert_contains (err->message, path);
  assert_contains (err->message, "does not exist");
  g_error_free (err);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_garbage_file)
{
  static const gchar junk[] = "this is not a model, just some text\n";
  gchar *path = write_file ("junk.safetensors", junk, sizeof (junk) - 1);
  GError *err = start_error (path, NULL);

  fail_unless (err->domain == GST_RESOURCE_ERROR ||
      err->domain == GST_LIBRARY_ERROR, "%s", err->message);
  assert_contains (err->message, "Could not load model");
  assert_contains (err->message, path);
  /* The engine's reason follows the file name. */
  fail_unless (strlen (err->message) > strlen (path) + 30, "%s",
      err->message);
  g_error_free (err);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_empty_file)
{
  gchar *path = write_file ("empty.safetensors", "", 0);
  GError *err = start_error (path, NULL);

  fail_unless (err->domain == GST_RESOURCE_ERROR, "%s", err->message);
  assert_contains (err->message, path);
  g_error_free (err);
  g_free (path);
}

GST_END_TEST;

/* A well-formed header length followed by JSON that is not a model. */
GST_START_TEST (test_bad_header)
{
  const gchar json[] = "{\"__metadata__\": {\"format\": \"other\"}}";
  guint8 data[8 + sizeof (json)];
  guint64 n = sizeof (json) - 1;
  gchar *path;
  GError *err;
  gint i;

  for (i = 0; i < 8; i++)
    data[i] = (guint8) (n >> (8 * i));
  memcpy (data + 8, json, n);
  path = write_file ("bad-header.safetensors", data, 8 + n);
  err = start_error (path, NULL);
  fail_unless (err->domain == GST_RESOURCE_ERROR, "%s", err->message);
  assert_contains (err->message, path);
  g_error_free (err);
  g_free (path);
}

GST_END_TEST;

GST_START_TEST (test_directory)
{
  GError *err = start_error (tmpdir, NULL);

  assert_contains (err->message, tmpdir);
  g_error_free (err);
}

GST_END_TEST;

/* The first part of a real model: the header promises tensors that are not
 * there. */
GST_START_TEST (test_truncated_model)
{
  const gchar *model = test_model_path ();
  gchar *contents, *path;
  gsize size;
  GError *err;

  if (!model) {
    GST_WARNING ("no test model: truncated-model case skipped");
    return;
  }
  fail_unless (g_file_get_contents (model, &contents, &size, NULL));
  path = write_file ("truncated.safetensors", contents, size / 2);
  err = start_error (path, NULL);
  fail_unless (err->domain == GST_RESOURCE_ERROR, "%s", err->message);
  assert_contains (err->message, path);
  g_error_free (err);
  g_free (path);
  g_free (contents);
}

GST_END_TEST;

/* No model given: the shipped one is looked up; where it is not installed
 * the error says where it looked. */
GST_START_TEST (test_no_model_given)
{
  GstElement *e = gst_element_factory_make ("maskrcnn", NULL);
  GstBus *bus;
  GstMessage *msg;
  GError *err = NULL;

  g_setenv ("MRCNN_MODEL_DIR", tmpdir, TRUE);
  g_object_set (e, "model", "", NULL);
  bus = test_attach_bus (e);
  if (gst_element_set_state (e,
          GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE) {
    GST_INFO ("a shipped model was found; nothing to check");
  } else {
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    fail_unless (msg != NULL);
    gst_message_parse_error (msg, &err, NULL);
    fail_unless (g_error_matches (err, GST_RESOURCE_ERROR,
            GST_RESOURCE_ERROR_NOT_FOUND), "%s", err->message);
    assert_contains (err->message, "shapes.safetensors");
    assert_contains (err->message, tmpdir);
    g_error_free (err);
    gst_message_unref (msg);
  }
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
  g_unsetenv ("MRCNN_MODEL_DIR");
}

GST_END_TEST;

/* The precision property offers the precisions a backend of this build
 * computes in, no more (tf32 and fp16 are not among them yet), and bf16,
 * which the CPU backend computes in where the CPU has AVX512_BF16 or AMX, is
 * refused at start on a CPU without (every CPU here: the suite holds oneDNN
 * to AVX2), naming what is missing. */
GST_START_TEST (test_precision_refused)
{
  static const mrcnn_precision all[] = { MRCNN_PRECISION_FP32,
    MRCNN_PRECISION_TF32, MRCNN_PRECISION_FP16, MRCNN_PRECISION_BF16,
    MRCNN_PRECISION_INT8 };
  const gchar *model = test_model_path ();
  GstElement *e = gst_element_factory_make ("maskrcnn", NULL);
  GstMessage *msg;
  GError *err = NULL;
  gint precision = -1;

  fail_unless (e != NULL, "maskrcnn not found: is GST_PLUGIN_PATH set?");
  GParamSpec *ps = g_object_class_find_property (G_OBJECT_GET_CLASS (e),
      "precision");
  fail_unless (ps != NULL && G_IS_PARAM_SPEC_ENUM (ps));
  GEnumClass *klass = G_PARAM_SPEC_ENUM (ps)->enum_class;
  for (guint i = 0; i < G_N_ELEMENTS (all); i++) {
    const gchar *nick = mrcnn_precision_name (all[i]);
    GEnumValue *v = g_enum_get_value_by_nick (klass, nick);
    fail_unless ((v != NULL) == (mrcnn_precision_available (all[i]) != 0),
        "precision %s: offered %d, available in this build %d", nick,
        v != NULL, mrcnn_precision_available (all[i]));
    fail_unless (!v || v->value == (gint) all[i], "%s is %d", nick, v->value);
  }
  fail_unless (g_enum_get_value_by_nick (klass, "fp32") != NULL);
  fail_if (g_enum_get_value_by_nick (klass, "tf32") != NULL);

  gst_util_set_object_arg (G_OBJECT (e), "precision", "tf32");
  g_object_get (e, "precision", &precision, NULL);
  fail_unless_equals_int (precision, MRCNN_PRECISION_FP32);
  gst_util_set_object_arg (G_OBJECT (e), "precision", "bf16");
  g_object_get (e, "precision", &precision, NULL);
  fail_unless_equals_int (precision, MRCNN_PRECISION_BF16);
  if (!model) {
    GST_INFO ("no test model: the property is checked alone");
  } else {
    g_object_set (e, "model", model, "backend", 1 /* cpu */ , NULL);
    msg = test_expect_start_error (e);
    gst_message_parse_error (msg, &err, NULL);
    fail_unless (g_error_matches (err, GST_LIBRARY_ERROR,
            GST_LIBRARY_ERROR_INIT), "%s", err->message);
    assert_contains (err->message, "precision bf16 does not run on this "
        "machine");
    assert_contains (err->message, "AVX512_BF16 or AMX");
    assert_contains (err->message, "avx2");
    g_error_free (err);
    gst_message_unref (msg);
  }
  gst_object_unref (e);

  /* int8 is offered (every build's CPU backend computes in it) and refused
   * at start for a model without calibration (the test model has none),
   * naming the exporter's option */
  e = gst_element_factory_make ("maskrcnn", NULL);
  gst_util_set_object_arg (G_OBJECT (e), "precision", "int8");
  g_object_get (e, "precision", &precision, NULL);
  fail_unless_equals_int (precision, MRCNN_PRECISION_INT8);
  if (model) {
    g_object_set (e, "model", model, "backend", 1 /* cpu */ , NULL);
    msg = test_expect_start_error (e);
    gst_message_parse_error (msg, &err, NULL);
    fail_unless (g_error_matches (err, GST_LIBRARY_ERROR,
            GST_LIBRARY_ERROR_INIT), "%s", err->message);
    assert_contains (err->message, "has no int8 calibration");
    assert_contains (err->message, "mrcnn-export-torchvision --calibrate");
    g_error_free (err);
    gst_message_unref (msg);
  }
  gst_object_unref (e);
}

GST_END_TEST;

static void
setup (void)
{
  tmpdir = g_dir_make_tmp ("gst-maskrcnn-XXXXXX", NULL);
  fail_unless (tmpdir != NULL);
}

static void
teardown (void)
{
  GDir *dir = g_dir_open (tmpdir, 0, NULL);
  const gchar *name;

  while (dir && (name = g_dir_read_name (dir))) {
    gchar *p = g_build_filename (tmpdir, name, NULL);
    g_unlink (p);
    g_free (p);
  }
  if (dir)
    g_dir_close (dir);
  g_rmdir (tmpdir);
  g_clear_pointer (&tmpdir, g_free);
}

static Suite *
maskrcnn_errors_suite (void)
{
  Suite *s = suite_create ("maskrcnn-errors");
  TCase *tc = tcase_create ("general");

  /* test_precision_refused: oneDNN reads this when the process makes its
   * first engine; at AVX2 no CPU has bf16 kernels */
  g_setenv ("DNNL_MAX_CPU_ISA", "AVX2", TRUE);

  suite_add_tcase (s, tc);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_missing_file);
  tcase_add_test (tc, test_garbage_file);
  tcase_add_test (tc, test_empty_file);
  tcase_add_test (tc, test_bad_header);
  tcase_add_test (tc, test_directory);
  tcase_add_test (tc, test_truncated_model);
  tcase_add_test (tc, test_no_model_given);
  tcase_add_test (tc, test_precision_refused);
  return s;
}

GST_CHECK_MAIN (maskrcnn_errors);
