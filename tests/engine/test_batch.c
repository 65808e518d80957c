/* Batches through the public API: a frame's results in a batch of frames of
 * its size equal its results alone, whether the batch runs as one forward
 * pass or as two passes at once (2 threads, one each); a batch that mixes
 * orientations, run in parts because it does not fit a context at once or
 * as passes at once, equals the same batch in one pass; per-frame
 * thresholds; the batch's errors name the frame; threads sharing one
 * engine each get the results they would get alone; and the same holds
 * for batches run as one pass each (mrcnn_engine_run_pass), from threads
 * running such passes at once.
 *
 * With --passes-only, only batches that run as passes at once with one
 * thread each, from two threads sharing the engine: what ThreadSanitizer
 * can check (tests/sanitize.sh tsan), since libgomp's barriers, which a
 * pass with several threads meets, are invisible to it.
 *
 * usage: test-batch MODEL [--passes-only]
 *        (seed from MRCNN_TEST_SEED or the clock) */
#include <string.h>

#include <glib.h>

#include "mrcnn/mrcnn.h"
#include "unit_test.h"
#include "frames.h"

/* 2 threads on any machine, so that a batch may run as 2 passes at once
 * (passes 0) or as one (passes 1) */
static mrcnn_engine *
engine_new_threads (mrcnn_model *model, int max_batch, int passes, int threads)
{
  mrcnn_engine_config cfg;
  mrcnn_error err = { 0 };
  mrcnn_engine *e = NULL;
  mrcnn_engine_config_init (&cfg, model);
  cfg.backend = MRCNN_BACKEND_CPU;
  cfg.max_width = cfg.max_height = 1024;
  cfg.max_batch = max_batch;
  cfg.num_threads = threads;
  cfg.passes = passes;
  if (mrcnn_engine_new (model, &cfg, &e, &err) != MRCNN_OK)
    printf ("engine (max_batch %d): %s\n", max_batch, err.message);
  return e;
}

static mrcnn_engine *
engine_new (mrcnn_model *model, int max_batch, int passes)
{
  return engine_new_threads (model, max_batch, passes, 2);
}

/* Each of the n results equals its frame's result alone; frees them. */
static void
same_as_alone (mrcnn_result **res, mrcnn_result *const *alone, int n,
    const char *how)
{
  for (int i = 0; i < n; i++) {
    char what[96];
    g_snprintf (what, sizeof what, "frame %d of %s", i, how);
    same_results (res[i], alone[i], 0.0f, what);
    mrcnn_result_free (res[i]);
  }
}

typedef struct {
  mrcnn_engine *engine;
  const frame *frames;
  int n_frames;
  mrcnn_result *const *expected;
  int rounds;
  int pass_threads;       /* -1: mrcnn_engine_run_batch; else run_pass's */
  int failures;
} thread_job;

/* n threads running fn on one engine, each checked for no failures. */
static void
run_threads (int n, GThreadFunc fn, mrcnn_engine *engine, const frame *frames,
    mrcnn_result *const *expected, int rounds, int per_round, int pass_threads)
{
  thread_job jobs[4];
  GThread *threads[4];
  for (int t = 0; t < n; t++) {
    jobs[t] = (thread_job) { engine, frames, 4, expected, rounds, pass_threads,
      0 };
    threads[t] = g_thread_new ("runner", fn, &jobs[t]);
  }
  for (int t = 0; t < n; t++) {
    g_thread_join (threads[t]);
    ut_check (jobs[t].failures == 0, "thread %d: %d of %d frames differ from "
        "their results alone", t, jobs[t].failures, rounds * per_round);
  }
}

/* Batches of 2 frames on a shared engine, against each frame alone: with
 * mrcnn_engine_run_batch (two passes at once, one thread each, when both
 * contexts are free) or, pass_threads >= 0, as one pass with
 * mrcnn_engine_run_pass. */
static gpointer
thread_run_batches (gpointer data)
{
  thread_job *job = data;
  for (int r = 0; r < job->rounds; r++)
    for (int i = 0; i + 1 < job->n_frames; i += 2) {
      mrcnn_image views[2] = { job->frames[i].view, job->frames[i + 1].view };
      mrcnn_result *res[2] = { NULL, NULL };
      mrcnn_error err = { 0 };
      mrcnn_status st = job->pass_threads < 0
          ? mrcnn_engine_run_batch (job->engine, views, NULL, 2, res, &err)
          : mrcnn_engine_run_pass (job->engine, views, NULL, 2,
          job->pass_threads, res, &err);
      if (st != MRCNN_OK) {
        printf ("batch: %s\n", err.message);
        job->failures++;
        continue;
      }
      for (int k = 0; k < 2; k++) {
        job->failures += !same_detections (res[k], job->expected[i + k]);
        mrcnn_result_free (res[k]);
      }
    }
  return NULL;
}

