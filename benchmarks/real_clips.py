"""fer-live on real faces: accuracy on hand-labelled segments of ../shared/data/real-clips, label switches
per minute, how long a real change takes to show, and the share of frames with a face; next to the
Python `fer` package on the same frames, in the same run.

    python3 benchmarks/real_clips.py [--variant NAME=FLAGS ...] [--fer-python PATH] [--json OUT]

- Clips: every video in ../shared/data/real-clips, and those of benchmarks/real_clips/sources.csv (the
  negative emotions) that benchmarks/real_clips/fetch.py has brought into --extra.
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
- Per class: recall of each labelled class and the confusion matrix (rows: the label; columns: what was
  shown, or no face), over the development people and over the held-out people of
  benchmarks/real_clips/people.csv separately; no choice is made on the held-out ones.
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
sys.path.insert(0, os.path.join(HERE, "real_clips"))
from fetch import DEFAULT_OUT as DEFAULT_EXTRA, read_sources  # noqa: E402

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
VIDEO_EXTENSIONS = (".mp4", ".gif", ".mov")


def read_labels(path):
    segments = defaultdict(list)
    with open(path) as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        for row in rows:
            segments[row["clip"]].append((int(row["first"]), int(row["last"]), row["label"]))
    return segments


def read_people(path):
    """Clip -> (person, split)."""
    with open(path) as handle:
        return {row["clip"]: (row["person"], row["split"])
                for row in csv.DictReader(line for line in handle if not line.startswith("#"))}


def videos_in(folder):
    """Clip name -> video path, for every video file in folder (none when it does not exist)."""
    if not os.path.isdir(folder):
        return {}
    return {os.path.splitext(f)[0]: os.path.join(folder, f) for f in sorted(os.listdir(folder)) if f.endswith(VIDEO_EXTENSIONS)}


def confusion_of(results_by_clip, segments, counts, clips):
    """label -> shown label (or "no face") -> frames, over the labelled frames of clips."""
    matrix = {label: defaultdict(int) for label in CLASSES}
    for clip in clips:
        shown = results_by_clip.get(clip, {})
        for first, last, label in segments.get(clip, []):
            for frame in range(first, min(last, counts[clip] - 1) + 1):
                matrix[label][(shown.get(frame) or (None, None))[0] or "no face"] += 1
    return matrix


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
    parser.add_argument("--extra", default=DEFAULT_EXTRA, help="the clips fetched by benchmarks/real_clips/fetch.py")
    parser.add_argument("--frames", default=os.path.join(tempfile.gettempdir(), "fer-live-real-clips"))
    parser.add_argument("--labels", default=os.path.join(HERE, "real_clips", "labels.csv"))
    parser.add_argument("--people", default=os.path.join(HERE, "real_clips", "people.csv"))
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=FLAGS",
                        help="a fer-live configuration to score, e.g. 'margin10=--margin 0.1' (repeatable)")
    parser.add_argument("--fer-python", help="Python of a virtual environment with the fer package")
    parser.add_argument("--json", help="write every number as JSON here")
    parser.add_argument("--per-frame", help="write each system's per-frame label and probabilities as JSON here")
    args = parser.parse_args()

    segments = read_labels(args.labels)
    people = read_people(args.people)
    videos = videos_in(args.clips)
    extra = videos_in(args.extra)
    missing = [row["clip"] for row in read_sources() if os.path.splitext(row["clip"])[0] not in extra]
    if missing:
        print(f"note: {len(missing)} clip(s) of benchmarks/real_clips/sources.csv are not in {args.extra} "
              f"(python3 benchmarks/real_clips/fetch.py brings them): {', '.join(missing)}", file=sys.stderr)
    videos.update(extra)
    clips = sorted(videos)
    rates, counts = {}, {}
    for clip in clips:
        folder = os.path.join(args.frames, clip)
        extract(videos[clip], folder)
        rates[clip] = frame_rate(videos[clip])
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
    splits = {"development people": [c for c in clips if people.get(c, ("", "dev"))[1] != "held-out"],
              "held-out people": [c for c in clips if people.get(c, ("", "dev"))[1] == "held-out"]}
    confusion = {}
    for split, members in splits.items():
        confusion[split] = {n: confusion_of(per_frame[n], segments, counts, members) for n in names}
        print()
        persons = sorted({people.get(c, (c, ""))[0] for c in members if segments.get(c)})
        print(f"{split} ({len(persons)}): recall per labelled class (labelled frames, people in brackets)")
        print(f"{'class':28}" + "".join(f"{n[:16]:>17}" for n in names))
        total = {n: [0, 0] for n in names}
        for label in CLASSES:
            frames = sum(confusion[split][names[0]][label].values())
            if not frames:
                continue
            who = {people.get(c, (c, ""))[0] for c in members for seg in segments.get(c, []) if seg[2] == label}
            cells = ""
            for n in names:
                row = confusion[split][n][label]
                cells += f"{row[label] / frames:>17.3f}"
                total[n][0] += row[label]
                total[n][1] += frames
            print(f"{label + f' [{frames}, {len(who)}]':28}" + cells)
        if total[names[0]][1]:
            print(f"{'all labelled frames':28}" + "".join(f"{total[n][0] / total[n][1]:>17.3f}" for n in names))
        for n in names:
            print(f"  confusion, {n} (rows: label; columns: shown)")
            columns = CLASSES + ["no face"]
            print("  " + f"{'':10}" + "".join(f"{c[:8]:>9}" for c in columns))
            for label in CLASSES:
                row = confusion[split][n][label]
                if sum(row.values()):
                    print("  " + f"{label:10}" + "".join(f"{row.get(c, 0):>9}" for c in columns))
    if args.per_frame:
        with open(args.per_frame, "w") as handle:
            json.dump({"rates": rates, "counts": counts, "systems": per_frame}, handle)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": cpu_name(), "systems": systems,
                       "confusion": {split: {n: {label: dict(row) for label, row in matrix.items()} for n, matrix in by.items()}
                                     for split, by in confusion.items()}}, handle, indent=1)


if __name__ == "__main__":
    main()
