"""fer-live on real faces: accuracy on hand-labelled segments of ../shared/data/real-clips, label switches
per minute, how long a real change takes to show, and the share of frames with a face; next to the
Python `fer` package on the same frames, in the same run.

    python3 benchmarks/real_clips.py [--variant NAME=FLAGS ...] [--fer-python PATH] [--json OUT]

- Frames: every decoded frame of each clip, extracted once with FFmpeg into --frames (a cache folder
  outside the repository; default $TMPDIR/fer-live-real-clips).
- fer-live: `fer-live replay DIR --headless --as-fast-as-possible --output ...` plus each variant's flags
  (default variant: no flags, the shipped defaults). The largest face of a frame is the one scored.
- fer: benchmarks/real_clips_fer.py in the Python given by --fer-python (a virtual environment with
  `pip install fer "setuptools<81" tensorflow-cpu`); skipped without it.
- Labels: benchmarks/real_clips/labels.csv (how they were made is written at its top). A labelled frame
  without a face counts as wrong. Switches: changes of the shown label between consecutive frames that
  both show one, per minute of video. Onset: for each labelled segment that follows a differently
  labelled one, the seconds from its first frame to the first frame showing its label.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from machine import cpu_name  # noqa: E402


def read_labels(path):
    segments = defaultdict(list)
    with open(path) as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        for row in rows:
            segments[row["clip"]].append((int(row["first"]), int(row["last"]), row["label"]))
    return segments


def frame_rate(video):
    text = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=r_frame_rate",
                           "-of", "csv=p=0", video], check=True, capture_output=True, text=True).stdout.strip()
    numerator, denominator = text.split("/")
    return float(numerator) / float(denominator)


def extract(video, folder):
    if os.path.isdir(folder) and os.listdir(folder):
        return
    os.makedirs(folder, exist_ok=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", video, "-start_number", "0", os.path.join(folder, "frame%04d.png")],
                   check=True)


def fer_live_labels(binary, folder, flags, scratch):
    """Frame index -> (label, probabilities) of the largest face ((None, None) without a face)."""
    out = os.path.join(scratch, "out.jsonl")
    command = [binary, "replay", folder, "--headless", "--as-fast-as-possible", "--output", out] + flags
    run = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if run.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {run.stderr.strip()}")
    best = {}
    with open(out) as handle:
        for line in handle:
            record = json.loads(line)
            frame = record["frame"]
            area = record["box"][2] * record["box"][3] if record.get("box") else -1
            if frame not in best or area > best[frame][0]:
                best[frame] = (area, (record.get("label"), record.get("probabilities")))
    return {frame: shown for frame, (_, shown) in best.items()}


def score(results_by_clip, segments, rates, counts):
    """Per clip and in total: labelled frames, correct, the labelled class's mean probability, frames
    with a face, switches, minutes, onsets."""
    results, total = {}, defaultdict(float)
    onsets_all = []
    for clip, count in counts.items():
        shown = {frame: label for frame, (label, _) in results_by_clip.get(clip, {}).items()}
        probabilities = {frame: p for frame, (_, p) in results_by_clip.get(clip, {}).items()}
        labelled = correct = 0
        probability = 0.0
        for first, last, label in segments.get(clip, []):
            for frame in range(first, min(last, count - 1) + 1):
                labelled += 1
                correct += shown.get(frame) == label
                probability += (probabilities.get(frame) or {}).get(label, 0.0)
        with_face = sum(1 for frame in range(count) if shown.get(frame) is not None)
        switches, previous = 0, None
        for frame in range(count):
            current = shown.get(frame)
            if current is None:
                continue
            if previous is not None and current != previous:
                switches += 1
            previous = current
        onsets, previous_label = [], None
        for first, last, label in sorted(segments.get(clip, [])):
            if previous_label is not None and label != previous_label:
                hit = next((f for f in range(first, last + 1) if shown.get(f) == label), None)
                onsets.append(((hit if hit is not None else last + 1) - first) / rates[clip])
            previous_label = label
        minutes = count / rates[clip] / 60
        results[clip] = {"labelled": labelled, "correct": correct, "probability": probability, "frames": count, "with_face": with_face,
                         "switches": switches, "minutes": minutes, "onsets": onsets}
        for key in ("labelled", "correct", "probability", "frames", "with_face", "switches", "minutes"):
            total[key] += results[clip][key]
        onsets_all += onsets
    total["onsets"] = onsets_all
    results["total"] = dict(total)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(HERE)
    parser.add_argument("--fer-live", default=os.path.join(root, ".build", "release", "fer-live"))
    parser.add_argument("--clips", default=os.path.join(root, "..", "shared", "data", "real-clips"))
    parser.add_argument("--frames", default=os.path.join(tempfile.gettempdir(), "fer-live-real-clips"))
    parser.add_argument("--labels", default=os.path.join(HERE, "real_clips", "labels.csv"))
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=FLAGS",
                        help="a fer-live configuration to score, e.g. 'margin10=--margin 0.1' (repeatable)")
    parser.add_argument("--fer-python", help="Python of a virtual environment with the fer package")
    parser.add_argument("--json", help="write every number as JSON here")
    parser.add_argument("--per-frame", help="write each system's per-frame label and probabilities as JSON here")
    args = parser.parse_args()

    segments = read_labels(args.labels)
    clips = sorted(f[:-4] for f in os.listdir(args.clips) if f.endswith(".mp4"))
    rates, counts = {}, {}
    for clip in clips:
        folder = os.path.join(args.frames, clip)
        extract(os.path.join(args.clips, clip + ".mp4"), folder)
        rates[clip] = frame_rate(os.path.join(args.clips, clip + ".mp4"))
        counts[clip] = len([f for f in os.listdir(folder) if f.endswith(".png")])

    variants = [v.split("=", 1) for v in args.variant] or [["fer-live", ""]]
    systems, per_frame = {}, {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, flags in variants:
            labels = {clip: fer_live_labels(args.fer_live, os.path.join(args.frames, clip), flags.split(), scratch) for clip in clips}
            systems[name] = score(labels, segments, rates, counts)
            per_frame[name] = labels
        if args.fer_python:
            out = os.path.join(scratch, "fer.jsonl")
            timing = subprocess.run([args.fer_python, os.path.join(HERE, "real_clips_fer.py"), out]
                                    + [os.path.join(args.frames, c) for c in clips],
                                    check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            labels = defaultdict(dict)
            with open(out) as handle:
                for line in handle:
                    record = json.loads(line)
                    labels[record["clip"]][record["frame"]] = (record["label"], record["probabilities"])
            systems["fer package"] = score(labels, segments, rates, counts)
            per_frame["fer package"] = labels
            systems["fer package"]["total"]["ms_per_frame"] = json.loads(timing)["ms_per_frame"]

    print(f"machine: {cpu_name()}")
    names = list(systems)
    print("accuracy on labelled frames (labelled frames per clip in brackets)")
    print(f"{'clip':28}" + "".join(f"{n[:16]:>17}" for n in names))
    for clip in clips + ["total"]:
        first = systems[names[0]][clip]
        if not first["labelled"]:
            continue
        cells = "".join(f"{systems[n][clip]['correct'] / systems[n][clip]['labelled']:>17.3f}" for n in names)
        print(f"{clip + ' [' + str(int(first['labelled'])) + ']':28}" + cells)
    print()
    print(f"{'':28}" + "".join(f"{n[:16]:>17}" for n in names))
    rows = [
        ("mean p(labelled class)", lambda t: t["probability"] / t["labelled"], "{:>17.3f}"),
        ("switches per minute", lambda t: t["switches"] / t["minutes"], "{:>17.1f}"),
        ("median onset (s)", lambda t: sorted(t["onsets"])[len(t["onsets"]) // 2] if t["onsets"] else float("nan"), "{:>17.2f}"),
        ("frames with a face", lambda t: t["with_face"] / t["frames"], "{:>17.3f}"),
    ]
    for title, value, form in rows:
        print(f"{title:28}" + "".join(form.format(value(systems[n]["total"])) for n in names))
    no_face = "pyfeat-no_face"
    if no_face in clips:
        print(f"{'faces in ' + no_face:28}" + "".join(f"{systems[n][no_face]['with_face']:>17}" for n in names))
    if args.per_frame:
        with open(args.per_frame, "w") as handle:
            json.dump({"rates": rates, "counts": counts, "systems": per_frame}, handle)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": cpu_name(), "systems": systems}, handle, indent=1)


if __name__ == "__main__":
    main()
