/* The CUDA backend's tensor-core path (tc.h): its table, the scratch its
 * plans share, queues with their arena, marks and captured passes, pinned
 * staging and the results' one download.
 *
 * Compiled with -Dcuda=enabled; never run on a GPU yet (docs/cuda.md), and
 * refused at engine creation until tests/gpu/run.sh has passed it (the gate
 * in backend_cuda.c). */
#include <string.h>

#include "arena.h"
#include "tc.h"

/* ---------------------------------------------------------------- scratch */

mrcnn_status
mrcnn_tc_scratch_reserve (mrcnn_backend_cuda *cu, mrcnn_queue *q,
    size_t bytes, mrcnn_error *err)
{
  mrcnn_tc_state *tc = cu->tc;
  if (bytes <= tc->scratch_size)
    return MRCNN_OK;
  if (q && q->tc && q->tc->capture)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "the tensor-core path's "
        "scratch would have to grow from %zu to %zu bytes while a pass is "
        "captured", tc->scratch_size, bytes);
  CUDA_ENTER (cu, err);
  /* the old block may still be read by queued work */
  if (tc->scratch) {
    CUDA_CHECK (cudaStreamSynchronize (cu->stream), err);
    CUDA_CHECK (cudaFree (tc->scratch), err);
  }
  tc->scratch = NULL;
  tc->scratch_size = 0;
  bytes = (bytes + MRCNN_TC_BASE_ALIGN - 1) / MRCNN_TC_BASE_ALIGN
      * MRCNN_TC_BASE_ALIGN;
  cudaError_t e = cudaMalloc (&tc->scratch, bytes);
  if (e != cudaSuccess) {
    tc->scratch = NULL;
    return mrcnn_cuda_fail_lib (err, 1, __FILE__, __LINE__, "cannot "
        "allocate %zu MiB of scratch for the tensor-core path on GPU %d: %s",
        bytes >> 20, cu->device, cudaGetErrorString (e));
  }
  tc->scratch_size = bytes;
  tc->epoch++;
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- queues */

static void
graph_clear (mrcnn_tc_graph *g)
{
  if (g->exec)
    cudaGraphExecDestroy (g->exec);
  if (g->graph)
    cudaGraphDestroy (g->graph);
  g_free (g->key);
  memset (g, 0, sizeof *g);
}

static void
tc_queue_free (mrcnn_backend *be, mrcnn_queue *q)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  if (!q)
    return;
  mrcnn_tc_queue *t = q->tc;
  if (t) {
    cudaSetDevice (cu->device);
    cudaStreamSynchronize (cu->stream);
    for (int i = 0; i < MRCNN_TC_GRAPHS; i++)
      graph_clear (&t->graphs[i]);
    for (int i = 0; i < MRCNN_STAGE_COUNT + 1; i++)
      if (t->ev[i])
        cudaEventDestroy (t->ev[i]);
    if (t->arena)
      cudaFree (t->arena);
    if (t->staging)
      cudaFree (t->staging);
    if (t->host)
      cudaFreeHost (t->host);
    g_free (t);
    q->tc = NULL;
  }
  mrcnn_cuda_ops.queue_free (be, q);
}

