/* The precisions the commands offer: those this build computes in. */
#include <glib.h>

#include "mrcnn/mrcnn.h"
#include "precisions.h"

char *
mrcnn_tool_precisions (void)
{
  static const mrcnn_precision all[] = { MRCNN_PRECISION_FP32,
    MRCNN_PRECISION_TF32, MRCNN_PRECISION_FP16, MRCNN_PRECISION_BF16,
    MRCNN_PRECISION_INT8 };
  const char *names[G_N_ELEMENTS (all)];
  int n = 0;
  for (size_t i = 0; i < G_N_ELEMENTS (all); i++)
    if (mrcnn_precision_available (all[i]))
      names[n++] = mrcnn_precision_name (all[i]);
  GString *s = g_string_new (NULL);
  for (int i = 0; i < n; i++)
    g_string_append_printf (s, "%s%s", i == 0 ? "" : i == n - 1 ? " or "
        : ", ", names[i]);
  return g_string_free (s, FALSE);
}
