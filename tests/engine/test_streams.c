/* Streams through the public API (mrcnn_stream_*): the engine gathers the
 * frames of several streams of one size into one batch and each frame's
 * results equal its results alone, bit for bit; frames of another size
 * wait for a batch of their own; a frame the engine refuses fails alone
 * beside a good one; an inactive stream does not hold the others' batches;
 * cancelling returns a waiting frame at once; frames beyond the planned
 * size are refused until mrcnn_engine_reserve() grows the engine.
 *
 * One CPU thread (one worker): ThreadSanitizer runs it too (suite
 * multistream, tests/sanitize.sh tsan).
 *
 * usage: test-streams MODEL   (seed from MRCNN_TEST_SEED or the clock) */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "mrcnn/mrcnn.h"
#include "unit_test.h"
#include "frames.h"

/* The batches the engine's log reports ("batch of N WxH frames, ..."). */
static GMutex seen_lock;
static int largest_batch, batches;

static void
log_batches (void *user_data, mrcnn_log_level level, const char *message)
{
  int n, w, h;
  (void) user_data;
  (void) level;
  if (sscanf (message, "batch of %d %dx%d frames", &n, &w, &h) != 3)
    return;
  g_mutex_lock (&seen_lock);
  largest_batch = MAX (largest_batch, n);
  batches++;
  g_mutex_unlock (&seen_lock);
}

/* Largest batch and batch count since the last call. */
static void
take_seen (int *largest, int *count)
{
  g_mutex_lock (&seen_lock);
  *largest = largest_batch;
  *count = batches;
  largest_batch = batches = 0;
  g_mutex_unlock (&seen_lock);
}

static mrcnn_engine *
make_engine (mrcnn_model *model, int max_batch, int max_w, int max_h)
{
  mrcnn_engine_config cfg;
  mrcnn_error err = { 0 };
  mrcnn_engine *e = NULL;
  mrcnn_engine_config_init (&cfg, model);
  cfg.backend = MRCNN_BACKEND_CPU;
  cfg.max_width = max_w;
  cfg.max_height = max_h;
  cfg.max_batch = max_batch;
  cfg.num_threads = 1;
  if (mrcnn_engine_new (model, &cfg, &e, &err) != MRCNN_OK)
    printf ("engine (max_batch %d): %s\n", max_batch, err.message);
  else
    mrcnn_engine_set_log_func (e, log_batches, NULL);
  return e;
}

/* One stream's frames, run one after the other on its own thread. */
typedef struct {
  mrcnn_stream *stream;
  const frame *frames;
  int n;
  int wait_ms;
  mrcnn_result *results[8];
  mrcnn_status st[8];
  mrcnn_error err[8];
  double seconds;             /* the whole run */
} stream_job;

static gpointer
stream_thread (gpointer data)
{
  stream_job *j = data;
  gint64 t0 = g_get_monotonic_time ();
  for (int i = 0; i < j->n; i++)
    j->st[i] = mrcnn_stream_run (j->stream, &j->frames[i].view, NULL,
        j->wait_ms, &j->results[i], &j->err[i]);
  /* its end: the other streams' frames need not wait for its next one */
  mrcnn_stream_set_active (j->stream, 0);
  j->seconds = (g_get_monotonic_time () - t0) / 1e6;
  return NULL;
}

static void
run_streams (stream_job *jobs, int n)
{
  GThread *t[4];
  /* all active before any sends, as elements' streams are from their start,
   * so that the first frame waits for the others */
  for (int k = 0; k < n; k++)
    mrcnn_stream_set_active (jobs[k].stream, 1);
  for (int k = 0; k < n; k++)
    t[k] = g_thread_new ("stream", stream_thread, &jobs[k]);
  for (int k = 0; k < n; k++)
    g_thread_join (t[k]);
}

/* Each of the job's results equals the frame's result alone; frees them. */
static void
check_job (stream_job *j, mrcnn_result *const *alone, const char *what)
{
  for (int i = 0; i < j->n; i++) {
    char how[96];
    g_snprintf (how, sizeof how, "%s, frame %d", what, i);
    if (ut_check (j->st[i] == MRCNN_OK, "%s: %s", how, j->err[i].message))
      same_results (j->results[i], alone[i], 0.0f, how);
    mrcnn_result_free (j->results[i]);
    j->results[i] = NULL;
  }
}

