/* Proof that the ThreadSanitizer run sees what it must (tests/sanitize.sh
 * tsan): two threads increment a counter, guarded by a GMutex ("locked",
 * must be clean: GLib's futex lock is visible through tsan-glib-sync) or
 * unguarded ("racy", must be reported). Run without the preload and with
 * the suppressions and options of tests/sanitize.sh. */
#include <string.h>
#include <glib.h>

static GMutex lock;
static gboolean guarded;
static volatile long counter;

static gpointer
work (gpointer data)
{
  for (int i = 0; i < 1000; i++) {
    if (guarded)
      g_mutex_lock (&lock);
    counter = counter + 1;
    if (guarded)
      g_mutex_unlock (&lock);
  }
  return NULL;
}

int
main (int argc, char **argv)
{
  GThread *a, *b;

  if (argc != 2 || (strcmp (argv[1], "locked") && strcmp (argv[1], "racy")))
    return 2;
  guarded = strcmp (argv[1], "locked") == 0;
  a = g_thread_new ("a", work, NULL);
  b = g_thread_new ("b", work, NULL);
  g_thread_join (a);
  g_thread_join (b);
  /* TSan exits with its exitcode (66 in tests/sanitize.sh) after a report. */
  return guarded && counter != 2000;
}
