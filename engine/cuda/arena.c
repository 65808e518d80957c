/* The arena planner (arena.h). */
#include <stdlib.h>

#include <glib.h>

#include "arena.h"

static size_t
round_up (size_t v, size_t align)
{
  return (v + align - 1) / align * align;
}

static int
steps_meet (const mrcnn_arena_block *a, const mrcnn_arena_block *b)
{
  return a->first <= b->last && b->first <= a->last;
}

/* Largest first; among equals, the earlier first step, then the earlier
 * request, so that a plan does not depend on the sort's order of ties. */
typedef struct {
  size_t bytes;
  int first, index;
} size_key;

static int
by_size (const void *pa, const void *pb)
{
  const size_key *x = pa, *y = pb;
  if (x->bytes != y->bytes)
    return x->bytes > y->bytes ? -1 : 1;
  if (x->first != y->first)
    return x->first < y->first ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

static int
by_offset (const void *pa, const void *pb)
{
  const mrcnn_arena_block *x = *(const mrcnn_arena_block * const *) pa;
  const mrcnn_arena_block *y = *(const mrcnn_arena_block * const *) pb;
  if (x->offset != y->offset)
    return x->offset < y->offset ? -1 : 1;
  return x < y ? -1 : x > y;
}

size_t
mrcnn_arena_plan (mrcnn_arena_block *blocks, int n, size_t align)
{
  if (n <= 0)
    return 0;
  size_key *order = g_try_new (size_key, n);
  const mrcnn_arena_block **met = g_try_new (const mrcnn_arena_block *, n);
  char *placed = g_try_new0 (char, n);
  if (!order || !met || !placed) {
    g_free (order);
    g_free (met);
    g_free (placed);
    return (size_t) -1;
  }
  for (int i = 0; i < n; i++)
    order[i] = (size_key) { blocks[i].bytes, blocks[i].first, i };
  qsort (order, n, sizeof *order, by_size);
  size_t size = 0;
  for (int k = 0; k < n; k++) {
    mrcnn_arena_block *b = &blocks[order[k].index];
    const size_t need = round_up (b->bytes ? b->bytes : 1, align);
    int m = 0;
    for (int i = 0; i < n; i++)
      if (placed[i] && steps_meet (&blocks[i], b))
        met[m++] = &blocks[i];
    qsort (met, m, sizeof *met, by_offset);
    /* the lowest gap between the blocks it meets that holds it */
    size_t at = 0;
    for (int i = 0; i < m; i++) {
      if (met[i]->offset >= at + need)
        break;
      at = MAX (at, round_up (met[i]->offset + met[i]->bytes, align));
    }
    b->offset = at;
    placed[order[k].index] = 1;
    size = MAX (size, at + need);
  }
  g_free (order);
  g_free (met);
  g_free (placed);
  return size;
}

size_t
mrcnn_arena_live_peak (const mrcnn_arena_block *blocks, int n, size_t align)
{
  size_t peak = 0;
  /* the live set only grows where a block starts */
  for (int t = 0; t < n; t++) {
    const int step = blocks[t].first;
    size_t live = 0;
    for (int i = 0; i < n; i++)
      if (blocks[i].first <= step && step <= blocks[i].last)
        live += round_up (blocks[i].bytes ? blocks[i].bytes : 1, align);
    peak = MAX (peak, live);
  }
  return peak;
}

int
mrcnn_arena_conflict (const mrcnn_arena_block *blocks, int n, size_t size,
    int *i, int *j)
{
  for (int a = 0; a < n; a++) {
    if (blocks[a].offset + blocks[a].bytes > size) {
      *i = a;
      *j = -1;
      return 1;
    }
    for (int b = a + 1; b < n; b++) {
      const mrcnn_arena_block *x = &blocks[a], *y = &blocks[b];
      if (steps_meet (x, y) && x->offset < y->offset + y->bytes
          && y->offset < x->offset + x->bytes) {
        *i = a;
        *j = b;
        return 1;
      }
    }
  }
  return 0;
}

size_t
mrcnn_arena_plan_requests (const mrcnn_buffer_req *reqs, int n,
    size_t reduced_bytes, size_t align, size_t *offsets)
{
  if (n <= 0)
    return 0;
  mrcnn_arena_block *blocks = g_try_new0 (mrcnn_arena_block, n);
  if (!blocks)
    return (size_t) -1;
  for (int i = 0; i < n; i++)
    blocks[i] = (mrcnn_arena_block) { reqs[i].n * (reqs[i].reduced
          ? reduced_bytes : sizeof (float)), reqs[i].first, reqs[i].last, 0 };
  size_t size = mrcnn_arena_plan (blocks, n, align);
  if (size != (size_t) -1)
    for (int i = 0; i < n; i++)
      offsets[i] = blocks[i].offset;
  g_free (blocks);
  return size;
}
