/* A model's int8 calibration (calibration.c). Not installed. */
#ifndef MRCNN_CALIBRATION_H
#define MRCNN_CALIBRATION_H

#include <json-glib/json-glib.h>

#include "internal.h"

typedef struct mrcnn_calibration mrcnn_calibration;

/* Parses the metadata field int8_calibration of the model at path into a
 * new *out (free with mrcnn_calibration_free). */
mrcnn_status mrcnn_calibration_parse (const char *path, JsonNode *node,
    mrcnn_calibration **out, mrcnn_error *err);
void mrcnn_calibration_free (mrcnn_calibration *c);
/* The method that chose the ranges; owned by c. */
const char *mrcnn_calibration_method (const mrcnn_calibration *c);
/* The layer's quantization (c may be NULL: off). layer is the name of its
 * weights without ".weight"; a fused layer goes by its first part's name. */
mrcnn_quant mrcnn_calibration_layer (const mrcnn_calibration *c,
    const char *layer);

/* Refuses precision int8 for a model with no calibration, with a message
 * that names the exporter's option. */
mrcnn_status mrcnn_calibration_check (const mrcnn_model *model,
    mrcnn_precision precision, mrcnn_error *err);

#endif
