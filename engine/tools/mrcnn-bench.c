/* mrcnn-bench: frames per second and a per-stage breakdown of the engine on
 * one model, backend and input size, as a table and as JSON.
 *
 *   mrcnn-bench --model M [--backend cpu|cuda|auto] [--width W --height H |
 *               --image FILE] [--frames N] [--warmup K] [--threads T]
 *               [--precision P [--emulate]] [--batch N]
 *               [--passes P] [--score-threshold T] [--json OUT]
 *
 * --score-threshold: the box score threshold instead of the model's (0
 * keeps max_detections detections on any model: a fixed amount of mask
 * head work for benchmarks).
 *
 * --precision: one this build computes in (fp32, bf16 on a CPU with
 * AVX512_BF16 or AMX, int8 with a calibrated model), or with --emulate one
 * whose float32 reference the CPU backend runs (bf16, fp16, int8).
 *
 * With --batch N every timed pass runs N copies of the frame as one batch
 * (mrcnn_engine_run_batch); times are per batch, frames/s counts all N.
 * --passes is the engine's passes setting (0: as many forward passes at
 * once as frames and threads allow; 1: one pass with every thread). With
 * passes at once, the stage times add up the passes' own, which overlap.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <glib.h>

#include "image_io.h"
#include "mrcnn/mrcnn.h"
#include "precisions.h"

static char *opt_model, *opt_backend = "cpu", *opt_image, *opt_json;
static char *opt_precision = "fp32";
static int opt_width = 640, opt_height = 360, opt_frames = 20, opt_warmup = 3;
static int opt_threads, opt_batch = 1, opt_passes;
static gboolean opt_emulate;
static double opt_score = -1.0;

static GOptionEntry entries[] = {
  { "model", 'm', 0, G_OPTION_ARG_FILENAME, &opt_model, "Model file", "FILE" },
  { "backend", 'b', 0, G_OPTION_ARG_STRING, &opt_backend, "cpu, cuda or auto", "B" },
  { "image", 'i', 0, G_OPTION_ARG_FILENAME, &opt_image,
    "Image to run on (default: a synthetic frame of --width x --height)", "FILE" },
  { "width", 'W', 0, G_OPTION_ARG_INT, &opt_width, "Synthetic frame width", "W" },
  { "height", 'H', 0, G_OPTION_ARG_INT, &opt_height, "Synthetic frame height", "H" },
  { "frames", 'n', 0, G_OPTION_ARG_INT, &opt_frames, "Timed frames", "N" },
  { "warmup", 0, 0, G_OPTION_ARG_INT, &opt_warmup, "Untimed frames first", "K" },
  { "threads", 't', 0, G_OPTION_ARG_INT, &opt_threads, "CPU threads (0 = all)", "T" },
  { "precision", 'p', 0, G_OPTION_ARG_STRING, &opt_precision,
    NULL /* main: this build's precisions */, "P" },
  { "emulate", 0, 0, G_OPTION_ARG_NONE, &opt_emulate,
    "Run the precision's float32 CPU reference instead", NULL },
  { "batch", 0, 0, G_OPTION_ARG_INT, &opt_batch,
    "Frames per batch (copies of the frame; default 1)", "N" },
  { "passes", 0, 0, G_OPTION_ARG_INT, &opt_passes,
    "Forward passes a batch may run at once (0 = as many as frames and "
    "threads allow, the default; 1 = one pass with every thread)", "P" },
  { "score-threshold", 0, 0, G_OPTION_ARG_DOUBLE, &opt_score,
    "Box score threshold (default: the model's)", "T" },
  { "json", 'j', 0, G_OPTION_ARG_FILENAME, &opt_json, "Write results as JSON", "FILE" },
  { NULL }
};

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

