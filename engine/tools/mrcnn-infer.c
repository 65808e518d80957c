/* mrcnn-infer: runs the Mask R-CNN engine on still images.
 *
 * Prints the detections of each image, and optionally writes them (with
 * COCO RLE masks) as one JSON document and draws them into PNG overlays. */
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "mrcnn/mrcnn.h"
#include "mrcnn/detection_json.h"
#include "mrcnn/coco_rle.h"
#include "image_io.h"
#include "overlay_draw.h"
#include "precisions.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

#define OVERLAY_ALPHA 0.45f
#define OVERLAY_BOX_THICKNESS 2

typedef struct {
  char *model;
  char *backend;
  double score_threshold;  /* NAN: the model's default */
  double mask_threshold;   /* NAN: the model's default */
  int threads;
  char *precision;
  mrcnn_precision precision_value;  /* parsed from precision (default fp32) */
  gboolean emulate;
  char *json;
  char *overlay;
  char **images;
} options;

typedef struct {
  mrcnn_engine *engine;
  const options *opts;
  float mask_threshold;
  int n_images;
} run_context;

static void
report (const char *subject, const mrcnn_error *err)
{
  const char *msg = err->message[0] != '\0' ? err->message
      : mrcnn_status_name (err->status);

  /* Engine and image messages usually name the file already. */
  if (subject != NULL && strstr (msg, subject) == NULL)
    g_printerr ("mrcnn-infer: %s: %s\n", subject, msg);
  else
    g_printerr ("mrcnn-infer: %s\n", msg);
}

