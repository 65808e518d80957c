/* maskrcnntrack's cost per frame as an element: frames of 50 moving
 * instances (box-size GRAY8 masks, attached through the metadata library
 * beforehand) pushed through a harness; the time from push to pull, which
 * includes reading the instances, the tracker, and writing the ids into
 * the metadata. The push runs the element in this thread, so its time is
 * this thread's CPU time (other processes' use of the core does not count,
 * though their effect on caches does): report the machine's load with the
 * numbers.
 *
 *   bench-track [--objects 50] [--frames 600] */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gst/check/gstharness.h>
#include <gst/maskrcnn-meta.h>

#include "gst-test-util.h"

static gdouble
thread_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

int
main (int argc, char **argv)
{
  gint n = 50, frames = 600, i, f;
  const gdouble W = 1920, H = 1080;
  GstHarness *h;
  GstBuffer **bufs;
  gdouble *x, *y, *vx, *vy, *size, *times, sum = 0;
  GstBuffer **masks;
  GRand *rand = g_rand_new_with_seed (1);

  for (i = 1; i + 1 < argc; i += 2) {
    if (!strcmp (argv[i], "--objects"))
      n = atoi (argv[i + 1]);
    else if (!strcmp (argv[i], "--frames"))
      frames = atoi (argv[i + 1]);
  }
  gst_init (&argc, &argv);
  x = g_new (gdouble, n);
  y = g_new (gdouble, n);
  vx = g_new (gdouble, n);
  vy = g_new (gdouble, n);
  size = g_new (gdouble, n);
  masks = g_new (GstBuffer *, n);
  for (i = 0; i < n; i++) {
    gdouble a = g_rand_double_range (rand, 0, 2 * G_PI);
    gdouble v = g_rand_double_range (rand, 1, 6);
    gint s;

    size[i] = g_rand_double_range (rand, 20, 80);
    x[i] = g_rand_double_range (rand, size[i], W - size[i]);
    y[i] = g_rand_double_range (rand, size[i], H - size[i]);
    vx[i] = v * cos (a);
    vy[i] = v * sin (a);
    s = (gint) size[i];
    masks[i] = test_disc_mask (s);
  }
  bufs = g_new (GstBuffer *, frames);
  for (f = 0; f < frames; f++) {
    GstMaskRcnnInstanceInit *in = g_new0 (GstMaskRcnnInstanceInit, n);

    bufs[f] = gst_buffer_new_allocate (NULL, 16, NULL);
    GST_BUFFER_PTS (bufs[f]) = f * GST_SECOND / 30;
    for (i = 0; i < n; i++) {
      gint s = (gint) size[i];

      x[i] += vx[i];
      y[i] += vy[i];
      if ((x[i] < s && vx[i] < 0) || (x[i] > W - s && vx[i] > 0))
        vx[i] = -vx[i];
      if ((y[i] < s && vy[i] < 0) || (y[i] > H - s && vy[i] > 0))
        vy[i] = -vy[i];
      in[i].label = "circle";
      in[i].class_id = 1;
      in[i].confidence = 0.9;
      in[i].x = (gint) (x[i] - s / 2.0);
      in[i].y = (gint) (y[i] - s / 2.0);
      in[i].width = in[i].height = s;
      in[i].mask = masks[i];
      in[i].mask_width = in[i].mask_height = s;
    }
    if (!gst_maskrcnn_buffer_add_instances (bufs[f], in, (guint) n))
      return 1;
    g_free (in);
  }
  h = gst_harness_new ("maskrcnntrack");
  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=1920,"
      "height=1080,framerate=30/1");
  times = g_new (gdouble, frames);
  for (f = 0; f < frames; f++) {
    gdouble t0 = thread_us (), t1;
    GstBuffer *out;

    if (gst_harness_push (h, bufs[f]) != GST_FLOW_OK)
      return 1;
    out = gst_harness_pull (h);
    t1 = thread_us ();
    times[f] = t1 - t0;
    sum += times[f];
    if (f == frames - 1)
      g_print ("instances on the last frame: %u\n",
          gst_maskrcnn_buffer_get_n_instances (out));
    gst_buffer_unref (out);
  }
  qsort (times, (size_t) frames, sizeof (gdouble), cmp_double);
  g_print ("maskrcnntrack element, %d instances: mean %.1f us, median %.1f "
      "us, p99 %.1f us per frame (thread CPU time, harness push to pull)\n", n,
      sum / frames, times[frames / 2], times[(gint) (frames * 0.99)]);
  gst_harness_teardown (h);
  for (i = 0; i < n; i++)
    gst_buffer_unref (masks[i]);
  g_free (bufs);
  g_free (times);
  g_free (x);
  g_free (y);
  g_free (vx);
  g_free (vy);
  g_free (size);
  g_free (masks);
  g_rand_free (rand);
  return 0;
}
