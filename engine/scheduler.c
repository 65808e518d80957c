/* The engine's scheduler: the one owner of which frames run together, on
 * which context and with how many threads.
 *
 * An engine has one worker thread per context (mrcnn_engine_passes: on the
 * CPU up to one per thread, on CUDA one). Work waits in one queue, oldest
 * first, in two kinds:
 *
 * - a part of a call (mrcnn_engine_run_batch, mrcnn_engine_run_pass): frames
 *   of a batch the caller planned, with its geometry; a call of n frames is
 *   split into up to `passes` parts at once;
 * - a frame of a stream (mrcnn_stream_run): frames of several streams of one
 *   size are gathered into one forward pass, up to each worker's share of
 *   max_batch.
 *
 * An idle worker takes the oldest work: a part as it is, or a batch of
 * stream frames once it is ready (full; or every active stream has a frame
 * waiting or under way, so none can come; or the oldest frame's wait is
 * over). Frames of other sizes wait for the next batch, so a frame's
 * results never depend on other streams. The worker runs the pass on its
 * own context, with its OpenMP threads kept from pass to pass, and takes
 * the next work as soon as its own pass ends, never waiting for another
 * worker's frames.
 *
 * Threads: a part given threads runs with them; otherwise a pass takes its
 * share of the backend's workers. With several streams active each worker
 * has a fixed share (they run side by side); else a pass takes the threads
 * no running pass holds, shared with the parts that can start with it.
 *
 * One lock (s->lock) guards all of it; workers wait on work_cond, the
 * callers and streams waiting for results on done_cond. */
#include <stdarg.h>
#include <string.h>

#include "engine_priv.h"

typedef struct work work;

/* A call of mrcnn_engine_run_batch or run_pass, on its caller's stack. */
typedef struct {
  const mrcnn_image *images;
  const mrcnn_thresholds *th;   /* n entries */
  mrcnn_batch b;
  mrcnn_result **results;
  int parts_left;
  mrcnn_status st;              /* the first part that failed */
  mrcnn_error err;
  double stage_ms[MRCNN_STAGE_COUNT];
} call;

typedef enum { WORK_PART, WORK_FRAME } work_kind;

/* One piece of work in the queue, on its submitter's stack. */
struct work {
  work_kind kind;
  /* WORK_PART: frames first .. first + count - 1 of the call, with
   * `threads` threads (0: the scheduler's choice) */
  call *c;
  int first, count, threads;
  /* WORK_FRAME */
  mrcnn_stream *stream;
  const mrcnn_image *image;
  mrcnn_thresholds th;
  gint64 deadline;              /* monotonic, us: the batch runs by then */
  mrcnn_result *result;
  gboolean taken, done;
  mrcnn_status st;
  mrcnn_error err;
};

struct mrcnn_stream {
  mrcnn_engine *e;
  gboolean active;              /* others' batches wait for its frames */
  gboolean cancelled;
};

typedef struct {
  struct mrcnn_scheduler *s;
  const mrcnn_engine *e;
  int index;
  mrcnn_context *ctx;
  GThread *thread;
} worker;

struct mrcnn_scheduler {
  GMutex lock;
  GCond work_cond, done_cond;
  gboolean quit;
  int n_workers;
  worker w[MRCNN_BATCH_MAX];
  int per_batch;                /* stream frames one pass takes at most */
  GQueue queue;                 /* of work *, oldest first */
  GList *streams;
  int running;                  /* passes under way */
  int in_flight;                /* stream frames in them */
  int threads_busy;             /* the threads the running passes hold */
  gboolean reserving;           /* no pass starts: frames grow */
  int max_w, max_h;             /* the largest frame taken */
  mrcnn_log_func log;           /* set before the engine runs */
  void *log_data;
};