static int
usage_error (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

static int
usage_error (const char *fmt, ...)
{
  va_list ap;
  char *msg;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_printerr ("mrcnn-infer: %s\nRun 'mrcnn-infer --help' for usage.\n", msg);
  g_free (msg);
  return EXIT_USAGE;
}

static const char *
backend_name (mrcnn_backend_kind kind)
{
  switch (kind) {
    case MRCNN_BACKEND_CPU: return "cpu";
    case MRCNN_BACKEND_CUDA: return "cuda";
    default: return "auto";
  }
}

static const char *
detection_label (const mrcnn_detection *det, char *buf, size_t size)
{
  if (det->label != NULL && det->label[0] != '\0')
    return det->label;
  snprintf (buf, size, "class_%d", det->class_id);
  return buf;
}

/* OUT with "-INDEX" before its extension: out.png -> out-3.png. */
static char *
overlay_name (const char *out, int index, int n_images)
{
  const char *slash = strrchr (out, '/');
  const char *dot = strrchr (out, '.');

  if (n_images <= 1)
    return g_strdup (out);
  if (dot == NULL || (slash != NULL && dot < slash) || dot == out
      || (slash != NULL && dot == slash + 1))
    return g_strdup_printf ("%s-%d", out, index);
  return g_strdup_printf ("%.*s-%d%s", (int) (dot - out), out, index, dot);
}

static void
add_detection_json (JsonBuilder *b, const mrcnn_detection *det,
    const char *label, const char *counts, int w, int h)
{
  mrcnn_detection_json_begin (b, label, det->class_id, det->score, det->x1,
      det->y1, det->x2, det->y2);
  mrcnn_detection_json_mask (b, counts, w, h);
  json_builder_end_object (b);
}

/* Runs one image. Returns its JSON node (NULL when no JSON is wanted) in
 * *node, and FALSE after reporting an error. */
static gboolean
process_image (run_context *ctx, int index, JsonNode **node)
{
  const char *path = ctx->opts->images[index];
  gboolean want_json = ctx->opts->json != NULL;
  gboolean want_overlay = ctx->opts->overlay != NULL;
  mrcnn_loaded_image img;
  mrcnn_result *result = NULL;
  mrcnn_image view;
  mrcnn_error err;
  JsonBuilder *b = NULL;
  uint8_t *mask = NULL;
  gboolean ok = FALSE;
  gint64 t0, t1;
  int n, w, h;

  *node = NULL;
  if (mrcnn_image_load (path, &img, &err) != MRCNN_OK) {
    report (path, &err);
    return FALSE;
  }
  w = img.width;
  h = img.height;
  mrcnn_loaded_image_view (&img, &view);

  t0 = g_get_monotonic_time ();
  if (mrcnn_engine_run (ctx->engine, &view, &result, &err) != MRCNN_OK) {
    report (path, &err);
    goto out;
  }
  t1 = g_get_monotonic_time ();
  n = mrcnn_result_count (result);

  g_print ("%s: %dx%d, %d detection%s (%.1f ms)\n", path, w, h, n,
      n == 1 ? "" : "s", (t1 - t0) / 1000.0);
  for (int i = 0; i < n; i++) {
    const mrcnn_detection *det = mrcnn_result_get (result, i);
    char buf[32];
    g_print ("  %3d  %-20s %.3f  [%.1f, %.1f, %.1f, %.1f]\n", i,
        detection_label (det, buf, sizeof buf), det->score, det->x1,
        det->y1, det->x2, det->y2);
  }

  if (want_json) {
    b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "image");
    json_builder_add_string_value (b, path);
    json_builder_set_member_name (b, "width");
    json_builder_add_int_value (b, w);
    json_builder_set_member_name (b, "height");
    json_builder_add_int_value (b, h);
    json_builder_set_member_name (b, "detections");
    json_builder_begin_array (b);
  }
  if ((want_json || want_overlay) && n > 0) {
    mask = g_try_malloc ((gsize) w * h);
    if (mask == NULL) {
      g_printerr ("mrcnn-infer: %s: out of memory for a %dx%d mask\n",
          path, w, h);
      goto out;
    }
  }
  for (int i = 0; i < n && (want_json || want_overlay); i++) {
    const mrcnn_detection *det = mrcnn_result_get (result, i);
    if (mrcnn_result_paste_mask (result, i, ctx->mask_threshold, 0, 0, w, h,
            mask, w, &err) != MRCNN_OK) {
      report (path, &err);
      goto out;
    }
    if (want_json) {
      char buf[32];
      char *counts = mrcnn_coco_rle_encode_string (mask, w, h, w);
      if (counts == NULL) {
        g_printerr ("mrcnn-infer: %s: out of memory encoding mask %d\n",
            path, i);
        goto out;
      }
      add_detection_json (b, det, detection_label (det, buf, sizeof buf),
          counts, w, h);
      free (counts);
    }
    if (want_overlay) {
      uint8_t color[3];
      mrcnn_overlay_class_color (det->class_id, color);
      mrcnn_overlay_draw_mask (img.rgb, w, h, img.stride, mask, w, color,
          OVERLAY_ALPHA);
    }
  }

  if (want_overlay) {
    char *out_path = overlay_name (ctx->opts->overlay, index,
        ctx->n_images);
    /* Boxes last, so that no mask covers another instance's outline. */
    for (int i = 0; i < n; i++) {
      const mrcnn_detection *det = mrcnn_result_get (result, i);
      uint8_t color[3];
      mrcnn_overlay_class_color (det->class_id, color);
      mrcnn_overlay_draw_box (img.rgb, w, h, img.stride, det->x1, det->y1,
          det->x2, det->y2, color, OVERLAY_BOX_THICKNESS);
    }
    if (mrcnn_image_save_png (out_path, img.rgb, w, h, img.stride, &err)
        != MRCNN_OK) {
      report (out_path, &err);
      g_free (out_path);
      goto out;
    }
    g_free (out_path);
  }

  if (want_json) {
    json_builder_end_array (b);
    json_builder_end_object (b);
    *node = json_builder_get_root (b);
  }
  ok = TRUE;

out:
  if (b != NULL)
    g_object_unref (b);
  g_free (mask);
  if (result != NULL)
    mrcnn_result_free (result);
  mrcnn_loaded_image_clear (&img);
  return ok;
}

static gboolean
write_json (const char *path, const char *model_path, JsonArray *images)
{
  JsonObject *root = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  GError *error = NULL;
  gboolean ok;

  char *model = g_utf8_make_valid (model_path, -1);
  json_object_set_string_member (root, "model", model);
  g_free (model);
  json_object_set_array_member (root, "images", json_array_ref (images));
  json_node_take_object (node, root);
  char *text = mrcnn_json_to_string (node, TRUE);
  ok = g_file_set_contents (path, text, -1, &error);
  if (!ok) {
    g_printerr ("mrcnn-infer: %s: cannot write the JSON output: %s\n", path,
        error->message);
    g_error_free (error);
  }
  g_free (text);
  json_node_unref (node);
  return ok;
}

