"""Where FER2013 puts a face in its 48x48 frame, and where that framing sits relative to the cascade's box
on real faces: the measurements behind fer-live's face alignment (Sources/FERVision/Imaging/FaceAligner.swift).

    python3 benchmarks/face_framing.py [--fer-live BIN] [--sample N] [--frames DIR]

1. FER2013 train: `fer-live detect --eyes --json` on a seeded sample of training faces (each 48x48 image
   is one whole face; OpenCV's eye cascade runs inside it through fer-live's own cascade evaluator).
   The medians of the left and right eye centers are FER2013's framing: where the aligned crop puts the
   eyes. Training images only: val and test stay out of every choice.
2. Real faces: the same command on every 3rd frame of ../shared/data/real-clips (frames extracted by
   benchmarks/real_clips.py into --frames). For each face with both eyes found, the crop that puts its
   eyes where FER2013 has them is compared with the face cascade's box: the medians of its center offset
   and side, in box sides, are the framing used when no eyes are found.
"""
import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from machine import cpu_name  # noqa: E402
from real_clips import extract  # noqa: E402


def detect(binary, files):
    results = []
    for start in range(0, len(files), 500):
        out = subprocess.run([binary, "detect", "--eyes", "--json"] + files[start:start + 500], check=True,
                             capture_output=True, text=True).stdout
        results += [json.loads(line) for line in out.splitlines()]
    return results


def quartiles(values):
    q = statistics.quantiles(values, n=4)
    return f"{statistics.median(values):.2f} (IQR {q[0]:.2f}-{q[2]:.2f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fer-live", default=os.path.join(ROOT, ".build", "release", "fer-live"))
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "fer2013"))
    parser.add_argument("--clips", default=os.path.join(ROOT, "..", "shared", "data", "real-clips"))
    parser.add_argument("--frames", default=os.path.join(tempfile.gettempdir(), "fer-live-real-clips"))
    parser.add_argument("--sample", type=int, default=3000)
    args = parser.parse_args()
    print(f"machine: {cpu_name()}")

    train = os.path.join(args.data, "train")
    files = sorted(os.path.join(train, label, name) for label in sorted(os.listdir(train))
                   for name in os.listdir(os.path.join(train, label)))
    files = random.Random(0).sample(files, min(args.sample, len(files)))
    rows = detect(args.fer_live, files)
    eyes = [row["faces"][0]["eyes"] for row in rows if row["faces"] and row["faces"][0].get("eyes")]
    print(f"FER2013 train: eyes found in {len(eyes)} of {len(rows)} faces ({len(eyes) / len(rows):.1%})")
    left = (statistics.median(e[0][0] for e in eyes), statistics.median(e[0][1] for e in eyes))
    right = (statistics.median(e[1][0] for e in eyes), statistics.median(e[1][1] for e in eyes))
    for name, index in (("left eye x", (0, 0)), ("left eye y", (0, 1)), ("right eye x", (1, 0)), ("right eye y", (1, 1))):
        print(f"  {name:12} {quartiles([e[index[0]][index[1]] for e in eyes])}")
    print(f"  eye distance {quartiles([math.dist(e[0], e[1]) for e in eyes])}")
    print(f"  canonical eyes (medians): left ({left[0]:.2f}, {left[1]:.2f}), right ({right[0]:.2f}, {right[1]:.2f})")

    canonical_mid = ((left[0] + right[0]) / 2, (left[1] + right[1]) / 2)
    canonical_distance = math.dist(left, right)
    offsets_x, offsets_y, sides, found, faces = [], [], [], 0, 0
    clips = sorted(f[:-4] for f in os.listdir(args.clips) if f.endswith(".mp4"))
    frames = []
    for clip in clips:
        folder = os.path.join(args.frames, clip)
        extract(os.path.join(args.clips, clip + ".mp4"), folder)
        frames += [os.path.join(folder, f) for f in sorted(os.listdir(folder))[::3]]
    for row in detect(args.fer_live, frames):
        for face in row["faces"]:
            faces += 1
            if not face.get("eyes"):
                continue
            found += 1
            (lx, ly), (rx, ry) = face["eyes"]
            scale = math.dist((lx, ly), (rx, ry)) / canonical_distance        # frame pixels per input pixel
            angle = math.atan2(ry - ly, rx - lx)
            # The crop's center: from the eyes' midpoint, the canonical offset to the input's center.
            ux, uy = (24 - canonical_mid[0]) * scale, (24 - canonical_mid[1]) * scale
            cx = (lx + rx) / 2 + math.cos(angle) * ux - math.sin(angle) * uy
            cy = (ly + ry) / 2 + math.sin(angle) * ux + math.cos(angle) * uy
            x, y, w, h = face["box"]
            side = max(w, h)
            offsets_x.append((cx - (x + w / 2)) / side)
            offsets_y.append((cy - (y + h / 2)) / side)
            sides.append(48 * scale / side)
    print(f"real clips: {faces} faces in {len(frames)} frames, eyes found in {found} ({found / max(1, faces):.1%})")
    print(f"  aligned crop center - box center, x (box sides) {quartiles(offsets_x)}")
    print(f"  aligned crop center - box center, y (box sides) {quartiles(offsets_y)}")
    print(f"  aligned crop side / box side                    {quartiles(sides)}")


if __name__ == "__main__":
    main()
