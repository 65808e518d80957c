/* What the engine asks of a backend, counted (counting_backend.h): with the
 * CUDA tensor-core path's optional calls (arena, marks, counts left in
 * backend memory, one packed download, passes begun and ended) a pass in
 * steady state waits once and allocates nothing, and every result equals
 * the CPU backend's bit for bit, also when a capture fails and the pass is
 * issued again, and in the engine's plain paths (download() that copies,
 * as CUDA's does). The arena's placement follows the lifetimes the stages
 * declare: a lifetime given too short would let two buffers in use share
 * memory and change the results. With a second model (R50-FPN's shapes),
 * its arena plan at the planned sizes: no two buffers used in one stage
 * overlap, and what it takes against what separate buffers take.
 *
 * usage: test-counting MODEL [R50_SHAPES_MODEL]
 *        (seed from MRCNN_TEST_SEED or the clock) */
#include <string.h>

#include <glib.h>

#include "engine_priv.h"
#include "engine_debug.h"
#include "arena.h"
#include "counting_backend.h"
#include "unit_test.h"
#include "frames.h"

static void
config (const mrcnn_model *model, int max_batch, mrcnn_engine_config *cfg)
{
  mrcnn_engine_config_init (cfg, model);
  cfg->backend = MRCNN_BACKEND_AUTO;
  cfg->max_width = cfg->max_height = 1024;
  cfg->max_batch = max_batch;
  cfg->num_threads = 2;
  cfg->passes = 1;   /* one context: the counts are one pass's */
}

static mrcnn_engine *
counting_engine (const mrcnn_model *model, int max_batch,
    const counting_options *opt)
{
  mrcnn_engine_config cfg;
  mrcnn_error err = { 0 };
  mrcnn_engine *e = NULL;
  config (model, max_batch, &cfg);
  if (mrcnn_engine_new_on (model, &cfg, counting_reg (opt), &e, &err)
      != MRCNN_OK)
    printf ("counting engine: %s\n", err.message);
  return e;
}

static mrcnn_engine *
cpu_engine (const mrcnn_model *model, int max_batch)
{
  mrcnn_engine_config cfg;
  mrcnn_error err = { 0 };
  mrcnn_engine *e = NULL;
  config (model, max_batch, &cfg);
  cfg.backend = MRCNN_BACKEND_CPU;
  if (mrcnn_engine_new (model, &cfg, &e, &err) != MRCNN_OK)
    printf ("cpu engine: %s\n", err.message);
  return e;
}

static void
diff (const counting_stats *a, const counting_stats *b, counting_stats *d)
{
  const long *x = (const long *) a, *y = (const long *) b;
  long *z = (long *) d;
  for (size_t i = 0; i < sizeof *d / sizeof (long); i++)
    z[i] = y[i] - x[i];
}

#define NFRAMES 4

static const char *const mode_names[] = { "plain", "copying downloads",
  "tensor-core path" };

/* Every frame alone and a batch of two of one size, on a counting engine,
 * against the CPU engine's results; the counts of the passes after the
 * first (steady state). */
