"""Video files: fer-live's frames and times against ffprobe, and decode + detect + classify time per frame
next to the `fer` package's Video analysis of the same file, in the same run.

    python3 benchmarks/video_speed.py [--fer-python PATH] [--rounds 3] [CLIP...]

For each clip (default: every mp4 in ../shared/data/real-clips):
- `fer-live replay CLIP --headless --as-fast-as-possible --output ...`: frame count and each frame's
  timestamp against `ffprobe -show_frames` (best-effort timestamps), and wall time per frame;
- with --fer-python (a virtual environment with `pip install fer "setuptools<81" tensorflow-cpu`):
  `fer.Video(CLIP).analyze(FER(mtcnn=False), display=False, save_frames=False, save_video=False)`,
  timed the same way around the analysis only (model loading excluded, as fer-live's is included).
The two run alternately, `--rounds` times; the table gives medians. Name the CPU beside the numbers.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from machine import cpu_name  # noqa: E402

FER_SCRIPT = """
import os, sys, time, json
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from fer.fer import FER
from fer.classes import Video
detector = FER(mtcnn=False)
video = Video(sys.argv[1], outdir=sys.argv[2])
started = time.perf_counter()
data = video.analyze(detector, display=False, save_frames=False, save_video=False, annotate_frames=False, zip_images=False)
print(json.dumps({"seconds": time.perf_counter() - started, "frames": len(data)}))
"""


def ffprobe_times(clip):
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time",
                          "-of", "csv=p=0", clip], check=True, capture_output=True, text=True).stdout
    return [float(line.strip().rstrip(",")) for line in out.split() if line.strip()]


def fer_live(binary, clip, scratch):
    output = os.path.join(scratch, "out.jsonl")
    started = time.perf_counter()
    subprocess.run([binary, "replay", clip, "--headless", "--as-fast-as-possible", "--output", output],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    times = {}
    with open(output) as handle:
        for line in handle:
            record = json.loads(line)
            times[record["frame"]] = record["timestamp"]
    return seconds, [times[k] for k in sorted(times)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clips", nargs="*")
    parser.add_argument("--fer-live", default=os.path.join(ROOT, ".build", "release", "fer-live"))
    parser.add_argument("--fer-python")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    clips = args.clips or sorted(os.path.join(ROOT, "..", "shared", "data", "real-clips", f)
                                 for f in os.listdir(os.path.join(ROOT, "..", "shared", "data", "real-clips")) if f.endswith(".mp4"))
    print(f"machine: {cpu_name()}")
    print(f"{'clip':28}{'frames':>8}{'ffprobe':>9}{'max |dt| s':>12}{'fer-live ms/frame':>19}{'fer ms/frame':>14}")
    with tempfile.TemporaryDirectory() as scratch:
        for clip in clips:
            expected = ffprobe_times(clip)
            ours, theirs, times = [], [], []
            for _ in range(args.rounds):
                seconds, times = fer_live(args.fer_live, clip, scratch)
                ours.append(seconds / max(1, len(times)))
                if args.fer_python:
                    # fer writes data.csv into the working directory whatever its outdir says: keep it in scratch.
                    out = subprocess.run([args.fer_python, "-c", FER_SCRIPT, os.path.abspath(clip), scratch], check=True,
                                         capture_output=True, text=True, cwd=scratch)
                    result = json.loads(out.stdout.strip().splitlines()[-1])
                    # Per decoded frame (ffprobe's count): what fer returns is not one entry per frame.
                    theirs.append(result["seconds"] / max(1, len(expected)))
            worst = max((abs(a - b) for a, b in zip(times, expected)), default=float("nan"))
            fer_cell = f"{1000 * statistics.median(theirs):14.1f}" if theirs else f"{'-':>14}"
            print(f"{os.path.basename(clip):28}{len(times):8d}{len(expected):9d}{worst:12.2e}{1000 * statistics.median(ours):19.1f}{fer_cell}")


if __name__ == "__main__":
    main()