static mrcnn_status
tc_queue_new (mrcnn_backend *be, mrcnn_queue **out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  MRCNN_TRY (mrcnn_cuda_ops.queue_new (be, out, err));
  mrcnn_queue *q = *out;
  q->tc = g_new0 (mrcnn_tc_queue, 1);
  cudaError_t e = cudaSetDevice (cu->device);
  for (int i = 0; e == cudaSuccess && i < MRCNN_STAGE_COUNT + 1; i++)
    e = cudaEventCreate (&q->tc->ev[i]);
  if (e != cudaSuccess) {
    tc_queue_free (be, q);
    *out = NULL;
    return mrcnn_cuda_fail_rt (err, e, "cudaEventCreate (stage marks)",
        __FILE__, __LINE__);
  }
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- memory */

/* The context's buffers in one block, planned from their stages
 * (arena.c); zeroed once, so that no buffer ever holds what fresh device
 * memory may. */
static mrcnn_status
tc_alloc_buffers (mrcnn_backend *be, mrcnn_queue *q, mrcnn_buffer_req *reqs,
    int n, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  mrcnn_tc_queue *t = q->tc;
  if (t->arena)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "alloc_buffers: this "
        "queue's arena exists already");
  size_t *off = g_new0 (size_t, MAX (n, 1));
  size_t size = mrcnn_arena_plan_requests (reqs, n,
      mrcnn_tc_type_size (cu->tc->math.reduced), MRCNN_TC_BASE_ALIGN, off);
  if (size == (size_t) -1) {
    g_free (off);
    return mrcnn_fail (err, MRCNN_ERR_NO_MEMORY, "cannot plan the "
        "context's arena (host memory)");
  }
  CUDA_ENTER (cu, err);
  cudaError_t e = cudaMalloc (&t->arena, MAX (size, 1));
  if (e != cudaSuccess) {
    t->arena = NULL;
    g_free (off);
    return mrcnn_cuda_fail_lib (err, 1, __FILE__, __LINE__, "cannot "
        "allocate the context's %zu MiB of device memory on GPU %d (%s): %s",
        size >> 20, cu->device, cu->device_name, cudaGetErrorString (e));
  }
  t->arena_size = size;
  for (int i = 0; i < n; i++)
    *reqs[i].slot = (float *) ((char *) t->arena + off[i]);
  g_free (off);
  CUDA_CHECK (cudaMemsetAsync (t->arena, 0, MAX (size, 1), cu->stream), err);
  return MRCNN_OK;
}

static void
tc_release_buffers (mrcnn_backend *be, mrcnn_queue *q, mrcnn_buffer_req *reqs,
    int n)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  mrcnn_tc_queue *t = q->tc;
  cudaSetDevice (cu->device);
  if (t->arena) {
    cudaStreamSynchronize (cu->stream);
    cudaFree (t->arena);
  }
  t->arena = NULL;
  t->arena_size = 0;
  for (int i = 0; i < n; i++)
    *reqs[i].slot = NULL;
}

/* Pinned host memory for the results and its device twin, into which the
 * spans are gathered so that one copy brings them all. */
static mrcnn_status
tc_download_reserve (mrcnn_backend *be, mrcnn_queue *q, size_t n,
    float **host, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  mrcnn_tc_queue *t = q->tc;
  *host = NULL;
  CUDA_ENTER (cu, err);
  if (t->host)
    CUDA_CHECK (cudaFreeHost (t->host), err);
  if (t->staging)
    CUDA_CHECK (cudaFree (t->staging), err);
  t->host = NULL;
  t->staging = NULL;
  t->host_size = 0;
  CUDA_CHECK (cudaMallocHost ((void **) &t->host, MAX (n, 1) * sizeof (float)),
      err);
  CUDA_CHECK (cudaMalloc ((void **) &t->staging, MAX (n, 1) * sizeof (float)),
      err);
  t->host_size = n;
  *host = t->host;
  return MRCNN_OK;
}

static mrcnn_status
tc_download_async (mrcnn_backend *be, mrcnn_queue *q, mrcnn_span *spans,
    int n, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  mrcnn_tc_queue *t = q->tc;
  size_t total = 0;
  for (int i = 0; i < n; i++) {
    spans[i].host = t->host + total;
    total += spans[i].n;
  }
  if (total > t->host_size)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "download_async: %zu floats "
        "of results, %zu reserved", total, t->host_size);
  if (t->skip || total == 0)
    return MRCNN_OK;
  CUDA_ENTER (cu, err);
  /* gathered in groups of MRCNN_CUDA_MAX_SPANS, then one copy */
  size_t off = 0;
  for (int i = 0; i < n; i += MRCNN_CUDA_MAX_SPANS) {
    mrcnn_cuda_spans s;
    memset (&s, 0, sizeof s);
    for (int k = i; k < n && k < i + MRCNN_CUDA_MAX_SPANS; k++) {
      s.src[s.count] = spans[k].src;
      s.n[s.count] = spans[k].n;
      s.off[s.count] = off;
      off += spans[k].n;
      s.count++;
    }
    CUDA_CHECK (mrcnn_cuda_gather_spans (&s, t->staging, cu->stream), err);
  }
  CUDA_CHECK (cudaMemcpyAsync (t->host, t->staging, total * sizeof (float),
          cudaMemcpyDeviceToHost, cu->stream), err);
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- marks */

