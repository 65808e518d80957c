/* The precisions the commands offer. */
#ifndef MRCNN_TOOLS_PRECISIONS_H
#define MRCNN_TOOLS_PRECISIONS_H

/* "fp32, bf16 or int8": the precisions a backend of this build computes in
 * (mrcnn_precision_available), for help and usage messages. A new string;
 * free with g_free(). */
char *mrcnn_tool_precisions (void);

#endif
