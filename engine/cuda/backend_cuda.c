/* CUDA backend: device, stream and library handles, memory, fully connected
 * layers through cuBLAS, and the backend's table. Convolutions are in
 * conv_cuda.c, the per-element ops in ops_cuda.c (kernels in kernels/ (.cu)),
 * the post-processing in postproc_cuda.cu.
 *
 * Everything runs on one stream. Memory comes from alloc() (the engine plans
 * its buffers once) and from the handful of buffers made here at creation
 * (the cuDNN workspace) or by frame_reserve / postproc_new at engine
 * creation; running a frame allocates nothing. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cuda.h"

#define MRCNN_CUDA_DEFAULT_WORKSPACE_MB 256

struct mrcnn_linear {
  float *w, *b;               /* device: out x in, out */
  int out, in, relu;
};

mrcnn_status
mrcnn_cuda_fail_lib (mrcnn_error *err, int alloc_failed, const char *file,
    int line, const char *fmt, ...)
{
  char what[MRCNN_ERROR_MESSAGE_MAX / 2], mem[160] = "";
  size_t free_b = 0, total_b = 0;
  int low = 0;
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (what, sizeof what, fmt, ap);
  va_end (ap);
  /* the runtime's last error is reset before and after; after a sticky
   * error cudaMemGetInfo fails too, and nothing is said of memory */
  cudaGetLastError ();
  if (cudaMemGetInfo (&free_b, &total_b) == cudaSuccess) {
    low = free_b < MRCNN_CUDA_LOW_MEMORY_MB * ((size_t) 1 << 20);
    snprintf (mem, sizeof mem, "; %zu MiB of %zu MiB device memory free%s",
        free_b >> 20, total_b >> 20, low && !alloc_failed
        ? ": the GPU is out of memory, the likely cause" : "");
  }
  cudaGetLastError ();
  return mrcnn_fail (err, alloc_failed || low ? MRCNN_ERR_NO_MEMORY
      : MRCNN_ERR_BACKEND, "%s (%s:%d)%s", what, file, line, mem);
}

mrcnn_status
mrcnn_cuda_fail_rt (mrcnn_error *err, cudaError_t e, const char *call,
    const char *file, int line)
{
  return mrcnn_cuda_fail_lib (err, e == cudaErrorMemoryAllocation, file, line,
      "CUDA call %s failed: %s (%s)", call, cudaGetErrorName (e),
      cudaGetErrorString (e));
}

mrcnn_status
mrcnn_cuda_fail_site (mrcnn_error *err, const mrcnn_cuda_site *site)
{
  return mrcnn_cuda_fail_rt (err, site->code, site->call ? site->call : "?",
      site->file ? site->file : "?", site->line);
}

/* ---------------------------------------------------------------- memory */

static mrcnn_status
cuda_alloc (mrcnn_backend *be, size_t n, float **out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  *out = NULL;
  CUDA_ENTER (cu, err);
  cudaError_t e = cudaMalloc ((void **) out, (n ? n : 1) * sizeof (float));
  if (e != cudaSuccess) {
    *out = NULL;
    return mrcnn_cuda_fail_lib (err, 1, __FILE__, __LINE__,
        "cannot allocate %zu MiB of device memory on GPU %d (%s): %s",
        (n * sizeof (float)) >> 20, cu->device, cu->device_name,
        cudaGetErrorString (e));
  }
  /* zeroed once, so that no buffer ever holds the NaN patterns fresh device
   * memory can have (an op given beta = 0 may still read its output) */
  CUDA_CHECK (cudaMemsetAsync (*out, 0, (n ? n : 1) * sizeof (float),
          cu->stream), err);
  return MRCNN_OK;
}

static void
cuda_release (mrcnn_backend *be, float *p)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  if (!p)
    return;
  cudaSetDevice (cu->device);
  cudaFree (p);
}

static const float *
cuda_download (mrcnn_backend *be, mrcnn_queue *q, const float *p, size_t n,
    float *scratch, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  mrcnn_status st = MRCNN_OK;
  cudaError_t e = cudaSetDevice (cu->device);
  if (e == cudaSuccess && n)
    e = cudaMemcpyAsync (scratch, p, n * sizeof (float),
        cudaMemcpyDeviceToHost, cu->stream);
  if (e == cudaSuccess)
    e = cudaStreamSynchronize (cu->stream);
  if (e != cudaSuccess)
    st = mrcnn_cuda_fail_rt (err, e, "cudaMemcpyAsync (device to host)",
        __FILE__, __LINE__);
  return st == MRCNN_OK ? scratch : NULL;
}

