/* The CUDA engine when the GPU runs out of memory, on a GPU machine.
 *
 *   test_cuda_oom MODEL [WIDTH HEIGHT]
 *
 * 1. Creates the CUDA engine for frames up to WIDTH x HEIGHT (default
 *    1280x720), runs one synthetic frame, frees it, twice: the device memory
 *    the engine needs (created and run once) and the reference detections
 *    (score threshold 0, so that there are many).
 * 2. For each level from 0 to 150% of that need: takes ("ballast") all the
 *    device memory but that level with cudaMalloc, then creates the engine
 *    and runs the frame. Every outcome must be one of: the engine is refused
 *    with MRCNN_ERR_NO_MEMORY and a message naming the device memory; the
 *    frame is refused the same way; or the frame gives the reference
 *    detections. After the engine is freed, the device memory it had must
 *    be back (nothing left behind by a failure half-way) within 32 MiB, and
 *    two more tries at the same level must not keep more (within 2 MiB).
 *    Levels below 90% must have failed, at least three of them, and 150%
 *    must have worked: else the ballast missed and the check proved nothing.
 * 3. Without ballast, the engine works again and gives the reference
 *    detections (the failures left no broken state behind).
 *
 *   test_cuda_oom --hold-free MIB
 *
 * takes all device memory but MIB and holds it until killed, for checks of
 * other processes (the CLI, the element) on a GPU that is out of memory.
 *
 * exit 0 pass, 1 fail, 77 skip (no CUDA device). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cuda_runtime_api.h>

#include "image_io.h"
#include "mrcnn/mrcnn.h"

#define MIB ((size_t) 1 << 20)
/* what a failed try may keep for good (libraries' state: 10 MiB stayed after
 * a try that failed in cublasCreate on an H200) and what repeating it may
 * add */
#define RETAIN_TOLERANCE (32 * MIB)
#define LEAK_TOLERANCE (2 * MIB)
#define MAX_BALLAST 4096

static void *ballast[MAX_BALLAST];
static int n_ballast;

static size_t
free_bytes (void)
{
  size_t f = 0, t = 0;
  if (cudaMemGetInfo (&f, &t) != cudaSuccess) {
    cudaGetLastError ();
    return 0;
  }
  return f;
}

/* Allocates until at most `target` bytes (+ 2 MiB) of device memory are free. */
static void
ballast_take (size_t target)
{
  static const size_t chunks[] = { (size_t) 1 << 30, 64 * MIB, 2 * MIB };
  size_t f = free_bytes ();

  for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++)
    while (f > target + chunks[c] && n_ballast < MAX_BALLAST) {
      if (cudaMalloc (&ballast[n_ballast], chunks[c]) != cudaSuccess) {
        cudaGetLastError ();
        break;
      }
      n_ballast++;
      f = free_bytes ();
    }
}

static void
ballast_release (void)
{
  while (n_ballast > 0)
    cudaFree (ballast[--n_ballast]);
}

typedef struct {
  int n;
  float scores[1024];
  float x1[1024];
} Dets;

static const mrcnn_model *model;
static mrcnn_engine_config cfg;
static mrcnn_image frame;

/* Creates the engine, runs the frame, frees the engine. Returns the status;
 * *stage says where it failed ("create" or "run"); d gets the detections. */
static mrcnn_status
cycle (Dets *d, const char **stage, mrcnn_error *err, size_t *free_min)
{
  mrcnn_engine *engine = NULL;
  mrcnn_result *res = NULL;
  mrcnn_status s;

  *stage = "create";
  s = mrcnn_engine_new (model, &cfg, &engine, err);
  if (free_min)
    *free_min = free_bytes ();
  if (s != MRCNN_OK)
    return s;
  *stage = "run";
  s = mrcnn_engine_run (engine, &frame, &res, err);
  if (free_min) {
    size_t f = free_bytes ();
    if (f < *free_min)
      *free_min = f;
  }
  if (s == MRCNN_OK) {
    d->n = mrcnn_result_count (res);
    for (int i = 0; i < d->n && i < 1024; i++) {
      d->scores[i] = mrcnn_result_get (res, i)->score;
      d->x1[i] = mrcnn_result_get (res, i)->x1;
    }
    mrcnn_result_free (res);
  }
  mrcnn_engine_free (engine);
  return s;
}

/* The same detections: same count, i-th scores within 1e-4 (cuDNN may pick
 * another algorithm in another engine: sums in another order). */
static int
same (const Dets *a, const Dets *b, float *max_d)
{
  *max_d = 0;
  if (a->n != b->n)
    return 0;
  for (int i = 0; i < a->n && i < 1024; i++) {
    float d = a->scores[i] - b->scores[i];
    d = d < 0 ? -d : d;
    if (d > *max_d)
      *max_d = d;
  }
  return *max_d <= 1e-4f;
}

static int
hold (long mib)
{
  size_t before = free_bytes ();
  ballast_take ((size_t) mib * MIB);
  printf ("holding: %zu MiB taken, %zu MiB free\n",
      (before - free_bytes ()) / MIB, free_bytes () / MIB);
  fflush (stdout);
  for (;;)
    pause ();
  return 0;
}

