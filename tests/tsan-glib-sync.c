/* GLib's locks as ThreadSanitizer sees them, for the TSan run of
 * tests/sanitize.sh (LD_PRELOADed into the test processes).
 *
 * On Linux GLib implements GMutex, GCond and g_once on futexes and atomics
 * inside libglib, which is not instrumented: TSan never sees a lock taken,
 * so every field that our code (the engine's lock, GST_OBJECT_LOCK, pad
 * stream locks) protects with them would look unprotected and be reported
 * as a race. Each wrapper below calls GLib's own function and tells TSan
 * what it means for ordering (acquire after taking, release before giving
 * up), keyed by the lock's address. The locking itself stays GLib's: the
 * wrappers add happens-before edges exactly where GLib's locks create
 * them, and nothing else, so no real race in our code is hidden.
 *
 * Calls from our code and from GStreamer reach these wrappers through the
 * PLT; GLib's calls to itself do not, and need none (GLib's own data is not
 * instrumented).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

void __tsan_acquire (void *addr);
void __tsan_release (void *addr);

/* Resolved at the first call: the preload reaches processes that load GLib
 * later, or never. Atomic, since the first calls may come from several
 * threads at once (the same value is stored by each). */
static void *
resolve (void **slot, const char *name)
{
  void *f = __atomic_load_n (slot, __ATOMIC_ACQUIRE);
  if (f == NULL) {
    f = dlsym (RTLD_NEXT, name);
    if (f == NULL) {
      fprintf (stderr, "tsan-glib-sync: %s not found in GLib\n", name);
      abort ();
    }
    __atomic_store_n (slot, f, __ATOMIC_RELEASE);
  }
  return f;
}

#define REAL(name) \
  ((__typeof__ (name) *) resolve (&real_##name, #name))
static void *real_g_mutex_lock, *real_g_mutex_trylock, *real_g_mutex_unlock,
    *real_g_rec_mutex_lock, *real_g_rec_mutex_trylock,
    *real_g_rec_mutex_unlock, *real_g_rw_lock_writer_lock,
    *real_g_rw_lock_writer_trylock, *real_g_rw_lock_writer_unlock,
    *real_g_rw_lock_reader_lock, *real_g_rw_lock_reader_trylock,
    *real_g_rw_lock_reader_unlock, *real_g_cond_wait, *real_g_cond_wait_until,
    *real_g_once_init_enter, *real_g_once_init_leave;

void
g_mutex_lock (GMutex * m)
{
  REAL (g_mutex_lock) (m);
  __tsan_acquire (m);
}

gboolean
g_mutex_trylock (GMutex * m)
{
  gboolean r = REAL (g_mutex_trylock) (m);
  if (r)
    __tsan_acquire (m);
  return r;
}

void
g_mutex_unlock (GMutex * m)
{
  __tsan_release (m);
  REAL (g_mutex_unlock) (m);
}

void
g_rec_mutex_lock (GRecMutex * m)
{
  REAL (g_rec_mutex_lock) (m);
  __tsan_acquire (m);
}

gboolean
g_rec_mutex_trylock (GRecMutex * m)
{
  gboolean r = REAL (g_rec_mutex_trylock) (m);
  if (r)
    __tsan_acquire (m);
  return r;
}

void
g_rec_mutex_unlock (GRecMutex * m)
{
  __tsan_release (m);
  REAL (g_rec_mutex_unlock) (m);
}

/* Readers release into the same address as writers: a reader then orders
 * after every earlier reader as well as the writers, which can only hide a
 * race between two readers - who by contract only read. */
void
g_rw_lock_writer_lock (GRWLock * l)
{
  REAL (g_rw_lock_writer_lock) (l);
  __tsan_acquire (l);
}

gboolean
g_rw_lock_writer_trylock (GRWLock * l)
{
  gboolean r = REAL (g_rw_lock_writer_trylock) (l);
  if (r)
    __tsan_acquire (l);
  return r;
}

void
g_rw_lock_writer_unlock (GRWLock * l)
{
  __tsan_release (l);
  REAL (g_rw_lock_writer_unlock) (l);
}

void
g_rw_lock_reader_lock (GRWLock * l)
{
  REAL (g_rw_lock_reader_lock) (l);
  __tsan_acquire (l);
}

gboolean
g_rw_lock_reader_trylock (GRWLock * l)
{
  gboolean r = REAL (g_rw_lock_reader_trylock) (l);
  if (r)
    __tsan_acquire (l);
  return r;
}

void
g_rw_lock_reader_unlock (GRWLock * l)
{
  __tsan_release (l);
  REAL (g_rw_lock_reader_unlock) (l);
}

/* Waiting gives the mutex up and takes it again. */
void
g_cond_wait (GCond * c, GMutex * m)
{
  __tsan_release (m);
  REAL (g_cond_wait) (c, m);
  __tsan_acquire (m);
}

gboolean
g_cond_wait_until (GCond * c, GMutex * m, gint64 end_time)
{
  gboolean r;
  __tsan_release (m);
  r = REAL (g_cond_wait_until) (c, m, end_time);
  __tsan_acquire (m);
  return r;
}

/* g_once_init_enter()'s fast path is an atomic load compiled into the
 * caller (instrumented): the release here pairs with it, and the acquire
 * below with the slow path. G_DEFINE_TYPE's get_type() runs on both. */
gboolean
(g_once_init_enter) (volatile void *location)
{
  gboolean r = REAL (g_once_init_enter) (location);
  if (!r)
    __tsan_acquire ((void *) location);
  return r;
}

void
(g_once_init_leave) (volatile void *location, gsize result)
{
  __tsan_release ((void *) location);
  REAL (g_once_init_leave) (location, result);
}
