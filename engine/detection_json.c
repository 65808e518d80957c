/* The JSON form of one detection (detection_json.h). */
#include "mrcnn/detection_json.h"

#include <string.h>

void
mrcnn_detection_json_begin (JsonBuilder *b, const char *label, int class_id,
    double score, double x1, double y1, double x2, double y2)
{
  char *valid = g_utf8_make_valid (label ? label : "", -1);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "label");
  json_builder_add_string_value (b, valid);
  g_free (valid);
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

char *
mrcnn_json_to_string (JsonNode *root, int pretty)
{
  JsonGenerator *gen = json_generator_new ();
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, pretty != 0);
  char *json = json_generator_to_data (gen, NULL);
  g_object_unref (gen);
  /* Every other control character comes out escaped; 0x1f is never part
   * of a multibyte UTF-8 sequence nor of the layout, so each one is a
   * character inside a string. */
  if (!json || !strchr (json, 0x1f))
    return json;
  GString *out = g_string_sized_new (strlen (json) + 16);
  for (const char *p = json; *p; p++) {
    if (*p == 0x1f)
      g_string_append (out, "\\u001f");
    else
      g_string_append_c (out, *p);
  }
  g_free (json);
  return g_string_free (out, FALSE);
}
