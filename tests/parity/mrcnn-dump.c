/* mrcnn-dump: runs the engine (CPU backend; --backend cuda for tests/gpu/)
 * on images and writes what the parity test compares with torchvision, as
 * NumPy .npy files:
 *
 *   OUTDIR/<image stem>/image.npy       1x3xHpxWp float32  preprocessed input
 *                       fpn0..fpn4.npy  1xCxHxW float32    FPN outputs P2..P6
 *                       proposals.npy   Nx4 float32        RPN proposals
 *                       mask_probs.npy  NxMxM float32      per-detection mask probabilities
 *                       boxes.npy       Nx4 float32        frame pixels
 *                       scores.npy      N float32
 *                       labels.npy      N int64
 *                       masks.npy       NxHxW uint8        full-frame pasted masks (0/255)
 *                       frame_size.npy  (h, w) int64
 *
 * Thresholds are the model's defaults; masks are binarised at the model's
 * mask threshold.
 *
 * usage: mrcnn-dump [--threads N] [--backend cpu|cuda] [--precision P]
 *                   [--emulate] MODEL OUTDIR IMAGE...
 * (--precision with --emulate: the precision's float32 CPU reference, what
 * tests/gpu/run.sh compares the CUDA backend's fp16 with)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "mrcnn/mrcnn.h"
#include "engine_debug.h"
#include "image_io.h"

#define MAX_DIMS 4

static void
report (const char *subject, const mrcnn_error *err)
{
  const char *msg = err->message[0] != '\0' ? err->message
      : mrcnn_status_name (err->status);
  g_printerr ("mrcnn-dump: %s: %s\n", subject, msg);
}

/* Writes a C-order array as a version 1.0 .npy file. descr is the NumPy
 * type string ("<f4", "<i8", "|u1"). Returns FALSE with a message printed. */
static gboolean
write_npy (const char *dir, const char *name, const char *descr,
    size_t elem_size, const int *shape, int ndim, const void *data)
{
  char *path = g_strdup_printf ("%s/%s.npy", dir, name);
  GString *hdr = g_string_new (NULL);
  size_t count = 1;
  gboolean ok = FALSE;
  FILE *f;

  g_string_append_printf (hdr, "{'descr': '%s', 'fortran_order': False, "
      "'shape': (", descr);
  for (int i = 0; i < ndim; i++) {
    g_string_append_printf (hdr, "%d%s", shape[i],
        (ndim == 1 || i + 1 < ndim) ? ", " : "");
    count *= (size_t) shape[i];
  }
  g_string_append (hdr, "), }");
  /* magic (6) + version (2) + length (2) + header, padded to 64 bytes */
  while ((10 + hdr->len + 1) % 64 != 0)
    g_string_append_c (hdr, ' ');
  g_string_append_c (hdr, '\n');

  f = fopen (path, "wb");
  if (f == NULL) {
    g_printerr ("mrcnn-dump: cannot write %s: %s\n", path, g_strerror (errno));
    goto out;
  }
  unsigned char pre[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
    (unsigned char) (hdr->len & 0xff), (unsigned char) (hdr->len >> 8) };
  ok = fwrite (pre, 1, sizeof pre, f) == sizeof pre
      && fwrite (hdr->str, 1, hdr->len, f) == hdr->len
      && (count == 0 || fwrite (data, elem_size, count, f) == count);
  if (fclose (f) != 0)
    ok = FALSE;
  if (!ok)
    g_printerr ("mrcnn-dump: error writing %s\n", path);
out:
  g_string_free (hdr, TRUE);
  g_free (path);
  return ok;
}

static gboolean
dump_debug_tensor (mrcnn_engine *engine, int frame, const char *dir,
    const char *name)
{
  mrcnn_error err = { 0 };
  float *data = NULL;
  int shape[MAX_DIMS], ndim = 0;
  gboolean ok;

  if (mrcnn_engine_debug_tensor (engine, name, frame, &data, shape, &ndim, &err)
      != MRCNN_OK) {
    report (name, &err);
    return FALSE;
  }
  ok = write_npy (dir, name, "<f4", sizeof (float), shape, ndim, data);
  g_free (data);
  return ok;
}

