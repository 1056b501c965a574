"""End-to-end latency of `fer-live replay` on every real clip, at the clip's own frame rate, headless,
with the defaults (face detection, steady labels, 2 threads): what a user replaying a recording sees,
first frame included.

    python3 benchmarks/clip_latency.py [--clips ../shared/data/real-clips] [--rounds 3]
                                       [--peer NAME=BINARY ...] [--model PATH]

For each clip and build: the first frame's end-to-end latency, p50, p99 and the worst frame (from each
record's latency_ms and the latency report), as the median over --rounds rounds, the builds alternating
within each round. The first frame pays for whatever is cold at start-up (the network's first pass, its
buffers' page faults, threads waking), so "first / p50" is the start-up cost a user sees.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from machine import cpu_name  # noqa: E402


def run(binary, clip, model, scratch):
    output, report = os.path.join(scratch, "out.jsonl"), os.path.join(scratch, "latency.json")
    command = [binary, "replay", clip, "--headless", "--output", output, "--latency-report", report] + model
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {done.stderr.strip()}")
    first = {}
    with open(output) as handle:
        for line in handle:
            record = json.loads(line)
            first.setdefault(record["frame"], record["latency_ms"])
    end_to_end = json.load(open(report))["end_to_end"]
    return {"first": first[min(first)], "p50": end_to_end["p50_ms"], "p99": end_to_end["p99_ms"], "max": end_to_end["max_ms"],
            "frames": end_to_end["count"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(HERE)
    parser.add_argument("--binary", default=os.path.join(root, ".build", "release", "fer-live"))
    parser.add_argument("--clips", default=os.path.join(root, "..", "shared", "data", "real-clips"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peer", action="append", default=[], metavar="NAME=BINARY")
    parser.add_argument("--model", help="a model file (default: the shipped one)")
    args = parser.parse_args()
    builds = [("this build", args.binary)] + [tuple(peer.split("=", 1)) for peer in args.peer]
    model = ["--model", args.model] if args.model else []
    clips = sorted(os.path.join(args.clips, name) for name in os.listdir(args.clips) if name.endswith((".mp4", ".mkv", ".webm", ".avi", ".mov")))
    print(f"machine: {cpu_name()}; {args.rounds} rounds, builds alternating; medians of the rounds\n")
    print("| clip | build | frames | first frame ms | p50 ms | first / p50 | p99 ms | worst ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as scratch:
        for clip in clips:
            results = {label: [] for label, _ in builds}
            for _ in range(args.rounds):
                for label, binary in builds:
                    results[label].append(run(binary, clip, model, scratch))
            for label, _ in builds:
                median = {key: statistics.median(r[key] for r in results[label]) for key in ("first", "p50", "p99", "max", "frames")}
                print(f"| {os.path.basename(clip)} | {label} | {median['frames']:.0f} | {median['first']:.1f} | {median['p50']:.1f} "
                      f"| {median['first'] / median['p50']:.2f} | {median['p99']:.1f} | {median['max']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