static mrcnn_status
tc_mark (mrcnn_backend *be, mrcnn_queue *q, int stage, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  mrcnn_tc_queue *t = q->tc;
  if (stage < -1 || stage >= MRCNN_STAGE_COUNT)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "mark: no stage %d", stage);
  if (stage == -1)
    t->marked = 0;
  /* a plan-only pass runs nothing; a replayed graph records its own */
  if (t->plan_only || t->replay)
    return MRCNN_OK;
  CUDA_ENTER (cu, err);
  /* inside a capture the mark becomes the graph's event record node */
  CUDA_CHECK (cudaEventRecordWithFlags (t->ev[stage + 1], cu->stream,
          t->capture ? cudaEventRecordExternal : cudaEventRecordDefault), err);
  t->marked |= 1u << (stage + 1);
  return MRCNN_OK;
}

static void
tc_stage_times (mrcnn_backend *be, mrcnn_queue *q, double *ms)
{
  mrcnn_tc_queue *t = q->tc;
  int prev = (t->marked & 1u) ? 0 : -1;
  for (int s = 0; s < MRCNN_STAGE_COUNT; s++) {
    if (!(t->marked & (1u << (s + 1))))
      continue;
    float f = 0.0f;
    if (prev >= 0
        && cudaEventElapsedTime (&f, t->ev[prev], t->ev[s + 1]) == cudaSuccess)
      ms[s] += f;
    cudaGetLastError ();
    prev = s + 1;
  }
}

/* ---------------------------------------------------------------- passes */

static mrcnn_tc_graph *
graph_for (mrcnn_tc_queue *t, const void *key, size_t key_len)
{
  mrcnn_tc_graph *oldest = &t->graphs[0];
  for (int i = 0; i < MRCNN_TC_GRAPHS; i++) {
    mrcnn_tc_graph *g = &t->graphs[i];
    if (g->key && g->key_len == key_len && memcmp (g->key, key, key_len) == 0)
      return g;
    if (!g->key || (oldest->key && g->used < oldest->used))
      oldest = g;
  }
  graph_clear (oldest);
  oldest->key = g_memdup2 (key, key_len);
  oldest->key_len = key_len;
  return oldest;
}

static mrcnn_status
tc_pass_begin (mrcnn_backend *be, mrcnn_queue *q, const void *key,
    size_t key_len, int plan_only, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  mrcnn_tc_state *tc = cu->tc;
  mrcnn_tc_queue *t = q->tc;
  t->replay = t->capture = NULL;
  t->skip = t->plan_only = plan_only != 0;
  if (plan_only || !tc->graphs)
    return MRCNN_OK;
  mrcnn_tc_graph *g = graph_for (t, key, key_len);
  g->used = ++t->clock;
  if (g->exec && g->epoch == tc->epoch) {
    t->replay = g;
    t->skip = 1;
    return MRCNN_OK;
  }
  if (g->exec) {   /* the scratch moved: captured again */
    cudaGraphExecDestroy (g->exec);
    cudaGraphDestroy (g->graph);
    g->exec = NULL;
    g->graph = NULL;
  }
  /* the first pass of a key runs as it comes: it makes what it lacks
   * (plans, scratch) */
  if (g->uncapturable || g->seen++ < 1)
    return MRCNN_OK;
  CUDA_ENTER (cu, err);
  CUDA_CHECK (cudaStreamBeginCapture (cu->stream,
          cudaStreamCaptureModeThreadLocal), err);
  t->capture = g;
  return MRCNN_OK;
}

