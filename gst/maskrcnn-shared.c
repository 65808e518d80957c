/* gst-maskrcnn: engines shared by maskrcnn elements, and their batcher.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "maskrcnn-shared.h"

#include <string.h>

#include "gstmaskrcnn.h"
#ifdef GST_MASK_RCNN_HAVE_CUDA
#include <gst/cuda/gstcudacontext.h>
#endif

GST_DEBUG_CATEGORY_STATIC (maskrcnn_shared_debug);
#define GST_CAT_DEFAULT maskrcnn_shared_debug

/* The engine's limit on frames per forward pass (MRCNN_BATCH_MAX), which
 * also bounds its passes at once. */
#define MAX_BATCH 64

/* One frame waiting for its result, on its submitter's stack. */
typedef struct
{
  const mrcnn_image *image;
  mrcnn_thresholds th;
  gpointer cuda_ctx;
  GstMaskRcnnSharedUser *user;
  gint64 deadline;              /* monotonic, us */
  gboolean taken;               /* in the batch that runs now */
  gboolean done;
  mrcnn_status status;
  mrcnn_result *result;
  mrcnn_error err;
} Request;

struct _GstMaskRcnnShared
{
  gchar *id;                    /* NULL: one element's own, not registered */
  gint refs;                    /* under registry_lock */

  /* Held by the element that checks or makes the engine at its start. */
  GMutex setup_lock;

  /* Written once under setup_lock (set_engine), read by the users. */
  mrcnn_model *model;
  GstMaskRcnnSharedSettings settings;
  gchar *creator;               /* name of the element that made the engine */
  gchar *no_cuda_reason;
  mrcnn_backend_kind kind;
  gint device;                  /* the engine's CUDA device, -1: current */

  /* The batcher, under lock. */
  GMutex lock;
  GCond cond;
  mrcnn_engine *engine;
  mrcnn_engine_config cfg;      /* what the engine was made with */
  GQueue pending;               /* of Request *, oldest first */
  guint running;                /* batches under way */
  guint in_flight;              /* frames in them */
  gboolean swapping;            /* the engine is being replaced */
  GList *users;
  /* Engines shared under an id run their batches in these threads, one
   * per forward pass the engine runs at once (mrcnn_engine_passes: on the
   * CPU up to one per thread, on CUDA one), each taking the next batch as
   * soon as its own pass has ended, so that no pass waits for another's
   * frames. Each keeps its CPU thread pool (OpenMP keeps a pool per
   * calling thread) from batch to batch. None for an element's own engine,
   * whose batches run on its streaming thread. */
  GThread *workers[MAX_BATCH];
  guint n_workers;
  guint per_batch;              /* frames a worker's batch takes at most */
  gboolean quit;
};

struct _GstMaskRcnnSharedUser
{
  GstMaskRcnnShared *sh;
  GstElement *element;
  /* Under sh->lock. */
  gboolean flushing;
  gboolean streaming;           /* others wait for its frames to batch */
};

static GMutex registry_lock;
static GHashTable *registry;    /* id -> GstMaskRcnnShared */

void
gst_maskrcnn_shared_settings_clear (GstMaskRcnnSharedSettings * s)
{
  g_clear_pointer (&s->model, g_free);
}

/* ------------------------------------------------------------ joining */

