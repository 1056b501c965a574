"""Training throughput of the recipe's step (batch 64, forward + backward with batch statistics,
clip_grad_value_, Adam with weight decay) in PyTorch CPU next to `fer-live bench --training`, interleaved
in the same run.

Run by hand from the repository root after `swift build -c release`, in a venv with torch:
    python benchmarks/train_speed.py [--rounds 3] [--steps 8] [--threads 2]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
from resnet9_reference import ResNet9  # noqa: E402
from machine import cpu_name  # noqa: E402  (benchmarks/ is on the path as the script's folder)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/release/fer-live")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per round")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = ResNet9(1, 7).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005, weight_decay=9e-6)
    x = torch.randn(args.batch, 1, 48, 48)
    y = torch.randint(0, 7, (args.batch,))

    def torch_step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_value_(model.parameters(), 0.1)
        optimizer.step()
        optimizer.zero_grad()

    ours, theirs, blas = [], [], ""
    for _ in range(args.rounds):
        out = subprocess.run([args.binary, "bench", "--training", "--batch", str(args.batch), "--threads", str(args.threads),
                              "--iterations", str(args.steps), "--warmup", "1", "--json"],
                             check=True, capture_output=True, text=True)
        report = json.loads(out.stdout)
        ours.append(report["images_per_s"])
        blas = report["blas"]
        torch_step()
        times = []
        for _ in range(args.steps):
            start = time.perf_counter()
            torch_step()
            times.append(time.perf_counter() - start)
        theirs.append(args.batch / statistics.median(times))

    print(f"machine: {cpu_name()}; torch {torch.__version__}; fer-live on {blas}")
    print(f"batch {args.batch}, {args.threads} threads, {args.rounds} interleaved rounds x {args.steps} steps")
    print("| runtime | images/s (median of rounds) | rounds |")
    print("|---|---:|---|")
    print(f"| fer-live | {statistics.median(ours):.1f} | {', '.join(f'{v:.1f}' for v in ours)} |")
    print(f"| PyTorch | {statistics.median(theirs):.1f} | {', '.join(f'{v:.1f}' for v in theirs)} |")
    print(f"ratio fer-live / PyTorch: {statistics.median(ours) / statistics.median(theirs):.2f}x")


if __name__ == "__main__":
    main()
