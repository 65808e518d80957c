/* Intermediate tensors for parity tests and tools (engine_debug.h). Only an
 * engine asked to keep them (mrcnn_engine_debug_keep) has a record; its
 * forward passes copy each frame's tensors into it, to host memory, while
 * their context's buffers hold them (mrcnn_debug_keep_pass), so that the
 * contexts carry nothing for this path and every frame of a batch run in
 * parts or on several contexts stays readable. */
#include <string.h>

#include "engine_priv.h"
#include "engine_debug.h"

/* The tensors kept per frame, by name. */
static const char *const tensor_names[] = { "image", "fpn0", "fpn1", "fpn2",
  "fpn3", "fpn4", "proposals", "mask_probs" };
enum { T_IMAGE, T_FPN0, T_PROPOSALS = T_FPN0 + MRCNN_LEVELS, T_MASK_PROBS,
  T_COUNT };
G_STATIC_ASSERT (G_N_ELEMENTS (tensor_names) == T_COUNT);

typedef struct {
  float *data;                  /* host */
  int ndim, shape[4];
} kept_tensor;

typedef struct {
  int kept;
  kept_tensor t[T_COUNT];
} kept_frame;

/* lock: passes that run at once keep their frames side by side */
struct mrcnn_debug {
  GMutex lock;
  kept_frame frame[MRCNN_BATCH_MAX];
};

static void
frame_clear (kept_frame *f)
{
  for (int k = 0; k < T_COUNT; k++)
    g_free (f->t[k].data);
  memset (f, 0, sizeof *f);
}

void
mrcnn_debug_free (struct mrcnn_debug *d)
{
  if (!d)
    return;
  for (int i = 0; i < MRCNN_BATCH_MAX; i++)
    frame_clear (&d->frame[i]);
  g_mutex_clear (&d->lock);
  g_free (d);
}

void
mrcnn_engine_debug_keep (mrcnn_engine *e, int on)
{
  if (!e)
    return;
  mrcnn_debug_free (e->debug);
  e->debug = NULL;
  if (on) {
    e->debug = g_new0 (struct mrcnn_debug, 1);
    g_mutex_init (&e->debug->lock);
  }
}

/* Image i of a batched feature map, as plain NCHW. */
static mrcnn_status
keep_map (const mrcnn_engine *e, const mrcnn_context *ctx,
    const mrcnn_fmap *batch, int i, kept_tensor *out, mrcnn_error *err)
{
  mrcnn_backend *be = e->be;
  mrcnn_fmap f;
  be->ops->image_view (be, batch, i, &f);
  const size_t n = mrcnn_fmap_numel (&f);
  float *plain = NULL;
  mrcnn_status st = be->ops->alloc (be, n, &plain, err);
  mrcnn_fmap pf = { plain, .layout = MRCNN_LAYOUT_NCHW };
  if (st == MRCNN_OK)
    st = be->ops->to_nchw (be, ctx->q, &f, &pf, err);
  *out = (kept_tensor) { g_new0 (float, MAX (n, 1)), 4, { f.n, f.c, f.h,
      f.w } };
  if (st == MRCNN_OK)
    st = mrcnn_context_download (e, ctx, plain, n, out->data, err);
  mrcnn_release_buf (be, &plain);
  return st;
}

/* count rows of row_floats floats each from src (backend memory); shape
 * after the rows: the rest of a row's dims. */
static mrcnn_status
keep_rows (const mrcnn_engine *e, const mrcnn_context *ctx, const float *src,
    int count, int ndim, const int *row_shape, kept_tensor *out,
    mrcnn_error *err)
{
  size_t row_floats = 1;
  *out = (kept_tensor) { NULL, ndim, { count } };
  for (int d = 1; d < ndim; d++) {
    out->shape[d] = row_shape[d - 1];
    row_floats *= (size_t) row_shape[d - 1];
  }
  out->data = g_new0 (float, MAX ((size_t) count * row_floats, 1));
  return mrcnn_context_download (e, ctx, src, (size_t) count * row_floats,
      out->data, err);
}

static mrcnn_status
keep_frame (const mrcnn_engine *e, const mrcnn_context *ctx,
    const mrcnn_debug_pass *pass, int i, kept_frame *f, mrcnn_error *err)
{
  static const int box[] = { 4 }, mask[] = { MRCNN_MASK_SIZE,
    MRCNN_MASK_SIZE };
  const mrcnn_rows *pr = &pass->props->rows, *dr = &pass->dets->rows;
  MRCNN_TRY (keep_map (e, ctx, pass->input, i, &f->t[T_IMAGE], err));
  for (int l = 0; l < MRCNN_LEVELS; l++)
    MRCNN_TRY (keep_map (e, ctx, &pass->pyramid[l], i, &f->t[T_FPN0 + l],
            err));
  MRCNN_TRY (keep_rows (e, ctx,
          pass->props->boxes + (size_t) pr->start[i] * 4, pr->count[i], 2,
          box, &f->t[T_PROPOSALS], err));
  return keep_rows (e, ctx, pass->mask_probs
      + (size_t) dr->start[i] * MRCNN_MASK_SIZE * MRCNN_MASK_SIZE,
      dr->count[i], 3, mask, &f->t[T_MASK_PROBS], err);
}

mrcnn_status
mrcnn_debug_keep_pass (const mrcnn_engine *e, const mrcnn_context *ctx,
    const mrcnn_debug_pass *pass, mrcnn_error *err)
{
  struct mrcnn_debug *d = e->debug;
  for (int i = 0; i < pass->input->n; i++) {
    kept_frame f = { 1 };
    mrcnn_status st = keep_frame (e, ctx, pass, i, &f, err);
    if (st != MRCNN_OK) {
      frame_clear (&f);
      return st;
    }
    g_mutex_lock (&d->lock);
    frame_clear (&d->frame[pass->first + i]);
    d->frame[pass->first + i] = f;
    g_mutex_unlock (&d->lock);
  }
  return MRCNN_OK;
}

mrcnn_status
mrcnn_engine_debug_tensor (const mrcnn_engine *e, const char *name,
    int frame, float **data, int shape[4], int *ndim, mrcnn_error *err)
{
  if (!e || !name || !data || !shape || !ndim)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_engine_debug_tensor: NULL argument");
  int k = 0;
  while (k < T_COUNT && strcmp (name, tensor_names[k]) != 0)
    k++;
  if (k == T_COUNT)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "unknown debug tensor '%s'", name);
  struct mrcnn_debug *d = e->debug;
  if (!d)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_engine_debug_tensor: the engine keeps no intermediate "
        "tensors; call mrcnn_engine_debug_keep before running it");
  mrcnn_status st = MRCNN_OK;
  g_mutex_lock (&d->lock);
  if (frame < 0 || frame >= MRCNN_BATCH_MAX || !d->frame[frame].kept) {
    st = mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "mrcnn_engine_debug_tensor: frame %d has not run since "
        "mrcnn_engine_debug_keep", frame);
  } else {
    const kept_tensor *t = &d->frame[frame].t[k];
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) {
      shape[i] = t->shape[i];
      n *= (size_t) t->shape[i];
    }
    *ndim = t->ndim;
    *data = g_memdup2 (t->data, MAX (n, 1) * sizeof (float));
  }
  g_mutex_unlock (&d->lock);
  return st;
}