static void
test_mode (const mrcnn_model *model, const counting_options *opt,
    const frame *f, mrcnn_result *const *want)
{
  char group[96];
  g_snprintf (group, sizeof group, "%s%s: results equal the CPU's",
      mode_names[opt->mode], opt->fail_first_capture
      ? ", first capture failing" : "");
  ut_begin (group);
  mrcnn_engine *e = counting_engine (model, 2, opt);
  if (!ut_check (e != NULL, "no engine")) {
    ut_end ();
    return;
  }
  counting_stats s0, s1, d, first;
  for (int i = 0; i < NFRAMES; i++) {
    counting_stats_get (&s0);
    mrcnn_result *r = run_one (e, &f[i]);
    counting_stats_get (&s1);
    if (i == 0)
      diff (&s0, &s1, &first);
    char what[64];
    g_snprintf (what, sizeof what, "frame %d (%dx%d)", i, f[i].w, f[i].h);
    if (ut_check (r != NULL, "%s did not run", what)) {
      same_results (r, want[i], 0.0f, what);
      ut_check (same_detections (r, want[i]), "%s: detections differ", what);
    }
    mrcnn_result_free (r);
  }
  /* frames 2 and 3 are of one size: one pass of two */
  mrcnn_image views[2] = { f[2].view, f[3].view };
  mrcnn_result *res[2] = { NULL, NULL };
  mrcnn_error err = { 0 };
  counting_stats_get (&s0);
  if (ut_check (mrcnn_engine_run_batch (e, views, NULL, 2, res, &err)
          == MRCNN_OK, "batch: %s", err.message)) {
    for (int k = 0; k < 2; k++) {
      ut_check (same_detections (res[k], want[2 + k]), "frame %d of the "
          "batch differs from its result alone", 2 + k);
      mrcnn_result_free (res[k]);
    }
  }
  counting_stats_get (&s1);
  diff (&s0, &s1, &d);
  ut_check (counting_allocs (&d) == 0, "a batch of two allocated %ld times",
      counting_allocs (&d));
  ut_end ();

  /* steady state: a frame whose size has run before */
  counting_stats_get (&s0);
  mrcnn_result_free (run_one (e, &f[0]));
  counting_stats_get (&s1);
  diff (&s0, &s1, &d);
  printf ("    %s, one frame: %ld waits (sync %ld, download %ld, host "
      "counts %ld), %ld allocations, %ld marks, %ld packed downloads, %ld "
      "convolutions\n", mode_names[opt->mode], counting_waits (&d), d.sync,
      d.download, d.rpn_host + d.detect_host, counting_allocs (&d), d.mark,
      d.download_async, d.conv_run);
  g_snprintf (group, sizeof group, "%s: a frame allocates nothing",
      mode_names[opt->mode]);
  ut_begin (group);
  ut_check (counting_allocs (&d) == 0 && d.upload == 0, "%ld allocations, "
      "%ld uploads", counting_allocs (&d), d.upload);
  ut_end ();
  if (opt->mode == COUNTING_TENSOR_PATH && !opt->fail_first_capture) {
    ut_begin ("tensor-core path: one wait per pass");
    ut_check (counting_waits (&d) == 1 && d.sync == 1, "one frame: %ld waits "
        "(sync %ld, download %ld, host counts %ld)", counting_waits (&d),
        d.sync, d.download, d.rpn_host + d.detect_host);
    ut_check (d.download_async == 1 && d.pass_begin == 1 && d.pass_end == 1
        && d.rpn_dev == 1 && d.detect_dev == 1 && d.mark == 8,
        "one packed download (%ld), one pass (%ld, %ld), counts on the "
        "device (%ld, %ld), 8 marks (%ld)", d.download_async, d.pass_begin,
        d.pass_end, d.rpn_dev, d.detect_dev, d.mark);
    counting_stats_get (&s0);
    if (mrcnn_engine_run_batch (e, views, NULL, 2, res, &err) == MRCNN_OK)
      for (int k = 0; k < 2; k++)
        mrcnn_result_free (res[k]);
    counting_stats_get (&s1);
    diff (&s0, &s1, &d);
    ut_check (counting_waits (&d) == 1 && counting_allocs (&d) == 0
        && d.pass_begin == 1 && d.rpn_dev == 2 && d.detect_dev == 2,
        "a batch of two: %ld waits, %ld allocations, %ld passes",
        counting_waits (&d), counting_allocs (&d), d.pass_begin);
    ut_end ();
  }
  if (opt->fail_first_capture) {
    /* the first frame's pass: its capture failed and its ops were issued
     * a second time; the same frame later ran once */
    ut_begin ("a failed capture: the pass issued again");
    ut_check (first.pass_end == 1 && first.conv_run == 2 * d.conv_run
        && d.conv_run > 0 && counting_waits (&first) == 1, "pass_end %ld, "
        "convolutions %ld then %ld, waits %ld", first.pass_end,
        first.conv_run, d.conv_run, counting_waits (&first));
    ut_end ();
  }
  mrcnn_engine_free (e);
}