static void say (const struct mrcnn_scheduler *s, mrcnn_log_level level,
    const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static void
say (const struct mrcnn_scheduler *s, mrcnn_log_level level,
    const char *fmt, ...)
{
  if (!s->log)
    return;
  char line[256];
  va_list ap;
  va_start (ap, fmt);
  g_vsnprintf (line, sizeof line, fmt, ap);
  va_end (ap);
  s->log (s->log_data, level, line);
}

/* ------------------------------------------------------------ taking work */

/* Streams that will send frames: others' batches wait for them. */
static int
count_active (const struct mrcnn_scheduler *s)
{
  int n = 0;
  for (GList *l = s->streams; l; l = l->next) {
    const mrcnn_stream *st = l->data;
    n += st->active && !st->cancelled;
  }
  return n;
}

static gboolean
same_size (const work *a, const work *b)
{
  return a->image->width == b->image->width
      && a->image->height == b->image->height;
}

/* Whether the frames of the oldest one's size should run now; else *wake
 * is when they will have to. */
static gboolean
batch_ready (const struct mrcnn_scheduler *s, gint64 now, gint64 *wake)
{
  const work *oldest = s->queue.head ? s->queue.head->data : NULL;
  int n_same = 0, frames = 0;
  gint64 deadline = G_MAXINT64;
  for (GList *l = s->queue.head; l; l = l->next) {
    const work *w = l->data;
    if (w->kind != WORK_FRAME)
      continue;
    frames++;
    n_same += same_size (w, oldest);
    deadline = MIN (deadline, w->deadline);
  }
  if (n_same >= s->per_batch || now >= deadline)
    return TRUE;
  if (frames + s->in_flight >= count_active (s))
    return TRUE;
  *wake = MIN (*wake, deadline);
  return FALSE;
}

/* The threads of a pass starting on worker w, which `others` parts may
 * start beside. */
static int
pass_threads (const struct mrcnn_scheduler *s, const worker *w, int asked,
    int others)
{
  const int W = w->e->be->workers;
  if (asked > 0)
    return asked;
  if (count_active (s) >= 2)
    return MAX (1, W / s->n_workers + (w->index < W % s->n_workers));
  return MAX (1, (W - s->threads_busy) / (1 + others));
}

/* Parts waiting behind the oldest that idle workers could start now. */
static int
parts_beside (const struct mrcnn_scheduler *s)
{
  int idle = s->n_workers - s->running - 1, n = 0;
  for (GList *l = s->queue.head ? s->queue.head->next : NULL;
      l && n < idle; l = l->next)
    n += ((const work *) l->data)->kind == WORK_PART;
  return n;
}

/* A pass a worker took. */
typedef struct {
  work *part;                   /* a call's part, or NULL */
  work *frames[MRCNN_BATCH_MAX];
  int n;                        /* stream frames */
  int threads;
} pass;

/* Takes the oldest work w can run now into p. Called with the lock held. */
static gboolean
take (struct mrcnn_scheduler *s, const worker *w, gint64 now, pass *p,
    gint64 *wake)
{
  work *head = g_queue_peek_head (&s->queue);
  if (!head || s->reserving)
    return FALSE;
  memset (p, 0, sizeof *p);
  if (head->kind == WORK_PART) {
    /* a part only the larger first context holds waits for it */
    if (mrcnn_batch_fit (w->ctx, &head->c->b) == 0)
      return FALSE;
    p->threads = pass_threads (s, w, head->threads, parts_beside (s));
    p->part = g_queue_pop_head (&s->queue);
    p->part->taken = TRUE;
  } else {
    if (!batch_ready (s, now, wake))
      return FALSE;
    p->threads = pass_threads (s, w, 0, 0);
    GList *next;
    for (GList *l = s->queue.head; l && p->n < s->per_batch; l = next) {
      work *f = l->data;
      next = l->next;
      if (f->kind != WORK_FRAME || (f != head && !same_size (f, head)))
        continue;
      f->taken = TRUE;
      p->frames[p->n++] = f;
      g_queue_delete_link (&s->queue, l);
    }
    s->in_flight += p->n;
  }
  s->running++;
  s->threads_busy += p->threads;
  memset (w->ctx->stage_ms, 0, sizeof w->ctx->stage_ms);
  return TRUE;
}

/* ------------------------------------------------------------ running */

/* A frame the engine takes now, with thresholds th (NULL: none to check).
 * Called with the lock held, or by a running pass (the sizes change only
 * while no pass runs). */
static mrcnn_status
check_frame (const mrcnn_engine *e, const mrcnn_image *img,
    const mrcnn_thresholds *th, mrcnn_error *err)
{
  const struct mrcnn_scheduler *s = e->sched;
  if (img->width > s->max_w || img->height > s->max_h)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "frame of %dx%d pixels is larger than the %dx%d this engine was "
        "planned for; create the engine with a larger max_width/max_height "
        "or call mrcnn_engine_reserve()", img->width, img->height, s->max_w,
        s->max_h);
  return mrcnn_engine_check_frame (e, img, th, err);
}


