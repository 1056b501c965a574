"""What capture costs per camera format: `fer-live camera` on the emulated USB webcam of the tests
(Tests/FakeWebcam/fake_webcam.c under LD_PRELOAD), through the real libv4l2 and libv4lconvert.

Run by hand from the repository root after `swift build -c release`, with ffmpeg and a C compiler:
    python3 benchmarks/webcam_capture.py [--clip ../shared/data/real-clips/liveportrait-d12.mp4] [--frames 300]

The clip's frames (a real face) are scaled to each size and served at 30 fps as MJPEG (4:2:0 JPEG, what
ffmpeg writes that libv4lconvert decodes) or as raw YUYV. For each format fer-live asks for that size and
reports, from its own latency report: the capture stage (from the driver's timestamp to the grayscale
frame in our hands: libv4lconvert's decode runs in it, on our time), detection, and end to end (capture
timestamp to results), p50 and p99, with frames/s and frames dropped because inference fell behind.
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile

from machine import cpu_name

FORMATS = [("mjpg", 640, 480), ("yuyv", 640, 480), ("mjpg", 1280, 720), ("yuyv", 1280, 720)]


def build_emulator(folder):
    library = os.path.join(folder, "libfakewebcam.so")
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", library, "Tests/FakeWebcam/fake_webcam.c", "-ldl"], check=True)
    return library


def make_frames(clip, frames, folder, kind, width, height):
    target = os.path.join(folder, f"{kind}-{width}x{height}")
    os.makedirs(target)
    scale = f"scale={width}:{height}:force_original_aspect_ratio=decrease,pad={width}:{height}:(ow-iw)/2:(oh-ih)/2"
    if kind == "mjpg":
        output = ["-pix_fmt", "yuvj420p", "-q:v", "3", os.path.join(target, "f%04d.jpg")]
    else:
        output = ["-pix_fmt", "yuyv422", "-c:v", "rawvideo", "-f", "image2", os.path.join(target, "f%04d.raw")]
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", clip, "-frames:v", str(frames), "-vf", scale] + output, check=True)
    return target


def run(binary, library, offered, frames):
    device = os.path.join(offered, "video9")
    size = next(name for name in os.listdir(offered) if "-" in name).split("-")[1]
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        environment = dict(os.environ, LD_PRELOAD=library, FAKE_WEBCAM_DEVICE=device, FAKE_WEBCAM_FRAMES=offered)
        subprocess.run([binary, "camera", "--device", device, "--size", size, "--headless", "--frames", str(frames),
                        "--latency-report", report.name], env=environment, check=True, capture_output=True, text=True)
        return json.load(open(report.name))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/release/fer-live")
    parser.add_argument("--clip", default="../shared/data/real-clips/liveportrait-d12.mp4")
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="fer-webcam-bench-")
    try:
        library = build_emulator(folder)
        print(f"{cpu_name()}; {args.frames} frames of {os.path.basename(args.clip)} at 30 fps per format\n")
        print("| camera sends | capture p50 ms | capture p99 ms | detect p50 ms | end-to-end p50 ms | end-to-end p99 ms | frames/s | dropped |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for kind, width, height in FORMATS:
            offered = os.path.join(folder, f"offered-{kind}-{width}x{height}")
            os.makedirs(offered)
            # The clip has fewer frames than asked for: the camera loops it.
            source = make_frames(args.clip, args.frames, folder, kind, width, height)
            os.symlink(source, os.path.join(offered, os.path.basename(source)))
            r = run(args.binary, library, offered, args.frames)
            print(f"| {kind.upper()} {width}x{height} | {r['capture']['p50_ms']:.2f} | {r['capture']['p99_ms']:.2f} "
                  f"| {r['detect']['p50_ms']:.2f} | {r['end_to_end']['p50_ms']:.2f} | {r['end_to_end']['p99_ms']:.2f} "
                  f"| {r['fps']:.1f} | {r['dropped']} |")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