GstMaskRcnnSharedUser *
gst_maskrcnn_shared_join (const gchar * id, GstElement * element)
{
  static gsize debug_once = 0;
  GstMaskRcnnShared *sh = NULL;
  GstMaskRcnnSharedUser *user;

  if (g_once_init_enter (&debug_once)) {
    GST_DEBUG_CATEGORY_INIT (maskrcnn_shared_debug, "maskrcnnshared", 0,
        "maskrcnn engines shared between elements, and their batches");
    g_once_init_leave (&debug_once, 1);
  }

  g_mutex_lock (&registry_lock);
  if (id) {
    if (!registry)
      registry = g_hash_table_new (g_str_hash, g_str_equal);
    sh = g_hash_table_lookup (registry, id);
  }
  if (!sh) {
    sh = g_new0 (GstMaskRcnnShared, 1);
    sh->id = g_strdup (id);
    g_mutex_init (&sh->setup_lock);
    g_mutex_init (&sh->lock);
    g_cond_init (&sh->cond);
    g_queue_init (&sh->pending);
    if (id)
      g_hash_table_insert (registry, sh->id, sh);
  }
  sh->refs++;
  g_mutex_unlock (&registry_lock);

  user = g_new0 (GstMaskRcnnSharedUser, 1);
  user->sh = sh;
  user->element = element;
  user->streaming = TRUE;
  g_mutex_lock (&sh->lock);
  sh->users = g_list_prepend (sh->users, user);
  g_mutex_unlock (&sh->lock);
  GST_DEBUG_OBJECT (element, "joined engine \"%s\" (%d users)",
      id ? id : "(own)", sh->refs);
  return user;
}

static void run_next_batch (GstMaskRcnnShared * sh);
static gboolean batch_ready (GstMaskRcnnShared * sh, gint64 now,
    gint64 * wake);

static gpointer
worker_loop (gpointer data)
{
  GstMaskRcnnShared *sh = data;

  g_mutex_lock (&sh->lock);
  while (!sh->quit) {
    gint64 wake = 0;
    if (!sh->swapping && sh->pending.length
        && batch_ready (sh, g_get_monotonic_time (), &wake))
      run_next_batch (sh);
    else if (!sh->swapping && sh->pending.length)
      g_cond_wait_until (&sh->cond, &sh->lock, wake);
    else
      g_cond_wait (&sh->cond, &sh->lock);
  }
  g_mutex_unlock (&sh->lock);
  return NULL;
}

void
gst_maskrcnn_shared_leave (GstMaskRcnnSharedUser * user)
{
  GstMaskRcnnShared *sh = user->sh;
  gboolean last;

  g_mutex_lock (&sh->lock);
  sh->users = g_list_remove (sh->users, user);
  /* Others may have been waiting for this user's frames to fill a batch. */
  g_cond_broadcast (&sh->cond);
  g_mutex_unlock (&sh->lock);
  GST_DEBUG_OBJECT (user->element, "left engine \"%s\"",
      sh->id ? sh->id : "(own)");
  g_free (user);

  g_mutex_lock (&registry_lock);
  last = --sh->refs == 0;
  if (last && sh->id)
    g_hash_table_remove (registry, sh->id);
  g_mutex_unlock (&registry_lock);
  if (!last)
    return;

  if (sh->n_workers) {
    guint i;

    g_mutex_lock (&sh->lock);
    sh->quit = TRUE;
    g_cond_broadcast (&sh->cond);
    g_mutex_unlock (&sh->lock);
    for (i = 0; i < sh->n_workers; i++)
      g_thread_join (sh->workers[i]);
  }
  /* The engine before the model it was made from. */
  if (sh->engine)
    mrcnn_engine_free (sh->engine);
  if (sh->model)
    mrcnn_model_free (sh->model);
  gst_maskrcnn_shared_settings_clear (&sh->settings);
  g_free (sh->creator);
  g_free (sh->no_cuda_reason);
  g_free (sh->id);
  g_mutex_clear (&sh->setup_lock);
  g_mutex_clear (&sh->lock);
  g_cond_clear (&sh->cond);
  g_free (sh);
}

void
gst_maskrcnn_shared_lock_setup (GstMaskRcnnSharedUser * user)
{
  g_mutex_lock (&user->sh->setup_lock);
}

void
gst_maskrcnn_shared_unlock_setup (GstMaskRcnnSharedUser * user)
{
  g_mutex_unlock (&user->sh->setup_lock);
}

gboolean
gst_maskrcnn_shared_has_engine (GstMaskRcnnSharedUser * user)
{
  return user->sh->model != NULL;
}