static void
run_frames (const worker *w, pass *p)
{
  const mrcnn_engine *e = w->e;
  mrcnn_image images[MRCNN_BATCH_MAX];
  mrcnn_thresholds th[MRCNN_BATCH_MAX];
  mrcnn_result *results[MRCNN_BATCH_MAX];
  work *good[MRCNN_BATCH_MAX];
  mrcnn_batch b;
  mrcnn_error err = { 0 };
  int n = 0;
  /* a frame the engine refuses fails alone; the others run */
  for (int i = 0; i < p->n; i++) {
    work *f = p->frames[i];
    f->st = check_frame (e, f->image, &f->th, &f->err);
    if (f->st != MRCNN_OK)
      continue;
    good[n] = f;
    images[n] = *f->image;
    th[n++] = f->th;
  }
  if (n == 0)
    return;
  mrcnn_status st = mrcnn_batch_plan (e, w->ctx, images, n, &b, &err);
  if (st == MRCNN_OK)
    st = mrcnn_context_run (e, w->ctx, p->threads, images, th, &b, 0, n,
        results, &err);
  if (st == MRCNN_OK || n == 1) {
    for (int i = 0; i < n; i++) {
      good[i]->st = st;
      good[i]->result = st == MRCNN_OK ? results[i] : NULL;
      good[i]->err = err;
    }
    return;
  }
  /* only the bad frame of a failed batch fails */
  for (int i = 0; i < n; i++) {
    work *f = good[i];
    f->st = mrcnn_batch_plan (e, w->ctx, &images[i], 1, &b, &f->err);
    if (f->st == MRCNN_OK)
      f->st = mrcnn_context_run (e, w->ctx, p->threads, &images[i], &th[i],
          &b, 0, 1, &f->result, &f->err);
  }
}

static void
run_part (const worker *w, pass *p)
{
  work *part = p->part;
  part->st = mrcnn_context_run (w->e, w->ctx, p->threads, part->c->images,
      part->c->th, &part->c->b, part->first, part->count, part->c->results,
      &part->err);
}

/* Hands the pass's results over. Called with the lock held. */
static void
finish (struct mrcnn_scheduler *s, const worker *w, pass *p)
{
  mrcnn_engine *e = (mrcnn_engine *) w->e;
  s->running--;
  s->threads_busy -= p->threads;
  if (p->part) {
    call *c = p->part->c;
    if (p->part->st != MRCNN_OK && c->st == MRCNN_OK) {
      c->st = p->part->st;
      c->err = p->part->err;
    }
    for (int k = 0; k < MRCNN_STAGE_COUNT; k++)
      c->stage_ms[k] += w->ctx->stage_ms[k];
    c->parts_left--;
    p->part->done = TRUE;
  } else {
    for (int i = 0; i < p->n; i++)
      p->frames[i]->done = TRUE;
    s->in_flight -= p->n;
    g_mutex_lock (&e->lock);
    memcpy (e->stage_ms, w->ctx->stage_ms, sizeof e->stage_ms);
    g_mutex_unlock (&e->lock);
  }
  g_cond_broadcast (&s->done_cond);
  g_cond_broadcast (&s->work_cond);
}

static gpointer
worker_loop (gpointer data)
{
  worker *w = data;
  struct mrcnn_scheduler *s = w->s;
  g_mutex_lock (&s->lock);
  while (!s->quit) {
    gint64 wake = G_MAXINT64;
    pass p;
    if (take (s, w, g_get_monotonic_time (), &p, &wake)) {
      int under_way = s->running;
      g_mutex_unlock (&s->lock);
      gint64 t0 = g_get_monotonic_time ();
      if (p.part) {
        run_part (w, &p);
      } else {
        say (s, MRCNN_LOG_TRACE, "batch of %d %dx%d frames, %d batches "
            "under way", p.n, p.frames[0]->image->width,
            p.frames[0]->image->height, under_way);
        run_frames (w, &p);
        say (s, MRCNN_LOG_TRACE, "batch of %d frames ran in %.1f ms", p.n,
            (g_get_monotonic_time () - t0) / 1000.0);
      }
      g_mutex_lock (&s->lock);
      finish (s, w, &p);
    } else if (wake != G_MAXINT64) {
      g_cond_wait_until (&s->work_cond, &s->lock, wake);
    } else {
      g_cond_wait (&s->work_cond, &s->lock);
    }
  }
  g_mutex_unlock (&s->lock);
  return NULL;
}