static mrcnn_status
cuda_upload (mrcnn_backend *be, float *dst, const float *src, size_t n,
    mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  CUDA_ENTER (cu, err);
  if (n == 0)
    return MRCNN_OK;
  CUDA_CHECK (cudaMemcpyAsync (dst, src, n * sizeof (float),
          cudaMemcpyHostToDevice, cu->stream), err);
  /* src may be freed as soon as this returns */
  CUDA_CHECK (cudaStreamSynchronize (cu->stream), err);
  return MRCNN_OK;
}

static mrcnn_status
cuda_sync (mrcnn_backend *be, mrcnn_queue *q, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  CUDA_ENTER (cu, err);
  CUDA_CHECK (cudaStreamSynchronize (cu->stream), err);
  return MRCNN_OK;
}

/* Staging for frames in host memory: every plane of the largest frame. */
static mrcnn_status
cuda_frame_reserve (mrcnn_backend *be, int max_width, int max_height,
    mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  size_t need = (size_t) 4 * (max_width + 1) * (max_height + 1);
  if (need <= cu->frame_size)
    return MRCNN_OK;
  CUDA_ENTER (cu, err);
  if (cu->frame)
    CUDA_CHECK (cudaFree (cu->frame), err);
  cu->frame = NULL;
  cu->frame_size = 0;
  CUDA_CHECK (cudaMalloc ((void **) &cu->frame, need), err);
  cu->frame_size = need;
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- linear */

static mrcnn_status
cuda_linear_new (mrcnn_backend *be, const float *weight, const float *bias,
    int out_features, int in_features, int relu, const mrcnn_quant *quant,
    mrcnn_linear **out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  CUDA_ENTER (cu, err);
  mrcnn_linear *l = g_new0 (mrcnn_linear, 1);
  *out = l;   /* linear_free releases a partly built one */
  l->out = out_features;
  l->in = in_features;
  l->relu = relu;
  size_t nw = (size_t) out_features * in_features;
  CUDA_CHECK (cudaMalloc ((void **) &l->w, nw * sizeof (float)), err);
  CUDA_CHECK (cudaMalloc ((void **) &l->b, (size_t) out_features * sizeof (float)), err);
  CUDA_CHECK (cudaMemcpyAsync (l->w, weight, nw * sizeof (float),
          cudaMemcpyHostToDevice, cu->stream), err);
  CUDA_CHECK (cudaMemcpyAsync (l->b, bias, (size_t) out_features * sizeof (float),
          cudaMemcpyHostToDevice, cu->stream), err);
  CUDA_CHECK (cudaStreamSynchronize (cu->stream), err);
  return MRCNN_OK;
}

static void
cuda_linear_free (mrcnn_backend *be, mrcnn_linear *l)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  if (!l)
    return;
  cudaSetDevice (cu->device);
  if (l->w)
    cudaFree (l->w);
  if (l->b)
    cudaFree (l->b);
  g_free (l);
}

static mrcnn_status
cuda_linear_run (mrcnn_backend *be, mrcnn_queue *q, mrcnn_linear *l,
    const float *x, int n, float *y, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  if (n <= 0)
    return MRCNN_OK;
  CUDA_ENTER (cu, err);
  const float one = 1.0f, zero = 0.0f;
  /* row-major y (n x out) = x (n x in) * W^T is column-major
   * y^T (out x n) = W (out x in) * x^T: W is the column-major in x out
   * matrix transposed */
  CUBLAS_CHECK (cublasSgemm (cu->cublas, CUBLAS_OP_T, CUBLAS_OP_N, l->out, n,
          l->in, &one, l->w, l->in, x, l->in, &zero, y, l->out), err);
  CUDA_CHECK (mrcnn_cuda_bias_act (y, l->b, n, l->out, l->relu, cu->stream),
      err);
  return MRCNN_OK;
}

/* ---------------------------------------------------------------- queues */

