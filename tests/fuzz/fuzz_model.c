/* libFuzzer target: the model loader (engine/model.c, engine/arch.c).
 *
 * Any byte string is handed to mrcnn_model_open() as a file: the 8-byte
 * safetensors header length, the JSON header (parsed by json-glib), the
 * __metadata__ strings with their nested JSON (labels, image_mean, anchor
 * sizes...), the tensor table (dtype, shape, data_offsets) and the
 * architecture check that reads every tensor's shape. A file must either
 * open or be refused with a status and a message that names it; an open
 * model must answer its accessors. Anything else (a crash, a sanitizer
 * report, a leak) is a finding. */
#include <string.h>

#include "fuzz_input.h"
#include "mrcnn/mrcnn.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
one_input (const uint8_t *data, size_t size)
{
  const char *path = fuzz_input_path (data, size);
  mrcnn_model *model = NULL;
  mrcnn_error err;

  memset (&err, 0, sizeof err);
  mrcnn_status st = mrcnn_model_open (path, &model, &err);
  if (verbose ())
    fprintf (stderr, "%s: %s%s%s\n", path, mrcnn_status_name (st),
        st != MRCNN_OK ? ": " : "", st != MRCNN_OK ? err.message : "");
  if (st != MRCNN_OK) {
    /* Refused: no model, a status name and a message naming the file. */
    if (model != NULL || err.status != st || strstr (err.message, path) == NULL
        || strcmp (mrcnn_status_name (st), "unknown error") == 0)
      __builtin_trap ();
    return 0;
  }
  if (model == NULL)
    __builtin_trap ();
  /* Touch everything the metadata produced. */
  int n = mrcnn_model_num_classes (model);
  if (n < 2 || strcmp (mrcnn_model_path (model), path) != 0)
    __builtin_trap ();
  volatile size_t sink = strlen (mrcnn_model_architecture (model));
  for (int i = -1; i <= n; i++) {
    const char *label = mrcnn_model_class_label (model, i);
    if ((label == NULL) != (i < 0 || i >= n))
      __builtin_trap ();
    if (label)
      sink += strlen (label);
  }
  (void) sink;
  mrcnn_model_free (model);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  return fuzz_run_small_stack (one_input, data, size);
}
