"""Seeds for the video fuzz target (tools/fuzz.sh video SECONDS).

    python3 tools/video-seeds.py clips DIR     tiny clips in the containers and codecs users replay, made
                                               by ffmpeg from its test pattern (Tests/Fuzz/corpus/video)
    python3 tools/video-seeds.py damaged SRC DIR
                                               from each clip in SRC: cut at three points, bits flipped
                                               in its middle, and spliced with the next clip's tail

Both are deterministic: the same ffmpeg and the same clips give the same seeds. Needs ffmpeg on PATH.
"""
import os
import random
import subprocess
import sys

# name: ffmpeg output options. 32x24, 8 frames: a few KB each, under libFuzzer's -max_len.
CLIPS = {
    "mpeg4.mp4": ["-c:v", "mpeg4", "-q:v", "5", "-movflags", "+faststart"],
    "h264.mp4": ["-c:v", "libx264", "-preset", "ultrafast"],
    "fragmented.mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-g", "4",
                       "-movflags", "frag_keyframe+empty_moov+default_base_moof"],
    "ffv1.mkv": ["-c:v", "ffv1"],
    "vp8.webm": ["-c:v", "libvpx", "-b:v", "50k"],
    "mjpeg.avi": ["-c:v", "mjpeg", "-q:v", "8"],
    "pattern.gif": [],
}


def make_clips(folder):
    os.makedirs(folder, exist_ok=True)
    for name, options in CLIPS.items():
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=32x24:rate=10",
                        "-frames:v", "8", *options, "-pix_fmt", "rgb8" if name.endswith(".gif") else "yuv420p",
                        "-fflags", "+bitexact", "-map_metadata", "-1", os.path.join(folder, name)], check=True)


def make_damaged(source, folder):
    os.makedirs(folder, exist_ok=True)
    names = sorted(n for n in os.listdir(source) if not n.startswith("."))
    clips = {n: open(os.path.join(source, n), "rb").read() for n in names}
    rng = random.Random(1)
    for i, name in enumerate(names):
        data = clips[name]
        for fraction in (3, 5, 8):
            write(folder, f"cut{fraction}-{name}", data[:len(data) * fraction // 10])
        flipped = bytearray(data)
        for _ in range(8):
            position = rng.randrange(len(data) // 4, len(data))
            flipped[position] ^= 1 << rng.randrange(8)
        write(folder, f"flipped-{name}", bytes(flipped))
        other = clips[names[(i + 1) % len(names)]]
        write(folder, f"spliced-{name}", data[:len(data) // 2] + other[len(other) // 2:])


def write(folder, name, data):
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "clips":
        make_clips(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "damaged":
        make_damaged(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
