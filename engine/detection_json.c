/* The JSON form of one detection (detection_json.h). */
#include "mrcnn/detection_json.h"

void
mrcnn_detection_json_begin (JsonBuilder *b, const char *label, int class_id,
    double score, double x1, double y1, double x2, double y2)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "label");
  json_builder_add_string_value (b, label);
  json_builder_set_member_name (b, "class_id");
  json_builder_add_int_value (b, class_id);
  json_builder_set_member_name (b, "score");
  json_builder_add_double_value (b, score);
  json_builder_set_member_name (b, "box");
  json_builder_begin_array (b);
  json_builder_add_double_value (b, x1);
  json_builder_add_double_value (b, y1);
  json_builder_add_double_value (b, x2);
  json_builder_add_double_value (b, y2);
  json_builder_end_array (b);
}

void
mrcnn_detection_json_mask (JsonBuilder *b, const char *counts, int w, int h)
{
  json_builder_set_member_name (b, "mask");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "size");
  json_builder_begin_array (b);
  json_builder_add_int_value (b, h);
  json_builder_add_int_value (b, w);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "counts");
  json_builder_add_string_value (b, counts);
  json_builder_end_object (b);
}