int
main (int argc, char **argv)
{
  GError *gerr = NULL;
  GOptionContext *ctx = g_option_context_new ("- benchmark the Mask R-CNN engine");
  char *precisions = mrcnn_tool_precisions ();
  char *precision_help = g_strdup_printf ("%s (default fp32; those this "
      "build computes in)", precisions);
  for (GOptionEntry *o = entries; o->long_name; o++)
    if (strcmp (o->long_name, "precision") == 0)
      o->description = precision_help;
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &gerr)) {
    fprintf (stderr, "mrcnn-bench: %s\n", gerr->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (!opt_model || opt_frames < 1 || opt_warmup < 0 || opt_batch < 1) {
    fprintf (stderr, "mrcnn-bench: --model is required, --frames >= 1, "
        "--batch >= 1\n");
    return 2;
  }
  mrcnn_backend_kind kind;
  if (strcmp (opt_backend, "cpu") == 0)
    kind = MRCNN_BACKEND_CPU;
  else if (strcmp (opt_backend, "cuda") == 0)
    kind = MRCNN_BACKEND_CUDA;
  else if (strcmp (opt_backend, "auto") == 0)
    kind = MRCNN_BACKEND_AUTO;
  else {
    fprintf (stderr, "mrcnn-bench: unknown backend '%s'\n", opt_backend);
    return 2;
  }

  mrcnn_precision precision;
  if (!mrcnn_precision_from_name (opt_precision, &precision)) {
    fprintf (stderr, "mrcnn-bench: unknown precision '%s': use %s\n",
        opt_precision, precisions);
    return 2;
  }

  mrcnn_error err = { 0 };
  mrcnn_loaded_image loaded = { 0 };
  mrcnn_image view;
  uint8_t *synth = NULL;
  if (opt_image) {
    if (mrcnn_image_load (opt_image, &loaded, &err) != MRCNN_OK) {
      fprintf (stderr, "mrcnn-bench: %s\n", err.message);
      return 1;
    }
    mrcnn_loaded_image_view (&loaded, &view);
  } else {
    if (opt_width < 2 || opt_height < 2 || opt_width > 8192 || opt_height > 8192) {
      fprintf (stderr, "mrcnn-bench: frame size %dx%d out of range\n",
          opt_width, opt_height);
      return 2;
    }
    synth = mrcnn_image_synthetic (opt_width, opt_height);
    if (!synth) {
      fprintf (stderr, "mrcnn-bench: no memory for a %dx%d frame\n",
          opt_width, opt_height);
      return 1;
    }
    view = (mrcnn_image) { MRCNN_PIXEL_RGB, opt_width, opt_height, { synth },
      { opt_width * 3 }, 0 };
  }

  mrcnn_model *model = NULL;
  mrcnn_engine *engine = NULL;
  if (mrcnn_model_open (opt_model, &model, &err) != MRCNN_OK) {
    fprintf (stderr, "mrcnn-bench: %s\n", err.message);
    return 1;
  }
  mrcnn_engine_config cfg;
  mrcnn_engine_config_init (&cfg, model);
  cfg.backend = kind;
  cfg.num_threads = opt_threads;
  cfg.precision = precision;
  cfg.emulate_precision = opt_emulate;
  cfg.max_width = view.width;
  cfg.max_height = view.height;
  cfg.max_batch = opt_batch;
  cfg.passes = opt_passes;
  if (opt_score >= 0.0)
    cfg.thresholds.score_threshold = (float) opt_score;
  if (mrcnn_engine_new (model, &cfg, &engine, &err) != MRCNN_OK) {
    fprintf (stderr, "mrcnn-bench: %s\n", err.message);
    mrcnn_model_free (model);
    return 1;
  }
  if (*mrcnn_engine_precision_note (engine))
    fprintf (stderr, "mrcnn-bench: warning: %s\n",
        mrcnn_engine_precision_note (engine));

  int total = opt_warmup + opt_frames, ndet = 0;
  mrcnn_image *views = g_new (mrcnn_image, opt_batch);
  mrcnn_result **results = g_new0 (mrcnn_result *, opt_batch);
  for (int i = 0; i < opt_batch; i++)
    views[i] = view;
  double *frame_ms = g_new0 (double, opt_frames);
  double stage_sum[MRCNN_STAGE_COUNT] = { 0 };
  for (int f = 0; f < total; f++) {
    gint64 t0 = g_get_monotonic_time ();
    if (mrcnn_engine_run_batch (engine, views, NULL, opt_batch, results, &err)
        != MRCNN_OK) {
      fprintf (stderr, "mrcnn-bench: batch %d: %s\n", f, err.message);
      return 1;
    }
    gint64 t1 = g_get_monotonic_time ();
    ndet = mrcnn_result_count (results[0]);
    for (int i = 0; i < opt_batch; i++)
      mrcnn_result_free (results[i]);
    if (f < opt_warmup)
      continue;
    double st[MRCNN_STAGE_COUNT];
    mrcnn_engine_stage_times (engine, st);
    for (int s = 0; s < MRCNN_STAGE_COUNT; s++)
      stage_sum[s] += st[s];
    frame_ms[f - opt_warmup] = (double) (t1 - t0) / 1000.0;
  }

  double sum = 0;
  for (int i = 0; i < opt_frames; i++)
    sum += frame_ms[i];
  double mean = sum / opt_frames;
  qsort (frame_ms, opt_frames, sizeof (double), cmp_double);
  double median = frame_ms[opt_frames / 2];
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  double rss_mb = (double) ru.ru_maxrss / 1024.0;
  const char *backend = mrcnn_engine_backend (engine) == MRCNN_BACKEND_CUDA
      ? "cuda" : "cpu";

  printf ("model      %s (%s)\n", opt_model, mrcnn_model_architecture (model));
  const char *kernels = mrcnn_engine_cpu_kernels (engine);
  printf ("backend    %s, threads %d (0 = all), precision %s%s%s%s\n", backend,
      opt_threads, mrcnn_precision_name (precision),
      opt_emulate ? " (emulated)" : "", *kernels ? ", kernels " : "", kernels);
  printf ("frame      %dx%d, %d detections\n", view.width, view.height, ndet);
  printf ("batches    %d timed after %d warm-up, %d frame(s) each, up to %d "
      "forward pass(es) at once\n", opt_frames, opt_warmup, opt_batch,
      mrcnn_engine_passes (engine));
  printf ("mean       %.2f ms   median %.2f ms per batch   %.2f frames/s\n",
      mean, median, 1000.0 * opt_batch / mean);
  printf ("peak RSS   %.1f MiB\n", rss_mb);
  printf ("%-12s %10s %7s\n", "stage", "ms", "share");
  for (int s = 0; s < MRCNN_STAGE_COUNT; s++)
    printf ("%-12s %10.2f %6.1f%%\n", mrcnn_stage_name (s), stage_sum[s] / opt_frames,
        100.0 * stage_sum[s] / sum);

  if (opt_json) {
    FILE *f = fopen (opt_json, "w");
    if (!f) {
      fprintf (stderr, "mrcnn-bench: cannot write %s\n", opt_json);
      return 1;
    }
    char *model_esc = g_strescape (opt_model, NULL);
    fprintf (f, "{\"model\": \"%s\", \"architecture\": \"%s\", \"backend\": \"%s\", "
        "\"threads\": %d, \"precision\": \"%s\", \"emulated\": %s, "
        "\"cpu_kernels\": \"%s\", \"width\": %d, \"height\": %d, \"batch\": %d, "
        "\"passes\": %d, \"frames\": %d, "
        "\"warmup\": %d, \"detections\": %d, \"mean_ms\": %.3f, "
        "\"median_ms\": %.3f, \"fps\": %.3f, \"peak_rss_mib\": %.1f, \"stages_ms\": {",
        model_esc, mrcnn_model_architecture (model), backend, opt_threads,
        mrcnn_precision_name (precision), opt_emulate ? "true" : "false",
        kernels, view.width, view.height, opt_batch,
        mrcnn_engine_passes (engine), opt_frames, opt_warmup, ndet,
        mean, median, 1000.0 * opt_batch / mean, rss_mb);
    for (int s = 0; s < MRCNN_STAGE_COUNT; s++)
      fprintf (f, "%s\"%s\": %.3f", s ? ", " : "", mrcnn_stage_name (s),
          stage_sum[s] / opt_frames);
    fprintf (f, "}}\n");
    fclose (f);
    g_free (model_esc);
  }
  g_free (frame_ms);
  g_free (views);
  g_free (results);
  g_free (precision_help);
  g_free (precisions);
  free (synth);
  mrcnn_loaded_image_clear (&loaded);
  mrcnn_engine_free (engine);
  mrcnn_model_free (model);
  return 0;
}