int
main (int argc, char **argv)
{
  mrcnn_model *m = NULL;
  mrcnn_error err = { 0 };
  int w = 1280, h = 720, count = 0, ok = 1, failures_below = 0;
  const char *stage;
  Dets ref, d, again;
  size_t f0, f1, fmin, need;
  float md;
  static const double levels[] =
      { 0.0, 0.02, 0.1, 0.25, 0.4, 0.55, 0.7, 0.8, 0.9, 0.97, 1.5 };
  uint8_t *pixels;

  if (argc == 3 && strcmp (argv[1], "--hold-free") == 0)
    return cudaGetDeviceCount (&count) == cudaSuccess && count > 0
        ? hold (atol (argv[2])) : 77;
  if (argc != 2 && argc != 4) {
    fprintf (stderr, "usage: %s MODEL [WIDTH HEIGHT] | --hold-free MIB\n",
        argv[0]);
    return 2;
  }
  if (argc == 4) {
    w = atoi (argv[2]);
    h = atoi (argv[3]);
  }
  if (cudaGetDeviceCount (&count) != cudaSuccess || count == 0) {
    printf ("SKIP: no CUDA device\n");
    return 77;
  }
  if (mrcnn_model_open (argv[1], &m, &err) != MRCNN_OK) {
    printf ("FAIL: %s\n", err.message);
    return 1;
  }
  model = m;
  mrcnn_engine_config_init (&cfg, model);
  cfg.backend = MRCNN_BACKEND_CUDA;
  cfg.device_id = 0;
  cfg.max_width = w;
  cfg.max_height = h;
  cfg.thresholds.score_threshold = 0.0f;
  pixels = mrcnn_image_synthetic (w, h);
  if (!pixels) {
    printf ("FAIL: out of host memory\n");
    return 1;
  }
  frame = (mrcnn_image) { .format = MRCNN_PIXEL_RGB, .width = w, .height = h,
    .planes = { pixels }, .strides = { w * 3 } };

  /* 1. twice: the first cycle loads the libraries' kernels, which stay */
  if (cycle (&ref, &stage, &err, NULL) != MRCNN_OK) {
    printf ("FAIL: engine without ballast (%s): %s\n", stage, err.message);
    return 1;
  }
  f0 = free_bytes ();
  if (cycle (&d, &stage, &err, &fmin) != MRCNN_OK) {
    printf ("FAIL: second engine without ballast (%s): %s\n", stage,
        err.message);
    return 1;
  }
  f1 = free_bytes ();
  need = f0 - fmin;
  printf ("model %s, frames up to %dx%d: the engine takes %zu MiB of device "
      "memory (created and run once); %zu MiB free before, %zu MiB after it "
      "was freed; %d detections\n", argv[1], w, h, need / MIB, f0 / MIB,
      f1 / MIB, ref.n);
  if (!same (&ref, &d, &md) || f1 + LEAK_TOLERANCE < f0) {
    printf ("FAIL: second engine: %d vs %d detections (max score difference "
        "%g), or %zd MiB not given back\n", d.n, ref.n, md,
        ((ssize_t) f0 - (ssize_t) f1) / (ssize_t) MIB);
    return 1;
  }

  /* 2. each level of free memory */
  for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
    size_t target = (size_t) (levels[l] * (double) need), before, after,
        again_free;
    mrcnn_status s;
    const char *verdict;

    ballast_take (target);
    before = free_bytes ();
    memset (&err, 0, sizeof err);
    s = cycle (&d, &stage, &err, NULL);
    after = free_bytes ();
    /* twice more with the same memory: what a failure keeps must not grow */
    for (int r = 0; r < 2; r++) {
      mrcnn_error e2 = { 0 };
      Dets d2;
      const char *st2;
      cycle (&d2, &st2, &e2, NULL);
    }
    again_free = free_bytes ();
    if (s == MRCNN_OK) {
      verdict = same (&ref, &d, &md) ? "ok: ran, same detections"
          : "FAIL: ran, other detections";
    } else if (s == MRCNN_ERR_NO_MEMORY && strstr (err.message, "memory")) {
      verdict = "ok: refused";
      if (levels[l] < 0.9)
        failures_below++;
    } else {
      verdict = "FAIL: not an out-of-memory error";
    }
    if (after + RETAIN_TOLERANCE < before)
      verdict = "FAIL: device memory not given back";
    if (again_free + LEAK_TOLERANCE < after)
      verdict = "FAIL: device memory lost on each try";
    if (levels[l] < 0.9 && s == MRCNN_OK)
      verdict = "FAIL: ran with less memory than measured";
    if (levels[l] > 1.0 && s != MRCNN_OK)
      verdict = "FAIL: refused with more memory than measured";
    printf ("  %3.0f%% of the need free (%5zu MiB): %-6s %s, %s; not given "
        "back %zd MiB after the first try, %zd MiB more after two more\n",
        levels[l] * 100, before / MIB, s == MRCNN_OK ? "-" : stage,
        mrcnn_status_name (s), verdict,
        ((ssize_t) before - (ssize_t) after) / (ssize_t) MIB,
        ((ssize_t) after - (ssize_t) again_free) / (ssize_t) MIB);
    if (s != MRCNN_OK)
      printf ("      message: %s\n", err.message);
    if (strncmp (verdict, "FAIL", 4) == 0)
      ok = 0;
    ballast_release ();
  }
  if (failures_below < 3) {
    printf ("FAIL: only %d refusals below 90%%: the ballast missed\n",
        failures_below);
    ok = 0;
  }

  /* 3. after all that, without ballast */
  memset (&err, 0, sizeof err);
  if (cycle (&again, &stage, &err, NULL) != MRCNN_OK) {
    printf ("FAIL: engine after the out-of-memory runs (%s): %s\n", stage,
        err.message);
    ok = 0;
  } else if (!same (&ref, &again, &md)) {
    printf ("FAIL: after the out-of-memory runs: %d vs %d detections (max "
        "score difference %g)\n", again.n, ref.n, md);
    ok = 0;
  } else {
    printf ("after the out-of-memory runs: the engine runs again, same %d "
        "detections (max score difference %g); %zu MiB free\n", again.n, md,
        free_bytes () / MIB);
  }
  mrcnn_model_free (m);
  free (pixels);
  printf ("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
