/* The engine's scheduler: its contexts (a pool), the threads that run
 * passes at once, and how a call's frames are shared out between them. */
#include <string.h>

#include "engine_priv.h"

/* A pass thread of the engine and the job it is given (NULL: none). */
typedef struct {
  struct mrcnn_scheduler *s;
  const mrcnn_engine *e;
  GThread *thread;
  struct pass_job *job;
} pass_slot;

/* Frames first .. first + count - 1 of batch b on one context with
 * `workers` of the backend's workers. */
typedef struct pass_job {
  const mrcnn_engine *e;
  mrcnn_context *ctx;
  const mrcnn_image *images;
  const mrcnn_thresholds *th;
  const mrcnn_batch *b;
  int first, count, workers;
  mrcnn_result **results;
  mrcnn_status st;
  mrcnn_error err;
} pass_job;

/* Runs take contexts: a call of mrcnn_engine_run_batch takes as many free
 * ones as its frames can use (at least one, waiting for it), one of
 * mrcnn_engine_run_pass takes one, so that calls from several threads run
 * at once. A call's passes run on its contexts, each with its own backend
 * queue and a share of the call's threads: the first on the calling
 * thread, one on ctx[k] (k >= 1) on pass thread k (pass[k]). The pass
 * threads wait for their jobs, and calls for contexts, under lock, which
 * also guards busy and threads_busy. */
struct mrcnn_scheduler {
  GMutex lock;
  GCond cond;
  gboolean quit;
  int n_ctx;
  mrcnn_context *ctx[MRCNN_BATCH_MAX];
  pass_slot pass[MRCNN_BATCH_MAX];
  gboolean busy[MRCNN_BATCH_MAX];
  int threads_busy;               /* the threads the running calls hold */
};

static void
run_pass (pass_job *j)
{
  j->st = mrcnn_context_run (j->e, j->ctx, j->workers, j->images, j->th, j->b,
      j->first, j->count, j->results, &j->err);
}

/* Pass thread k: runs the jobs handed to its slot until the engine quits.
 * Its OpenMP threads stay with it from job to job. */
static gpointer
pass_thread (gpointer data)
{
  pass_slot *slot = data;
  struct mrcnn_scheduler *s = slot->s;
  g_mutex_lock (&s->lock);
  while (!s->quit) {
    pass_job *j = slot->job;
    if (!j) {
      g_cond_wait (&s->cond, &s->lock);
      continue;
    }
    g_mutex_unlock (&s->lock);
    run_pass (j);
    g_mutex_lock (&s->lock);
    slot->job = NULL;
    g_cond_broadcast (&s->cond);
  }
  g_mutex_unlock (&s->lock);
  return NULL;
}

void
mrcnn_sched_free (mrcnn_engine *e)
{
  struct mrcnn_scheduler *s = e->sched;
  if (!s)
    return;
  g_mutex_lock (&s->lock);
  s->quit = TRUE;
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
  for (int k = 0; k < MRCNN_BATCH_MAX; k++)
    if (s->pass[k].thread)
      g_thread_join (s->pass[k].thread);
  for (int i = 0; i < s->n_ctx; i++)
    mrcnn_context_free (e, s->ctx[i]);
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->cond);
  g_free (s);
  e->sched = NULL;
}

mrcnn_status
mrcnn_sched_new (mrcnn_engine *e, mrcnn_error *err)
{
  const mrcnn_engine_config *cfg = &e->cfg;
  struct mrcnn_scheduler *s = g_new0 (struct mrcnn_scheduler, 1);
  g_mutex_init (&s->lock);
  g_cond_init (&s->cond);
  e->sched = s;
  /* contexts: one per pass that may run at once, each for its share of
   * max_batch frames (so memory is that of one max_batch context) */
  int passes = MAX (1, MIN (MIN (cfg->passes > 0 ? cfg->passes
              : cfg->max_batch, cfg->max_batch), e->be->workers));
  int per_pass = (cfg->max_batch + passes - 1) / passes;
  /* a batch that mixes orientations pads its frames to a square: the first
   * context holds at least one such frame, as one context of max_batch
   * frames would */
  int long_pad = (e->model->max_size + 31) / 32 * 32,
      short_pad = (e->model->min_size + 31) / 32 * 32;
  int square = MIN ((long_pad + short_pad - 1) / short_pad, cfg->max_batch);
  mrcnn_status st = MRCNN_OK;
  for (int i = 0; st == MRCNN_OK && i < passes; i++) {
    st = mrcnn_context_new (e, i == 0 ? MAX (per_pass, square) : per_pass,
        &s->ctx[i], err);
    if (st == MRCNN_OK)
      s->n_ctx++;
  }
  for (int k = 1; st == MRCNN_OK && k < passes; k++) {
    GError *gerr = NULL;
    s->pass[k].s = s;
    s->pass[k].e = e;
    s->pass[k].thread = g_thread_try_new ("mrcnn-pass", pass_thread,
        &s->pass[k], &gerr);
    if (!s->pass[k].thread) {
      st = mrcnn_fail (err, MRCNN_ERR_NO_MEMORY,
          "cannot start the engine's pass threads: %s",
          gerr ? gerr->message : "unknown error");
      g_clear_error (&gerr);
    }
  }
  return st;
}

