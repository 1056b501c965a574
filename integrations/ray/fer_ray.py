#!/usr/bin/env python3
"""Run `fer-live analyze` over a video archive on a Ray cluster.

The inputs are split into shards (`fer-live analyze --shard I/N`); each shard is one Ray task that
runs the fer-live binary on its node, writing into one output folder that every node sees (a shared
path: NFS, or object storage mounted as a path). Ray retries a task whose worker or node dies, and
fer-live's manifest in the output folder makes the retry skip what is already done, so no input is
analyzed twice and none is lost. Results are the same files a single `fer-live analyze` writes.

    python3 fer_ray.py /shared/videos --out /shared/results --address auto

Options after `--` go to each input's replay, as with `fer-live analyze`.
"""

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1


def die_with_parent():
    """In the child, before exec: the kernel kills fer-live when the Ray worker that started it dies, so a
    killed worker leaves no analysis running that nobody waits for (fer-live's replays follow it)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def list_inputs(fer_live, inputs):
    """The inputs fer-live would take, as (name, path): `fer-live analyze --dry-run`."""
    run = subprocess.run([fer_live, "analyze", *inputs, "--out", os.devnull, "--dry-run"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(run.stderr.strip() or f"fer-live analyze --dry-run exited with {run.returncode}")
    return [tuple(line.split("\t", 1)) for line in run.stdout.splitlines() if line]


def analyze_shard(fer_live, inputs, out, shard, shards, threads, model, replay_options):
    """One Ray task: one shard of the batch, on this node. fer-live's exit status 1 (some input failed)
    is a result: the manifest holds the reasons. Anything else (a crash, a signal) raises, so Ray runs
    the task again."""
    command = [fer_live, "analyze", *inputs, "--out", out, "--shard", f"{shard}/{shards}", "--threads", str(threads)]
    if model:
        command += ["--model", model]
    if replay_options:
        command += ["--", *replay_options]
    run = subprocess.run(command, capture_output=True, text=True, preexec_fn=die_with_parent)
    if run.returncode not in (0, 1):
        raise RuntimeError(f"shard {shard}/{shards}: fer-live exited with {run.returncode}: {run.stderr.strip()[-500:]}")
    lines = [line for line in run.stderr.splitlines() if line.startswith("analyzed ")]
    return shard, run.returncode, lines[-1] if lines else ""


def manifest_states(out):
    """Each input's latest state in the output folder's manifest."""
    latest = {}
    path = os.path.join(out, "manifest.jsonl")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as manifest:
            for line in manifest:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                latest[entry["input"]] = entry
    return latest


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    replay_options = []
    if "--" in argv:
        cut = argv.index("--")
        argv, replay_options = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Options after -- go to each input's replay (fer-live replay --help).")
    parser.add_argument("inputs", nargs="+", help="videos, frame directories, folders or lists, as every node sees them")
    parser.add_argument("--out", required=True, help="output folder that every node sees")
    parser.add_argument("--fer-live", default="fer-live", help="the fer-live binary on every node (default: on PATH)")
    parser.add_argument("--model", help="model file, on a path every node sees (default: the installed model)")
    parser.add_argument("--address", default=None, help="Ray cluster address ('auto': the one this machine joined; default: a local one)")
    parser.add_argument("--shards", type=int, default=0, help="tasks to split the inputs into (default: 4 per task slot, at most one per input)")
    parser.add_argument("--threads", type=int, default=1, help="cores per task (fer-live's --threads; Ray reserves as many CPUs)")
    parser.add_argument("--max-retries", type=int, default=3, help="times Ray reruns a task whose worker died or that crashed")
    args = parser.parse_args(argv)

    import ray  # imported here so --help works without Ray installed

    inputs = [os.path.abspath(path) for path in args.inputs]
    out = os.path.abspath(args.out)
    fer_live = args.fer_live if os.sep not in args.fer_live else os.path.abspath(args.fer_live)
    model = os.path.abspath(args.model) if args.model else None
    listed = list_inputs(fer_live, inputs)
    if not listed:
        sys.exit("no inputs")

    ray.init(address=args.address, logging_level="ERROR", log_to_driver=False)
    slots = max(1, int(ray.cluster_resources().get("CPU", 1)) // args.threads)
    shards = args.shards or min(len(listed), 4 * slots)
    task = ray.remote(num_cpus=args.threads, max_retries=args.max_retries, retry_exceptions=True)(analyze_shard)
    print(f"fer_ray: {len(listed)} inputs in {shards} shards on {slots} task slots, into {out}", file=sys.stderr)
    started = time.monotonic()
    pending = [task.remote(fer_live, inputs, out, shard, shards, args.threads, model, replay_options) for shard in range(1, shards + 1)]
    finished = 0
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        for shard, status, line in ray.get(ready):
            finished += 1
            print(f"fer_ray: shard {shard}/{shards} ({finished} of {shards} finished): {line or f'exit {status}'}", file=sys.stderr)

    states = manifest_states(out)
    done = sum(1 for name, _ in listed if states.get(name, {}).get("state") == "done")
    failed = [name for name, _ in listed if states.get(name, {}).get("state") == "failed"]
    print(f"fer_ray: {done} of {len(listed)} inputs done, {len(failed)} failed, in {time.monotonic() - started:.1f} s "
          f"(manifest: {os.path.join(out, 'manifest.jsonl')})", file=sys.stderr)
    for name in failed[:5]:
        print(f"fer_ray: {name}: failed: {states[name].get('reason', '')}", file=sys.stderr)
    return 0 if done == len(listed) else 1


if __name__ == "__main__":
    sys.exit(main())
