/* The JSON form of one detection, shared by every writer of detections
 * (mrcnn-infer --json, the maskrcnnpublish element), so that consumers read
 * one schema:
 *
 *   {"label": "cat", "class_id": 17, "score": 0.93, "box": [x1, y1, x2, y2],
 *    ..., "mask": {"size": [h, w], "counts": "<COCO compressed RLE>"}}
 *
 * box is in frame pixels; the mask is the full-frame mask (coco_rle.h). */
#ifndef MRCNN_DETECTION_JSON_H
#define MRCNN_DETECTION_JSON_H

#include <json-glib/json-glib.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Begins the detection's object in b and writes label, class_id, score and
 * box. The label may hold any bytes (labels come from model files and
 * metadata): invalid UTF-8 becomes U+FFFD. The caller may add members, then
 * mrcnn_detection_json_mask(), and ends the object with
 * json_builder_end_object(). */
void mrcnn_detection_json_begin (JsonBuilder *b, const char *label,
    int class_id, double score, double x1, double y1, double x2, double y2);

/* Writes the "mask" member: the compressed COCO RLE `counts` of a w x h
 * full-frame mask. */
void mrcnn_detection_json_mask (JsonBuilder *b, const char *counts, int w,
    int h);

/* The document under root as strict JSON text (RFC 8259), pretty-printed
 * or compact: json-glib 1.6 writes the control character U+001F raw inside
 * strings, which strict parsers refuse; it is escaped here. New string, free
 * with g_free(). */
char *mrcnn_json_to_string (JsonNode *root, int pretty);

#ifdef __cplusplus
}
#endif
#endif /* MRCNN_DETECTION_JSON_H */
