"""Soak: a long run's memory stays flat. Runs fer-live for --frames frames (200,000 by default: about 2 hours
of a 30 fps camera) and reads the process's resident memory every --every seconds.

    python3 benchmarks/soak.py [--source replay|camera] [--frames 200000] [--model PATH] [--crop center|box]
                               [--fps 1000] [--csv OUT]

--source replay (the default): a looping frame directory, replayed losslessly as fast as the pipeline goes.
--source camera: `fer-live camera` through the live policy (the newest frame only, the others dropped and
counted) on the emulated webcam (Tests/FakeWebcam/fake_webcam.c, built here with cc and loaded with
LD_PRELOAD under the real libv4l2), delivering MJPEG at --fps frames a second, so 200,000 frames take
minutes instead of hours.

The frames are made here (FFmpeg's test pattern, 30 frames of 160x120, or 320x240 for the webcam, in a temporary
folder), so the run measures fer-live's own state (latency histograms and plot, the face timeline, smoothing, the pipeline's
slots), not a decoder's. Pass: resident memory grows by less than 5 MB from the end of warm-up (the first
10% of the run) to the end. Prints the machine, the samples' summary and the verdict; exit 1 on a fail.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from machine import cpu_name  # noqa: E402


def resident_kb(pid):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(HERE)
    parser.add_argument("--fer-live", default=os.path.join(root, ".build", "release", "fer-live"))
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--model", help="a model file (default: the shipped one)")
    parser.add_argument("--crop", default="center", choices=["center", "box"])
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--source", default="replay", choices=["replay", "camera"])
    parser.add_argument("--fps", type=int, default=1000, help="the emulated webcam's frame rate (--source camera)")
    parser.add_argument("--csv", help="write the samples (seconds, frames so far unknown, RSS kB) here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        environment = None
        if args.source == "replay":
            frames = os.path.join(folder, "frames")
            os.makedirs(frames)
            subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=30", "-frames:v", "30",
                            os.path.join(frames, "frame%03d.png")], check=True)
            command = [args.fer_live, "replay", frames, "--loop", "--headless", "--as-fast-as-possible"]
        else:
            environment = emulated_webcam(folder, args.fps)
            command = [args.fer_live, "camera", "--device", environment["FAKE_WEBCAM_DEVICE"], "--headless", "--size", "320x240",
                       "--fps", str(args.fps)]
        command += ["--crop", args.crop, "--frames", str(args.frames), "--latency-report", os.path.join(folder, "latency.json")]
        if args.model:
            command += ["--model", args.model]
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=environment)
        samples = []
        while process.poll() is None:
            rss = resident_kb(process.pid)
            if rss is not None:
                samples.append((time.monotonic() - started, rss))
            time.sleep(args.every)
        stderr = process.stderr.read()
        if process.returncode != 0:
            sys.exit(f"{' '.join(command)} failed ({process.returncode}): {stderr.strip()}")
    if len(samples) < 3:
        sys.exit(f"the run took {time.monotonic() - started:.0f} s: too short for {args.every} s samples; give more --frames")
    if args.csv:
        with open(args.csv, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["seconds", "rss_kb"])
            writer.writerows(samples)
    wall = samples[-1][0]
    warm = next(rss for seconds, rss in samples if seconds >= 0.1 * wall)
    last, peak = samples[-1][1], max(rss for _, rss in samples)
    growth_mb = (last - warm) / 1024
    print(f"machine: {cpu_name()}")
    print(f"source: {args.source}" + (f" (emulated webcam, MJPEG 320x240 at {args.fps} fps, live policy)" if args.source == "camera" else
                                      " (looping frame directory, lossless)"))
    print(f"{args.frames} frames in {wall:.0f} s ({args.frames / wall:.0f} frames/s), {len(samples)} samples every {args.every:g} s")
    print(f"RSS after warm-up {warm / 1024:.1f} MB, at the end {last / 1024:.1f} MB, peak {peak / 1024:.1f} MB: "
          f"growth {growth_mb:+.2f} MB ({'pass' if growth_mb < 5 else 'FAIL'}: under 5 MB)")
    sys.exit(0 if growth_mb < 5 else 1)


def emulated_webcam(folder, fps):
    """Builds the emulated webcam and its MJPEG frames in `folder`; the environment that loads it."""
    root = os.path.dirname(HERE)
    library = os.path.join(folder, "libfakewebcam.so")
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", library, os.path.join(root, "Tests", "FakeWebcam", "fake_webcam.c"), "-ldl"],
                   check=True)
    jpegs = os.path.join(folder, "camera", "mjpg-320x240")
    os.makedirs(jpegs)
    # 320x240: libv4lconvert decodes 4:2:0 JPEGs only in whole 16x16 blocks (160x120 is not).
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-frames:v", "30",
                    "-pix_fmt", "yuvj420p", "-q:v", "3", os.path.join(jpegs, "f%03d.jpg")], check=True)
    return dict(os.environ, LD_PRELOAD=library, FAKE_WEBCAM_DEVICE=os.path.join(folder, "video9"),
                FAKE_WEBCAM_FRAMES=os.path.join(folder, "camera"), FAKE_WEBCAM_FPS=str(fps))


if __name__ == "__main__":
    main()
