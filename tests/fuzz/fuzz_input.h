/* Hands a fuzz input to an API that takes a file path.
 *
 * The loaders under test open files by name (mrcnn_model_open() maps the
 * file, mrcnn_image_load() reads it with stdio), so the input is written to
 * one anonymous in-memory file per process and passed as
 * /proc/self/fd/N: no disk traffic, no temporary files left behind, and
 * nothing new exposed in the library just for fuzzing. */
#ifndef MRCNN_FUZZ_INPUT_H
#define MRCNN_FUZZ_INPUT_H

#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static int fuzz_fd = -1;
static char fuzz_path[64];

/* MRCNN_FUZZ_VERBOSE=1 prints each input's outcome (to check a corpus). */
static int
verbose (void)
{
  static int v = -1;
  if (v < 0) {
    const char *e = getenv ("MRCNN_FUZZ_VERBOSE");
    v = e != NULL && *e != '\0' && *e != '0';
  }
  return v;
}

/* Replaces the in-memory file's contents with data and returns its path. */
static const char *
fuzz_input_path (const uint8_t *data, size_t size)
{
  if (fuzz_fd < 0) {
    fuzz_fd = memfd_create ("fuzz-input", MFD_CLOEXEC);
    if (fuzz_fd < 0) {
      perror ("memfd_create");
      abort ();  /* the harness, not the library under test */
    }
    snprintf (fuzz_path, sizeof fuzz_path, "/proc/self/fd/%d", fuzz_fd);
  }
  if (ftruncate (fuzz_fd, 0) != 0) {
    perror ("ftruncate");
    abort ();
  }
  size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite (fuzz_fd, data + done, size - done, (off_t) done);
    if (n <= 0) {
      perror ("pwrite");
      abort ();
    }
    done += (size_t) n;
  }
  return fuzz_path;
}

/* Runs fn(data, size) on a worker thread with a 512 KiB stack and waits for
 * it. Recursion that grows with the input (a parser descending into nested
 * brackets) then overflows at input sizes the fuzzer reaches (a few KB)
 * instead of only past the default 8 MiB, far beyond -max_len. 512 KiB is
 * what many applications give their worker threads. One thread serves every
 * input: a thread per input made ASan's bookkeeping grow by about 300 bytes
 * per execution, which a long run turns into gigabytes. */
typedef struct {
  int (*fn) (const uint8_t *, size_t);
  const uint8_t *data;
  size_t size;
  int ret;
} fuzz_call;

static pthread_mutex_t fuzz_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fuzz_wake = PTHREAD_COND_INITIALIZER;
static fuzz_call *fuzz_pending;     /* set by the caller, cleared when done */

static void *
fuzz_worker (void *unused)
{
  (void) unused;
  pthread_mutex_lock (&fuzz_lock);
  for (;;) {
    while (fuzz_pending == NULL)
      pthread_cond_wait (&fuzz_wake, &fuzz_lock);
    fuzz_call *c = fuzz_pending;
    pthread_mutex_unlock (&fuzz_lock);
    c->ret = c->fn (c->data, c->size);
    pthread_mutex_lock (&fuzz_lock);
    fuzz_pending = NULL;
    pthread_cond_broadcast (&fuzz_wake);
  }
  return NULL;
}

static int
fuzz_run_small_stack (int (*fn) (const uint8_t *, size_t),
    const uint8_t *data, size_t size)
{
  static int started;
  fuzz_call c = { fn, data, size, 0 };
  if (!started) {
    pthread_attr_t attr;
    pthread_t t;
    if (pthread_attr_init (&attr) != 0
        || pthread_attr_setstacksize (&attr, 512 * 1024) != 0
        || pthread_create (&t, &attr, fuzz_worker, NULL) != 0) {
      perror ("fuzz worker thread");
      abort ();
    }
    pthread_attr_destroy (&attr);
    started = 1;
  }
  pthread_mutex_lock (&fuzz_lock);
  fuzz_pending = &c;
  pthread_cond_broadcast (&fuzz_wake);
  while (fuzz_pending != NULL)
    pthread_cond_wait (&fuzz_wake, &fuzz_lock);
  pthread_mutex_unlock (&fuzz_lock);
  return c.ret;
}

#endif