static gboolean
dump_result (const mrcnn_result *res, float mask_threshold, const char *dir)
{
  int n = mrcnn_result_count (res);
  int w = mrcnn_result_image_width (res);
  int h = mrcnn_result_image_height (res);
  float *boxes = g_new (float, (size_t) MAX (n, 1) * 4);
  float *scores = g_new (float, MAX (n, 1));
  gint64 *labels = g_new (gint64, MAX (n, 1));
  guint8 *masks = g_malloc0 ((size_t) MAX (n, 1) * w * h);
  gint64 frame[2] = { h, w };
  gboolean ok = TRUE;

  for (int i = 0; i < n && ok; i++) {
    const mrcnn_detection *d = mrcnn_result_get (res, i);
    mrcnn_error err = { 0 };
    boxes[4 * i + 0] = d->x1;
    boxes[4 * i + 1] = d->y1;
    boxes[4 * i + 2] = d->x2;
    boxes[4 * i + 3] = d->y2;
    scores[i] = d->score;
    labels[i] = d->class_id;
    if (mrcnn_result_paste_mask (res, i, mask_threshold, 0, 0, w, h,
            masks + (size_t) i * w * h, w, &err) != MRCNN_OK) {
      report ("paste mask", &err);
      ok = FALSE;
    }
  }
  int s_boxes[2] = { n, 4 }, s_n[1] = { n }, s_masks[3] = { n, h, w };
  int s_frame[1] = { 2 };
  ok = ok
      && write_npy (dir, "boxes", "<f4", sizeof (float), s_boxes, 2, boxes)
      && write_npy (dir, "scores", "<f4", sizeof (float), s_n, 1, scores)
      && write_npy (dir, "labels", "<i8", sizeof (gint64), s_n, 1, labels)
      && write_npy (dir, "masks", "|u1", 1, s_masks, 3, masks)
      && write_npy (dir, "frame_size", "<i8", sizeof (gint64), s_frame, 1,
          frame);
  g_free (boxes);
  g_free (scores);
  g_free (labels);
  g_free (masks);
  return ok;
}

static char *
image_stem (const char *path)
{
  char *base = g_path_get_basename (path);
  char *dot = strrchr (base, '.');
  if (dot != NULL && dot != base)
    *dot = '\0';
  return base;
}

/* Writes frame i's debug tensors and results into OUTDIR/<image stem>/. */
static gboolean
dump_frame (mrcnn_engine *engine, int frame, const char *outdir,
    const char *image, const mrcnn_result *res, float mask_threshold)
{
  static const char *debug_names[] = { "image", "fpn0", "fpn1", "fpn2",
    "fpn3", "fpn4", "proposals", "mask_probs" };
  gboolean ok = TRUE;
  char *stem = image_stem (image);
  char *dir = g_build_filename (outdir, stem, NULL);
  if (g_mkdir_with_parents (dir, 0755) != 0) {
    g_printerr ("mrcnn-dump: cannot create %s: %s\n", dir, g_strerror (errno));
    ok = FALSE;
  }
  for (size_t k = 0; ok && k < G_N_ELEMENTS (debug_names); k++)
    ok = dump_debug_tensor (engine, frame, dir, debug_names[k]);
  ok = ok && dump_result (res, mask_threshold, dir);
  if (ok)
    g_print ("mrcnn-dump: %-24s %4dx%-4d %3d detections\n", stem,
        mrcnn_result_image_width (res), mrcnn_result_image_height (res),
        mrcnn_result_count (res));
  g_free (dir);
  g_free (stem);
  return ok;
}

