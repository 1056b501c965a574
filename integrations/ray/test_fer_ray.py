#!/usr/bin/env python3
"""A real local Ray cluster runs a batch of 40 short clips through fer_ray.py; a worker running a task
is killed with SIGKILL in the middle. Checks that every clip is done exactly once (one `done` line in
the manifest, no other) and that the results are byte for byte those of one plain `fer-live analyze`.

    python3 test_fer_ray.py --fer-live .build/release/fer-live --model MODEL

Ray comes from PyPI into a virtual environment the test makes (kept in $TMPDIR/fer-live-ray-venv for
the next run). Exit status 77, with a message, where pip cannot reach a registry or ffmpeg is missing:
the test is then skipped, not failed.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))


def skip(message):
    print(f"skipped: {message}")
    sys.exit(SKIP)


def ray_python():
    """The venv's python with Ray importable, made on first use."""
    venv = os.path.join(tempfile.gettempdir(), "fer-live-ray-venv")
    python = os.path.join(venv, "bin", "python")
    if os.path.exists(python) and subprocess.run([python, "-c", "import ray"], capture_output=True).returncode == 0:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    made = subprocess.run([sys.executable, "-m", "venv", venv], capture_output=True, text=True)
    if made.returncode != 0:
        skip(f"cannot make a virtual environment: {made.stderr.strip()[-300:]}")
    install = subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "ray"], capture_output=True, text=True,
                             timeout=900)
    if install.returncode != 0:
        skip(f"pip cannot install ray (no registry reachable?): {install.stderr.strip()[-300:]}")
    return python


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_clips(folder, count):
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        skip("ffmpeg is not installed (apt-get install ffmpeg)")
    os.makedirs(folder)
    for index in range(count):
        subprocess.run([ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=96x72:rate=10", "-frames:v", "40",
                        "-vf", f"hue=h={index * 9},noise=alls={5 + index % 20}:allf=t+u", "-c:v", "mpeg4", "-q:v", "3",
                        "-pix_fmt", "yuv420p", os.path.join(folder, f"clip{index:02d}.mp4")], check=True)


def results(out):
    """Every result file's bytes, by its name in the output folder."""
    found = {}
    for root, dirs, files in os.walk(out):
        dirs[:] = [name for name in dirs if name != ".work"]
        for name in files:
            if name in ("manifest.jsonl", "settings.json"):
                continue
            path = os.path.join(root, name)
            with open(path, "rb") as result:
                found[os.path.relpath(path, out)] = result.read()
    return found


def shard_workers():
    """PIDs of Ray worker processes running a shard now (Ray names them ray::analyze_shard)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if cmdline.read().startswith(b"ray::analyze_shard"):
                    pids.append(int(entry))
        except OSError:
            pass
    return pids


def done_lines(out):
    try:
        with open(os.path.join(out, "manifest.jsonl"), encoding="utf-8") as manifest:
            return [json.loads(line) for line in manifest if line.strip()]
    except FileNotFoundError:
        return []


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fer-live", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--clips", type=int, default=40)
    args = parser.parse_args()
    fer_live, model = os.path.abspath(args.fer_live), os.path.abspath(args.model)
    python = ray_python()
    ray = os.path.join(os.path.dirname(python), "ray")

    work = tempfile.mkdtemp(prefix="fer-ray-")
    ray_temp = tempfile.mkdtemp(prefix="r", dir="/tmp")   # Ray's socket paths must stay short
    environment = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_DISABLE_IMPORT_WARNING="1")
    try:
        clips = os.path.join(work, "clips")
        make_clips(clips, args.clips)
        reference = os.path.join(work, "reference")
        plain = subprocess.run([fer_live, "analyze", clips, "--out", reference, "--model", model, "--threads", "1", "--", "--crop", "center"],
                               capture_output=True, text=True)
        assert plain.returncode == 0, plain.stderr

        port = free_port()
        subprocess.run([ray, "start", "--head", "--num-cpus", "2", "--port", str(port), "--temp-dir", ray_temp, "--include-dashboard=false",
                        "--disable-usage-stats"], check=True, capture_output=True, env=environment)
        out = os.path.join(work, "out")
        driver = subprocess.Popen([python, os.path.join(HERE, "fer_ray.py"), clips, "--out", out, "--fer-live", fer_live, "--model", model,
                                   "--address", f"127.0.0.1:{port}", "--threads", "1", "--shards", "4", "--", "--crop", "center"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
        # Kill a worker in the middle of a shard: some clips done, most not.
        killed = None
        deadline = time.monotonic() + 300
        while killed is None and time.monotonic() < deadline and driver.poll() is None:
            workers = shard_workers()
            if workers and len(done_lines(out)) >= 4:
                killed = workers[0]
                os.kill(killed, signal.SIGKILL)
            time.sleep(0.05)
        log, _ = driver.communicate(timeout=900)
        assert killed is not None, f"no worker was running a shard to kill:\n{log}"
        assert driver.returncode == 0, f"fer_ray.py exited with {driver.returncode}:\n{log}"

        lines = done_lines(out)
        names = sorted(f"clip{index:02d}.mp4" for index in range(args.clips))
        assert sorted(line["input"] for line in lines) == names, f"each clip in the manifest exactly once:\n{json.dumps(lines, indent=1)}"
        assert all(line["state"] == "done" for line in lines), lines
        got, expected = results(out), results(reference)
        assert got.keys() == expected.keys(), (sorted(got), sorted(expected))
        different = [name for name in expected if got[name] != expected[name]]
        assert not different, f"differ from a plain analyze: {different}"
        print(f"ok: {args.clips} clips, worker {killed} killed mid-run, every clip done once, results equal to a plain analyze")
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, env=environment)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(ray_temp, ignore_errors=True)


if __name__ == "__main__":
    main()