static gchar *
enum_nick (GType type, gint value)
{
  GEnumClass *klass = g_type_class_ref (type);
  GEnumValue *v = g_enum_get_value (klass, value);
  gchar *nick = v ? g_strdup (v->value_nick) : g_strdup_printf ("%d", value);

  g_type_class_unref (klass);
  return nick;
}

gchar *
gst_maskrcnn_shared_mismatch (GstMaskRcnnSharedUser * user,
    const GstMaskRcnnSharedSettings * s)
{
  const GstMaskRcnnSharedSettings *e = &user->sh->settings;
  const gchar *name = NULL;
  gchar *mine = NULL, *theirs = NULL, *msg;

  if (g_strcmp0 (s->model, e->model) != 0) {
    name = "model";
    mine = g_strdup_printf ("\"%s\"", s->model);
    theirs = g_strdup_printf ("\"%s\"", e->model);
  } else if (s->backend != e->backend) {
    name = "backend";
    mine = enum_nick (GST_TYPE_MASK_RCNN_BACKEND, s->backend);
    theirs = enum_nick (GST_TYPE_MASK_RCNN_BACKEND, e->backend);
  } else if (s->device_id != e->device_id) {
    name = "device-id";
    mine = g_strdup_printf ("%d", s->device_id);
    theirs = g_strdup_printf ("%d", e->device_id);
  } else if (s->threads != e->threads) {
    name = "threads";
    mine = g_strdup_printf ("%d", s->threads);
    theirs = g_strdup_printf ("%d", e->threads);
  } else if (s->precision != e->precision) {
    name = "precision";
    mine = enum_nick (GST_TYPE_MASK_RCNN_PRECISION, s->precision);
    theirs = enum_nick (GST_TYPE_MASK_RCNN_PRECISION, e->precision);
  } else if (s->batch_size != e->batch_size) {
    name = "batch-size";
    mine = g_strdup_printf ("%d", s->batch_size);
    theirs = g_strdup_printf ("%d", e->batch_size);
  } else if (s->max_detections != e->max_detections) {
    name = "max-detections";
    mine = g_strdup_printf ("%d", s->max_detections);
    theirs = g_strdup_printf ("%d", e->max_detections);
  }
  if (!name)
    return NULL;
  msg = g_strdup_printf ("Cannot share the engine of model-instance-id "
      "\"%s\": this element has %s=%s but the engine was started by element "
      "\"%s\" with %s=%s. Elements sharing an engine must agree on model, "
      "backend, device-id, threads, precision, batch-size and "
      "max-detections: give them the same %s, or a different "
      "model-instance-id.", user->sh->id, name, mine, user->sh->creator,
      name, theirs, name);
  g_free (mine);
  g_free (theirs);
  return msg;
}

void
gst_maskrcnn_shared_set_engine (GstMaskRcnnSharedUser * user,
    mrcnn_model * model, mrcnn_engine * engine,
    const mrcnn_engine_config * cfg, const GstMaskRcnnSharedSettings * s,
    const gchar * no_cuda_reason)
{
  GstMaskRcnnShared *sh = user->sh;
  gchar *creator = gst_object_get_name (GST_OBJECT (user->element));

  g_mutex_lock (&sh->lock);
  sh->model = model;
  sh->engine = engine;
  sh->cfg = *cfg;
  sh->kind = mrcnn_engine_backend (engine);
  sh->device = cfg->device_id;
  sh->settings = *s;
  sh->settings.model = g_strdup (s->model);
  sh->creator = creator;
  sh->no_cuda_reason = g_strdup (no_cuda_reason);
  if (sh->id && !sh->n_workers) {
    gchar *name = g_strdup_printf ("maskrcnn:%s", sh->id);
    guint i, n = (guint) CLAMP (mrcnn_engine_passes (engine), 1, MAX_BATCH);
    guint size = (guint) CLAMP (s->batch_size, 1, MAX_BATCH);

    /* a thread name holds 15 characters */
    name[MIN (strlen (name), 15)] = '\0';
    /* the batch-size frames in flight, shared out between the workers */
    sh->per_batch = (size + n - 1) / n;
    for (i = 0; i < n; i++)
      sh->workers[i] = g_thread_new (name, worker_loop, sh);
    sh->n_workers = n;
    GST_DEBUG ("engine \"%s\": %u batches at once, of up to %u frames each",
        sh->id, n, sh->per_batch);
    g_free (name);
  }
  g_mutex_unlock (&sh->lock);
}

