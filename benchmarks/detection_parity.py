"""Face detection: fer-live next to OpenCV on the same frames, same cascade, same parameters.

Composes 640x480 frames from FER2013 test faces (one to three per frame, 80-200 px, at known places on
a textured background), then runs OpenCV's CascadeClassifier.detectMultiScale (opencv-python-headless
4.x, one thread) and `fer-live detect --json` on them, and reports:
  - parity: frames where both find the same number of faces and every pair overlaps with IoU >= 0.9;
  - recall against the placed faces (IoU >= 0.3: FER2013 crops are tighter than a cascade's box) and
    false positives per frame, for both;
  - detection time per frame on one core, median, for both.

Run by hand from the repository root after `swift build -c release`, in a virtual environment with
opencv-python-headless<5, numpy and Pillow:
    python benchmarks/detection_parity.py [--frames 200] [--data ../shared/data/fer2013]
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import cv2
import numpy as np
from PIL import Image

from boxes import iou  # benchmarks/boxes.py: the script's folder is on the path


def compose(data, count, folder, seed=0, split="test"):
    """Writes frame{i}.png and truth.json (per frame, the placed faces' boxes and class folders)."""
    faces = []
    for label in sorted(os.listdir(os.path.join(data, split))):
        folder_path = os.path.join(data, split, label)
        faces += [(os.path.join(folder_path, n), label) for n in sorted(os.listdir(folder_path))]
    rng = np.random.default_rng(seed)
    truth = {}
    for i in range(count):
        # Texture: smooth blobs plus fine noise, so the background is not flat.
        coarse = rng.integers(40, 200, size=(12, 16)).astype(np.uint8)
        frame = np.asarray(Image.fromarray(coarse, "L").resize((640, 480), Image.BICUBIC)).astype(np.int16)
        frame = np.clip(frame + rng.integers(-20, 21, size=(480, 640)), 0, 255).astype(np.uint8)
        boxes = []
        for _ in range(int(rng.integers(1, 4))):
            for _attempt in range(50):
                size = int(rng.integers(80, 201))
                x, y = int(rng.integers(0, 640 - size)), int(rng.integers(0, 480 - size))
                if all(x + size <= bx or bx + bs <= x or y + size <= by or by + bs <= y for bx, by, bs, _ in boxes):
                    break
            else:
                continue
            path, label = faces[int(rng.integers(0, len(faces)))]
            face = Image.open(path).convert("L").resize((size, size), Image.BILINEAR)
            frame[y:y + size, x:x + size] = np.asarray(face)
            boxes.append((x, y, size, label))
        Image.fromarray(frame, "L").save(os.path.join(folder, f"frame{i}.png"))
        truth[f"frame{i}.png"] = [{"box": [x, y, s, s], "label": label} for x, y, s, label in boxes]
    with open(os.path.join(folder, "truth.json"), "w") as f:
        json.dump(truth, f)
    return truth


def matched(found, placed, threshold):
    """How many of `placed` some box of `found` overlaps with IoU >= threshold (each used once)."""
    used, hits = set(), 0
    for p in placed:
        best = max(((iou(f, p), j) for j, f in enumerate(found) if j not in used), default=(0, None))
        if best[0] >= threshold:
            used.add(best[1])
            hits += 1
    return hits


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/release/fer-live")
    parser.add_argument("--data", default="../shared/data/fer2013")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--cascade", default="/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml")
    parser.add_argument("--scale-factor", type=float, default=1.1)
    parser.add_argument("--min-neighbors", type=int, default=5)
    parser.add_argument("--min-size", type=int, default=40)
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="fer-detect-")
    truth = compose(args.data, args.frames, folder)
    names = [f"frame{i}.png" for i in range(args.frames)]

    cv2.setNumThreads(1)
    cascade = cv2.CascadeClassifier(args.cascade)
    opencv, opencv_ms = {}, []
    for name in names:
        image = cv2.imread(os.path.join(folder, name), cv2.IMREAD_GRAYSCALE)
        start = time.perf_counter()
        found = cascade.detectMultiScale(image, scaleFactor=args.scale_factor, minNeighbors=args.min_neighbors,
                                         minSize=(args.min_size, args.min_size))
        opencv_ms.append((time.perf_counter() - start) * 1000)
        opencv[name] = [list(map(int, r)) for r in found]

    result = subprocess.run([args.binary, "detect", "--json", "--cascade", args.cascade, "--scale-factor", str(args.scale_factor),
                             "--min-neighbors", str(args.min_neighbors), "--min-face", str(args.min_size)]
                            + [os.path.join(folder, n) for n in names], check=True, capture_output=True, text=True,
                            env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    ours, ours_ms = {}, []
    for line in result.stdout.splitlines():
        record = json.loads(line)
        ours[os.path.basename(record["file"])] = [face["box"] for face in record["faces"]]
        ours_ms.append(record["detect_ms"])

    same = 0
    for name in names:
        a, b = ours[name], opencv[name]
        if len(a) == len(b) and matched(a, b, 0.9) == len(b):
            same += 1
    truth = {n: [face["box"] for face in truth[n]] for n in names}
    placed = sum(len(truth[n]) for n in names)
    print(f"{args.frames} frames, {placed} faces, in {folder}")
    print(f"parity: {same}/{args.frames} frames ({100.0 * same / args.frames:.1f}%) with the same faces (IoU >= 0.9)")
    print("| detector | recall (IoU >= 0.3) | false positives / frame | median ms / frame |")
    print("|---|---:|---:|---:|")
    for label, found, times in [("fer-live", ours, ours_ms), (f"OpenCV {cv2.__version__}", opencv, opencv_ms)]:
        hits = sum(matched(found[n], truth[n], 0.3) for n in names)
        false = sum(len(found[n]) - matched(found[n], truth[n], 0.3) for n in names)
        print(f"| {label} | {hits / placed:.3f} | {false / args.frames:.3f} | {np.median(times):.2f} |")


if __name__ == "__main__":
    main()
