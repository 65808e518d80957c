/* Where the model shipped with gst-maskrcnn is found when the user names
 * none: shared by mrcnn-infer and the GStreamer plugin. */
#ifndef MRCNN_TOOLS_DEFAULT_MODEL_H
#define MRCNN_TOOLS_DEFAULT_MODEL_H

#ifdef __cplusplus
extern "C" {
#endif

/* File name of the shipped model (the synthetic-shapes Mask R-CNN). */
#define MRCNN_DEFAULT_MODEL_FILE "shapes.safetensors"

/* Looks for MRCNN_DEFAULT_MODEL_FILE, in this order:
 *   1. the directory named by the environment variable MRCNN_MODEL_DIR;
 *   2. the source tree's models/ directory, only when the calling program
 *      or plugin runs from this project's build tree (uninstalled);
 *   3. the installed data directory (<prefix>/share/gst-maskrcnn).
 * Returns the first existing regular file as a new string the caller frees
 * with g_free(), or NULL when there is none. If `searched` is not NULL it
 * receives, in both cases, a new string (free with g_free()) listing every
 * place looked at, one per line, indented by two spaces: ready to append to
 * an error message. */
char *mrcnn_default_model_path (char **searched);

#ifdef __cplusplus
}
#endif
#endif /* MRCNN_TOOLS_DEFAULT_MODEL_H */