/* ------------------------------------------------------------ life cycle */

void
mrcnn_sched_free (mrcnn_engine *e)
{
  struct mrcnn_scheduler *s = e->sched;
  if (!s)
    return;
  g_mutex_lock (&s->lock);
  s->quit = TRUE;
  g_cond_broadcast (&s->work_cond);
  g_mutex_unlock (&s->lock);
  for (int k = 0; k < s->n_workers; k++) {
    if (s->w[k].thread)
      g_thread_join (s->w[k].thread);
    mrcnn_context_free (e, s->w[k].ctx);
  }
  g_list_free (s->streams);
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->work_cond);
  g_cond_clear (&s->done_cond);
  g_free (s);
  e->sched = NULL;
}

mrcnn_status
mrcnn_sched_new (mrcnn_engine *e, mrcnn_error *err)
{
  const mrcnn_engine_config *cfg = &e->cfg;
  struct mrcnn_scheduler *s = g_new0 (struct mrcnn_scheduler, 1);
  g_mutex_init (&s->lock);
  g_cond_init (&s->work_cond);
  g_cond_init (&s->done_cond);
  g_queue_init (&s->queue);
  s->max_w = cfg->max_width;
  s->max_h = cfg->max_height;
  e->sched = s;
  /* one context per pass that may run at once, each for its share of
   * max_batch frames (so memory is that of one max_batch context) */
  int n = MAX (1, MIN (MIN (cfg->passes > 0 ? cfg->passes : cfg->max_batch,
              cfg->max_batch), e->be->workers));
  int per_pass = (cfg->max_batch + n - 1) / n;
  s->per_batch = per_pass;
  /* a batch that mixes orientations pads its frames to a square: the first
   * context holds at least one such frame, as one context of max_batch
   * frames would */
  int long_pad = (e->model->max_size + 31) / 32 * 32,
      short_pad = (e->model->min_size + 31) / 32 * 32;
  int square = MIN ((long_pad + short_pad - 1) / short_pad, cfg->max_batch);
  for (int k = 0; k < n; k++) {
    worker *w = &s->w[k];
    w->s = s;
    w->e = e;
    w->index = k;
    MRCNN_TRY (mrcnn_context_new (e, k == 0 ? MAX (per_pass, square)
            : per_pass, &w->ctx, err));
    s->n_workers++;
    GError *gerr = NULL;
    w->thread = g_thread_try_new ("mrcnn-worker", worker_loop, w, &gerr);
    if (!w->thread) {
      mrcnn_status st = mrcnn_fail (err, MRCNN_ERR_NO_MEMORY,
          "cannot start the engine's worker threads: %s",
          gerr ? gerr->message : "unknown error");
      g_clear_error (&gerr);
      return st;
    }
  }
  return MRCNN_OK;
}

mrcnn_status
mrcnn_engine_reserve (mrcnn_engine *e, int max_width, int max_height,
    mrcnn_error *err)
{
  if (!e)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_engine_reserve: NULL engine");
  if (max_width > 16384 || max_height > 16384)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "frame size %dx%d is beyond 16384x16384", max_width, max_height);
  struct mrcnn_scheduler *s = e->sched;
  g_mutex_lock (&s->lock);
  while (s->reserving)
    g_cond_wait (&s->done_cond, &s->lock);
  if (max_width <= s->max_w && max_height <= s->max_h) {
    g_mutex_unlock (&s->lock);
    return MRCNN_OK;
  }
  /* no pass starts, and those under way end, while the frames' staging
   * grows */
  s->reserving = TRUE;
  while (s->running)
    g_cond_wait (&s->done_cond, &s->lock);
  int w = MAX (max_width, s->max_w), h = MAX (max_height, s->max_h);
  say (s, MRCNN_LOG_DEBUG, "%dx%d frames exceed the planned %dx%d: growing "
      "the engine to %dx%d", max_width, max_height, s->max_w, s->max_h, w, h);
  g_mutex_unlock (&s->lock);
  mrcnn_status st = e->be->ops->frame_reserve (e->be, w, h, err);
  g_mutex_lock (&s->lock);
  if (st == MRCNN_OK) {
    s->max_w = w;
    s->max_h = h;
  }
  s->reserving = FALSE;
  g_cond_broadcast (&s->done_cond);
  g_cond_broadcast (&s->work_cond);
  g_mutex_unlock (&s->lock);
  return st;
}