/* The debug record reads each image's rows with the counts that came back
 * with the results: the proposals equal the CPU engine's. */
static void
test_debug (const mrcnn_model *model, const frame *f)
{
  ut_begin ("tensor-core path: the debug record's proposals");
  counting_options opt = { COUNTING_TENSOR_PATH, 0 };
  mrcnn_engine *a = counting_engine (model, 1, &opt), *b = cpu_engine (model,
      1);
  if (!ut_check (a && b, "engines")) {
    ut_end ();
    return;
  }
  mrcnn_engine_debug_keep (a, 1);
  mrcnn_engine_debug_keep (b, 1);
  mrcnn_result_free (run_one (a, &f[0]));
  mrcnn_result_free (run_one (b, &f[0]));
  const char *names[] = { "proposals", "mask_probs", "fpn0", "image" };
  for (size_t k = 0; k < G_N_ELEMENTS (names); k++) {
    float *x = NULL, *y = NULL;
    int sx[4], sy[4], nx, ny;
    mrcnn_error err = { 0 };
    if (!ut_check (mrcnn_engine_debug_tensor (a, names[k], 0, &x, sx, &nx,
                &err) == MRCNN_OK && mrcnn_engine_debug_tensor (b, names[k],
                0, &y, sy, &ny, &err) == MRCNN_OK, "%s: %s", names[k],
            err.message))
      continue;
    size_t n = 1;
    int same_shape = nx == ny;
    for (int i = 0; same_shape && i < nx; i++) {
      same_shape = sx[i] == sy[i];
      n *= (size_t) sx[i];
    }
    ut_check (same_shape && memcmp (x, y, n * sizeof (float)) == 0,
        "%s: %s", names[k], same_shape ? "values differ" : "shapes differ");
    g_free (x);
    g_free (y);
  }
  mrcnn_engine_free (a);
  mrcnn_engine_free (b);
  ut_end ();
}

/* The arena of a model's context: conflict-free, no smaller than any
 * stage's live buffers, against what one buffer each takes. */
static void
check_plan (const char *what, int reduced_bytes)
{
  const GArray *reqs = counting_requests ();
  const int n = (int) reqs->len;
  mrcnn_arena_block *b = g_new0 (mrcnn_arena_block, n);
  size_t sum = 0;
  double live[MRCNN_STAGE_COUNT] = { 0 };
  for (int i = 0; i < n; i++) {
    const mrcnn_buffer_req *r = &g_array_index (reqs, mrcnn_buffer_req, i);
    b[i] = (mrcnn_arena_block) { r->n * (r->reduced ? reduced_bytes : 4),
      r->first, r->last };
    sum += b[i].bytes;
    for (int s = r->first; s <= r->last; s++)
      live[s] += (double) b[i].bytes;
  }
  size_t size = mrcnn_arena_plan (b, n, 256);
  int i = -1, j = -1;
  ut_check (!mrcnn_arena_conflict (b, n, size, &i, &j), "%s: buffers %d and "
      "%d overlap", what, i, j);
  size_t peak = mrcnn_arena_live_peak (b, n, 256);
  ut_check (size >= peak && size <= sum + (size_t) n * 256, "%s: arena %zu "
      "outside [%zu, %zu]", what, size, peak, sum + (size_t) n * 256);
  /* the stages' lifetimes must let the arena share: no larger than the
   * two largest stages' live buffers together */
  double top[2] = { 0, 0 };
  for (int s = 0; s < MRCNN_STAGE_COUNT; s++) {
    if (live[s] > top[0]) {
      top[1] = top[0];
      top[0] = live[s];
    } else if (live[s] > top[1]) {
      top[1] = live[s];
    }
  }
  ut_check ((double) size <= top[0] + top[1], "%s: arena %.1f MiB beyond "
      "the two largest stages' %.1f MiB", what, size / 1048576.0,
      (top[0] + top[1]) / 1048576.0);
  printf ("    %s: %d buffers, %.1f MiB one each, arena %.1f MiB (live peak "
      "%.1f MiB); live per stage:", what, n, sum / 1048576.0,
      size / 1048576.0, peak / 1048576.0);
  for (int s = 0; s < MRCNN_STAGE_COUNT; s++)
    printf (" %s %.0f", mrcnn_stage_name (s), live[s] / 1048576.0);
  printf (" MiB\n");
  g_free (b);
}