/* Only batches that run as passes at once with one thread each. */
static int
passes_only (mrcnn_model *model)
{
  mrcnn_engine *single = engine_new_threads (model, 1, 0, 1);
  mrcnn_engine *batched = engine_new (model, 4, 0);
  if (!single || !batched)
    return 1;
  frame f[4];
  mrcnn_image views[4];
  mrcnn_result *alone[4], *res[4];
  mrcnn_error err = { 0 };
  int total = 0;
  for (int i = 0; i < 4; i++) {
    frame_init (&f[i], 320, 240);
    views[i] = f[i].view;
    alone[i] = run_one (single, &f[i]);
    total += alone[i] ? mrcnn_result_count (alone[i]) : 0;
  }
  ut_begin ("batches as passes at once, one thread each");
  ut_check (total > 0, "the model finds nothing in the test frames");
  ut_check (mrcnn_engine_passes (batched) == 2, "passes %d, expected 2",
      mrcnn_engine_passes (batched));
  for (int n = 2; n <= 4; n += 2) {
    char how[64];
    g_snprintf (how, sizeof how, "a batch of %d", n);
    if (ut_check (mrcnn_engine_run_batch (batched, views, NULL, n, res, &err)
            == MRCNN_OK, "batch of %d: %s", n, err.message))
      same_as_alone (res, alone, n, how);
  }
  ut_end ();
  ut_begin ("two threads' batches on one engine");
  run_threads (2, thread_run_batches, batched, f, alone, 2, 4, -1);
  ut_end ();
  ut_begin ("two threads' passes at once on one engine, one thread each");
  run_threads (2, thread_run_batches, batched, f, alone, 2, 4, 1);
  ut_end ();
  for (int i = 0; i < 4; i++) {
    mrcnn_result_free (alone[i]);
    g_free (f[i].rgb);
  }
  mrcnn_engine_free (single);
  mrcnn_engine_free (batched);
  return 0;
}

static gpointer
thread_run (gpointer data)
{
  thread_job *job = data;
  for (int r = 0; r < job->rounds; r++)
    for (int i = 0; i < job->n_frames; i++) {
      mrcnn_result *res = run_one (job->engine, &job->frames[i]);
      job->failures += !same_detections (res, job->expected[i]);
      mrcnn_result_free (res);
    }
  return NULL;
}