static mrcnn_status
tc_pass_end (mrcnn_backend *be, mrcnn_queue *q, int *ran, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  mrcnn_tc_state *tc = cu->tc;
  mrcnn_tc_queue *t = q->tc;
  mrcnn_tc_graph *replay = t->replay, *g = t->capture;
  *ran = 1;
  t->replay = t->capture = NULL;
  t->skip = t->plan_only = 0;
  CUDA_ENTER (cu, err);
  if (replay) {
    CUDA_CHECK (cudaGraphLaunch (replay->exec, cu->stream), err);
    t->marked |= replay->marks;
    return MRCNN_OK;
  }
  if (!g)
    return MRCNN_OK;
  cudaGraph_t graph = NULL;
  cudaError_t e = cudaStreamEndCapture (cu->stream, &graph);
  if (e == cudaSuccess && graph)
    e = cudaGraphInstantiate (&g->exec, graph, 0);
  if (e != cudaSuccess || !graph) {
    /* nothing ran: the engine issues the ops again, and this key always
     * runs as it comes */
    cudaGetLastError ();
    if (graph)
      cudaGraphDestroy (graph);
    g->exec = NULL;
    g->uncapturable = 1;
    *ran = 0;
    return MRCNN_OK;
  }
  g->graph = graph;
  g->epoch = tc->epoch;
  g->marks = t->marked & ~3u;  /* those after pass_begin */
  CUDA_CHECK (cudaGraphLaunch (g->exec, cu->stream), err);
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- frames */

/* The base path's device staging, and the pinned slots host frames are
 * copied through (ops_tc.c). */
static mrcnn_status
tc_frame_reserve (mrcnn_backend *be, int max_width, int max_height,
    mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  mrcnn_tc_state *tc = cu->tc;
  MRCNN_TRY (mrcnn_cuda_ops.frame_reserve (be, max_width, max_height, err));
  if (cu->frame_size <= tc->pinned_slot)
    return MRCNN_OK;
  CUDA_ENTER (cu, err);
  if (tc->pinned) {
    for (int i = 0; i < 2; i++)
      CUDA_CHECK (cudaEventSynchronize (tc->pinned_ev[i]), err);
    CUDA_CHECK (cudaFreeHost (tc->pinned), err);
  }
  tc->pinned = NULL;
  tc->pinned_slot = 0;
  CUDA_CHECK (cudaMallocHost ((void **) &tc->pinned, 2 * cu->frame_size),
      err);
  tc->pinned_slot = cu->frame_size;
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- life */

static void
tc_caps (mrcnn_backend *be, mrcnn_backend_caps *out)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  mrcnn_cuda_ops.caps (be, out);
  out->layout = "nhwc";
  out->kernels = cu->tc->kernels;
  out->plans_ahead = 1;
}

static mrcnn_status
tc_set_precision (mrcnn_backend *be, mrcnn_precision p, int emulate,
    mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  if (emulate || p != cu->tc->precision)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "set_precision: the "
        "tensor-core path was set up for %s, not %s%s",
        mrcnn_precision_name (cu->tc->precision),
        emulate ? "the float32 reference of " : "", mrcnn_precision_name (p));
  return MRCNN_OK;
}

void
mrcnn_cuda_tc_free (mrcnn_backend_cuda *cu)
{
  mrcnn_tc_state *tc = cu->tc;
  if (!tc)
    return;
  cudaSetDevice (cu->device);
  if (cu->stream)
    cudaStreamSynchronize (cu->stream);
  if (tc->conv_plans)
    g_hash_table_destroy (tc->conv_plans);
  if (tc->scratch)
    cudaFree (tc->scratch);
  for (int i = 0; i < 2; i++)
    if (tc->pinned_ev[i])
      cudaEventDestroy (tc->pinned_ev[i]);
  if (tc->pinned)
    cudaFreeHost (tc->pinned);
  if (tc->lt)
    cublasLtDestroy (tc->lt);
  cu->base.ops = &mrcnn_cuda_ops;
  g_free (tc);
  cu->tc = NULL;
}

