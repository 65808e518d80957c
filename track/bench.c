/* The tracker's own cost: mean and 99th percentile time of one
 * mrcnn_tracker_update() for N objects (default 50) with box-size GRAY8
 * masks, as maskrcnn attaches them, on one thread.
 *
 *   mrcnn-track-bench [--objects 50] [--frames 3000] [--interval 1] [--seed 1]
 *
 * The objects are discs and squares of 20..80 pixels moving on a 1920 x 1080
 * frame at 1..6 pixels a frame, bouncing off its edges, so that some cross
 * (their boxes overlap and their mask IoUs are computed). Every frame's
 * detections are the objects' boxes with +-1 pixel of noise; with
 * --interval N, N - 1 frames of every N only advance the tracks. Prints the
 * CPU's name. Times are this thread's CPU time, so other processes' use
 * of the core does not count, though their effect on caches does: report
 * the conditions with the numbers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tracker.h"

typedef struct {
  double x, y, vx, vy, size;
  int cls;
  unsigned char *mask;
} obj;

static unsigned long long rng_state = 1;

static double
uniform (double lo, double hi)
{
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return lo + (hi - lo) * ((rng_state >> 11) * (1.0 / 9007199254740992.0));
}

static double
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static void
print_cpu (void)
{
  FILE *f = fopen ("/proc/cpuinfo", "r");
  char line[512];

  if (!f)
    return;
  while (fgets (line, sizeof (line), f))
    if (strncmp (line, "model name", 10) == 0) {
      printf ("cpu: %s", strchr (line, ':') + 2);
      break;
    }
  fclose (f);
}

int
main (int argc, char **argv)
{
  int n = 50, frames = 3000, interval = 1, i, f, k = 0;
  const double W = 1920, H = 1080;
  mrcnn_tracker_params p;
  mrcnn_tracker *t;
  obj *objs;
  mrcnn_track_input *in;
  mrcnn_track_output *out;
  double *times, sum = 0;
  long confirmed = 0, detections = 0;

  for (i = 1; i + 1 < argc; i += 2) {
    if (!strcmp (argv[i], "--objects"))
      n = atoi (argv[i + 1]);
    else if (!strcmp (argv[i], "--frames"))
      frames = atoi (argv[i + 1]);
    else if (!strcmp (argv[i], "--interval"))
      interval = atoi (argv[i + 1]);
    else if (!strcmp (argv[i], "--seed"))
      rng_state = strtoull (argv[i + 1], NULL, 0);
    else {
      fprintf (stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (n < 1 || frames < 1 || interval < 1) {
    fprintf (stderr, "objects, frames and interval must be positive\n");
    return 2;
  }
  mrcnn_tracker_params_default (&p);
  t = mrcnn_tracker_new (&p);
  objs = calloc ((size_t) n, sizeof (obj));
  in = calloc ((size_t) n, sizeof (*in));
  out = calloc ((size_t) n, sizeof (*out));
  times = calloc ((size_t) frames, sizeof (double));
  if (!t || !objs || !in || !out || !times)
    return 1;
  for (i = 0; i < n; i++) {
    int s, x, y;
    double a = uniform (0, 2 * M_PI), v = uniform (1, 6);

    objs[i].size = uniform (20, 80);
    objs[i].x = uniform (objs[i].size, W - objs[i].size);
    objs[i].y = uniform (objs[i].size, H - objs[i].size);
    objs[i].vx = v * cos (a);
    objs[i].vy = v * sin (a);
    objs[i].cls = 1 + i % 3;
    s = (int) objs[i].size;
    objs[i].mask = malloc ((size_t) s * s);
    for (y = 0; y < s; y++)
      for (x = 0; x < s; x++) {
        double u = (x + 0.5) / s - 0.5, w = (y + 0.5) / s - 0.5;
        objs[i].mask[y * s + x] = objs[i].cls == 1 ?
            (u * u + w * w < 0.25 ? 255 : 0) : 255;
      }
  }
  print_cpu ();
  for (f = 0; f < frames; f++) {
    double t0, t1;

    for (i = 0; i < n; i++) {
      obj *o = &objs[i];
      int s = (int) o->size;

      o->x += o->vx;
      o->y += o->vy;
      if ((o->x < s && o->vx < 0) || (o->x > W - s && o->vx > 0))
        o->vx = -o->vx;
      if ((o->y < s && o->vy < 0) || (o->y > H - s && o->vy > 0))
        o->vy = -o->vy;
      in[i].x = o->x - s / 2.0 + uniform (-1, 1);
      in[i].y = o->y - s / 2.0 + uniform (-1, 1);
      in[i].w = s;
      in[i].h = s;
      in[i].score = uniform (0.3, 1.0);
      in[i].class_id = o->cls;
      in[i].mask = o->mask;
      in[i].mask_width = in[i].mask_height = in[i].mask_stride = s;
    }
    t0 = now_ns ();
    if (f % interval == 0) {
      if (mrcnn_tracker_update (t, in, n, out) < 0)
        return 1;
    } else {
      mrcnn_tracker_advance (t);
    }
    t1 = now_ns ();
    if (f % interval == 0) {
      times[k++] = t1 - t0;
      sum += t1 - t0;
      for (i = 0; i < n; i++)
        confirmed += out[i].state == MRCNN_TRACK_CONFIRMED;
      detections += n;
    }
  }
  qsort (times, (size_t) k, sizeof (double), cmp_double);
  printf ("objects %d, frames with detections %d (interval %d), tracks at "
      "the end %d, detections on confirmed tracks %.1f%%\n", n, k, interval,
      mrcnn_tracker_n_tracks (t), 100.0 * confirmed / detections);
  printf ("mrcnn_tracker_update: mean %.1f us, median %.1f us, p99 %.1f us "
      "per frame (thread CPU time)\n", sum / k / 1e3,
      times[k / 2] / 1e3, times[(int) (k * 0.99)] / 1e3);
  for (i = 0; i < n; i++)
    free (objs[i].mask);
  free (objs);
  free (in);
  free (out);
  free (times);
  mrcnn_tracker_free (t);
  return 0;
}
