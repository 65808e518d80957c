/* The backends this build has (the CUDA backend with -Dcuda=enabled). */
#include "backend.h"

static const mrcnn_backend_reg *const backends[] = {
#ifdef MRCNN_HAVE_CUDA
  &mrcnn_backend_cuda_reg,
#endif
  &mrcnn_backend_cpu_reg,
};

const mrcnn_backend_reg *const *
mrcnn_backends (int *n)
{
  *n = (int) G_N_ELEMENTS (backends);
  return backends;
}

mrcnn_status
mrcnn_backend_find (mrcnn_backend_kind kind, const mrcnn_backend_reg **out,
    mrcnn_error *err)
{
  for (size_t i = 0; i < G_N_ELEMENTS (backends); i++)
    if (backends[i]->kind == kind) {
      *out = backends[i];
      return MRCNN_OK;
    }
  *out = NULL;
  return mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED,
      "this build of gst-maskrcnn has no %s backend%s",
      kind == MRCNN_BACKEND_CUDA ? "CUDA" : "such",
      kind == MRCNN_BACKEND_CUDA ? " (configure with -Dcuda=enabled on a "
      "machine with the CUDA toolkit and cuDNN)" : "");
}

unsigned
mrcnn_backend_reg_precisions (const mrcnn_backend_reg *r)
{
  return r->precisions | (r->unverified && r->unlocked
      ? r->unverified & r->unlocked () : 0);
}