static int
parse_options (int *argc, char ***argv, options *opts)
{
  /* the precisions this build computes in */
  char *precisions = mrcnn_tool_precisions ();
  char *precision_help = g_strdup_printf ("Arithmetic: %s (default fp32; "
      "bf16 on a CPU with AVX512_BF16 or AMX; int8 with a calibrated model)",
      precisions);
  const GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &opts->model,
      "Model file (.safetensors); default: the shipped " MRCNN_DEFAULT_MODEL_FILE,
      "FILE" },
    { "backend", 'b', 0, G_OPTION_ARG_STRING, &opts->backend,
      "Compute backend: auto, cpu or cuda (default auto)", "NAME" },
    { "score-threshold", 's', 0, G_OPTION_ARG_DOUBLE, &opts->score_threshold,
      "Keep detections scoring above F, 0..1 (default: the model's)", "F" },
    { "mask-threshold", 0, 0, G_OPTION_ARG_DOUBLE, &opts->mask_threshold,
      "Binarise mask probabilities at F, 0..1 (default: the model's)", "F" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &opts->threads,
      "CPU threads, 0 = all cores (default 0)", "N" },
    { "precision", 'p', 0, G_OPTION_ARG_STRING, &opts->precision,
      precision_help, "NAME" },
    { "emulate", 0, 0, G_OPTION_ARG_NONE, &opts->emulate,
      "Run the float32 CPU reference of --precision bf16, fp16 or int8 "
      "(for measuring its error)", NULL },
    { "json", 'j', 0, G_OPTION_ARG_FILENAME, &opts->json,
      "Write all detections with COCO RLE masks to OUT as JSON", "OUT" },
    { "overlay", 'o', 0, G_OPTION_ARG_FILENAME, &opts->overlay,
      "Draw masks and boxes into a PNG copy of the image (see below)",
      "OUT.png" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opts->images,
      NULL, "IMAGE..." },
    { NULL, 0, 0, 0, NULL, NULL, NULL }
  };
  GOptionContext *octx = g_option_context_new (NULL);
  GError *error = NULL;
  int rc = 0;

  g_option_context_set_summary (octx,
      "Detects and segments objects in PNG and JPEG images with a Mask "
      "R-CNN model and prints each detection (label, score, box).");
  g_option_context_set_description (octx,
      "Without --model, " MRCNN_DEFAULT_MODEL_FILE " is looked for in "
      "$MRCNN_MODEL_DIR, then (uninstalled\nbuilds only) the source tree's "
      "models/, then the installed data directory.\n\n"
      "--json writes {\"model\", \"images\": [{\"image\", \"width\", "
      "\"height\", \"detections\":\n[{\"label\", \"class_id\", \"score\", "
      "\"box\": [x1, y1, x2, y2], \"mask\": {\"size\": [h, w],\n"
      "\"counts\"}}]}]}, counts being the full-frame mask in COCO compressed "
      "RLE\n(pycocotools.mask.decode reads it).\n\n"
      "--overlay always writes PNG. With several images the image's index "
      "(0-based,\nin command-line order) goes before the extension: "
      "--overlay out.png a.jpg b.jpg\nwrites out-0.png and out-1.png.\n\n"
      "An image that cannot be read or processed is reported and skipped; "
      "the others\nare still processed and written.\n\n"
      "Exit status: 0 success, 1 runtime error (model, image, output file), "
      "2 usage error.");
  g_option_context_add_main_entries (octx, entries, NULL);
  if (!g_option_context_parse (octx, argc, argv, &error)) {
    rc = usage_error ("%s", error->message);
    g_error_free (error);
  } else if (opts->images == NULL || opts->images[0] == NULL) {
    rc = usage_error ("no image given");
  } else if (!isnan (opts->score_threshold)
      && !(opts->score_threshold >= 0.0 && opts->score_threshold <= 1.0)) {
    rc = usage_error ("--score-threshold must be between 0 and 1, not %g",
        opts->score_threshold);
  } else if (!isnan (opts->mask_threshold)
      && !(opts->mask_threshold >= 0.0 && opts->mask_threshold <= 1.0)) {
    rc = usage_error ("--mask-threshold must be between 0 and 1, not %g",
        opts->mask_threshold);
  } else if (opts->threads < 0) {
    rc = usage_error ("--threads must be 0 (all cores) or more, not %d",
        opts->threads);
  } else if (opts->precision != NULL
      && !mrcnn_precision_from_name (opts->precision,
          &opts->precision_value)) {
    rc = usage_error ("unknown --precision '%s': use %s", opts->precision,
        precisions);
  } else if (opts->backend != NULL && strcmp (opts->backend, "auto") != 0
      && strcmp (opts->backend, "cpu") != 0
      && strcmp (opts->backend, "cuda") != 0) {
    rc = usage_error ("unknown --backend '%s': use auto, cpu or cuda",
        opts->backend);
  }
  g_option_context_free (octx);
  g_free (precision_help);
  g_free (precisions);
  return rc;
}

static mrcnn_backend_kind
parse_backend (const char *name)
{
  if (name == NULL || strcmp (name, "auto") == 0)
    return MRCNN_BACKEND_AUTO;
  return strcmp (name, "cuda") == 0 ? MRCNN_BACKEND_CUDA : MRCNN_BACKEND_CPU;
}

