#!/usr/bin/python3
"""Many streams, one engine: N maskrcnn elements in one process sharing one
engine (model-instance-id, batch-size N) against N elements with an engine
each, for N = 1, 2, 4, 8 (docs/performance.md, "Many streams").

    tools/bench/multistream.py [--model M] [--width W --height H]
        [--streams 1,2,4,8] [--frames F] [--warmup K] [--rounds R]
        [--batch-timeout MS] [--threads T] [--build DIR] [--json OUT]

Each stream is `filesrc ! rawvideoparse ! queue ! maskrcnn ! fakesink
sync=false` on the clip's first F frames (data/shapes-640x360.webm, decoded
and scaled to WxH once, beforehand, so that no decoder competes for the
cores). Every measurement is a fresh process (`--one`), so that its peak
resident memory is its own; rounds alternate which setting runs first, so
that a slow spell of the host hits both.

Per run: total frames/s over all streams after each stream's first K frames
(from the moment the K*N-th frame left an element to the last), per-frame
latency in the element (a frame entering maskrcnn's sink pad to leaving its
source pad, waiting for a batch included; median and 90th percentile over
all streams, and the worst stream's median), and the process's peak RSS
(getrusage; the Python interpreter and GStreamer count on both sides).
Reported: frames/s as the best round of each setting, the shared/separate
ratios of frames/s and of peak RSS as the median of the rounds' ratios with
their range, latencies from the best round.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLIP = os.path.join(ROOT, "data", "shapes-640x360.webm")


def gst():
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    return Gst


def decode(raw, width, height, frames):
    """The clip's first frames, I420 at width x height, into one raw file."""
    Gst = gst()
    p = Gst.parse_launch(
        'filesrc location="%s" ! matroskademux ! identity eos-after=%d ! vp8dec ! '
        "videoconvert ! videoscale ! video/x-raw,format=I420,width=%d,height=%d,"
        'pixel-aspect-ratio=1/1 ! filesink location="%s"'
        # identity's eos-after=N passes N - 1 buffers.
        % (CLIP, frames + 1, width, height, raw))
    p.set_state(Gst.State.PLAYING)
    msg = p.get_bus().timed_pop_filtered(Gst.CLOCK_TIME_NONE,
                                         Gst.MessageType.EOS | Gst.MessageType.ERROR)
    p.set_state(Gst.State.NULL)
    if msg.type == Gst.MessageType.ERROR:
        sys.exit("decoding the clip: %s" % msg.parse_error()[0].message)


def run_one(a):
    """One measurement in this process; prints one JSON line."""
    Gst = gst()
    n = a.streams
    common = "model=\"%s\" threads=%d" % (a.model, a.threads)
    if a.one == "shared":
        common += " model-instance-id=bench batch-size=%d batch-timeout=%d" % (
            a.batch_size or n, a.batch_timeout)
    desc = []
    for i in range(n):
        desc.append(
            'filesrc location="%s" ! rawvideoparse width=%d height=%d format=i420 '
            "framerate=30/1 ! queue max-size-buffers=2 max-size-time=0 max-size-bytes=0 ! "
            "maskrcnn name=m%d %s ! fakesink name=s%d sync=false"
            % (a.raw, a.width, a.height, i, common, i))
    pipeline = Gst.parse_launch("  ".join(desc))
    enter = [dict() for _ in range(n)]
    lat = [[] for _ in range(n)]
    exits = []                      # monotonic time of every frame leaving

    def on_enter(pad, info, i):
        enter[i][info.get_buffer().pts] = time.monotonic()
        return Gst.PadProbeReturn.OK

    def on_exit(pad, info, i):
        t = time.monotonic()
        t0 = enter[i].pop(info.get_buffer().pts, None)
        if t0 is not None:
            lat[i].append(t - t0)
        exits.append(t)
        return Gst.PadProbeReturn.OK

    for i in range(n):
        m = pipeline.get_by_name("m%d" % i)
        m.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_enter, i)
        m.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_exit, i)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        Gst.CLOCK_TIME_NONE, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg.type == Gst.MessageType.ERROR:
        sys.exit("pipeline error: %s" % msg.parse_error()[0].message)
    exits.sort()
    skip = a.warmup * n
    frames = len(exits) - skip
    fps = frames / (exits[-1] - exits[skip - 1]) if frames > 0 and skip > 0 else float("nan")
    steady = [sorted(x[a.warmup:]) for x in lat]
    every = sorted(v for x in steady for v in x)
    print(json.dumps({
        "mode": a.one, "streams": n, "frames": len(exits), "fps": fps,
        "latency_ms_median": 1e3 * statistics.median(every),
        "latency_ms_p90": 1e3 * every[int(0.9 * (len(every) - 1))],
        "latency_ms_worst_stream_median": 1e3 * max(statistics.median(x) for x in steady),
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_mib_before_start": rss_before / 1024,
    }))


