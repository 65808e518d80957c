#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *
mrcnn_status_name (mrcnn_status status)
{
  switch (status) {
    case MRCNN_OK: return "ok";
    case MRCNN_ERR_INVALID_ARG: return "invalid argument";
    case MRCNN_ERR_IO: return "I/O error";
    case MRCNN_ERR_FORMAT: return "format error";
    case MRCNN_ERR_MODEL: return "model error";
    case MRCNN_ERR_UNSUPPORTED: return "unsupported";
    case MRCNN_ERR_NO_MEMORY: return "out of memory";
    case MRCNN_ERR_BACKEND: return "backend error";
    case MRCNN_ERR_CANCELLED: return "cancelled";
  }
  return "unknown error";
}

mrcnn_status
mrcnn_fail (mrcnn_error *err, mrcnn_status status, const char *fmt, ...)
{
  if (err) {
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err->message, sizeof err->message, fmt, ap);
    va_end (ap);
    err->status = status;
  }
  return status;
}

mrcnn_status
mrcnn_fail_prefix (mrcnn_error *err, mrcnn_status status, const char *fmt, ...)
{
  if (err) {
    char prefix[MRCNN_ERROR_MESSAGE_MAX];
    char old[MRCNN_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (prefix, sizeof prefix, fmt, ap);
    va_end (ap);
    memcpy (old, err->message, sizeof old);
    old[sizeof old - 1] = '\0';
    snprintf (err->message, sizeof err->message, "%s%s", prefix, old);
    err->status = status;
  }
  return status;
}