/* One stream per engine: the engine runs one forward pass at a time on
 * CUDA (workers 1). */
static mrcnn_status
cuda_queue_new (mrcnn_backend *be, mrcnn_queue **out, mrcnn_error *err)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  if (cu->queue_taken)
    return mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED,
        "the CUDA backend runs one forward pass at a time (one stream per "
        "engine)");
  mrcnn_queue *q = g_new0 (mrcnn_queue, 1);
  q->cu = cu;
  cu->queue_taken = 1;
  *out = q;
  return MRCNN_OK;
}

static void
cuda_queue_free (mrcnn_backend *be, mrcnn_queue *q)
{
  if (!q)
    return;
  q->cu->queue_taken = 0;
  g_free (q);
}

static void
cuda_queue_begin (mrcnn_backend *be, mrcnn_queue *q, int workers)
{
}

/* ---------------------------------------------------------------- life */

static void
cuda_destroy (mrcnn_backend *be)
{
  mrcnn_backend_cuda *cu = (mrcnn_backend_cuda *) be;
  if (!cu)
    return;
  cudaSetDevice (cu->device);
  if (cu->stream)
    cudaStreamSynchronize (cu->stream);
  mrcnn_cuda_tc_free (cu);
  if (cu->workspace)
    cudaFree (cu->workspace);
  if (cu->frame)
    cudaFree (cu->frame);
  if (cu->cublas)
    cublasDestroy (cu->cublas);
  if (cu->cudnn)
    cudnnDestroy (cu->cudnn);
  if (cu->stream)
    cudaStreamDestroy (cu->stream);
  g_free (cu);
}

static int cuda_fp32_on_tc (void);

/* fp32 only so far (MRCNN_CUDA_MATH=tf32, for benchmarks, changes the
 * math of fp32 convolutions and matrix products, not the precision); NCHW
 * throughout; frames in device memory are read where they are. */
static void
cuda_caps (mrcnn_backend *be, mrcnn_backend_caps *out)
{
  *out = (mrcnn_backend_caps) {
    .precisions = mrcnn_backend_reg_precisions (&mrcnn_backend_cuda_reg),
    .emulated = mrcnn_backend_cuda_reg.emulated,
    .device_frames = 1,
    .layout = "nchw",
    .kernels = "",
    .limits = "",
  };
}

static mrcnn_status
cuda_set_precision (mrcnn_backend *be, mrcnn_precision p, int emulate,
    mrcnn_error *err)
{
  if (emulate
      || !(mrcnn_backend_reg_precisions (&mrcnn_backend_cuda_reg)
          & MRCNN_PRECISION_BIT (p)))
    return mrcnn_fail (err, MRCNN_ERR_BACKEND,
        "set_precision: the CUDA backend does not run %s%s here",
        emulate ? "the float32 reference of " : "", mrcnn_precision_name (p));
  /* fp32 runs on the verified path; the tensor-core path's precisions,
   * and fp32 on it where the gate's list says fp32-tc and MRCNN_CUDA_PATH
   * is tc (the benchmark), switch the backend's table to that path */
  if (p != MRCNN_PRECISION_FP32 || cuda_fp32_on_tc ())
    return mrcnn_cuda_tc_enable ((mrcnn_backend_cuda *) be, p, err);
  return MRCNN_OK;
}

static long
cuda_overflows (mrcnn_backend *be)
{
  return 0;
}

const mrcnn_backend_ops mrcnn_cuda_ops = {
  .name = "cuda",
  .destroy = cuda_destroy,
  .caps = cuda_caps,
  .set_precision = cuda_set_precision,
  .overflows = cuda_overflows,
  .queue_new = cuda_queue_new,
  .queue_free = cuda_queue_free,
  .queue_begin = cuda_queue_begin,
  .alloc = cuda_alloc,
  .release = cuda_release,
  .download = cuda_download,
  .upload = cuda_upload,
  .sync = cuda_sync,
  .frame_reserve = cuda_frame_reserve,
  .conv_new = mrcnn_cuda_conv_new,
  .conv_free = mrcnn_cuda_conv_free,
  .conv_run = mrcnn_cuda_conv_run,
  .linear_new = cuda_linear_new,
  .linear_free = cuda_linear_free,
  .linear_run = cuda_linear_run,
  .preprocess = mrcnn_cuda_preprocess_op,
  .max_pool = mrcnn_cuda_max_pool_op,
  .upsample_add = mrcnn_cuda_upsample_add_op,
  .roi_align = mrcnn_cuda_roi_align_op,
  .image_view = mrcnn_cuda_image_view,
  .to_nchw = mrcnn_cuda_to_nchw_op,
  .mask_probs = mrcnn_cuda_mask_probs_op,
  .postproc_new = mrcnn_cuda_postproc_new_op,
  .postproc_free = mrcnn_cuda_postproc_free_op,
  .rpn_proposals = mrcnn_cuda_rpn_proposals_op,
  .detect = mrcnn_cuda_detect_op,
};

