/* Unit tests of engine/cuda/arena.c, the planner of the CUDA backend's
 * context memory: hand-worked plans, then fresh random ones checked for
 * what any valid plan must satisfy (no two buffers used in the same step
 * overlap, offsets aligned, no smaller than the most one step uses), and
 * the checker itself on planted conflicts. The plans of real models are
 * checked in tests/engine/test_counting.c. */
#include <glib.h>

#include "arena.h"
#include "unit_test.h"

static size_t
round_up (size_t v, size_t a)
{
  return (v + a - 1) / a * a;
}

static void
test_hand (void)
{
  int i, j;
  ut_begin ("hand-worked plans");
  {
    /* one step each: all three share offset 0 */
    mrcnn_arena_block b[] = { { 100, 0, 0 }, { 300, 1, 1 }, { 200, 2, 2 } };
    size_t size = mrcnn_arena_plan (b, 3, 256);
    ut_check (size == 512 && b[0].offset == 0 && b[1].offset == 0
        && b[2].offset == 0, "disjoint steps share memory: size %zu", size);
  }
  {
    /* a lives through steps 0..2; b (step 1) and c (step 2) share the
     * memory next to it */
    mrcnn_arena_block b[] = { { 1000, 0, 2 }, { 500, 1, 1 }, { 400, 2, 2 } };
    size_t size = mrcnn_arena_plan (b, 3, 256);
    ut_check (size == 1024 + 512 && b[0].offset == 0 && b[1].offset == 1024
        && b[2].offset == 1024, "size %zu, offsets %zu %zu %zu", size,
        b[0].offset, b[1].offset, b[2].offset);
    ut_check (mrcnn_arena_live_peak (b, 3, 256) == 1536, "peak");
    ut_check (!mrcnn_arena_conflict (b, 3, size, &i, &j), "valid");
  }
  {
    /* a gap left by a shorter-lived block is reused */
    mrcnn_arena_block b[] = { { 4096, 0, 0 }, { 1024, 1, 3 },
      { 1024, 1, 1 }, { 2048, 2, 3 } };
    size_t size = mrcnn_arena_plan (b, 4, 256);
    ut_check (!mrcnn_arena_conflict (b, 4, size, &i, &j) && size == 4096,
        "size %zu", size);
  }
  {
    mrcnn_arena_block none[1];
    ut_check (mrcnn_arena_plan (none, 0, 256) == 0, "no blocks, no arena");
  }
  ut_end ();

  ut_begin ("the checker finds planted conflicts");
  {
    mrcnn_arena_block b[] = { { 100, 0, 1 }, { 100, 1, 2 } };
    b[0].offset = 0;
    b[1].offset = 50;
    ut_check (mrcnn_arena_conflict (b, 2, 1000, &i, &j) && i == 0 && j == 1,
        "overlap in a shared step");
    b[1].first = 2;
    ut_check (!mrcnn_arena_conflict (b, 2, 1000, &i, &j), "no shared step: "
        "no conflict");
    ut_check (mrcnn_arena_conflict (b, 2, 120, &i, &j) && i == 1 && j == -1,
        "past the end");
  }
  ut_end ();
}

static void
test_random (void)
{
  ut_begin ("random plans");
  for (int it = 0; it < 3000; it++) {
    const int n = ut_int (1, 60), steps = ut_int (1, 8);
    const size_t align = (size_t) 1 << ut_int (0, 9);
    mrcnn_arena_block *b = g_new0 (mrcnn_arena_block, n);
    size_t sum = 0;
    for (int k = 0; k < n; k++) {
      int f = ut_int (0, steps - 1), l = ut_int (f, steps - 1);
      /* some sizes repeat, as a network's buffers do */
      b[k].bytes = ut_int (0, 3) == 0 ? 4096 : (size_t) ut_int (0, 1000000);
      b[k].first = f;
      b[k].last = l;
      sum += round_up (b[k].bytes ? b[k].bytes : 1, align);
    }
    mrcnn_arena_block *again = g_memdup2 (b, sizeof *b * n);
    size_t size = mrcnn_arena_plan (b, n, align);
    int i = -1, j = -1;
    if (!ut_check (!mrcnn_arena_conflict (b, n, size, &i, &j),
            "blocks %d and %d conflict (%d blocks, %d steps)", i, j, n,
            steps)) {
      g_free (b);
      g_free (again);
      continue;
    }
    int aligned = 1;
    for (int k = 0; k < n; k++)
      aligned &= b[k].offset % align == 0;
    ut_check (aligned, "offsets aligned to %zu", align);
    size_t peak = mrcnn_arena_live_peak (b, n, align);
    ut_check (size >= peak && size <= sum, "size %zu outside [%zu, %zu]",
        size, peak, sum);
    ut_check (mrcnn_arena_plan (again, n, align) == size
        && memcmp (again, b, sizeof *b * n) == 0, "deterministic");
    g_free (b);
    g_free (again);
  }
  ut_end ();
}

int
main (void)
{
  ut_init ("test_arena");
  test_hand ();
  test_random ();
  return ut_finish ();
}