static mrcnn_status
tc_setup (mrcnn_backend_cuda *cu, mrcnn_tc_state *tc, mrcnn_precision p,
    mrcnn_error *err)
{
  MRCNN_TRY (mrcnn_tc_math_for (p, &tc->math, err));
  tc->precision = p;
  tc->workspace_limit = cu->workspace_size;
  const char *g = g_getenv ("MRCNN_CUDA_GRAPHS");
  tc->graphs = !(g && strcmp (g, "0") == 0);
  tc->conv_plans = g_hash_table_new_full (g_int64_hash, g_int64_equal,
      g_free, mrcnn_tc_conv_plan_free);
  g_snprintf (tc->kernels, sizeof tc->kernels, "cuDNN graph API + cuBLASLt, "
      "nhwc, %s%s", mrcnn_precision_name (p), tc->graphs ? ", CUDA graphs"
      : "");
  CUDA_ENTER (cu, err);
  /* the other path's cuDNN workspace: this path's plans take theirs from
   * the scratch, sized by what they need (its size stays the bound) */
  if (cu->workspace) {
    CUDA_CHECK (cudaStreamSynchronize (cu->stream), err);
    CUDA_CHECK (cudaFree (cu->workspace), err);
    cu->workspace = NULL;
  }
  CUBLASLT_CHECK (cublasLtCreate (&tc->lt), err);
  for (int i = 0; i < 2; i++)
    CUDA_CHECK (cudaEventCreateWithFlags (&tc->pinned_ev[i],
            cudaEventDisableTiming), err);
  return MRCNN_OK;
}

mrcnn_status
mrcnn_cuda_tc_enable (mrcnn_backend_cuda *cu, mrcnn_precision p,
    mrcnn_error *err)
{
  if (cu->tc)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "the tensor-core path is "
        "set up already");
  if (cu->queue_taken)
    return mrcnn_fail (err, MRCNN_ERR_BACKEND, "the tensor-core path is "
        "set up before any queue is made");
  mrcnn_tc_state *tc = g_new0 (mrcnn_tc_state, 1);
  cu->tc = tc;
  mrcnn_status st = tc_setup (cu, tc, p, err);
  if (st != MRCNN_OK) {
    mrcnn_cuda_tc_free (cu);
    return st;
  }
  mrcnn_backend_ops *o = &tc->ops;
  *o = mrcnn_cuda_ops;
  o->caps = tc_caps;
  o->set_precision = tc_set_precision;
  o->queue_new = tc_queue_new;
  o->queue_free = tc_queue_free;
  o->frame_reserve = tc_frame_reserve;
  o->conv_new = mrcnn_tc_conv_new;
  o->conv_free = mrcnn_tc_conv_free;
  o->conv_run = mrcnn_tc_conv_run;
  o->linear_new = mrcnn_tc_linear_new;
  o->linear_free = mrcnn_tc_linear_free;
  o->linear_run = mrcnn_tc_linear_run;
  o->preprocess = mrcnn_tc_preprocess;
  o->max_pool = mrcnn_tc_max_pool;
  o->upsample_add = mrcnn_tc_upsample_add;
  o->roi_align = mrcnn_tc_roi_align;
  o->image_view = mrcnn_tc_image_view;
  o->to_nchw = mrcnn_tc_to_nchw;
  o->mask_probs = mrcnn_tc_mask_probs;
  o->postproc_new = mrcnn_tc_postproc_new;
  o->rpn_proposals = mrcnn_tc_rpn_proposals;
  o->alloc_buffers = tc_alloc_buffers;
  o->release_buffers = tc_release_buffers;
  o->mark = tc_mark;
  o->stage_times = tc_stage_times;
  o->pass_begin = tc_pass_begin;
  o->pass_end = tc_pass_end;
  o->download_reserve = tc_download_reserve;
  o->download_async = tc_download_async;
  o->rpn_proposals_dev = mrcnn_tc_rpn_proposals_dev;
  o->detect_dev = mrcnn_tc_detect_dev;
  cu->base.ops = o;
  return MRCNN_OK;
}
