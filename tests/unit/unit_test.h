/* Minimal harness of the kernel unit tests: a seeded generator, checks
 * grouped and reported one line per group, and an exit status.
 *
 * The seed comes from MRCNN_TEST_SEED when set, otherwise from the clock;
 * it is printed first so that a failing run can be repeated exactly. */
#ifndef MRCNN_UNIT_TEST_H
#define MRCNN_UNIT_TEST_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  uint64_t state;
  const char *group;
  long checks;
  long failures;                /* in the current group */
  long total_failures;
} ut_ctx;

static ut_ctx ut;

static inline uint64_t
ut_next (void)
{
  /* splitmix64 */
  uint64_t z = (ut.state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* uniform double in [lo, hi) */
static inline double
ut_uniform (double lo, double hi)
{
  return lo + (hi - lo) * ((double) (ut_next () >> 11) * (1.0 / 9007199254740992.0));
}

/* uniform integer in [lo, hi] */
static inline int
ut_int (int lo, int hi)
{
  return lo + (int) (ut_next () % (uint64_t) (hi - lo + 1));
}

static inline void
ut_init (const char *name)
{
  const char *env = getenv ("MRCNN_TEST_SEED");
  uint64_t seed;

  if (env && *env)
    seed = strtoull (env, NULL, 0);
  else
    seed = (uint64_t) time (NULL) ^ ((uint64_t) clock () << 20);
  ut.state = seed;
  printf ("%s: seed %llu (MRCNN_TEST_SEED=%llu reproduces this run)\n", name,
      (unsigned long long) seed, (unsigned long long) seed);
}

static inline void
ut_begin (const char *group)
{
  ut.group = group;
  ut.checks = 0;
  ut.failures = 0;
}

/* Records one check; prints the first few failures of a group. */
static inline int
ut_check (int ok, const char *fmt, ...)
{
  ut.checks++;
  if (!ok) {
    ut.failures++;
    if (ut.failures <= 5) {
      va_list ap;
      printf ("    FAIL [%s] ", ut.group);
      va_start (ap, fmt);
      vprintf (fmt, ap);
      va_end (ap);
      printf ("\n");
    }
  }
  return ok;
}

static inline void
ut_end (void)
{
  if (ut.failures == 0)
    printf ("  ok    %-40s %ld checks\n", ut.group, ut.checks);
  else
    printf ("  FAIL  %-40s %ld of %ld checks failed\n", ut.group,
        ut.failures, ut.checks);
  ut.total_failures += ut.failures;
}

static inline int
ut_finish (void)
{
  if (ut.total_failures)
    printf ("FAILED: %ld checks\n", ut.total_failures);
  else
    printf ("all checks passed\n");
  return ut.total_failures ? 1 : 0;
}

/* |a - b| <= tol */
static inline int
ut_close (double a, double b, double tol)
{
  return fabs (a - b) <= tol;
}

#endif /* MRCNN_UNIT_TEST_H */
