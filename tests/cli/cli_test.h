/* Harness of the tests/cli C tests and helpers: CHECK() counting passed and
 * failed checks, the xorshift64* generator their random cases come from,
 * its seeding from MRCNN_TEST_SEED or the clock, and the closing summary.
 *
 * The seed is printed first so that a failing run can be repeated exactly
 * with MRCNN_TEST_SEED=<seed>. */
#ifndef MRCNN_CLI_TEST_H
#define MRCNN_CLI_TEST_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int n_failed, n_passed;

#define CHECK(cond, ...)                                                  \
  do {                                                                    \
    if (cond) {                                                           \
      n_passed++;                                                         \
    } else {                                                              \
      n_failed++;                                                         \
      fprintf (stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
      fprintf (stderr, __VA_ARGS__);                                      \
      fputc ('\n', stderr);                                               \
    }                                                                     \
  } while (0)

static uint64_t rng_state;

static inline uint32_t
rng_next (void)
{
  /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t) ((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static inline int
rng_range (int n)
{
  return (int) (rng_next () % (uint32_t) n);
}

/* Seeds the generator from MRCNN_TEST_SEED, else from the clock (0, which
 * xorshift cannot leave, is taken as 1), and prints the seed. */
static inline void
cli_test_seed (void)
{
  const char *env = getenv ("MRCNN_TEST_SEED");
  uint64_t seed = env != NULL ? strtoull (env, NULL, 10)
      : (uint64_t) time (NULL) ^ ((uint64_t) clock () << 32);

  rng_state = seed != 0 ? seed : 1;
  printf ("seed %" PRIu64 " (replay with MRCNN_TEST_SEED=%" PRIu64 ")\n",
      seed, seed);
}

/* Prints the counts; the exit status of the test. */
static inline int
cli_test_finish (void)
{
  printf ("%d passed, %d failed\n", n_passed, n_failed);
  return n_failed == 0 ? 0 : 1;
}

#endif /* MRCNN_CLI_TEST_H */
