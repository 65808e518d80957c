/* An arena planned once: the buffers of a forward pass, each with the
 * steps (stages) it is used in, placed in one block so that two buffers
 * share memory only when no step uses both.
 *
 * Plain C without CUDA: the CUDA backend plans its context memory with it,
 * and every machine tests it (tests/unit/test_arena.c, and on the plans the
 * engine makes for real models in tests/engine/test_counting.c). */
#ifndef MRCNN_ARENA_H
#define MRCNN_ARENA_H

#include <stddef.h>

#include "backend.h"

typedef struct {
  size_t bytes;
  int first, last;        /* the steps it is used in, inclusive */
  size_t offset;          /* set by mrcnn_arena_plan */
} mrcnn_arena_block;

/* Places the n blocks (offsets multiples of align, a power of two) and
 * returns the arena's size: largest blocks first, each at the lowest offset
 * where it overlaps no placed block whose steps meet its own (the greedy
 * order of TensorFlow Lite's arena planner). Deterministic. Returns 0 and
 * places nothing when n is 0; (size_t) -1 when the host is out of memory. */
size_t mrcnn_arena_plan (mrcnn_arena_block *blocks, int n, size_t align);

/* The most bytes (each block rounded up to align) that one step uses at
 * once: no placement can be smaller. */
size_t mrcnn_arena_live_peak (const mrcnn_arena_block *blocks, int n,
    size_t align);

/* Whether two blocks whose steps meet overlap in memory, or a block ends
 * past size: 1 and the first such pair in *i, *j (j == -1: block i ends
 * past size), else 0. Independent of mrcnn_arena_plan, for its tests. */
int mrcnn_arena_conflict (const mrcnn_arena_block *blocks, int n,
    size_t size, int *i, int *j);

/* The arena of a context's planned buffers (engine/backend.h): each
 * request's n elements take 4 bytes, or reduced_bytes where it holds only
 * REDUCED maps; offsets[i] receives request i's place. Returns the size,
 * (size_t) -1 when the host is out of memory. The CUDA backend's
 * tensor-core path and the counting backend of the tests plan with it. */
size_t mrcnn_arena_plan_requests (const mrcnn_buffer_req *reqs, int n,
    size_t reduced_bytes, size_t align, size_t *offsets);

#endif