static size_t
workspace_bytes (void)
{
  const char *s = g_getenv ("MRCNN_CUDA_WORKSPACE_MB");
  long mb = s ? strtol (s, NULL, 10) : 0;
  if (mb < 16 || mb > 65536)
    mb = MRCNN_CUDA_DEFAULT_WORKSPACE_MB;
  return (size_t) mb << 20;
}

/* Why cudaGetDeviceCount() found no device, in words a user can act on. The
 * runtime says "CUDA driver version is insufficient" both where the driver
 * is too old and where there is no NVIDIA driver at all (it could not load
 * libcuda.so.1); the second is by far the common case (a machine without
 * an NVIDIA GPU), so it is told apart by loading libcuda.so.1 here. */
static mrcnn_status
no_device (cudaError_t e, mrcnn_error *err)
{
  if (e == cudaErrorInsufficientDriver) {
    void *libcuda = dlopen ("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    int driver = 0, runtime = 0;

    if (libcuda == NULL)
      return mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED,
          "no NVIDIA driver is installed on this machine (libcuda.so.1 "
          "could not be loaded), so there is no CUDA device: run on a "
          "machine with an NVIDIA GPU and its driver, or use the CPU "
          "backend");
    dlclose (libcuda);
    cudaDriverGetVersion (&driver);
    cudaRuntimeGetVersion (&runtime);
    cudaGetLastError ();
    return mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED,
        "the NVIDIA driver is too old for this build: it supports CUDA "
        "%d.%d, gst-maskrcnn was built with CUDA %d.%d; update the driver, "
        "or use the CPU backend", driver / 1000, driver % 1000 / 10,
        runtime / 1000, runtime % 1000 / 10);
  }
  if (e == cudaErrorNoDevice || e == cudaSuccess)
    return mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED,
        "no CUDA device: the NVIDIA driver is installed but finds no GPU "
        "(is one visible to this process? CUDA_VISIBLE_DEVICES=%s); use the "
        "CPU backend", getenv ("CUDA_VISIBLE_DEVICES") ?
        getenv ("CUDA_VISIBLE_DEVICES") : "(not set)");
  return mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED,
      "no CUDA device: %s (%s)", cudaGetErrorString (e), cudaGetErrorName (e));
}

static mrcnn_status
cuda_setup (mrcnn_backend_cuda *cu, int device_id, mrcnn_error *err)
{
  int count = 0;
  cudaError_t e = cudaGetDeviceCount (&count);
  if (e != cudaSuccess || count == 0) {
    cudaGetLastError ();
    return no_device (e, err);
  }
  if (device_id < -1 || device_id >= count)
    return mrcnn_fail (err, MRCNN_ERR_INVALID_ARG,
        "CUDA device %d does not exist: this machine has %d (0..%d; -1 picks "
        "the current one)", device_id, count, count - 1);
  if (device_id == -1)
    CUDA_CHECK (cudaGetDevice (&device_id), err);
  cu->device = device_id;
  CUDA_CHECK (cudaSetDevice (device_id), err);
  struct cudaDeviceProp prop;
  CUDA_CHECK (cudaGetDeviceProperties (&prop, device_id), err);
  g_strlcpy (cu->device_name, prop.name, sizeof cu->device_name);
  const char *math = g_getenv ("MRCNN_CUDA_MATH");
  cu->tf32 = math && g_ascii_strcasecmp (math, "tf32") == 0;

  CUDA_CHECK (cudaStreamCreateWithFlags (&cu->stream, cudaStreamNonBlocking),
      err);
  CUDNN_CHECK (cudnnCreate (&cu->cudnn), err);
  CUDNN_CHECK (cudnnSetStream (cu->cudnn, cu->stream), err);
  CUBLAS_CHECK (cublasCreate (&cu->cublas), err);
  CUBLAS_CHECK (cublasSetStream (cu->cublas, cu->stream), err);
  CUBLAS_CHECK (cublasSetMathMode (cu->cublas, cu->tf32
          ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH), err);
  cu->workspace_size = workspace_bytes ();
  e = cudaMalloc (&cu->workspace, cu->workspace_size);
  if (e != cudaSuccess) {
    cu->workspace = NULL;
    return mrcnn_cuda_fail_rt (err, e, "cudaMalloc (cuDNN workspace)",
        __FILE__, __LINE__);
  }
  return MRCNN_OK;
}