/* Contexts taken by one call, in ascending order, and the threads it was
 * given. */
typedef struct {
  int n, idx[MRCNN_BATCH_MAX];
  int threads;
} taken_set;

/* Takes up to `want` free contexts that hold one frame of b, waiting for
 * the first; and `threads` CPU threads (0: the backend's workers that no
 * running call holds, at least one per context taken). */
static void
take_contexts (const mrcnn_engine *e, const mrcnn_batch *b, int want,
    int threads, taken_set *t)
{
  struct mrcnn_scheduler *s = e->sched;
  g_mutex_lock (&s->lock);
  for (;;) {
    t->n = 0;
    for (int k = 0; k < s->n_ctx && t->n < want; k++)
      if (!s->busy[k] && mrcnn_batch_fit (s->ctx[k], b) > 0)
        t->idx[t->n++] = k;
    if (t->n > 0)
      break;
    g_cond_wait (&s->cond, &s->lock);
  }
  t->threads = threads > 0 ? threads
      : MAX (t->n, e->be->workers - s->threads_busy);
  s->threads_busy += t->threads;
  for (int i = 0; i < t->n; i++) {
    mrcnn_context *ctx = s->ctx[t->idx[i]];
    s->busy[t->idx[i]] = TRUE;
    memset (ctx->stage_ms, 0, sizeof ctx->stage_ms);
  }
  g_mutex_unlock (&s->lock);
}

static void
release_contexts (const mrcnn_engine *e, const taken_set *t)
{
  struct mrcnn_scheduler *s = e->sched;
  g_mutex_lock (&s->lock);
  for (int i = 0; i < t->n; i++)
    s->busy[t->idx[i]] = FALSE;
  s->threads_busy -= t->threads;
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
}

/* `groups` passes at once on the first `groups` contexts of t, pass k
 * running frames first + k * per ..: the first on this thread, the others
 * on the pass threads of their contexts; t's threads are shared out.
 * Returns the error of the first frame that failed. */
static mrcnn_status
run_passes (const mrcnn_engine *e, const taken_set *t,
    const mrcnn_image *images, const mrcnn_thresholds *th,
    const mrcnn_batch *b, int first, int groups, int per,
    mrcnn_result **results, mrcnn_error *err)
{
  struct mrcnn_scheduler *s = e->sched;
  pass_job jobs[MRCNN_BATCH_MAX];
  int W = MAX (t->threads, groups);
  for (int k = 0; k < groups; k++)
    jobs[k] = (pass_job) { e, s->ctx[t->idx[k]], images, th, b,
      first + k * per, per, W / groups + (k < W % groups), results, MRCNN_OK,
      { 0 } };
  g_mutex_lock (&s->lock);
  for (int k = 1; k < groups; k++)
    s->pass[t->idx[k]].job = &jobs[k];
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
  run_pass (&jobs[0]);
  g_mutex_lock (&s->lock);
  for (int k = 1; k < groups; k++)
    while (s->pass[t->idx[k]].job)
      g_cond_wait (&s->cond, &s->lock);
  g_mutex_unlock (&s->lock);
  for (int k = 0; k < groups; k++)
    if (jobs[k].st != MRCNN_OK) {
      if (err)
        *err = jobs[k].err;
      return jobs[k].st;
    }
  return MRCNN_OK;
}

/* n frames on up to `passes` contexts at once with `threads` threads (0:
 * those free); mrcnn_engine_run_batch and mrcnn_engine_run_pass. */