mrcnn_backend_kind
gst_maskrcnn_shared_backend (GstMaskRcnnSharedUser * user)
{
  return user->sh->kind;
}

const gchar *
gst_maskrcnn_shared_no_cuda_reason (GstMaskRcnnSharedUser * user)
{
  return user->sh->no_cuda_reason;
}

gint
gst_maskrcnn_shared_device (GstMaskRcnnSharedUser * user)
{
  return user->sh->device;
}

gint
gst_maskrcnn_shared_max_detections (GstMaskRcnnSharedUser * user)
{
  return user->sh->settings.max_detections;
}

gboolean
gst_maskrcnn_shared_reserve (GstMaskRcnnSharedUser * user, gint w, gint h,
    gint * planned_w, gint * planned_h, mrcnn_error * err)
{
  GstMaskRcnnShared *sh = user->sh;
  mrcnn_engine_config cfg;
  mrcnn_engine *engine = NULL;
  mrcnn_status st;

  g_mutex_lock (&sh->lock);
  while (sh->swapping)
    g_cond_wait (&sh->cond, &sh->lock);
  if (w <= sh->cfg.max_width && h <= sh->cfg.max_height) {
    g_mutex_unlock (&sh->lock);
    return TRUE;
  }
  /* Keeps new batches out, and waits for those under way to end, while
   * the engine is replaced. */
  sh->swapping = TRUE;
  while (sh->running)
    g_cond_wait (&sh->cond, &sh->lock);
  cfg = sh->cfg;
  g_mutex_unlock (&sh->lock);

  cfg.backend = sh->kind;
  cfg.max_width = MAX (w, cfg.max_width);
  cfg.max_height = MAX (h, cfg.max_height);
  *planned_w = cfg.max_width;
  *planned_h = cfg.max_height;
  GST_INFO_OBJECT (user->element, "%dx%d frames exceed the planned %dx%d, "
      "making a new engine", w, h, sh->cfg.max_width, sh->cfg.max_height);
  st = mrcnn_engine_new (sh->model, &cfg, &engine, err);

  g_mutex_lock (&sh->lock);
  if (st == MRCNN_OK) {
    mrcnn_engine_free (sh->engine);
    sh->engine = engine;
    sh->cfg = cfg;
  }
  sh->swapping = FALSE;
  g_cond_broadcast (&sh->cond);
  g_mutex_unlock (&sh->lock);
  return st == MRCNN_OK;
}

void
gst_maskrcnn_shared_set_flushing (GstMaskRcnnSharedUser * user,
    gboolean flushing)
{
  g_mutex_lock (&user->sh->lock);
  user->flushing = flushing;
  if (flushing)
    user->streaming = FALSE;
  g_cond_broadcast (&user->sh->cond);
  g_mutex_unlock (&user->sh->lock);
}

void
gst_maskrcnn_shared_set_streaming (GstMaskRcnnSharedUser * user,
    gboolean streaming)
{
  g_mutex_lock (&user->sh->lock);
  user->streaming = streaming;
  g_cond_broadcast (&user->sh->cond);
  g_mutex_unlock (&user->sh->lock);
}

/* ------------------------------------------------------------ batches */

static gboolean
same_size (const Request * a, const Request * b)
{
  return a->image->width == b->image->width &&
      a->image->height == b->image->height;
}

/* The most frames one batch takes: with workers, each one's share of
 * batch-size. */
static guint
batch_max (GstMaskRcnnShared * sh)
{
  return sh->n_workers ? sh->per_batch
      : (guint) CLAMP (sh->settings.batch_size, 1, MAX_BATCH);
}

