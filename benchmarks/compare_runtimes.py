"""Times the same full-size ResNet9 (RECIPE.md, 1x48x48 -> 7) in ONNX Runtime, PyTorch (CPU) and
`fer-live bench`, interleaved in the same run so the ratios are fair on a noisy machine; in float, and in
8 bits: `fer-live bench --precision int8` (the shipped model with its ranges: 8-bit speed does not depend
on the weights' values) beside ONNX Runtime's static int8 quantization of the same network (QDQ, weights
per channel, calibrated on random inputs: again only its speed is measured).

Run by hand from the repository root after `swift build -c release`, in a virtual environment outside
the repository:
    python3 -m venv ~/venvs/fer-bench && ~/venvs/fer-bench/bin/pip install torch onnx onnxruntime safetensors
    ~/venvs/fer-bench/bin/python benchmarks/compare_runtimes.py [--rounds 5] [--iterations 60]

Prints a Markdown table of per-image latency medians (and the median of per-round p90/p99), and writes
the raw numbers as JSON (--json-out). Every runtime gets the same weights and the same input shape.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
from resnet9_reference import ResNet9  # noqa: E402
from machine import cpu_name  # noqa: E402  (benchmarks/ is on the path as the script's folder)


def percentile(values, p):
    return float(np.percentile(np.asarray(values), p))


def time_calls(call, batch, iterations, warmup):
    for _ in range(warmup):
        call()
    per_image = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        call()
        per_image.append((time.perf_counter_ns() - start) / 1e6 / batch)
    return per_image


def onnx_session(model_path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])


def onnx_int8(onnx_path, workdir):
    """The float ONNX model statically quantized by ONNX Runtime's own tool (uint8 activations, int8 weights)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class RandomFaces(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(1)
            self.batches = iter([{"x": rng.standard_normal((1, 1, 48, 48)).astype(np.float32)} for _ in range(32)])

        def get_next(self):
            return next(self.batches, None)

    path = os.path.join(workdir, "resnet9-int8.onnx")
    quantize_static(onnx_path, path, RandomFaces(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return path


def fer_live(binary, model, batch, threads, iterations, warmup, autodetect=False, precision="float"):
    """`fer-live bench`; with autodetect, OpenBLAS picks its kernels itself instead of obeying a pinned
    OPENBLAS_CORETYPE (some machines here pin the AVX2 'Haswell' kernels, as old OpenBLAS builds
    misbehave on their CPUs): that one run shows what the pin costs."""
    env = dict(os.environ)
    if autodetect:
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
    out = subprocess.run([binary, "bench", "--model", model, "--batch", str(batch), "--threads", str(threads),
                          "--iterations", str(iterations), "--warmup", str(warmup), "--precision", precision, "--json"],
                         check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/release/fer-live")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per configuration")
    parser.add_argument("--iterations", type=int, default=60, help="timed calls per round")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--configs", default="1x1,1x2,16x2", help="batch x threads, comma-separated")
    parser.add_argument("--json-out", default=None)
    parser.add_argument("--int8-model", default="models/resnet9-fer2013.safetensors",
                        help="a model with its 8-bit ranges (NAME.int8.json) for the fer-live int8 rows")
    args = parser.parse_args()
    int8 = os.path.exists(os.path.splitext(args.int8_model)[0] + ".int8.json")
    if not int8:
        print(f"note: {args.int8_model} has no 8-bit ranges; no fer-live int8 rows", file=sys.stderr)

    torch.manual_seed(0)
    model = ResNet9(1, 7).eval()
    workdir = tempfile.mkdtemp(prefix="fer-bench-")
    weights = os.path.join(workdir, "resnet9.safetensors")
    save_file(model.state_dict(), weights)
    onnx_path = os.path.join(workdir, "resnet9.onnx")
    torch.onnx.export(model, torch.randn(1, 1, 48, 48), onnx_path, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, dynamo=False)
    onnx_int8_path = onnx_int8(onnx_path, workdir)

    results = []
    for config in args.configs.split(","):
        batch, threads = (int(v) for v in config.split("x"))
        x = torch.randn(batch, 1, 48, 48)
        x_np = x.numpy()
        session = onnx_session(onnx_path, threads)
        session_int8 = onnx_session(onnx_int8_path, threads)
        runs = {"fer-live": [], "ONNX Runtime": [], "PyTorch": [], "ONNX Runtime int8": []}
        if int8:
            runs["fer-live int8"] = []
        pinned = "OPENBLAS_CORETYPE" in os.environ
        for _ in range(args.rounds):
            report = fer_live(args.binary, weights, batch, threads, args.iterations, args.warmup)
            runs["fer-live"].append((report["p50_ms"], report["p90_ms"], report["p99_ms"]))
            if pinned:
                report = fer_live(args.binary, weights, batch, threads, args.iterations, args.warmup, autodetect=True)
                runs.setdefault(f"fer-live, OpenBLAS unpinned ({report['blas']})", []).append(
                    (report["p50_ms"], report["p90_ms"], report["p99_ms"]))
            t = time_calls(lambda: session.run(None, {"x": x_np}), batch, args.iterations, args.warmup)
            runs["ONNX Runtime"].append((percentile(t, 50), percentile(t, 90), percentile(t, 99)))
            if int8:
                report = fer_live(args.binary, args.int8_model, batch, threads, args.iterations, args.warmup, precision="int8")
                runs["fer-live int8"].append((report["p50_ms"], report["p90_ms"], report["p99_ms"]))
            t = time_calls(lambda: session_int8.run(None, {"x": x_np}), batch, args.iterations, args.warmup)
            runs["ONNX Runtime int8"].append((percentile(t, 50), percentile(t, 90), percentile(t, 99)))
            torch.set_num_threads(threads)
            with torch.inference_mode():
                t = time_calls(lambda: model(x), batch, args.iterations, args.warmup)
            runs["PyTorch"].append((percentile(t, 50), percentile(t, 90), percentile(t, 99)))
        for name, rounds in runs.items():
            results.append({
                "runtime": name, "batch": batch, "threads": threads,
                "p50_ms": statistics.median(r[0] for r in rounds),
                "p90_ms": statistics.median(r[1] for r in rounds),
                "p99_ms": statistics.median(r[2] for r in rounds),
                "rounds_p50_ms": [r[0] for r in rounds],
            })

    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs; "
          f"torch {torch.__version__}, onnxruntime {ort.__version__}; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}")
    print(f"{args.rounds} interleaved rounds x {args.iterations} calls; per-image ms, median over rounds\n")
    print("| batch | threads | runtime | p50 ms | p90 ms | p99 ms | images/s | vs ONNX Runtime (p50) | vs ONNX Runtime int8 (p50) |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        def peer(name):
            return next(p for p in results if p["runtime"] == name and p["batch"] == r["batch"] and p["threads"] == r["threads"])
        print(f"| {r['batch']} | {r['threads']} | {r['runtime']} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['p99_ms']:.2f} "
              f"| {1000 / r['p50_ms']:.1f} | {r['p50_ms'] / peer('ONNX Runtime')['p50_ms']:.2f}x "
              f"| {r['p50_ms'] / peer('ONNX Runtime int8')['p50_ms']:.2f}x |")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
