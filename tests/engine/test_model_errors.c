/* Bad inputs to the engine: every broken model variant listed in a manifest
 * (written by bad_models.py) must be refused with a message that names the
 * file and the problem; bad frames and arguments must be refused with a
 * message too, and the engine must keep working afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrcnn/mrcnn.h"

static int failures, checks;

static void
check (int ok, const char *what, const char *detail)
{
  checks++;
  if (!ok)
    failures++;
  printf ("%s %s%s%s\n", ok ? "ok  " : "FAIL", what, detail ? ": " : "",
      detail ? detail : "");
}

static void
expect_error (mrcnn_status st, const mrcnn_error *err, const char *what,
    const char *needle)
{
  char buf[1400];
  int ok = st != MRCNN_OK && strstr (err->message, needle) != NULL;
  snprintf (buf, sizeof buf, "status %s, message \"%s\" (want \"%s\")",
      mrcnn_status_name (st), st != MRCNN_OK ? err->message : "", needle);
  check (ok, what, buf);
}

static void
models (const char *manifest)
{
  FILE *f = fopen (manifest, "r");
  char line[2048];
  if (!f) {
    check (0, "open manifest", manifest);
    return;
  }
  while (fgets (line, sizeof line, f)) {
    char *tab = strchr (line, '\t');
    if (!tab)
      continue;
    *tab = '\0';
    char *expect = tab + 1;
    expect[strcspn (expect, "\n")] = '\0';
    mrcnn_model *m = NULL;
    mrcnn_error err = { 0 };
    mrcnn_status st = mrcnn_model_open (line, &m, &err);
    expect_error (st, &err, strrchr (line, '/') + 1, expect);
    check (st == MRCNN_OK || strstr (err.message, line) != NULL,
        "  message names the file", NULL);
    check (m == NULL || st == MRCNN_OK, "  no model returned on error", NULL);
    mrcnn_model_free (m);
  }
  fclose (f);
}

static void
frames (const char *valid)
{
  mrcnn_model *m = NULL;
  mrcnn_error err = { 0 };
  if (mrcnn_model_open (valid, &m, &err) != MRCNN_OK) {
    check (0, "open valid model", err.message);
    return;
  }
  mrcnn_engine_config cfg;
  mrcnn_engine_config_init (&cfg, m);
  cfg.backend = MRCNN_BACKEND_CPU;
  cfg.max_width = 64;
  cfg.max_height = 48;

  mrcnn_engine_config bad = cfg;
  mrcnn_engine *e = NULL;
  bad.max_width = 0;
  expect_error (mrcnn_engine_new (m, &bad, &e, &err), &err,
      "engine with a 0-wide plan", "planned maximum frame");
  bad = cfg;
  bad.thresholds.score_threshold = 1.5f;
  expect_error (mrcnn_engine_new (m, &bad, &e, &err), &err,
      "engine with score threshold 1.5", "score threshold");
  bad = cfg;
  bad.backend = MRCNN_BACKEND_CUDA;
  mrcnn_status st = mrcnn_engine_new (m, &bad, &e, &err);
  if (st == MRCNN_OK) {
    check (mrcnn_engine_backend (e) == MRCNN_BACKEND_CUDA,
        "CUDA engine reports CUDA", NULL);
    mrcnn_engine_free (e);
    e = NULL;
  } else {
    expect_error (st, &err, "CUDA engine where none is available", "CUDA");
  }

  if (mrcnn_engine_new (m, &cfg, &e, &err) != MRCNN_OK) {
    check (0, "create engine", err.message);
    mrcnn_model_free (m);
    return;
  }
  static uint8_t pixels[64 * 48 * 4];
  for (size_t i = 0; i < sizeof pixels; i++)
    pixels[i] = (uint8_t) (i * 7 + (i / 193) * 13);
  mrcnn_image img = { MRCNN_PIXEL_RGBA, 64, 48, { pixels }, { 64 * 4 }, 0 };
  mrcnn_result *r = NULL;

  struct { int w, h; const char *needle; } sizes[] = {
    { 0, 0, "too small" }, { 1, 1, "too small" }, { 1, 48, "too small" },
    { 64, 1, "too small" }, { 65, 48, "larger than" }, { 64, 49, "larger than" },
  };
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    mrcnn_image t = img;
    char what[64];
    t.width = sizes[i].w;
    t.height = sizes[i].h;
    snprintf (what, sizeof what, "frame %dx%d", t.width, t.height);
    expect_error (mrcnn_engine_run (e, &t, &r, &err), &err, what, sizes[i].needle);
    check (r == NULL, "  no result on error", NULL);
  }
  mrcnn_image t = img;
  t.planes[0] = NULL;
  expect_error (mrcnn_engine_run (e, &t, &r, &err), &err, "NULL plane", "NULL");
  t = img;
  t.strides[0] = 64 * 3;
  expect_error (mrcnn_engine_run (e, &t, &r, &err), &err, "short stride", "stride");
  t = img;
  t.format = (mrcnn_pixel_format) 99;
  expect_error (mrcnn_engine_run (e, &t, &r, &err), &err, "unknown format",
      "pixel format");
  t = img;
  t.on_device = 1;
  expect_error (mrcnn_engine_run (e, &t, &r, &err), &err, "device frame on CPU",
      "device memory");
  t = img;
  t.format = MRCNN_PIXEL_I420;
  t.planes[1] = pixels;
  t.planes[2] = NULL;
  t.strides[1] = t.strides[2] = 32;
  expect_error (mrcnn_engine_run (e, &t, &r, &err), &err, "I420 without V plane",
      "plane 2");
  expect_error (mrcnn_engine_run (e, NULL, &r, &err), &err, "NULL image", "NULL");

  mrcnn_thresholds th = cfg.thresholds;
  th.nms_threshold = -0.1f;
  expect_error (mrcnn_engine_set_thresholds (e, &th, &err), &err,
      "negative NMS threshold", "NMS threshold");
  th = cfg.thresholds;
  th.max_detections = cfg.thresholds.max_detections + 1;
  expect_error (mrcnn_engine_set_thresholds (e, &th, &err), &err,
      "more detections than planned", "exceeds");

  /* the engine still works, on the smallest frame it accepts and a full one */
  t = img;
  t.width = 2;
  t.height = 2;
  st = mrcnn_engine_run (e, &t, &r, &err);
  check (st == MRCNN_OK && r && mrcnn_result_image_width (r) == 2,
      "2x2 frame runs", st ? err.message : NULL);
  if (r) {
    for (int i = 0; i < mrcnn_result_count (r); i++) {
      const mrcnn_detection *d = mrcnn_result_get (r, i);
      if (!(d->x1 >= 0 && d->x2 <= 2 && d->y1 >= 0 && d->y2 <= 2))
        check (0, "2x2 frame boxes inside the frame", NULL);
    }
    uint8_t mask[4];
    if (mrcnn_result_count (r) > 0) {
      expect_error (mrcnn_result_paste_mask (r, mrcnn_result_count (r), 0.5f,
              0, 0, 2, 2, mask, 2, &err), &err, "paste of a detection past the end",
          "no detection");
      expect_error (mrcnn_result_paste_mask (r, 0, 0.5f, 0, 0, 2, 2, mask, 1,
              &err), &err, "paste with a short stride", "stride");
    }
  }
  mrcnn_result_free (r);
  r = NULL;
  st = mrcnn_engine_run (e, &img, &r, &err);
  check (st == MRCNN_OK && r && mrcnn_result_image_height (r) == 48,
      "64x48 frame runs after the errors", st ? err.message : NULL);
  mrcnn_result_free (r);
  mrcnn_engine_free (e);
  mrcnn_model_free (m);
}

int
main (int argc, char **argv)
{
  if (argc != 3) {
    fprintf (stderr, "usage: %s VALID_MODEL MANIFEST\n", argv[0]);
    return 2;
  }
  models (argv[2]);
  frames (argv[1]);
  printf ("%d checks, %d failed\n", checks, failures);
  return failures ? 1 : 0;
}