/* The elements that stream (and do not flush): each will send a frame.
 * Called with the lock held. */
static guint
count_streaming (GstMaskRcnnShared * sh)
{
  guint n = 0;
  GList *l;

  for (l = sh->users; l; l = l->next) {
    const GstMaskRcnnSharedUser *u = l->data;
    n += u->streaming && !u->flushing;
  }
  return n;
}

/* Whether the next batch should run now; else *wake is when it will have
 * to. Called with the lock held. */
static gboolean
batch_ready (GstMaskRcnnShared * sh, gint64 now, gint64 * wake)
{
  const Request *oldest = g_queue_peek_head (&sh->pending);
  guint n_same = 0;
  gint64 deadline = G_MAXINT64;
  GList *l;

  for (l = sh->pending.head; l; l = l->next) {
    const Request *r = l->data;
    if (same_size (r, oldest))
      n_same++;
    deadline = MIN (deadline, r->deadline);
  }
  if (n_same >= batch_max (sh) || now >= deadline)
    return TRUE;
  /* Every element that streams has its frame here or in a batch under way:
   * none can come. */
  if (sh->pending.length + sh->in_flight >= count_streaming (sh))
    return TRUE;
  *wake = deadline;
  return FALSE;
}

/* threads < 0: mrcnn_engine_run_batch; else one pass with that many
 * threads (0: those no other pass holds) */
static mrcnn_status
run_frames (mrcnn_engine * engine, gint threads, const mrcnn_image * images,
    const mrcnn_thresholds * th, guint n, mrcnn_result ** results,
    mrcnn_error * err)
{
  return threads >= 0 ? mrcnn_engine_run_pass (engine, images, th, (int) n,
      threads, results, err) : mrcnn_engine_run_batch (engine, images, th,
      (int) n, results, err);
}

/* Runs n frames of one size; on failure of several, runs them again one at
 * a time so that only the bad frame fails. Called without the lock. */
static void
run_batch (GstMaskRcnnShared * sh, mrcnn_engine * engine, gint threads,
    Request ** batch, guint n)
{
  /* zeroed: the compiler cannot see that n >= 1 entries are filled */
  mrcnn_image images[MAX_BATCH] = { { 0, } };
  mrcnn_thresholds th[MAX_BATCH] = { { 0, } };
  mrcnn_result *results[MAX_BATCH];
  mrcnn_error err = { 0, };
  mrcnn_status st;
  guint i;
#ifdef GST_MASK_RCNN_HAVE_CUDA
  gboolean pushed = FALSE;

  /* Every context handed in wraps the primary context of the engine's
   * device (the elements check at start), so any of them will do. */
  for (i = 0; i < n && !pushed; i++)
    if (batch[i]->image->on_device && batch[i]->cuda_ctx)
      pushed = gst_cuda_context_push (GST_CUDA_CONTEXT (batch[i]->cuda_ctx));
#endif

  for (i = 0; i < n; i++) {
    images[i] = *batch[i]->image;
    th[i] = batch[i]->th;
  }
  st = run_frames (engine, threads, images, th, n, results, &err);
  if (st == MRCNN_OK || n == 1) {
    for (i = 0; i < n; i++) {
      batch[i]->status = st;
      batch[i]->result = results[i];
      batch[i]->err = err;
    }
  } else {
    GST_WARNING ("a batch of %u frames failed (%s), running them one by one "
        "to find the frame at fault", n, err.message);
    for (i = 0; i < n; i++)
      batch[i]->status = run_frames (engine, threads, &images[i], &th[i], 1,
          &batch[i]->result, &batch[i]->err);
  }
#ifdef GST_MASK_RCNN_HAVE_CUDA
  if (pushed)
    gst_cuda_context_pop (NULL);
#endif
}

/* Takes the oldest waiting frame and the next ones of its size, up to
 * batch_max, and runs them (with workers: as one forward pass, beside the
 * other workers' batches). Called with the lock held and the engine not
 * being replaced; returns with it held. */