int
main (int argc, char **argv)
{
  if (argc != 2) {
    fprintf (stderr, "usage: test-streams MODEL\n");
    return 2;
  }
  ut_init ("test-streams");
  mrcnn_error err = { 0 };
  mrcnn_model *model = NULL;
  if (mrcnn_model_open (argv[1], &model, &err) != MRCNN_OK) {
    fprintf (stderr, "test-streams: %s\n", err.message);
    return 1;
  }
  enum { N = 3 };
  frame land[2][N], port[N];
  mrcnn_result *alone_land[2][N], *alone_port[N];
  mrcnn_engine *e = make_engine (model, 2, 1024, 1024);
  if (!e)
    return 1;
  int total = 0;
  for (int i = 0; i < N; i++) {
    for (int k = 0; k < 2; k++) {
      frame_init (&land[k][i], 320, 240);
      ut_check (mrcnn_engine_run (e, &land[k][i].view, &alone_land[k][i],
              &err) == MRCNN_OK, "alone: %s", err.message);
      total += mrcnn_result_count (alone_land[k][i]);
    }
    frame_init (&port[i], 240, 320);
    ut_check (mrcnn_engine_run (e, &port[i].view, &alone_port[i], &err)
        == MRCNN_OK, "alone: %s", err.message);
  }
  ut_check (total > 0, "the model finds nothing in the test frames");

  mrcnn_stream *a = NULL, *b = NULL;
  ut_check (mrcnn_stream_new (e, &a, &err) == MRCNN_OK
      && mrcnn_stream_new (e, &b, &err) == MRCNN_OK, "streams: %s",
      err.message);
  int largest, count;

  ut_begin ("two streams of one size run in batches of two");
  take_seen (&largest, &count);
  {
    /* a long wait: a batch runs when both streams have a frame there */
    stream_job j[2] = { { a, land[0], N, 60000 }, { b, land[1], N, 60000 } };
    run_streams (j, 2);
    take_seen (&largest, &count);
    ut_check (largest == 2 && count == N, "batches: %d, the largest of %d "
        "frames (expected %d batches of 2)", count, largest, N);
    check_job (&j[0], alone_land[0], "stream a");
    check_job (&j[1], alone_land[1], "stream b");
  }
  ut_end ();

  ut_begin ("frames of another size wait for a batch of their own");
  {
    stream_job j[2] = { { a, land[0], N, 60000 }, { b, port, N, 60000 } };
    run_streams (j, 2);
    take_seen (&largest, &count);
    ut_check (largest == 1 && count == 2 * N, "batches: %d, the largest of "
        "%d frames (expected %d of 1)", count, largest, 2 * N);
    check_job (&j[0], alone_land[0], "landscape stream");
    check_job (&j[1], alone_port, "portrait stream");
  }
  ut_end ();

  ut_begin ("a refused frame fails alone, beside a good one");
  {
    frame bad = land[0][0];
    bad.view.strides[0] = 4;
    stream_job j[2] = { { a, &bad, 1, 60000 }, { b, land[1], 1, 60000 } };
    run_streams (j, 2);
    take_seen (&largest, &count);
    ut_check (largest == 2, "the two frames ran in batches of up to %d",
        largest);
    ut_check (j[0].st[0] == MRCNN_ERR_INVALID_ARG
        && strstr (j[0].err[0].message, "stride 4 is smaller than its row"),
        "bad frame: status %d, '%s'", j[0].st[0], j[0].err[0].message);
    mrcnn_result_free (j[0].results[0]);
    check_job (&j[1], alone_land[1], "good frame");
  }
  ut_end ();

  ut_begin ("an inactive stream does not hold the others' batches");
  {
    /* b is inactive (its thread ended); a's frames must not wait their
     * 60 s for it */
    stream_job j = { a, land[0], N, 60000 };
    run_streams (&j, 1);
    ut_check (j.seconds < 30.0, "%d frames took %.1f s: they waited for the "
        "inactive stream", N, j.seconds);
    check_job (&j, alone_land[0], "stream a alone");
  }
  ut_end ();

  ut_begin ("cancelling returns a waiting frame at once");
  {
    /* b is active and sends nothing: a's frame waits for it (60 s) */
    mrcnn_stream_set_active (b, 1);
    stream_job j = { a, land[0], 1, 60000 };
    GThread *t = g_thread_new ("stream", stream_thread, &j);
    g_usleep (200 * 1000);
    mrcnn_stream_set_cancelled (a, 1);
    g_thread_join (t);
    ut_check (j.st[0] == MRCNN_ERR_CANCELLED && j.results[0] == NULL,
        "cancelled frame: status %d ('%s')", j.st[0], j.err[0].message);
    ut_check (j.seconds < 30.0, "the cancelled frame returned after %.1f s",
        j.seconds);
    mrcnn_result *r = NULL;
    ut_check (mrcnn_stream_run (a, &land[0][0].view, NULL, 0, &r, &err)
        == MRCNN_ERR_CANCELLED, "a cancelled stream took a frame");
    mrcnn_stream_set_cancelled (a, 0);
    mrcnn_stream_set_active (b, 0);
    ut_check (mrcnn_stream_run (a, &land[0][0].view, NULL, 0, &r, &err)
        == MRCNN_OK, "after the cancel: %s", err.message);
    mrcnn_result_free (r);
    j = (stream_job) { a, land[0], 1, 60000 };
    run_streams (&j, 1);
    check_job (&j, alone_land[0], "after the cancel");
  }
  ut_end ();

  ut_begin ("frames beyond the planned size, then grown");
  {
    frame big;
    frame_init (&big, 1280, 720);
    mrcnn_result *r = NULL, *want = NULL;
    mrcnn_status st = mrcnn_stream_run (a, &big.view, NULL, 0, &r, &err);
    ut_check (st == MRCNN_ERR_INVALID_ARG
        && strstr (err.message, "mrcnn_engine_reserve"),
        "a 1280x720 frame on an engine planned for 1024x1024: status %d, "
        "'%s'", st, err.message);
    ut_check (mrcnn_engine_reserve (e, 1280, 720, &err) == MRCNN_OK,
        "reserve: %s", err.message);
    ut_check (mrcnn_stream_run (a, &big.view, NULL, 0, &r, &err) == MRCNN_OK,
        "after reserve: %s", err.message);
    mrcnn_engine *grown = make_engine (model, 1, 1280, 720);
    if (ut_check (grown && mrcnn_engine_run (grown, &big.view, &want, &err)
            == MRCNN_OK, "engine planned for 1280x720: %s", err.message))
      same_results (r, want, 0.0f, "1280x720 frame on the grown engine");
    mrcnn_result_free (r);
    mrcnn_result_free (want);
    mrcnn_engine_free (grown);
    g_free (big.rgb);
    ut_check (mrcnn_engine_reserve (e, 16385, 16, &err)
        == MRCNN_ERR_INVALID_ARG, "reserve beyond 16384 was taken");
  }
  ut_end ();

  ut_begin ("a frame too thin to resize is refused, not run");
  {
    /* the test model's max size 512: torchvision's resize of 1200x2 gives a
     * height of 0 (it fails there) */
    frame thin;
    int rw = -1, rh = -1;
    frame_init (&thin, 1200, 2);
    ut_check (!mrcnn_model_resized_size (model, 1200, 2, &rw, &rh) && rh == 0
        && rw > 0, "1200x2 resizes to %dx%d and is taken", rw, rh);
    ut_check (mrcnn_model_resized_size (model, 320, 240, &rw, &rh) && rw > 0
        && rh > 0, "320x240 resizes to %dx%d", rw, rh);
    mrcnn_result *r = NULL;
    mrcnn_status st = mrcnn_stream_run (a, &thin.view, NULL, 0, &r, &err);
    ut_check (st == MRCNN_ERR_INVALID_ARG && r == NULL
        && strstr (err.message, "too thin"), "1200x2 frame: status %d, '%s'",
        st, err.message);
    g_free (thin.rgb);
  }
  ut_end ();

  mrcnn_stream_free (a);
  mrcnn_stream_free (b);
  for (int i = 0; i < N; i++) {
    for (int k = 0; k < 2; k++) {
      mrcnn_result_free (alone_land[k][i]);
      g_free (land[k][i].rgb);
    }
    mrcnn_result_free (alone_port[i]);
    g_free (port[i].rgb);
  }
  mrcnn_engine_free (e);
  mrcnn_model_free (model);
  return ut_finish ();
}
