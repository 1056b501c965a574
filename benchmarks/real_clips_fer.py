"""The Python `fer` package (Haar faces + mini-Xception) on frame directories, for benchmarks/real_clips.py.

Run with the Python of a virtual environment that has `fer` (see benchmarks/real_clips.py):
    FER_PYTHON benchmarks/real_clips_fer.py OUT.jsonl DIR [DIR...]
Writes one JSON line per frame: {"clip": ..., "frame": N, "faces": K, "label": ..., "probabilities": {...},
"box": [x, y, w, h]} for the largest face (label null when no face was found), and the seconds per frame.
"""
import json
import os
import sys
import time


def main():
    out, directories = sys.argv[1], sys.argv[2:]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import cv2
    from fer.fer import FER

    detector = FER(mtcnn=False)
    seconds, frames = 0.0, 0
    with open(out, "w") as sink:
        for directory in directories:
            clip = os.path.basename(os.path.normpath(directory))
            files = sorted(f for f in os.listdir(directory) if f.endswith(".png"))
            for index, name in enumerate(files):
                image = cv2.imread(os.path.join(directory, name))
                started = time.perf_counter()
                faces = detector.detect_emotions(image)
                seconds += time.perf_counter() - started
                frames += 1
                record = {"clip": clip, "frame": index, "faces": len(faces), "label": None, "probabilities": None, "box": None}
                if faces:
                    face = max(faces, key=lambda f: f["box"][2] * f["box"][3])
                    emotions = face["emotions"]
                    record.update(label=max(emotions, key=emotions.get), probabilities=emotions,
                                  box=[int(v) for v in face["box"]])
                sink.write(json.dumps(record) + "\n")
    print(json.dumps({"frames": frames, "ms_per_frame": 1000 * seconds / max(1, frames)}))


if __name__ == "__main__":
    main()