static void
run_next_batch (GstMaskRcnnShared * sh)
{
  Request *batch[MAX_BATCH];
  const Request *oldest = g_queue_peek_head (&sh->pending);
  mrcnn_engine *engine = sh->engine;
  guint n = 0, i, max = batch_max (sh), at_once;
  gint threads = -1;
  GList *l, *next;

  for (l = sh->pending.head; l && n < max; l = next) {
    Request *r = l->data;
    next = l->next;
    if (r != oldest && !same_size (r, oldest))
      continue;
    batch[n++] = r;
    r->taken = TRUE;
    g_queue_delete_link (&sh->pending, l);
  }
  at_once = ++sh->running;
  sh->in_flight += n;
  if (sh->n_workers) {
    /* With several elements streaming, each worker's pass has its share of
     * the engine's threads (the first ones under way the threads left
     * over); with one, its pass takes every thread no other pass holds. */
    guint w = (guint) mrcnn_engine_threads (engine);

    threads = count_streaming (sh) < 2 ? 0 : (gint) MAX (1, w / sh->n_workers
        + (at_once <= w % sh->n_workers));
  }
  g_mutex_unlock (&sh->lock);

  gint64 t0 = g_get_monotonic_time ();
  GST_LOG ("batch of %u %dx%d frames, %u batches under way", n,
      batch[0]->image->width, batch[0]->image->height, at_once);
  run_batch (sh, engine, threads, batch, n);
  GST_LOG ("batch of %u frames ran in %.1f ms", n,
      (g_get_monotonic_time () - t0) / 1000.0);

  g_mutex_lock (&sh->lock);
  for (i = 0; i < n; i++)
    batch[i]->done = TRUE;
  sh->running--;
  sh->in_flight -= n;
  g_cond_broadcast (&sh->cond);
}

GstMaskRcnnSharedReturn
gst_maskrcnn_shared_run (GstMaskRcnnSharedUser * user,
    const mrcnn_image * image, const mrcnn_thresholds * th, guint timeout_ms,
    gpointer cuda_ctx, mrcnn_result ** result, mrcnn_error * err)
{
  GstMaskRcnnShared *sh = user->sh;
  Request r = { 0, };
  gboolean flushing;

  *result = NULL;
  r.image = image;
  r.th = *th;
  r.cuda_ctx = cuda_ctx;
  r.user = user;
  r.deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  g_mutex_lock (&sh->lock);
  if (user->flushing) {
    g_mutex_unlock (&sh->lock);
    return GST_MASK_RCNN_SHARED_FLUSHING;
  }
  user->streaming = TRUE;
  g_queue_push_tail (&sh->pending, &r);
  /* A waiting thread may have been waiting for this frame. */
  g_cond_broadcast (&sh->cond);

  while (!r.done) {
    gint64 wake = 0;

    if (user->flushing && !r.taken) {
      g_queue_remove (&sh->pending, &r);
      g_cond_broadcast (&sh->cond);
      break;
    }
    /* No batch runs, so this frame waits in pending: lead the next batch
     * (which may not hold this frame: then wait for the one after), unless
     * the workers run the batches. */
    if (sh->n_workers)
      g_cond_wait (&sh->cond, &sh->lock);
    else if (!sh->running && !sh->swapping
        && batch_ready (sh, g_get_monotonic_time (), &wake))
      run_next_batch (sh);
    else if (!sh->running && !sh->swapping)
      g_cond_wait_until (&sh->cond, &sh->lock, wake);
    else
      g_cond_wait (&sh->cond, &sh->lock);
  }
  flushing = user->flushing;
  g_mutex_unlock (&sh->lock);

  if (flushing) {
    if (r.result)
      mrcnn_result_free (r.result);
    return GST_MASK_RCNN_SHARED_FLUSHING;
  }
  if (r.status != MRCNN_OK) {
    *err = r.err;
    err->status = r.status;
    return GST_MASK_RCNN_SHARED_FAILED;
  }
  *result = r.result;
  return GST_MASK_RCNN_SHARED_OK;
}
