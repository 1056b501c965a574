"""Does replay find every face `fer-live detect` finds? And live, how soon is a new face found?

Run by hand from the repository root after `swift build -c release`, with Pillow and numpy:
    python benchmarks/replay_recall.py [--frames 150] [--data ../shared/data/fer2013]

Two sets of 640x480 frames made from FER2013 test faces on a noisy background:

1. Unrelated frames: 1-3 faces of 90-180 pixels at random places in each frame, different in every
   frame. `fer-live detect` (at replay's search width) gives each frame's faces; `fer-live replay` then
   runs losslessly (--as-fast-as-possible) and at 30 fps (the live policy: the whole search spread over
   frames, and near the tracked faces). Recall is the share of detect's faces that replay reports with
   the same box (IoU >= 0.5; "exact" counts identical boxes).
2. A face walks in: one face sits still; from frame 12 a second face is there too. At 30 fps, how many
   frames after it appears replay first reports it, over several places and sizes of the second face.

Prints Markdown tables.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

import numpy as np
from PIL import Image

from boxes import iou  # benchmarks/boxes.py: the script's folder is on the path

SEARCH_WIDTH = 320  # replay's default; detect is run with the same


def test_faces(data):
    faces = []
    for label in sorted(os.listdir(os.path.join(data, "test"))):
        folder = os.path.join(data, "test", label)
        faces += [os.path.join(folder, name) for name in sorted(os.listdir(folder))]
    return faces


def paste(frame, path, x, y, side):
    face = Image.open(path).convert("L").resize((side, side), Image.BILINEAR)
    frame[y:y + side, x:x + side] = np.asarray(face)


def background(rng):
    return rng.integers(100, 160, size=(480, 640), dtype=np.uint8)


def place(rng, sides, tries=200):
    """Non-overlapping squares of the given sides, or None."""
    boxes = []
    for side in sides:
        for _ in range(tries):
            x, y = int(rng.integers(0, 640 - side)), int(rng.integers(0, 480 - side))
            if all(x + side + 10 < bx or bx + bs + 10 < x or y + side + 10 < by or by + bs + 10 < y for bx, by, bs in boxes):
                boxes.append((x, y, side))
                break
        else:
            return None
    return boxes


def make_unrelated(data, count, folder):
    rng = np.random.default_rng(1)
    faces = test_faces(data)
    for i in range(count):
        frame = background(rng)
        boxes = None
        while boxes is None:
            boxes = place(rng, [int(rng.integers(90, 181)) for _ in range(int(rng.integers(1, 4)))])
        for x, y, side in boxes:
            paste(frame, faces[int(rng.integers(0, len(faces)))], x, y, side)
        Image.fromarray(frame, "L").save(os.path.join(folder, f"frame{i:04d}.png"))


def make_walk_in(data, folder, variant, frames=40, appears=12):
    rng = np.random.default_rng(100 + variant)
    faces = test_faces(data)
    still, newcomer = faces[int(rng.integers(0, len(faces)))], faces[int(rng.integers(0, len(faces)))]
    boxes = None
    while boxes is None:
        boxes = place(rng, [150, int(rng.integers(90, 181))])
    base = background(rng)
    paste(base, still, *boxes[0])
    for i in range(frames):
        frame = base.copy()
        if i >= appears:
            paste(frame, newcomer, *boxes[1])
        Image.fromarray(frame, "L").save(os.path.join(folder, f"frame{i:04d}.png"))
    x, y, side = boxes[1]
    return appears, (x, y, side, side)


def detect(binary, folder):
    files = sorted(os.listdir(folder))
    out = subprocess.run([binary, "detect", "--search-width", str(SEARCH_WIDTH), "--json"] + [os.path.join(folder, f) for f in files],
                         check=True, capture_output=True, text=True).stdout
    return {os.path.basename(r["file"]): [f["box"] for f in r["faces"]] for r in map(json.loads, out.splitlines())}


def replay(binary, folder, pacing, scratch):
    output = os.path.join(scratch, "results.jsonl")
    args = [binary, "replay", folder, "--headless", "--output", output]
    args += ["--as-fast-as-possible"] if pacing == "lossless" else ["--fps", "30"]
    subprocess.run(args, check=True, capture_output=True, text=True)
    boxes = {}
    with open(output) as lines:
        for record in map(json.loads, lines):
            boxes.setdefault(record["file"], [])
            if record["box"] is not None:
                boxes[record["file"]].append(record["box"])
    return boxes


def recall(expected, found):
    total = matched = exact = 0
    for name, faces in expected.items():
        if name not in found:
            continue  # dropped live (latest-only)
        for box in faces:
            total += 1
            best = max((iou(box, other) for other in found[name]), default=0.0)
            matched += best >= 0.5
            exact += box in found[name]
    return total, matched, exact


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=".build/release/fer-live")
    parser.add_argument("--data", default="../shared/data/fer2013")
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--walk-ins", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fer-recall-") as scratch:
        frames = os.path.join(scratch, "unrelated")
        os.makedirs(frames)
        make_unrelated(args.data, args.frames, frames)
        expected = detect(args.binary, frames)
        print(f"{args.frames} unrelated frames, {sum(map(len, expected.values()))} faces found by `fer-live detect "
              f"--search-width {SEARCH_WIDTH}`\n")
        print("| replay | frames delivered | detect's faces in them | same face (IoU >= 0.5) | recall | identical boxes |")
        print("|---|---:|---:|---:|---:|---:|")
        for pacing in ["lossless", "30 fps"]:
            found = replay(args.binary, frames, pacing, scratch)
            total, matched, exact = recall(expected, found)
            label = "--as-fast-as-possible (lossless)" if pacing == "lossless" else "--fps 30 (live policy)"
            print(f"| {label} | {len(found)} | {total} | {matched} | {matched / max(1, total):.3f} | {exact} |")

        delays = []
        for variant in range(args.walk_ins):
            folder = os.path.join(scratch, f"walk-in-{variant}")
            os.makedirs(folder)
            appears, box = make_walk_in(args.data, folder, variant)
            reference = detect(args.binary, folder)
            if not any(iou(box, b) >= 0.5 for b in reference[f"frame{appears:04d}.png"]):
                print(f"\nwalk-in {variant}: detect does not find the newcomer; left out")
                continue
            found = replay(args.binary, folder, "30 fps", scratch)
            first = next((int(name[5:9]) for name in sorted(found)
                          if int(name[5:9]) >= appears and any(iou(box, b) >= 0.5 for b in found[name])), None)
            delays.append(None if first is None else first - appears)
        seen = [d for d in delays if d is not None]
        print(f"\nA face walks in at 30 fps (--search-frames 4 by default): {len(delays)} placements, found in "
              f"{len(seen)}; frames from its first frame to its first report: "
              f"{', '.join('never' if d is None else str(d) for d in delays)}"
              + (f" (median {statistics.median(seen)}, most {max(seen)})" if seen else ""))


if __name__ == "__main__":
    main()