/* ------------------------------------------------------------ calls */

/* n frames as one planned batch in up to `parts` parts at once, each with
 * `threads` threads (0: the scheduler's choice); mrcnn_engine_run_batch and
 * mrcnn_engine_run_pass. */
static mrcnn_status
run_call (mrcnn_engine *e, const char *fn, const mrcnn_image *images,
    const mrcnn_thresholds *thresholds, int n, int parts, int threads,
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
  call c = { images, th, .results = results, .st = MRCNN_OK };
  g_mutex_lock (&s->lock);
  for (int i = 0; i < n; i++) {
    mrcnn_error ierr = { 0 };
    mrcnn_status st = check_frame (e, &images[i],
        thresholds ? &thresholds[i] : NULL, &ierr);
    if (st != MRCNN_OK) {
      g_mutex_unlock (&s->lock);
      return n == 1 ? mrcnn_fail (err, st, "%s", ierr.message)
          : mrcnn_fail (err, st, "frame %d of the batch: %s", i, ierr.message);
    }
  }
  g_mutex_unlock (&s->lock);
  g_mutex_lock (&e->lock);
  for (int i = 0; i < n; i++)
    th[i] = thresholds ? thresholds[i] : e->th;
  g_mutex_unlock (&e->lock);
  /* the first context is the largest: a batch it cannot hold fails here,
   * and one it holds runs on it at least */
  MRCNN_TRY (mrcnn_batch_plan (e, s->w[0].ctx, images, n, &c.b, err));

  /* parts of an equal share of the frames; those left over (fewer than
   * the parts) one per part */
  int groups = MIN (n, parts), per = n / groups, rest = n % groups;
  work w[MRCNN_BATCH_MAX];
  int n_work = 0;
  for (int k = 0; k < groups; k++)
    w[n_work++] = (work) { WORK_PART, &c, k * per, per, threads };
  for (int k = 0; k < rest; k++)
    w[n_work++] = (work) { WORK_PART, &c, groups * per + k, 1, threads };
  c.parts_left = n_work;
  g_mutex_lock (&s->lock);
  for (int k = 0; k < n_work; k++)
    g_queue_push_tail (&s->queue, &w[k]);
  g_cond_broadcast (&s->work_cond);
  while (c.parts_left > 0)
    g_cond_wait (&s->done_cond, &s->lock);
  g_mutex_unlock (&s->lock);
  g_mutex_lock (&e->lock);
  memcpy (e->stage_ms, c.stage_ms, sizeof c.stage_ms);
  g_mutex_unlock (&e->lock);
  if (c.st != MRCNN_OK) {
    for (int i = 0; i < n; i++) {
      mrcnn_result_free (results[i]);
      results[i] = NULL;
    }
    if (err)
      *err = c.err;
  }
  return c.st;
}

mrcnn_status
mrcnn_engine_run_batch (mrcnn_engine *e, const mrcnn_image *images,
    const mrcnn_thresholds *thresholds, int n, mrcnn_result **results,
    mrcnn_error *err)
{
  return run_call (e, "mrcnn_engine_run_batch", images, thresholds, n,
      e ? e->sched->n_workers : 1, 0, results, err);
}

