#!/usr/bin/env bash
# Checks that FERVision works as another package's dependency: makes a scratch package outside the
# repository that depends on it by path, builds it, and classifies an image through the library.
#   tools/library_check.sh IMAGE [MODEL]
# Prints the scratch program's line ("IMAGE: label confidence"). Run from the repository root.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: tools/library_check.sh IMAGE [MODEL]" >&2; exit 2; }
image=$(realpath -e "${1:?usage: tools/library_check.sh IMAGE [MODEL]}" 2>/dev/null) || { echo "tools/library_check.sh: no such image: $1" >&2; exit 2; }
model=$(realpath -e "${2:-models/resnet9-fer2013.safetensors}" 2>/dev/null) || { echo "tools/library_check.sh: no such model: ${2:-models/resnet9-fer2013.safetensors}" >&2; exit 2; }
repo=$(pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/fer-library-check.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/Sources/check"
cat > "$scratch/Package.swift" <<SWIFT
// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "check",
    dependencies: [.package(path: "$repo")],
    targets: [.executableTarget(name: "check", dependencies: [.product(name: "FERVision", package: "$(basename "$repo")")])]
)
SWIFT
cat > "$scratch/Sources/check/main.swift" <<'SWIFT'
import FERVision
import Foundation

let arguments = CommandLine.arguments
do {
    let classifier = EmotionClassifier(model: try ModelLoader.load(path: arguments[2]))
    let image = try ImageDecoder.decode(contentsOf: arguments[1])
    let prediction = classifier.classify([image])[0]
    print("\(arguments[1]): \(prediction.label) \(prediction.confidence)")
} catch {
    print("error: \(error)")
    exit(1)
}
SWIFT
swift build --package-path "$scratch" -c release >&2
"$scratch/.build/release/check" "$image" "$model"