/* The tensor-core path's descriptor of every convolution a pass of
 * R50-FPN ran at the planned size, at each of its precisions: all valid,
 * the input converted exactly where the path reads something other than
 * its weight type in NHWC, and the plans they share. */
static void
check_descriptors (void)
{
  const GArray *calls = counting_conv_calls ();
  const int n = (int) calls->len;
  /* stem, 16 bottlenecks of 3 and 4 downsamples; the FPN's 4 + 4; the
   * RPN's 2 on 5 levels; the mask head's 4 and its deconvolution */
  ut_check (n == 1 + 16 * 3 + 4 + 8 + 10 + 5, "%d convolutions ran, "
      "R50-FPN has 76", n);
  const mrcnn_precision precs[] = { MRCNN_PRECISION_FP32,
    MRCNN_PRECISION_TF32, MRCNN_PRECISION_FP16 };
  for (size_t k = 0; k < G_N_ELEMENTS (precs); k++) {
    mrcnn_tc_math m;
    mrcnn_error err = { 0 };
    ut_check (mrcnn_tc_math_for (precs[k], &m, &err) == MRCNN_OK, "math");
    GHashTable *keys = g_hash_table_new (g_int64_hash, g_int64_equal);
    gint64 *kv = g_new (gint64, MAX (n, 1));
    size_t cvt = 0, out_max = 0;
    int converted = 0, residual = 0, ok = 0;
    for (int i = 0; i < n; i++) {
      const counting_conv_call *c = &g_array_index (calls,
          counting_conv_call, i);
      const mrcnn_tc_conv_io io = { c->n, c->h, c->w, c->residual,
        c->in_nchw, c->in_nchw ? MRCNN_TC_F32 : c->in_reduced ? m.reduced
        : MRCNN_TC_F32, c->out_reduced ? m.reduced : MRCNN_TC_F32,
        MRCNN_TC_BASE_ALIGN, MRCNN_TC_BASE_ALIGN };
      mrcnn_tc_conv_desc d;
      if (!ut_check (mrcnn_tc_conv_describe (&c->layer, &io, &m,
                  (size_t) 256 << 20, &d, &err) == MRCNN_OK, "%s conv %d: "
              "%s", mrcnn_precision_name (precs[k]), i, err.message))
        continue;
      ok++;
      ut_check (d.convert_input == (c->in_nchw || io.in_type != m.weights),
          "%s conv %d: converted %d", mrcnn_precision_name (precs[k]), i,
          d.convert_input);
      converted += d.convert_input;
      residual += d.residual;
      cvt = MAX (cvt, d.cvt_bytes);
      out_max = MAX (out_max, d.out_bytes);
      kv[i] = (gint64) d.key;
      g_hash_table_add (keys, &kv[i]);
    }
    ut_check (ok == n, "every descriptor made");
    ut_check (residual == 16, "%d residual adds fused, 16 bottlenecks",
        residual);
    printf ("    %s: %d convolutions, %u plans, %d inputs converted (largest "
        "%.1f MiB), largest output %.1f MiB\n",
        mrcnn_precision_name (precs[k]), n, g_hash_table_size (keys),
        converted, cvt / 1048576.0, out_max / 1048576.0);
    g_hash_table_destroy (keys);
    g_free (kv);
  }
}