int
main (int argc, char **argv)
{
  int threads = 0, batch = 0;
  int first = 1;
  mrcnn_error err = { 0 };
  mrcnn_model *model = NULL;
  mrcnn_engine *engine = NULL;
  mrcnn_loaded_image *imgs = NULL;
  mrcnn_image *views = NULL;
  mrcnn_result **res = NULL;
  int status = 1;

  const char *backend = "cpu";
  mrcnn_precision precision = MRCNN_PRECISION_FP32;
  int emulate = 0;
  while (first < argc && g_str_has_prefix (argv[first], "--")) {
    if (strcmp (argv[first], "--batch") == 0) {
      batch = 1;
      first += 1;
      continue;
    }
    if (strcmp (argv[first], "--emulate") == 0) {
      emulate = 1;
      first += 1;
      continue;
    }
    if (first + 1 >= argc)
      break;
    if (strcmp (argv[first], "--threads") == 0)
      threads = atoi (argv[first + 1]);
    else if (strcmp (argv[first], "--backend") == 0)
      backend = argv[first + 1];
    else if (strcmp (argv[first], "--precision") == 0) {
      if (!mrcnn_precision_from_name (argv[first + 1], &precision)) {
        g_printerr ("mrcnn-dump: unknown precision '%s'\n", argv[first + 1]);
        return 2;
      }
    } else
      break;
    first += 2;
  }
  if (argc - first < 3 || (strcmp (backend, "cpu") && strcmp (backend, "cuda"))) {
    g_printerr ("usage: mrcnn-dump [--threads N] [--backend cpu|cuda] "
        "[--precision P [--emulate]] [--batch] MODEL OUTDIR IMAGE...\n"
        "  --batch  runs all images in one forward pass (a batch padded to "
        "their common size)\n");
    return 2;
  }
  const char *model_path = argv[first];
  const char *outdir = argv[first + 1];
  char **images = argv + first + 2;
  int n_images = argc - first - 2;

  int max_w = 2, max_h = 2;
  for (int i = 0; i < n_images; i++) {
    int w, h;
    if (mrcnn_image_probe (images[i], &w, &h, &err) != MRCNN_OK) {
      report (images[i], &err);
      return 1;
    }
    max_w = MAX (max_w, w);
    max_h = MAX (max_h, h);
  }

  if (mrcnn_model_open (model_path, &model, &err) != MRCNN_OK) {
    report (model_path, &err);
    return 1;
  }
  mrcnn_engine_config cfg;
  mrcnn_engine_config_init (&cfg, model);
  cfg.backend = strcmp (backend, "cuda") == 0 ? MRCNN_BACKEND_CUDA
      : MRCNN_BACKEND_CPU;
  cfg.num_threads = threads;
  cfg.max_width = max_w;
  cfg.max_height = max_h;
  cfg.max_batch = batch ? n_images : 1;
  cfg.precision = precision;
  cfg.emulate_precision = emulate;
  if (mrcnn_engine_new (model, &cfg, &engine, &err) != MRCNN_OK) {
    report ("engine", &err);
    goto out;
  }
  if (g_mkdir_with_parents (outdir, 0755) != 0) {
    g_printerr ("mrcnn-dump: cannot create %s: %s\n", outdir,
        g_strerror (errno));
    goto out;
  }

  imgs = g_new0 (mrcnn_loaded_image, n_images);
  views = g_new0 (mrcnn_image, n_images);
  res = g_new0 (mrcnn_result *, n_images);
  for (int i = 0; i < n_images; i++) {
    if (mrcnn_image_load (images[i], &imgs[i], &err) != MRCNN_OK) {
      report (images[i], &err);
      goto out;
    }
    mrcnn_loaded_image_view (&imgs[i], &views[i]);
  }
  if (batch) {
    gint64 t0 = g_get_monotonic_time ();
    mrcnn_engine_debug_keep (engine, 1);
    if (mrcnn_engine_run_batch (engine, views, NULL, n_images, res, &err)
        != MRCNN_OK) {
      report ("batch", &err);
      goto out;
    }
    g_print ("mrcnn-dump: a batch of %d frames in %.0f ms\n", n_images,
        (g_get_monotonic_time () - t0) / 1000.0);
    for (int i = 0; i < n_images; i++)
      if (!dump_frame (engine, i, outdir, images[i], res[i],
              cfg.thresholds.mask_threshold))
        goto out;
  } else {
    for (int i = 0; i < n_images; i++) {
      mrcnn_engine_debug_keep (engine, 1);
      if (mrcnn_engine_run (engine, &views[i], &res[i], &err) != MRCNN_OK) {
        report (images[i], &err);
        goto out;
      }
      if (!dump_frame (engine, 0, outdir, images[i], res[i],
              cfg.thresholds.mask_threshold))
        goto out;
    }
  }
  status = 0;
out:
  for (int i = 0; res && i < n_images; i++)
    mrcnn_result_free (res[i]);
  for (int i = 0; imgs && i < n_images; i++)
    mrcnn_loaded_image_clear (&imgs[i]);
  g_free (res);
  g_free (views);
  g_free (imgs);
  mrcnn_engine_free (engine);
  mrcnn_model_free (model);
  return status;
}
