"""Soak: a long run's memory stays flat. Replays a looping frame directory for --frames frames (200,000 by
default: about 2 hours of a 30 fps camera) as fast as the pipeline goes, and reads the process's resident
memory every --every seconds.

    python3 benchmarks/soak.py [--frames 200000] [--model PATH] [--crop center|box] [--csv OUT]

The frames are made here (FFmpeg's test pattern, 160x120, 30 PNGs in a temporary folder), so the run
measures fer-live's own state (latency histograms and plot, the face timeline, smoothing, the pipeline's
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
    parser.add_argument("--csv", help="write the samples (seconds, frames so far unknown, RSS kB) here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        frames = os.path.join(folder, "frames")
        os.makedirs(frames)
        subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=30", "-frames:v", "30",
                        os.path.join(frames, "frame%03d.png")], check=True)
        command = [args.fer_live, "replay", frames, "--loop", "--headless", "--as-fast-as-possible", "--crop", args.crop,
                   "--frames", str(args.frames), "--latency-report", os.path.join(folder, "latency.json")]
        if args.model:
            command += ["--model", args.model]
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
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
    print(f"{args.frames} frames in {wall:.0f} s ({args.frames / wall:.0f} frames/s), {len(samples)} samples every {args.every:g} s")
    print(f"RSS after warm-up {warm / 1024:.1f} MB, at the end {last / 1024:.1f} MB, peak {peak / 1024:.1f} MB: "
          f"growth {growth_mb:+.2f} MB ({'pass' if growth_mb < 5 else 'FAIL'}: under 5 MB)")
    sys.exit(0 if growth_mb < 5 else 1)


if __name__ == "__main__":
    main()
