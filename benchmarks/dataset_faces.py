"""The FER2013 copy the benchmarks draw their faces from (../shared/data/fer2013)."""
import os


def test_faces(data):
    """Every test image's path, class by class in name order (the same list on every machine)."""
    faces = []
    for label in sorted(os.listdir(os.path.join(data, "test"))):
        names = sorted(os.listdir(os.path.join(data, "test", label)))
        faces += [os.path.join(data, "test", label, n) for n in names]
    return faces
