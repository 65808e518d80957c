/* mrcnn_default_model_path() (mrcnn.h). The build system passes the places
 * as defines:
 *   MRCNN_SOURCE_MODEL_DIR   the source tree's models/ directory
 *   MRCNN_BUILD_ROOT         the build tree, to tell uninstalled runs
 *   MRCNN_DEFAULT_MODEL_DIR  the installed data directory
 * It lives in the engine library so that every program that links the
 * engine (mrcnn-infer, the GStreamer plugin) looks in the same places. */
#include "mrcnn/mrcnn.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#if defined(MRCNN_SOURCE_MODEL_DIR) && defined(MRCNN_BUILD_ROOT)
/* The file holding this code: the engine library, wherever it was loaded
 * from (by a program or by the GStreamer plugin). */
static char *
this_module_path (void)
{
  Dl_info info;

  if (dladdr ((void *) this_module_path, &info) != 0
      && info.dli_fname != NULL && g_path_is_absolute (info.dli_fname))
    return g_strdup (info.dli_fname);
  /* glibc names the main program by its argv[0], which may be relative. */
  return g_file_read_link ("/proc/self/exe", NULL);
}

/* An installed library must not pick up a model from a source tree that
 * happens to still exist, so the source tree only counts when the library
 * itself runs from inside the build tree. */
static gboolean
running_uninstalled (void)
{
  char *module = this_module_path ();
  char *real_module = module != NULL ? realpath (module, NULL) : NULL;
  char *real_root = realpath (MRCNN_BUILD_ROOT, NULL);
  gboolean inside = FALSE;

  if (real_module != NULL && real_root != NULL) {
    size_t n = strlen (real_root);
    inside = strncmp (real_module, real_root, n) == 0
        && (real_module[n] == '/' || real_root[n - 1] == '/');
  }
  free (real_root);
  free (real_module);
  g_free (module);
  return inside;
}
#endif

/* Checks dir/MRCNN_DEFAULT_MODEL_FILE and notes it in `log`. Returns a new
 * path if the file exists. */
static char *
try_dir (const char *dir, const char *why, GString *log)
{
  char *path = g_build_filename (dir, MRCNN_DEFAULT_MODEL_FILE, NULL);

  g_string_append_printf (log, "  %s (%s)\n", path, why);
  if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return path;
  g_free (path);
  return NULL;
}

char *
mrcnn_default_model_path (char **searched)
{
  GString *log = g_string_new (NULL);
  const char *env = g_getenv ("MRCNN_MODEL_DIR");
  char *found = NULL;

  if (env != NULL && env[0] != '\0')
    found = try_dir (env, "$MRCNN_MODEL_DIR", log);
  else
    g_string_append (log, "  $MRCNN_MODEL_DIR (not set)\n");

#if defined(MRCNN_SOURCE_MODEL_DIR) && defined(MRCNN_BUILD_ROOT)
  if (found == NULL) {
    if (running_uninstalled ())
      found = try_dir (MRCNN_SOURCE_MODEL_DIR, "source tree", log);
    else
      g_string_append_printf (log, "  %s (source tree: skipped, this "
          "engine library is installed)\n", MRCNN_SOURCE_MODEL_DIR);
  }
#endif

#ifdef MRCNN_DEFAULT_MODEL_DIR
  if (found == NULL)
    found = try_dir (MRCNN_DEFAULT_MODEL_DIR, "installed data directory",
        log);
#endif

  /* The public API hands out malloc() memory: callers need not use GLib. */
  if (searched != NULL)
    *searched = strdup (log->str);
  g_string_free (log, TRUE);
  if (found != NULL) {
    char *copy = strdup (found);
    g_free (found);
    found = copy;
  }
  return found;
}