static mrcnn_status
run_frames (mrcnn_engine *e, const char *fn, const mrcnn_image *images,
    const mrcnn_thresholds *thresholds, int n, int passes, int threads,
    mrcnn_result **results, mrcnn_error *err)
{
  if (!e || !images || !results)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG, "%s: NULL argument", fn);
  if (n < 1 || n > e->cfg.max_batch)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "a batch of %d frames; this engine takes 1 to %d (max_batch)", n,
        e->cfg.max_batch);
  if (threads < 0)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "%s: threads %d is negative (0: the threads no other pass holds)",
        fn, threads);
  struct mrcnn_scheduler *s = e->sched;
  for (int i = 0; i < n; i++)
    results[i] = NULL;
  mrcnn_thresholds th[MRCNN_BATCH_MAX];
  for (int i = 0; i < n; i++) {
    mrcnn_error ierr = { 0 };
    mrcnn_status st = mrcnn_engine_check_frame (e, &images[i],
        thresholds ? &thresholds[i] : NULL, &ierr);
    if (st != MRCNN_OK)
      return n == 1 ? mrcnn_fail (err, st, "%s", ierr.message)
          : mrcnn_fail (err, st, "frame %d of the batch: %s", i, ierr.message);
  }

  g_mutex_lock (&e->lock);
  for (int i = 0; i < n; i++)
    th[i] = thresholds ? thresholds[i] : e->th;
  g_mutex_unlock (&e->lock);
  /* ctx[0] is the largest context: a batch it cannot hold fails here, and
   * one it holds never waits for a context that cannot take it */
  mrcnn_batch b;
  MRCNN_TRY (mrcnn_batch_plan (e, s->ctx[0], images, n, &b, err));
  taken_set t;
  take_contexts (e, &b, MIN (n, passes), threads, &t);
  /* as many passes at once as contexts were taken, each of an equal share
   * of the frames; the frames left over (fewer than the passes) then run
   * one per pass */
  int groups = t.n, per = n / groups, rest = n % groups;
  mrcnn_status st = run_passes (e, &t, images, th, &b, 0, groups, per,
      results, err);
  if (st == MRCNN_OK && rest > 0)
    st = run_passes (e, &t, images, th, &b, groups * per, rest, 1, results,
        err);
  double ms[MRCNN_STAGE_COUNT] = { 0 };
  for (int i = 0; i < t.n; i++)
    for (int k = 0; k < MRCNN_STAGE_COUNT; k++)
      ms[k] += s->ctx[t.idx[i]]->stage_ms[k];
  release_contexts (e, &t);
  g_mutex_lock (&e->lock);
  memcpy (e->stage_ms, ms, sizeof ms);
  g_mutex_unlock (&e->lock);
  if (st != MRCNN_OK) {
    for (int i = 0; i < n; i++) {
      mrcnn_result_free (results[i]);
      results[i] = NULL;
    }
  }
  return st;
}

mrcnn_status
mrcnn_engine_run_batch (mrcnn_engine *e, const mrcnn_image *images,
    const mrcnn_thresholds *thresholds, int n, mrcnn_result **results,
    mrcnn_error *err)
{
  return run_frames (e, "mrcnn_engine_run_batch", images, thresholds, n,
      e ? e->sched->n_ctx : 1, 0, results, err);
}

mrcnn_status
mrcnn_engine_run_pass (mrcnn_engine *e, const mrcnn_image *images,
    const mrcnn_thresholds *thresholds, int n, int threads,
    mrcnn_result **results, mrcnn_error *err)
{
  return run_frames (e, "mrcnn_engine_run_pass", images, thresholds, n, 1,
      threads, results, err);
}

mrcnn_status
mrcnn_engine_run (mrcnn_engine *e, const mrcnn_image *img, mrcnn_result **out,
    mrcnn_error *err)
{
  if (!e || !img || !out)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_engine_run: NULL argument");
  return mrcnn_engine_run_batch (e, img, NULL, 1, out, err);
}

int
mrcnn_engine_max_batch (const mrcnn_engine *e)
{
  return e ? e->cfg.max_batch : 0;
}

int
mrcnn_engine_passes (const mrcnn_engine *e)
{
  return e ? e->sched->n_ctx : 0;
}

int
mrcnn_engine_threads (const mrcnn_engine *e)
{
  return e ? e->be->workers : 0;
}