static void
test_r50 (const char *path)
{
  mrcnn_error err = { 0 };
  mrcnn_model *model = NULL;
  ut_begin ("R50-FPN's context plans");
  if (!ut_check (mrcnn_model_open (path, &model, &err) == MRCNN_OK, "%s",
          err.message)) {
    ut_end ();
    return;
  }
  counting_options opt = { COUNTING_TENSOR_PATH, 0 };
  const int batches[] = { 1, 8 };
  for (size_t k = 0; k < G_N_ELEMENTS (batches); k++) {
    mrcnn_engine_config cfg;
    mrcnn_engine *e = NULL;
    config (model, batches[k], &cfg);
    cfg.max_width = 1280;
    cfg.max_height = 720;
    if (!ut_check (mrcnn_engine_new_on (model, &cfg, counting_reg (&opt), &e,
                &err) == MRCNN_OK, "batch %d: %s", batches[k], err.message))
      continue;
    char what[64];
    g_snprintf (what, sizeof what, "batch %d, float32", batches[k]);
    check_plan (what, 4);
    g_snprintf (what, sizeof what, "batch %d, fp16 maps", batches[k]);
    check_plan (what, 2);
    ut_check (counting_arena_size () > 0, "an arena was made");
    if (batches[k] == 1) {
      /* one frame of the planned size: the convolutions a pass runs */
      frame f;
      frame_init (&f, 1280, 720);
      mrcnn_result *r = run_one (e, &f);
      ut_check (r != NULL, "a 1280x720 frame ran");
      mrcnn_result_free (r);
      g_free (f.rgb);
      check_descriptors ();
    }
    mrcnn_engine_free (e);
  }
  mrcnn_model_free (model);
  ut_end ();
}

int
main (int argc, char **argv)
{
  if (argc != 2 && argc != 3) {
    fprintf (stderr, "usage: test-counting MODEL [R50_SHAPES_MODEL]\n");
    return 2;
  }
  ut_init ("test-counting");
  mrcnn_error err = { 0 };
  mrcnn_model *model = NULL;
  if (mrcnn_model_open (argv[1], &model, &err) != MRCNN_OK) {
    printf ("%s\n", err.message);
    return 1;
  }
  frame f[NFRAMES];
  mrcnn_result *want[NFRAMES];
  const int sizes[NFRAMES][2] = { { 320, 240 }, { 600, 360 }, { 200, 260 },
    { 200, 260 } };
  mrcnn_engine *cpu = cpu_engine (model, 1);
  int found = 0;
  for (int i = 0; i < NFRAMES; i++) {
    frame_init (&f[i], sizes[i][0], sizes[i][1]);
    want[i] = run_one (cpu, &f[i]);
    found += want[i] ? mrcnn_result_count (want[i]) : 0;
  }
  mrcnn_engine_free (cpu);
  ut_begin ("the CPU engine's results");
  ut_check (found > 0, "the model finds nothing in the test frames");
  ut_end ();

  const counting_options modes[] = { { COUNTING_PLAIN, 0 },
    { COUNTING_COPYING, 0 }, { COUNTING_TENSOR_PATH, 0 },
    { COUNTING_TENSOR_PATH, 1 } };
  for (size_t m = 0; m < G_N_ELEMENTS (modes); m++)
    test_mode (model, &modes[m], f, want);
  test_debug (model, f);
  if (argc == 3)
    test_r50 (argv[2]);

  for (int i = 0; i < NFRAMES; i++) {
    mrcnn_result_free (want[i]);
    g_free (f[i].rgb);
  }
  mrcnn_model_free (model);
  return ut_finish ();
}