mrcnn_status
mrcnn_backend_cuda_new (int device_id, mrcnn_backend **out, mrcnn_error *err)
{
  *out = NULL;
  mrcnn_backend_cuda *cu = g_new0 (mrcnn_backend_cuda, 1);
  cu->base.ops = &mrcnn_cuda_ops;
  cu->base.workers = 1;
  mrcnn_status st = cuda_setup (cu, device_id, err);
  if (st != MRCNN_OK) {
    cuda_destroy (&cu->base);
    return st;
  }
  *out = &cu->base;
  return MRCNN_OK;
}

static mrcnn_status
cuda_create (const mrcnn_engine_config *cfg, mrcnn_backend **out,
    mrcnn_error *err)
{
  return mrcnn_backend_cuda_new (cfg->device_id, out, err);
}

/* The gate of the tensor-core path (docs/cuda.md): its precisions are
 * refused until tests/gpu/run.sh has passed them on a GPU; that check, and
 * only it, unlocks them for its own runs with MRCNN_CUDA_UNVERIFIED, a list
 * of precision names ("tf32,fp16"). The commit that records a passing run
 * moves them into the registration's precisions. */
#define CUDA_UNVERIFIED \
  (MRCNN_PRECISION_BIT (MRCNN_PRECISION_TF32) \
      | MRCNN_PRECISION_BIT (MRCNN_PRECISION_FP16))

static unsigned
cuda_unlocked (void)
{
  const char *s = g_getenv ("MRCNN_CUDA_UNVERIFIED");
  unsigned bits = 0;
  if (!s)
    return 0;
  gchar **names = g_strsplit_set (s, ", ", -1);
  for (gchar **n = names; *n; n++)
    for (int p = MRCNN_PRECISION_FP32; p <= MRCNN_PRECISION_BF16; p++)
      if (**n && g_ascii_strcasecmp (*n, mrcnn_precision_name (p)) == 0)
        bits |= MRCNN_PRECISION_BIT (p);
  g_strfreev (names);
  return bits & CUDA_UNVERIFIED;
}

/* fp32 on the tensor-core path: MRCNN_CUDA_PATH=tc, where the gate's list
 * also names fp32-tc (that path has not run on a GPU either). */
static int
cuda_fp32_on_tc (void)
{
  const char *path = g_getenv ("MRCNN_CUDA_PATH");
  const char *s = g_getenv ("MRCNN_CUDA_UNVERIFIED");
  if (!path || strcmp (path, "tc") != 0 || !s)
    return 0;
  gchar **names = g_strsplit_set (s, ", ", -1);
  int on = 0;
  for (gchar **n = names; *n; n++)
    on |= g_ascii_strcasecmp (*n, "fp32-tc") == 0;
  g_strfreev (names);
  return on;
}

const mrcnn_backend_reg mrcnn_backend_cuda_reg = {
  .kind = MRCNN_BACKEND_CUDA,
  .name = "cuda",
  .precisions = MRCNN_PRECISION_BIT (MRCNN_PRECISION_FP32),
  .emulated = 0,
  .create = cuda_create,
  .unverified = CUDA_UNVERIFIED,
  .unverified_why = "on CUDA has not yet been verified on a GPU "
      "(tests/gpu/run.sh)",
  .unlocked = cuda_unlocked,
};