def cpu_name():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def onednn_kernels(a, env):
    bench = os.path.join(a.build, "engine", "tools", "mrcnn-bench")
    try:
        out = subprocess.run([bench, "--model", a.model, "--width", str(a.width),
                              "--height", str(a.height), "--frames", "1", "--warmup", "0",
                              "--json", "/dev/stdout"], capture_output=True, text=True,
                             env=env, timeout=600).stdout
        for line in out.splitlines():
            if line.startswith("{"):
                return json.loads(line).get("cpu_kernels", "?")
    except (OSError, ValueError, subprocess.SubprocessError):
        pass
    return "?"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=os.path.join(ROOT, "models", "shapes.safetensors"))
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--streams", default="1,2,4,8")
    p.add_argument("--frames", type=int, default=60, help="frames per stream (default 60)")
    p.add_argument("--warmup", type=int, default=5, help="frames per stream left out (default 5)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch-timeout", type=int, default=0, help="ms (default 0)")
    p.add_argument("--batch-size", type=int, default=0,
                   help="the shared engine's batch-size (default 0: the number of streams)")
    p.add_argument("--threads", type=int, default=0, help="engine threads, 0 = all cores")
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--json", help="write every run and the summary here")
    p.add_argument("--one", choices=["shared", "separate"], help=argparse.SUPPRESS)
    p.add_argument("--raw", help=argparse.SUPPRESS)
    a = p.parse_args()
    a.model = os.path.abspath(a.model)
    if a.one:
        a.streams = int(a.streams)
        run_one(a)
        return

    env = dict(os.environ)
    env["GST_PLUGIN_PATH"] = os.path.join(a.build, "gst")
    env.setdefault("GST_REGISTRY", os.path.join(a.build, "gst-registry.bin"))
    # As pipelines/env.sh: N engines' OpenMP threads on 2 cores must not spin.
    env.setdefault("OMP_WAIT_POLICY", "passive")
    os.environ.update(env)
    counts = [int(x) for x in a.streams.split(",")]
    tmp = tempfile.mkdtemp(prefix="bench-multistream-")
    raw = os.path.join(tmp, "frames.i420")
    decode(raw, a.width, a.height, a.frames)
    load = os.getloadavg()
    print("CPU: %s, %d cores; oneDNN kernels: %s; load average before: %.2f %.2f %.2f"
          % (cpu_name(), os.cpu_count(), onednn_kernels(a, env), *load))
    print("model %s, %dx%d, %d frames per stream (%d left out), %d rounds, "
          "OMP_WAIT_POLICY=%s" % (os.path.basename(a.model), a.width, a.height,
                                  a.frames, a.warmup, a.rounds, env["OMP_WAIT_POLICY"]))
    runs = []
    for n in counts:
        for r in range(a.rounds):
            order = ["separate", "shared"] if r % 2 == 0 else ["shared", "separate"]
            for mode in order:
                cmd = [sys.executable, os.path.abspath(__file__), "--one", mode,
                       "--streams", str(n), "--model", a.model, "--width", str(a.width),
                       "--height", str(a.height), "--frames", str(a.frames),
                       "--warmup", str(a.warmup), "--batch-timeout", str(a.batch_timeout),
                       "--batch-size", str(a.batch_size),
                       "--threads", str(a.threads), "--raw", raw]
                out = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if out.returncode != 0:
                    sys.exit("%s %d streams failed: %s" % (mode, n, out.stderr[-2000:]))
                res = json.loads(out.stdout.strip().splitlines()[-1])
                res["round"] = r
                runs.append(res)
                print("  %d streams, round %d, %-8s %6.1f frames/s, latency median %6.1f ms "
                      "(p90 %6.1f), peak RSS %6.0f MiB" % (
                          n, r, mode, res["fps"], res["latency_ms_median"],
                          res["latency_ms_p90"], res["rss_mib"]), flush=True)
    os.unlink(raw)
    os.rmdir(tmp)

    print("\n| streams | separate frames/s (best) | shared frames/s (best) | frames/s shared/separate: "
          "median (range) | latency ms separate: median, p90, worst stream | shared | "
          "peak RSS MiB separate | shared | RSS shared/separate: median (range) |")
    print("| ---: | ---: | ---: | --- | --- | --- | ---: | ---: | --- |")
    summary = []
    for n in counts:
        by = {m: [x for x in runs if x["streams"] == n and x["mode"] == m]
              for m in ("separate", "shared")}
        best = {m: max(by[m], key=lambda x: x["fps"]) for m in by}
        rounds = range(a.rounds)
        pick = lambda m, r: next(x for x in by[m] if x["round"] == r)  # noqa: E731
        fr = [pick("shared", r)["fps"] / pick("separate", r)["fps"] for r in rounds]
        mr = [pick("shared", r)["rss_mib"] / pick("separate", r)["rss_mib"] for r in rounds]
        lat = {m: "%.0f, %.0f, %.0f" % (best[m]["latency_ms_median"], best[m]["latency_ms_p90"],
                                        best[m]["latency_ms_worst_stream_median"]) for m in by}
        rss = {m: statistics.median(x["rss_mib"] for x in by[m]) for m in by}
        print("| %d | %.1f | %.1f | %.2fx (%.2f-%.2f) | %s | %s | %.0f | %.0f | %.2fx (%.2f-%.2f) |" % (
            n, best["separate"]["fps"], best["shared"]["fps"], statistics.median(fr), min(fr),
            max(fr), lat["separate"], lat["shared"], rss["separate"], rss["shared"],
            statistics.median(mr), min(mr), max(mr)))
        summary.append({"streams": n, "fps_best": {m: best[m]["fps"] for m in by},
                        "fps_ratio": fr, "rss_ratio": mr, "rss_mib_median": rss})
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"runs": runs, "summary": summary, "cpu": cpu_name(),
                       "load_before": load, "load_after": os.getloadavg()}, f, indent=1)


if __name__ == "__main__":
    main()
