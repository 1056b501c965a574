#!/usr/bin/env bash
# Runs the whole test suite under ThreadSanitizer or AddressSanitizer (optimized, as CI runs it).
#   tools/sanitizers.sh thread|address [swift test options, e.g. --filter FramePipelineTests]
# Each sanitizer builds in its own folder (.build-thread, .build-address), a few minutes the first time.
# AddressSanitizer runs with leak detection off: what LeakSanitizer reports at the processes' exit is
# held by Foundation's XML errors and ZIPFoundation's archives, not memory errors (RELIABILITY.md).
# Prints the suite's last lines and every sanitizer report's headline; exits with the suite's status.
# Run from the repository root.
set -uo pipefail
sanitizer=${1:?usage: tools/sanitizers.sh thread|address [swift test options...]}
shift
case "$sanitizer" in thread|address) ;; *) echo "tools/sanitizers.sh: thread or address, not $sanitizer" >&2; exit 2 ;; esac
log=$(mktemp "${TMPDIR:-/tmp}/fer-sanitizer.XXXXXX")
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
  swift test -c release -Xswiftc -enable-testing --disable-swift-testing --sanitize="$sanitizer" \
  --scratch-path ".build-$sanitizer" "$@" >"$log" 2>&1
status=$?
grep -E "^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: AddressSanitizer|SUMMARY: )" "$log" | sort | uniq -c
grep -E "error: " "$log" | head -20
grep -E "Executed [0-9]+ tests" "$log" | tail -1
echo "full log: $log"
exit $status
