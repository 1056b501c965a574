"""Video archives: `fer-live analyze` throughput in video-seconds per wall-second, with 1 and 2 jobs, and
the same batch through integrations/ray on a local Ray cluster against plain analyze, in one run.

    python3 benchmarks/analyze_throughput.py [--rounds 2] [--ray-python VENV/bin/python] [INPUT...]

Inputs default to ../shared/data/real-clips (12 clips, 127 s of video). Each configuration analyzes the
whole batch into a fresh output folder (nothing skipped), the configurations alternating, `--rounds`
times; the table gives the median wall time and video-seconds per wall-second. Video seconds are
ffprobe's durations. With --ray-python (a venv with `pip install ray`), a local cluster
(`ray start --head --num-cpus 2`) runs fer_ray.py with 1 thread per task, started once, outside the
timing; its row is beside plain analyze with --jobs 2 --threads 1, the same split of the cores.
Nothing else may run on the machine meanwhile. Name the CPU beside the numbers.
"""
import argparse
import glob
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from machine import cpu_name  # noqa: E402


def duration(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
                         capture_output=True, text=True, check=True).stdout
    return float(out.strip())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="*")
    parser.add_argument("--fer-live", default=os.path.join(ROOT, ".build/release/fer-live"))
    parser.add_argument("--model", default=os.path.join(ROOT, "models/resnet9-fer2013.safetensors"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ray-python", help="a venv's python with Ray, for the Ray rows")
    args = parser.parse_args()
    inputs = [os.path.abspath(p) for p in (args.inputs or sorted(glob.glob(os.path.join(ROOT, "../shared/data/real-clips/*.mp4"))))]
    if not inputs:
        sys.exit("no inputs (../shared/data/real-clips is missing: name some videos)")
    seconds = sum(duration(p) for p in inputs)
    fer_live, model = os.path.abspath(args.fer_live), os.path.abspath(args.model)

    configs = {
        "analyze --jobs 1 (2 threads)": lambda out: [fer_live, "analyze", *inputs, "--out", out, "--model", model, "--jobs", "1"],
        "analyze --jobs 2 (1 thread each)": lambda out: [fer_live, "analyze", *inputs, "--out", out, "--model", model, "--jobs", "2"],
    }
    ray_temp, environment = None, dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    if args.ray_python:
        ray = os.path.join(os.path.dirname(args.ray_python), "ray")
        ray_temp = tempfile.mkdtemp(prefix="r", dir="/tmp")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        subprocess.run([ray, "start", "--head", "--num-cpus", "2", "--port", str(port), "--temp-dir", ray_temp,
                        "--include-dashboard=false", "--disable-usage-stats"], check=True, capture_output=True, env=environment)
        script = os.path.join(ROOT, "integrations/ray/fer_ray.py")
        configs["Ray, local cluster of 2 CPUs (1 thread per task)"] = lambda out: [
            args.ray_python, script, *inputs, "--out", out, "--fer-live", fer_live, "--model", model, "--address", f"127.0.0.1:{port}",
            "--threads", "1"]

    walls = {name: [] for name in configs}
    work = tempfile.mkdtemp(prefix="fer-analyze-bench-")
    try:
        for round_index in range(args.rounds):
            for name, command in configs.items():
                out = os.path.join(work, f"out-{round_index}-{len(walls[name])}-{abs(hash(name))}")
                started = time.monotonic()
                run = subprocess.run(command(out), capture_output=True, text=True, env=environment)
                wall = time.monotonic() - started
                if run.returncode != 0:
                    sys.exit(f"{name}: exit {run.returncode}: {run.stderr[-800:]}")
                walls[name].append(wall)
                print(f"round {round_index + 1}: {name}: {wall:.1f} s", file=sys.stderr)
                shutil.rmtree(out, ignore_errors=True)
    finally:
        if ray_temp:
            subprocess.run([os.path.join(os.path.dirname(args.ray_python), "ray"), "stop", "--force"], capture_output=True, env=environment)
            shutil.rmtree(ray_temp, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)

    print(f"{len(inputs)} inputs, {seconds:.1f} s of video; {cpu_name()}, {os.cpu_count()} cores; median of {args.rounds} rounds\n")
    print("| configuration | wall time (s) | video-seconds per wall-second |")
    print("|---|---:|---:|")
    for name, times in walls.items():
        median = statistics.median(times)
        print(f"| {name} | {median:.1f} | {seconds / median:.2f} |")


if __name__ == "__main__":
    main()
