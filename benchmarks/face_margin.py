"""Chooses the face crop's margin on FER2013's validation faces (never test): frames composed like
detection_parity.py's from val faces, replayed through `fer-live replay --margin M`, and each found face
(IoU >= 0.3 with a placed one) scored against the placed face's label. Prints accuracy per margin.

    python benchmarks/face_margin.py [--frames 300] [--margins 0,0.05,0.1,0.15,0.2,0.3]
"""
import argparse
import json
import os
import subprocess
import tempfile

from detection_parity import compose, iou

FER2013_NAMES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/release/fer-live")
    parser.add_argument("--data", default="../shared/data/fer2013")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--margins", default="0,0.05,0.1,0.15,0.2,0.3")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="fer-margin-")
    truth = compose(args.data, args.frames, folder, seed=1, split="val")
    print("| margin | faces found | accuracy on found faces |")
    print("|---:|---:|---:|")
    for margin in args.margins.split(","):
        output = os.path.join(folder, f"margin{margin}.jsonl")
        subprocess.run([args.binary, "replay", folder, "--headless", "--as-fast-as-possible", "--batch", "16",
                        f"--margin={margin}", "--output", output], check=True, capture_output=True)
        found = correct = 0
        for line in open(output):
            record = json.loads(line)
            if record["box"] is None:
                continue
            best = max(truth[record["file"]], key=lambda face: iou(face["box"], record["box"]), default=None)
            if best is None or iou(best["box"], record["box"]) < 0.3:
                continue
            found += 1
            label = best["label"]
            label = FER2013_NAMES[int(label)] if label.isdigit() else label
            correct += record["label"] == label
        print(f"| {margin} | {found} | {correct / max(found, 1):.4f} |")


if __name__ == "__main__":
    main()