int
main (int argc, char **argv)
{
  if (argc != 2 && !(argc == 3 && strcmp (argv[2], "--passes-only") == 0)) {
    fprintf (stderr, "usage: test-batch MODEL [--passes-only]\n");
    return 2;
  }
  ut_init ("test-batch");
  mrcnn_error err = { 0 };
  mrcnn_model *model = NULL;
  if (mrcnn_model_open (argv[1], &model, &err) != MRCNN_OK) {
    fprintf (stderr, "test-batch: %s\n", err.message);
    return 1;
  }
  if (argc == 3) {
    int rc = passes_only (model);
    mrcnn_model_free (model);
    return rc ? rc : ut_finish ();
  }
  /* batched and two run a batch's frames as 2 passes at once where they
   * can; one_pass runs them as one */
  mrcnn_engine *single = engine_new (model, 1, 0);
  mrcnn_engine *batched = engine_new (model, 4, 0);
  mrcnn_engine *two = engine_new (model, 2, 0);
  mrcnn_engine *one_pass = engine_new (model, 4, 1);
  if (!single || !batched || !two || !one_pass)
    return 1;
  ut_begin ("passes at once");
  ut_check (mrcnn_engine_passes (single) == 1 && mrcnn_engine_passes (batched)
      == 2 && mrcnn_engine_passes (two) == 2 && mrcnn_engine_passes (one_pass)
      == 1, "passes: single %d, batched %d, two %d, one_pass %d (expected 1, "
      "2, 2, 1)", mrcnn_engine_passes (single), mrcnn_engine_passes (batched),
      mrcnn_engine_passes (two), mrcnn_engine_passes (one_pass));
  ut_end ();

  /* same size: each frame as alone, in batches of 1 to 4 (3: two passes at
   * once, then the third frame alone with both threads) */
  ut_begin ("same-size batch = each frame alone");
  frame same[4];
  mrcnn_image views[4];
  mrcnn_result *alone[4], *res[4];
  int total = 0;
  for (int i = 0; i < 4; i++) {
    frame_init (&same[i], 320, 240);
    views[i] = same[i].view;
    alone[i] = run_one (single, &same[i]);
    total += alone[i] ? mrcnn_result_count (alone[i]) : 0;
  }
  ut_check (total > 0, "the model finds nothing in the test frames: the "
      "comparison would prove nothing");
  /* and as one pass per call, on one context (which holds 2 frames at a
   * time: 3 and 4 run in parts), with 1 or all free threads */
  for (int n = 1; n <= 4; n++) {
    char how[64];
    g_snprintf (how, sizeof how, "a run_pass of %d", n);
    if (ut_check (mrcnn_engine_run_pass (batched, views, NULL, n, n % 2, res,
                &err) == MRCNN_OK, "run_pass of %d: %s", n, err.message))
      same_as_alone (res, alone, n, how);
  }
  for (int n = 1; n <= 8; n++) {
    mrcnn_engine *e = n <= 4 ? batched : one_pass;
    int k = n <= 4 ? n : n - 4;
    char how[64];
    g_snprintf (how, sizeof how, "a batch of %d (%s)", k,
        e == batched ? "passes at once" : "one pass");
    if (ut_check (mrcnn_engine_run_batch (e, views, NULL, k, res, &err)
            == MRCNN_OK, "batch of %d: %s", k, err.message))
      same_as_alone (res, alone, k, how);
  }
  ut_end ();

  /* mixed orientations: 2 frames padded to a square exceed one pass of
   * `two` (its larger context holds 2 frames, so 1 square one; the other
   * context holds none) and run in parts, one after the other; `batched`
   * runs them as 2 passes at once; `one_pass` in one pass. All are the
   * batch semantics, so all must agree exactly. */
  ut_begin ("mixed batch in parts = passes at once = in one pass");
  frame mixed[2];
  /* fixed frames: padding changes only what lies near the frame's right or
   * bottom edge, so some random frames would give the same results either
   * way and the check below could not tell */
  uint64_t seed = ut.state;
  ut.state = 20261202;
  frame_init (&mixed[0], 400, 300);
  frame_init (&mixed[1], 300, 400);
  ut.state = seed;
  mrcnn_image mv[2] = { mixed[0].view, mixed[1].view };
  mrcnn_result *parts[2], *whole[2], *at_once[2];
  if (ut_check (mrcnn_engine_run_batch (two, mv, NULL, 2, parts, &err)
          == MRCNN_OK, "in parts: %s", err.message)
      && ut_check (mrcnn_engine_run_batch (one_pass, mv, NULL, 2, whole, &err)
          == MRCNN_OK, "in one pass: %s", err.message)
      && ut_check (mrcnn_engine_run_batch (batched, mv, NULL, 2, at_once,
              &err) == MRCNN_OK, "passes at once: %s", err.message)) {
    same_results (parts[0], whole[0], 0.0f, "landscape frame in parts");
    same_results (parts[1], whole[1], 0.0f, "portrait frame in parts");
    same_results (at_once[0], whole[0], 0.0f, "landscape frame, passes at once");
    same_results (at_once[1], whole[1], 0.0f, "portrait frame, passes at once");
    /* and as one pass on one of `batched`'s contexts (in parts if it holds
     * one square frame only) */
    mrcnn_result *pass[2];
    if (ut_check (mrcnn_engine_run_pass (batched, mv, NULL, 2, 0, pass, &err)
            == MRCNN_OK, "run_pass: %s", err.message)) {
      same_results (pass[0], whole[0], 0.0f, "landscape frame, run_pass");
      same_results (pass[1], whole[1], 0.0f, "portrait frame, run_pass");
      mrcnn_result_free (pass[0]);
      mrcnn_result_free (pass[1]);
    }
    /* and the common padding does change the portrait frame's results:
     * the comparison above is not the single-frame one in disguise */
    mrcnn_result *portrait = run_one (single, &mixed[1]);
    int differs = mrcnn_result_count (portrait) != mrcnn_result_count (whole[1]);
    for (int k = 0; !differs && k < mrcnn_result_count (portrait); k++)
      differs = mrcnn_result_get (portrait, k)->score
          != mrcnn_result_get (whole[1], k)->score;
    ut_check (differs, "padding a portrait frame to a square changed nothing");
    mrcnn_result_free (portrait);
    for (int i = 0; i < 2; i++) {
      mrcnn_result_free (parts[i]);
      mrcnn_result_free (whole[i]);
      mrcnn_result_free (at_once[i]);
    }
  }
  ut_end ();

  ut_begin ("per-frame thresholds");
  {
    mrcnn_thresholds th[2], strict;
    mrcnn_engine_config cfg;
    mrcnn_engine_config_init (&cfg, model);
    th[0] = th[1] = strict = cfg.thresholds;
    strict.score_threshold = 0.3f;
    strict.max_detections = 5;
    th[1] = strict;
    mrcnn_image v2[2] = { same[0].view, same[0].view };
    if (ut_check (mrcnn_engine_run_batch (batched, v2, th, 2, res, &err)
            == MRCNN_OK, "%s", err.message)) {
      same_results (res[0], alone[0], 0.0f, "default thresholds");
      int n = mrcnn_result_count (res[1]), expect = 0;
      for (int k = 0; k < mrcnn_result_count (alone[0]); k++)
        expect += mrcnn_result_get (alone[0], k)->score > 0.3f;
      ut_check (n == MIN (expect, 5), "strict frame: %d detections, expected "
          "%d", n, MIN (expect, 5));
      for (int k = 0; k < n; k++)
        ut_check (mrcnn_result_get (res[1], k)->score > 0.3f,
            "strict frame kept a score of %g", mrcnn_result_get (res[1], k)->score);
      mrcnn_result_free (res[0]);
      mrcnn_result_free (res[1]);
    }
    strict.max_detections = 100000;
    th[1] = strict;
    ut_check (mrcnn_engine_run_batch (batched, v2, th, 2, res, &err)
        == MRCNN_ERR_INVALID_ARG && strstr (err.message, "frame 1")
        && strstr (err.message, "max detections"), "bad thresholds of frame "
        "1: '%s'", err.message);
  }
  ut_end ();

  ut_begin ("errors");
  {
    mrcnn_image bad[2] = { same[0].view, same[1].view };
    bad[1].planes[0] = NULL;
    res[0] = res[1] = (mrcnn_result *) &err;  /* must be reset to NULL */
    ut_check (mrcnn_engine_run_batch (batched, bad, NULL, 2, res, &err)
        == MRCNN_ERR_INVALID_ARG && strstr (err.message, "frame 1 of the batch")
        && strstr (err.message, "NULL"), "NULL plane: '%s'", err.message);
    ut_check (res[0] == NULL && res[1] == NULL, "results left set on failure");
    ut_check (mrcnn_engine_run_batch (batched, views, NULL, 5, res, &err)
        == MRCNN_ERR_INVALID_ARG && strstr (err.message, "1 to 4"),
        "5 frames on max_batch 4: '%s'", err.message);
    ut_check (mrcnn_engine_run_batch (batched, views, NULL, 0, res, &err)
        == MRCNN_ERR_INVALID_ARG, "0 frames accepted");
    ut_check (mrcnn_engine_run_pass (batched, views, NULL, 2, -1, res, &err)
        == MRCNN_ERR_INVALID_ARG && strstr (err.message, "threads -1"),
        "run_pass with threads -1: '%s'", err.message);
    ut_check (mrcnn_engine_max_batch (batched) == 4, "max_batch %d",
        mrcnn_engine_max_batch (batched));
    mrcnn_engine_config cfg;
    mrcnn_engine *e = NULL;
    mrcnn_engine_config_init (&cfg, model);
    cfg.backend = MRCNN_BACKEND_CPU;
    cfg.max_batch = 0;
    ut_check (mrcnn_engine_new (model, &cfg, &e, &err) == MRCNN_ERR_INVALID_ARG
        && strstr (err.message, "max_batch 0"), "max_batch 0: '%s'",
        err.message);
    cfg.max_batch = 65;
    ut_check (mrcnn_engine_new (model, &cfg, &e, &err) == MRCNN_ERR_INVALID_ARG
        && strstr (err.message, "1 .. 64"), "max_batch 65: '%s'", err.message);
    cfg.max_batch = 4;
    cfg.passes = -1;
    ut_check (mrcnn_engine_new (model, &cfg, &e, &err) == MRCNN_ERR_INVALID_ARG
        && strstr (err.message, "passes -1"), "passes -1: '%s'", err.message);
  }
  ut_end ();

  /* four threads on one engine: runs are serialized, results unchanged */
  ut_begin ("threads sharing an engine");
  run_threads (4, thread_run, single, same, alone, 3, 4, -1);
  ut_end ();

  /* one pass per call (run_pass), with the threads no other call holds:
   * three threads on two contexts, so one always waits */
  ut_begin ("threads running passes at once");
  run_threads (3, thread_run_batches, batched, same, alone, 2, 4, 0);
  ut_end ();

  for (int i = 0; i < 4; i++) {
    mrcnn_result_free (alone[i]);
    g_free (same[i].rgb);
  }
  g_free (mixed[0].rgb);
  g_free (mixed[1].rgb);
  mrcnn_engine_free (single);
  mrcnn_engine_free (batched);
  mrcnn_engine_free (two);
  mrcnn_engine_free (one_pass);
  mrcnn_model_free (model);
  return ut_finish ();
}
