#!/usr/bin/env bash
# Fuzzes one of fer-live's file parsers with libFuzzer and AddressSanitizer.
#   tools/fuzz.sh TARGET SECONDS [libFuzzer options...]
# TARGET: safetensors | pickle (torch.save's data.pkl, zipped with correct CRCs) | cascade (OpenCV XML) |
# image (PNG, JPEG, PGM/PPM) | video (whatever FFmpeg demuxes and decodes, through VideoFileSource; its
# seeds are tiny clips plus cut, bit-flipped and spliced copies, tools/video-seeds.py). Starts from Tests/Fuzz/corpus/TARGET and what earlier runs kept in
# fuzz-runs/TARGET/corpus; a crash is written to fuzz-runs/TARGET/crashes/. Keep each crash as a
# regression input in Tests/Fuzz/regressions/TARGET/ once it is fixed (FuzzCorpusTests replays them).
# Needs Swift's toolchain only (libFuzzer ships with it). Run from the repository root.
set -euo pipefail
target=${1:?usage: tools/fuzz.sh TARGET SECONDS [libFuzzer options...]}
seconds=${2:?usage: tools/fuzz.sh TARGET SECONDS [libFuzzer options...]}
shift 2
[ -d "Tests/Fuzz/corpus/$target" ] || { echo "tools/fuzz.sh: no target $target (see Tests/Fuzz/corpus)" >&2; exit 2; }
build=.build-fuzz
swift build --scratch-path "$build" -c debug --product fer-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING >&2
runs=fuzz-runs/$target
mkdir -p "$runs/corpus" "$runs/crashes"
seeds=("Tests/Fuzz/corpus/$target")
if [ "$target" = video ]; then
  python3 tools/video-seeds.py damaged "Tests/Fuzz/corpus/video" "$runs/damaged-seeds"
  seeds+=("$runs/damaged-seeds")
fi
FER_FUZZ_TARGET=$target ASAN_OPTIONS=detect_leaks=0 "$build/debug/fer-fuzz" "$runs/corpus" "${seeds[@]}" \
  -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$runs/crashes/" \
  -print_final_stats=1 "$@"
