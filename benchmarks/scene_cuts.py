"""Latency through scene cuts: `fer-live replay` at 30 fps, headless, of frames whose faces are somewhere
new in every frame (issue 22's done-when: end-to-end p99 under 33 ms over 600 frames, the first included).

    python benchmarks/scene_cuts.py [--frames 600] [--rounds 3] [--peer NAME=BINARY ...] [--variant NAME=FLAGS ...]
                                    [--data ../shared/data/fer2013]

Each 640x480 frame holds 1 to 3 FER2013 test faces, 120 to 200 pixels wide, at random places that change
every frame, on a noisy background: the tracker can never follow a face, so every frame needs a search.
Needs Pillow and numpy. For each build (alternating, --rounds times): end-to-end p50, p99, max, the first
frame's latency, and the slowest frame with the stage it spent longest in (fer-live's latency report);
medians over the rounds, the slowest frame of the round with the median p99.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from dataset_faces import test_faces  # noqa: E402
from machine import cpu_name  # noqa: E402


def make_frames(data, count, folder):
    faces = test_faces(data)
    rng = np.random.default_rng(22)
    for i in range(count):
        frame = rng.integers(60, 200, size=(480, 640), dtype=np.uint8)
        placed = []
        for _ in range(rng.integers(1, 4)):
            side = int(rng.integers(120, 201))
            for _attempt in range(20):   # places that do not overlap the faces already there
                x, y = int(rng.integers(0, 640 - side)), int(rng.integers(0, 480 - side))
                if all(x + side <= px or px + ps <= x or y + side <= py or py + ps <= y for px, py, ps in placed):
                    break
            else:
                continue
            face = Image.open(faces[int(rng.integers(len(faces)))]).convert("L").resize((side, side), Image.BILINEAR)
            frame[y:y + side, x:x + side] = np.asarray(face)
            placed.append((x, y, side))
        Image.fromarray(frame, "L").save(os.path.join(folder, f"frame{i}.png"))


def replay(binary, folder, scratch, flags=()):
    report, output = os.path.join(scratch, "latency.json"), os.path.join(scratch, "out.jsonl")
    command = [binary, "replay", folder, "--headless", "--fps", "30", "--latency-report", report, "--output", output, *flags]
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {done.stderr.strip()}")
    latency = json.load(open(report))
    with open(output) as handle:
        first = json.loads(handle.readline())["latency_ms"]
    end_to_end = latency["end_to_end"]
    return {"p50": end_to_end["p50_ms"], "p99": end_to_end["p99_ms"], "max": end_to_end["max_ms"], "first": first,
            "frames": end_to_end["count"], "worst": latency["worst"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(HERE)
    parser.add_argument("--binary", default=os.path.join(root, ".build", "release", "fer-live"))
    parser.add_argument("--data", default=os.path.join(root, "..", "shared", "data", "fer2013"))
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peer", action="append", default=[], metavar="NAME=BINARY")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=FLAGS",
                        help="this build with extra replay flags (e.g. 'float=--precision float')")
    args = parser.parse_args()
    builds = [("this build", args.binary, [])] + [(*peer.split("=", 1), []) for peer in args.peer]
    builds += [(name, args.binary, flags.split()) for name, flags in (variant.split("=", 1) for variant in args.variant)]
    with tempfile.TemporaryDirectory() as scratch:
        folder = os.path.join(scratch, "frames")
        os.makedirs(folder)
        make_frames(args.data, args.frames, folder)
        print(f"machine: {cpu_name()}; {args.frames} scene-cut frames of 640x480 at 30 fps, headless; "
              f"{args.rounds} rounds, builds alternating; medians of the rounds\n")
        print("| build | frames | first frame ms | p50 ms | p99 ms | max ms | slowest frame (stage, ms in it) |")
        print("|---|---:|---:|---:|---:|---:|---|")
        results = {label: [] for label, _, _ in builds}
        for _ in range(args.rounds):
            for label, binary, flags in builds:
                results[label].append(replay(binary, folder, scratch, flags))
        for label, _, _ in builds:
            rounds = results[label]
            median = {key: statistics.median(r[key] for r in rounds) for key in ("first", "p50", "p99", "max", "frames")}
            typical = sorted(rounds, key=lambda r: r["p99"])[len(rounds) // 2]["worst"]
            print(f"| {label} | {median['frames']:.0f} | {median['first']:.1f} | {median['p50']:.1f} | {median['p99']:.1f} "
                  f"| {median['max']:.1f} | frame {typical['frame']}: {typical['end_to_end_ms']:.1f} ms, "
                  f"{typical['stage']} {typical['stage_ms']:.1f} ms |", flush=True)


if __name__ == "__main__":
    main()