int
main (int argc, char **argv)
{
  options opts = { .score_threshold = NAN, .mask_threshold = NAN };
  gboolean *usable = NULL;
  mrcnn_model *model = NULL;
  mrcnn_engine *engine = NULL;
  mrcnn_engine_config cfg;
  JsonArray *json_images = NULL;
  char *model_path = NULL;
  mrcnn_error err;
  run_context ctx;
  int rc, n_images, n_usable = 0, max_w = 2, max_h = 2;
  gboolean failed = FALSE;

  /* Messages in the user's language and charset; numbers always with a
   * decimal point, as the JSON has them. */
  setlocale (LC_ALL, "");
  setlocale (LC_NUMERIC, "C");
  rc = parse_options (&argc, &argv, &opts);
  if (rc != 0)
    goto out;
  rc = EXIT_RUNTIME;
  n_images = (int) g_strv_length (opts.images);

  if (opts.model != NULL) {
    model_path = g_strdup (opts.model);
  } else {
    char *searched = NULL;
    char *found = mrcnn_default_model_path (&searched);
    if (found == NULL) {
      g_printerr ("mrcnn-infer: no --model given and the default model "
          "%s was not found. Looked in:\n%sPass --model FILE or set "
          "MRCNN_MODEL_DIR.\n", MRCNN_DEFAULT_MODEL_FILE, searched);
      free (searched);
      goto out;
    }
    model_path = g_strdup (found);
    free (found);
    free (searched);
  }

  /* Headers first: the engine plans its memory once, for the largest
   * image of the batch. */
  usable = g_new0 (gboolean, n_images);
  for (int i = 0; i < n_images; i++) {
    int w, h;
    if (mrcnn_image_probe (opts.images[i], &w, &h, &err) != MRCNN_OK) {
      report (opts.images[i], &err);
      failed = TRUE;
      continue;
    }
    usable[i] = TRUE;
    n_usable++;
    max_w = MAX (max_w, w);
    max_h = MAX (max_h, h);
  }
  if (n_usable == 0)
    goto out;

  if (mrcnn_model_open (model_path, &model, &err) != MRCNN_OK) {
    report (model_path, &err);
    goto out;
  }
  mrcnn_engine_config_init (&cfg, model);
  cfg.backend = parse_backend (opts.backend);
  cfg.num_threads = opts.threads;
  cfg.precision = opts.precision_value;
  cfg.emulate_precision = opts.emulate;
  cfg.max_width = max_w;
  cfg.max_height = max_h;
  if (!isnan (opts.score_threshold))
    cfg.thresholds.score_threshold = (float) opts.score_threshold;
  if (!isnan (opts.mask_threshold))
    cfg.thresholds.mask_threshold = (float) opts.mask_threshold;
  if (mrcnn_engine_new (model, &cfg, &engine, &err) != MRCNN_OK) {
    g_printerr ("mrcnn-infer: cannot set up the %s backend for %s: %s\n",
        backend_name (cfg.backend), model_path, err.message[0] != '\0'
        ? err.message : mrcnn_status_name (err.status));
    goto out;
  }
  g_print ("model %s (%s, %d classes) on %s\n", model_path,
      mrcnn_model_architecture (model), mrcnn_model_num_classes (model),
      backend_name (mrcnn_engine_backend (engine)));
  if (*mrcnn_engine_precision_note (engine))
    g_printerr ("mrcnn-infer: warning: %s\n",
        mrcnn_engine_precision_note (engine));

  ctx.engine = engine;
  ctx.opts = &opts;
  ctx.mask_threshold = cfg.thresholds.mask_threshold;
  ctx.n_images = n_images;
  json_images = json_array_new ();
  for (int i = 0; i < n_images; i++) {
    JsonNode *node = NULL;
    if (!usable[i])
      continue;
    if (!process_image (&ctx, i, &node)) {
      failed = TRUE;
      continue;
    }
    if (node != NULL)
      json_array_add_element (json_images, node);
  }

  if (opts.json != NULL && !write_json (opts.json, model_path, json_images))
    failed = TRUE;
  if (mrcnn_engine_reference_overflows (engine) > 0)
    g_printerr ("mrcnn-infer: warning: the fp16 reference overflowed: %ld "
        "values rounded past 65504 to infinity (weights and activations); "
        "this model would overflow in fp16\n",
        mrcnn_engine_reference_overflows (engine));
  rc = failed ? EXIT_RUNTIME : 0;

out:
  if (json_images != NULL)
    json_array_unref (json_images);
  if (engine != NULL)
    mrcnn_engine_free (engine);
  if (model != NULL)
    mrcnn_model_free (model);
  g_free (usable);
  g_free (model_path);
  g_free (opts.model);
  g_free (opts.backend);
  g_free (opts.precision);
  g_free (opts.json);
  g_free (opts.overlay);
  g_strfreev (opts.images);
  return rc;
}
