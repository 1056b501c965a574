"""Replay throughput and latency of `fer-live replay` on 640x480 frames: FER2013 test faces scaled 10x
into the middle of a noisy background (what a webcam frame of a centered face looks like to us).

Run by hand from the repository root after `swift build -c release`, with Pillow and numpy:
    python benchmarks/replay_speed.py [--frames 300] [--data ../shared/data/fer2013]

Reports frames/s with --as-fast-as-possible at batch 1 and 16, and end-to-end latency p50/p99 at
--fps 30 (real-time pacing), from fer-live's own latency report, with face detection (the default)
and, for comparison, with the center crop. With xvfb-run installed, the --fps 30
run is repeated in the window on a virtual display: render is the time from results to the frame on
screen, and end to end then runs up to the present.

--peer NAME=BINARY runs the rows with face detection for another build too, the two alternating,
--rounds times each; each row is then the median of its rounds' p50s and p99s (same frames, same run).

With ffmpeg too, the window rows are repeated on the same frames in colour (each face tinted to skin,
the background coloured), as a lossless 4:2:0 video at 30 fps, shown in colour and with --gray: what
showing the picture in colour costs.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dataset_faces import test_faces  # noqa: E402


def make_frames(data, count, folder):
    faces = test_faces(data)
    rng = np.random.default_rng(0)
    step = max(1, len(faces) // count)
    for i, path in enumerate(faces[::step][:count]):
        frame = rng.integers(100, 160, size=(480, 640), dtype=np.uint8)
        face = Image.open(path).convert("L").resize((480, 480), Image.BILINEAR)
        frame[:, 80:560] = np.asarray(face)
        Image.fromarray(frame, "L").save(os.path.join(folder, f"frame{i}.png"))


def make_color_video(folder, count, video):
    """The frames in colour (the gray face tinted to skin, the background a colour noise), as FFV1 4:2:0."""
    color_folder = folder + "-color"
    os.makedirs(color_folder, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(count):
        gray = np.asarray(Image.open(os.path.join(folder, f"frame{i}.png")), dtype=np.float32)
        rgb = np.stack([gray * 1.0, gray * 0.82, gray * 0.68], axis=-1)
        rgb[:, :80] = rgb[:, 560:] = rng.integers(0, 255, size=(3,))
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB").save(os.path.join(color_folder, f"frame{i}.png"))
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-framerate", "30", "-i", os.path.join(color_folder, "frame%d.png"),
                    "-c:v", "ffv1", "-pix_fmt", "yuv420p", video], check=True)


def replay(binary, folder, extra, window=False):
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        command = [binary, "replay", folder, "--latency-report", report.name] + extra
        if window:
            command = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24"] + command
        else:
            command.append("--headless")
        subprocess.run(command, check=True, capture_output=True, text=True)
        return json.load(open(report.name))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/release/fer-live")
    parser.add_argument("--data", default="../shared/data/fer2013")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--peer", action="append", default=[], metavar="NAME=BINARY",
                        help="another build to run the detection rows with, alternating (repeatable)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of each row (medians reported)")
    parser.add_argument("--model", help="model file for every run (default: fer-live's)")
    args = parser.parse_args()
    binaries = [("this build", args.binary)] + [tuple(p.split("=", 1)) for p in args.peer]
    model = ["--model", args.model] if args.model else []
    folder = tempfile.mkdtemp(prefix="fer-replay-bench-")
    make_frames(args.data, args.frames, folder)
    print(f"{args.frames} frames of 640x480 in {folder}\n")
    print("| run | frames/s | end-to-end p50 ms | end-to-end p99 ms | detect p50 ms | detect p99 ms | inference p50 ms | render p50 ms | render p99 ms | dropped |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    runs = [("--fps 30 --crop center (no detection)", ["--fps", "30", "--crop", "center"], False),
            ("--as-fast-as-possible --batch 1", ["--as-fast-as-possible", "--batch", "1"], False),
            ("--as-fast-as-possible --batch 16", ["--as-fast-as-possible", "--batch", "16"], False),
            ("--fps 30", ["--fps", "30"], False)]
    if shutil.which("xvfb-run"):
        runs.append(("--fps 30 --crop center, window (Xvfb)", ["--fps", "30", "--crop", "center"], True))
        runs.append(("--fps 30, window (Xvfb)", ["--fps", "30"], True))
        if shutil.which("ffmpeg"):
            video = folder + "-color.mkv"
            make_color_video(folder, args.frames, video)
            runs.append(("colour video at 30 fps, window (Xvfb)", [], True, video))
            runs.append(("colour video at 30 fps, window (Xvfb), --gray", ["--gray"], True, video))
    for name, extra, window, *video in runs:
        source = video[0] if video else folder
        peers = binaries if (args.peer and "center" not in name and "batch" not in name and "colour" not in name) else binaries[:1]
        reports = {label: [] for label, _ in peers}
        for _ in range(max(1, args.rounds)):
            for label, binary in peers:
                reports[label].append(replay(binary, source, extra + model, window))
        for label, _ in peers:
            rs = reports[label]
            med = lambda stage, key: float(np.median([r[stage][key] for r in rs]))
            shown = f"{med('render', 'p50_ms'):.2f} | {med('render', 'p99_ms'):.2f}" if rs[0]["render"]["count"] else "- | -"
            title = name if len(peers) == 1 else f"{name} ({label})"
            print(f"| {title} | {float(np.median([r['fps'] for r in rs])):.1f} | {med('end_to_end', 'p50_ms'):.2f} "
                  f"| {med('end_to_end', 'p99_ms'):.2f} | {med('detect', 'p50_ms'):.2f} | {med('detect', 'p99_ms'):.2f} "
                  f"| {med('inference', 'p50_ms'):.2f} | {shown} | {max(r['dropped'] for r in rs)} |", flush=True)


if __name__ == "__main__":
    main()
