/* A backend for tests of what the engine asks of a backend: the CPU
 * backend's table with every call that allocates memory or waits counted,
 * and, in the mode that has them, the optional calls of the CUDA backend's
 * tensor-core path (engine/backend.h) done on the host the way that path
 * does them on the device: its buffers in one arena planned from the
 * stages' lifetimes (engine/cuda/arena.c), marks instead of waits, counts
 * left in backend memory with the rows past them zero, one packed download
 * of the results, and passes begun and ended (a capture that fails once,
 * on request). Its results must equal the CPU backend's bit for bit, since
 * it computes with the CPU's kernels; what differs is only how the engine
 * drives it. One counting backend at a time (the counters are global). */
#ifndef MRCNN_TEST_COUNTING_BACKEND_H
#define MRCNN_TEST_COUNTING_BACKEND_H

#include "backend.h"
#include "tc_desc.h"

typedef enum {
  COUNTING_PLAIN,        /* the CPU's table, counted */
  COUNTING_COPYING,      /* ... whose download() copies into the host
                          * buffer and waits, as CUDA's does */
  COUNTING_TENSOR_PATH   /* the optional calls too, as above */
} counting_mode;

typedef struct {
  counting_mode mode;
  int fail_first_capture;    /* the first pass_end says nothing ran */
} counting_options;

typedef struct {
  long alloc;                /* alloc () */
  long alloc_buffers;        /* arenas made */
  long download_reserve;
  long sync, download, upload;
  long rpn_host, detect_host;  /* rpn_proposals / detect: counts read on
                                * the host, a wait on a device */
  long rpn_dev, detect_dev;
  long download_async, mark, pass_begin, pass_end, plan_only;
  long conv_run;
} counting_stats;

/* The registration of a counting backend with these options (its create()
 * makes a CPU backend with cfg's threads and counts from then on). */
const mrcnn_backend_reg *counting_reg (const counting_options *opt);
void counting_stats_get (counting_stats *out);
/* Waits a pass may make: sync, download (when it waits), and host-count
 * post-processing. */
long counting_waits (const counting_stats *s);
/* Allocations of backend memory a pass may make: alloc, arenas, reserved
 * download buffers. */
long counting_allocs (const counting_stats *s);

/* The buffers the last arena was planned from (mrcnn_buffer_req, slots as
 * given), its size and the live peak (bytes per float element, reduced
 * elements at reduced_bytes each), for checks of the plan. */
const GArray *counting_requests (void);
size_t counting_arena_size (void);

/* Each convolution the passes ran, in order (since
 * the last counting backend was made): its layer and how it ran, what the
 * tensor-core path's descriptors are worked out from (tc_desc.h). */
typedef struct {
  mrcnn_tc_conv_layer layer;
  int n, h, w;
  int residual;
  int in_nchw;
  int in_reduced, out_reduced;   /* maps stored REDUCED */
} counting_conv_call;

const GArray *counting_conv_calls (void);

#endif
