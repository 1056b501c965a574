"""End-to-end latency of `fer-live replay` on every real clip, at the clip's own frame rate, headless,
with the defaults (face detection, steady labels, 2 threads): what a user replaying a recording sees,
first frame included.

    python3 benchmarks/clip_latency.py [--clips ../shared/data/real-clips] [--rounds 3]
                                       [--peer NAME=BINARY ...] [--variant NAME=FLAGS ...]
                                       [--window] [--model PATH]

For each clip and build: the first frame's end-to-end latency, p50, p99 and the worst frame (from each
record's latency_ms and the latency report), as the median over --rounds rounds, the builds alternating
within each round. A --variant is this build with more flags (`--variant "gray=--gray"`). --window runs
each replay in the window on a virtual display (xvfb-run) instead of headless: end to end then runs up
to the frame on screen, and the render stage's p50 and p99 are added. The first frame pays for whatever is cold at start-up (the network's first pass, its
buffers' page faults, threads waking), so "first / p50" is the start-up cost a user sees.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from machine import cpu_name  # noqa: E402


def run(binary, flags, clip, model, scratch, window):
    output, report = os.path.join(scratch, "out.jsonl"), os.path.join(scratch, "latency.json")
    command = [binary, "replay", clip, "--output", output, "--latency-report", report] + model + flags
    command = ["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24"] + command if window else command + ["--headless"]
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {done.stderr.strip()}")
    first = {}
    with open(output) as handle:
        for line in handle:
            record = json.loads(line)
            first.setdefault(record["frame"], record["latency_ms"])
    latency = json.load(open(report))
    end_to_end, render = latency["end_to_end"], latency["render"]
    return {"first": first[min(first)], "p50": end_to_end["p50_ms"], "p99": end_to_end["p99_ms"], "max": end_to_end["max_ms"],
            "frames": end_to_end["count"], "render p50": render["p50_ms"], "render p99": render["p99_ms"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(HERE)
    parser.add_argument("--binary", default=os.path.join(root, ".build", "release", "fer-live"))
    parser.add_argument("--clips", default=os.path.join(root, "..", "shared", "data", "real-clips"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peer", action="append", default=[], metavar="NAME=BINARY")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=FLAGS", help="this build with more flags")
    parser.add_argument("--window", action="store_true", help="in the window under xvfb-run, not headless")
    parser.add_argument("--model", help="a model file (default: the shipped one)")
    args = parser.parse_args()
    builds = [("this build", args.binary, [])] + [tuple(peer.split("=", 1)) + ([],) for peer in args.peer]
    builds += [(name, args.binary, shlex.split(flags)) for name, flags in (variant.split("=", 1) for variant in args.variant)]
    model = ["--model", args.model] if args.model else []
    clips = sorted(os.path.join(args.clips, name) for name in os.listdir(args.clips) if name.endswith((".mp4", ".mkv", ".webm", ".avi", ".mov")))
    print(f"machine: {cpu_name()}; {'window (Xvfb)' if args.window else 'headless'}; {args.rounds} rounds, builds alternating; "
          "medians of the rounds\n")
    render = " render p50 ms | render p99 ms |" if args.window else ""
    print(f"| clip | build | frames | first frame ms | p50 ms | first / p50 | p99 ms | worst ms |{render}")
    print("|---|---|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if args.window else ""))
    with tempfile.TemporaryDirectory() as scratch:
        for clip in clips:
            results = {label: [] for label, _, _ in builds}
            for _ in range(args.rounds):
                for label, binary, flags in builds:
                    results[label].append(run(binary, flags, clip, model, scratch, args.window))
            for label, _, _ in builds:
                median = {key: statistics.median(r[key] for r in results[label]) for key in results[label][0]}
                rendered = f" {median['render p50']:.1f} | {median['render p99']:.1f} |" if args.window else ""
                print(f"| {os.path.basename(clip)} | {label} | {median['frames']:.0f} | {median['first']:.1f} | {median['p50']:.1f} "
                      f"| {median['first'] / median['p50']:.2f} | {median['p99']:.1f} | {median['max']:.1f} |{rendered}", flush=True)


if __name__ == "__main__":
    main()
