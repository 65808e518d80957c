/* Backend selection helpers shared by every build. */
#include "backend.h"

#ifndef MRCNN_HAVE_CUDA
mrcnn_status
mrcnn_backend_cuda_new (int device_id, mrcnn_backend **out, mrcnn_error *err)
{
  *out = NULL;
  return mrcnn_fail (err, MRCNN_ERR_UNSUPPORTED,
      "this build of gst-maskrcnn has no CUDA backend (configure with "
      "-Dcuda=enabled on a machine with the CUDA toolkit and cuDNN)");
}
#endif
