/* Test of mrcnn_default_model_path(): $MRCNN_MODEL_DIR wins when it holds
 * the model, is reported when it does not, and the list of places names
 * every directory that was looked at. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "cli_test.h"
#include "mrcnn/mrcnn.h"

int
main (void)
{
  char *dir = g_dir_make_tmp ("mrcnn-default-model-XXXXXX", NULL);
  char *empty = g_build_filename (dir, "empty", NULL);
  char *model = g_build_filename (dir, MRCNN_DEFAULT_MODEL_FILE, NULL);
  char *searched = NULL, *found;

  g_mkdir (empty, 0700);
  g_file_set_contents (model, "x", 1, NULL);

  g_setenv ("MRCNN_MODEL_DIR", dir, TRUE);
  found = mrcnn_default_model_path (&searched);
  CHECK (found != NULL && strcmp (found, model) == 0,
      "MRCNN_MODEL_DIR holding the model: got %s", found ? found : "NULL");
  CHECK (searched != NULL && strstr (searched, model) != NULL,
      "the list names the file found: %s", searched);
  free (found);
  free (searched);

  /* No searched list wanted: still works. */
  found = mrcnn_default_model_path (NULL);
  CHECK (found != NULL, "NULL searched argument");
  free (found);

  /* An empty MRCNN_MODEL_DIR falls through to the other places; whatever
   * they hold, the empty directory is in the list and is not the answer. */
  g_setenv ("MRCNN_MODEL_DIR", empty, TRUE);
  found = mrcnn_default_model_path (&searched);
  CHECK (found == NULL || strncmp (found, empty, strlen (empty)) != 0,
      "a model found in an empty directory: %s", found);
  CHECK (searched != NULL && strstr (searched, empty) != NULL
      && strstr (searched, "MRCNN_MODEL_DIR") != NULL,
      "the list names the empty MRCNN_MODEL_DIR: %s", searched);
  printf ("looked in, with an empty MRCNN_MODEL_DIR:\n%s-> %s\n", searched,
      found ? found : "(none)");
  free (found);
  free (searched);

  /* A directory named like the model is not a model. */
  g_remove (model);
  g_mkdir (model, 0700);
  g_setenv ("MRCNN_MODEL_DIR", dir, TRUE);
  found = mrcnn_default_model_path (&searched);
  CHECK (found == NULL || strcmp (found, model) != 0,
      "a directory taken for the model file");
  free (found);
  free (searched);

  g_unsetenv ("MRCNN_MODEL_DIR");
  found = mrcnn_default_model_path (&searched);
  CHECK (strstr (searched, "not set") != NULL,
      "an unset MRCNN_MODEL_DIR is reported: %s", searched);
  free (found);
  free (searched);

  g_rmdir (model);
  g_rmdir (empty);
  g_rmdir (dir);
  g_free (model);
  g_free (empty);
  g_free (dir);
  return cli_test_finish ();
}