mrcnn_status
mrcnn_engine_run_pass (mrcnn_engine *e, const mrcnn_image *images,
    const mrcnn_thresholds *thresholds, int n, int threads,
    mrcnn_result **results, mrcnn_error *err)
{
  return run_call (e, "mrcnn_engine_run_pass", images, thresholds, n, 1,
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

/* ------------------------------------------------------------ streams */

mrcnn_status
mrcnn_stream_new (mrcnn_engine *e, mrcnn_stream **out, mrcnn_error *err)
{
  if (!e || !out)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_stream_new: NULL argument");
  mrcnn_stream *st = g_new0 (mrcnn_stream, 1);
  struct mrcnn_scheduler *s = e->sched;
  st->e = e;
  st->active = TRUE;
  g_mutex_lock (&s->lock);
  s->streams = g_list_prepend (s->streams, st);
  g_mutex_unlock (&s->lock);
  *out = st;
  return MRCNN_OK;
}

void
mrcnn_stream_free (mrcnn_stream *st)
{
  if (!st)
    return;
  struct mrcnn_scheduler *s = st->e->sched;
  g_mutex_lock (&s->lock);
  s->streams = g_list_remove (s->streams, st);
  /* others' batches may have been waiting for its frames */
  g_cond_broadcast (&s->work_cond);
  g_mutex_unlock (&s->lock);
  g_free (st);
}

void
mrcnn_stream_set_active (mrcnn_stream *st, int active)
{
  struct mrcnn_scheduler *s = st->e->sched;
  g_mutex_lock (&s->lock);
  st->active = active != 0;
  g_cond_broadcast (&s->work_cond);
  g_mutex_unlock (&s->lock);
}

void
mrcnn_stream_set_cancelled (mrcnn_stream *st, int cancelled)
{
  struct mrcnn_scheduler *s = st->e->sched;
  g_mutex_lock (&s->lock);
  st->cancelled = cancelled != 0;
  if (st->cancelled)
    st->active = FALSE;
  g_cond_broadcast (&s->work_cond);
  g_cond_broadcast (&s->done_cond);
  g_mutex_unlock (&s->lock);
}

mrcnn_status
mrcnn_stream_run (mrcnn_stream *st, const mrcnn_image *image,
    const mrcnn_thresholds *th, int wait_ms, mrcnn_result **out,
    mrcnn_error *err)
{
  if (!st || !image || !out)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_stream_run: NULL argument");
  *out = NULL;
  mrcnn_engine *e = st->e;
  struct mrcnn_scheduler *s = e->sched;
  work f = { WORK_FRAME, .stream = st, .image = image };
  f.deadline = g_get_monotonic_time () + (gint64) MAX (wait_ms, 0) * 1000;
  if (th) {
    f.th = *th;
  } else {
    g_mutex_lock (&e->lock);
    f.th = e->th;
    g_mutex_unlock (&e->lock);
  }

  g_mutex_lock (&s->lock);
  if (st->cancelled) {
    g_mutex_unlock (&s->lock);
    return mrcnn_fail (err, MRCNN_ERR_CANCELLED, "the stream is cancelled");
  }
  st->active = TRUE;
  g_queue_push_tail (&s->queue, &f);
  g_cond_broadcast (&s->work_cond);
  while (!f.done) {
    if (st->cancelled && !f.taken) {
      g_queue_remove (&s->queue, &f);
      /* the frames behind it may be ready now */
      g_cond_broadcast (&s->work_cond);
      break;
    }
    g_cond_wait (&s->done_cond, &s->lock);
  }
  gboolean cancelled = st->cancelled;
  g_mutex_unlock (&s->lock);

  if (cancelled) {
    mrcnn_result_free (f.result);
    return mrcnn_fail (err, MRCNN_ERR_CANCELLED, "the stream is cancelled");
  }
  if (f.st != MRCNN_OK) {
    if (err)
      *err = f.err;
    return f.st;
  }
  *out = f.result;
  return MRCNN_OK;
}

/* ------------------------------------------------------------ facts */

void
mrcnn_engine_set_log_func (mrcnn_engine *e, mrcnn_log_func func,
    void *user_data)
{
  if (!e)
    return;
  g_mutex_lock (&e->sched->lock);
  e->sched->log = func;
  e->sched->log_data = user_data;
  g_mutex_unlock (&e->sched->lock);
}

int
mrcnn_engine_max_batch (const mrcnn_engine *e)
{
  return e ? e->cfg.max_batch : 0;
}

int
mrcnn_engine_passes (const mrcnn_engine *e)
{
  return e ? e->sched->n_workers : 0;
}

int
mrcnn_engine_threads (const mrcnn_engine *e)
{
  return e ? e->be->workers : 0;
}
