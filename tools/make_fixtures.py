"""Writes the PyTorch reference fixtures the Swift tests read (Tests/FERVisionTests/Fixtures).

Run by hand, never by CI, from the repository root, in a virtual environment outside the repo:
    python3 -m venv ~/venvs/fer-torch && ~/venvs/fer-torch/bin/pip install torch safetensors pillow numpy
    ~/venvs/fer-torch/bin/python tools/make_fixtures.py [FIXTURE...]     (default: all; names in main())
Fixture format version: FIXTURE_VERSION below; the Swift tests check it and name this script when it differs.
"""
import io
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(__file__))
from resnet9_reference import ResNet9  # noqa: E402

FIXTURE_VERSION = "1"
NARROW = (4, 8, 16, 32)
OUT = os.path.join("Tests", "FERVisionTests", "Fixtures")


def with_trained_statistics(model, channels, seed):
    """Random batch-norm scales/shifts and running statistics from a few training-mode passes, so that
    folding batch norm into the convolutions is really exercised."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.copy_(torch.rand(module.weight.shape, generator=g) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=g) * 0.3)
        model.train()
        for _ in range(3):
            model(torch.randn(8, channels, 48, 48, generator=g) * 1.5 + 0.2)
    model.eval()
    return model


def reference(name, channels, classes, seed, images):
    torch.manual_seed(seed)
    model = with_trained_statistics(ResNet9(channels, classes, NARROW), channels, seed)
    state = model.state_dict()
    save_file(state, os.path.join(OUT, f"{name}.safetensors"))          # plain: no metadata
    torch.save(state, os.path.join(OUT, f"{name}.pth"))                  # the zip format torch.save writes
    inputs = torch.randn(images, channels, 48, 48, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        logits = model(inputs)
    save_file({"inputs": inputs.contiguous(), "logits": logits.contiguous()},
              os.path.join(OUT, f"{name}_expected.safetensors"),
              metadata={"generator": "tools/make_fixtures.py", "fixture_version": FIXTURE_VERSION})
    return model


def images():
    """Small images in every format we decode, and the grayscale pixels Pillow reads from them."""
    rng = np.random.default_rng(7)
    gray = rng.integers(0, 256, size=(11, 13), dtype=np.uint8)
    rgb = rng.integers(0, 256, size=(11, 13, 3), dtype=np.uint8)
    # Smooth content so JPEG is close to the source, though what we compare is Pillow's decode.
    yy, xx = np.mgrid[0:24, 0:32]
    smooth = np.stack([(xx * 8) % 256, (yy * 10) % 256, ((xx + yy) * 4) % 256], axis=-1).astype(np.uint8)
    files = {
        "gray.png": Image.fromarray(gray, "L"),
        "rgb.png": Image.fromarray(rgb, "RGB"),
        "rgba.png": Image.fromarray(np.dstack([rgb, rgb[..., :1]]), "RGBA"),
        "gray.pgm": Image.fromarray(gray, "L"),
        "rgb.ppm": Image.fromarray(rgb, "RGB"),
        "gray.jpg": Image.fromarray(smooth[..., 0], "L"),
        "rgb.jpg": Image.fromarray(smooth, "RGB"),
    }
    expected = {}
    for name, image in files.items():
        path = os.path.join(OUT, name)
        image.save(path, quality=90) if name.endswith(".jpg") else image.save(path)
        decoded = Image.open(path).convert("L")
        expected[name] = torch.from_numpy(np.asarray(decoded, dtype=np.float32).copy())
    save_file(expected, os.path.join(OUT, "images_expected.safetensors"),
              metadata={"generator": "tools/make_fixtures.py", "fixture_version": FIXTURE_VERSION})


def training_reference(steps=5, total_steps=100, batch=8):
    """One backward and `steps` optimizer steps of the recipe (Adam + L2 weight decay, OneCycleLR with
    cycled beta1, gradient clipping by value) on a narrow ResNet9 and a fixed batch, augmentation off.

    The weights start in float32 (what the Swift side loads) and the reference runs in float64, so it is
    the exact answer and not one float32 summation order among many: the convolution biases, whose true
    gradient is 0 (batch norm subtracts them at once), then get gradients far below Adam's epsilon instead
    of float32 noise that Adam would turn into full learning-rate steps. The 5 steps stay in the warm-up
    of a 100-step cycle; `onecycle.*` records a whole 40-step cycle for the schedule test."""
    torch.manual_seed(21)
    initial = ResNet9(1, 7, NARROW)
    save_file(initial.state_dict(), os.path.join(OUT, "train_initial.safetensors"))
    g = torch.Generator().manual_seed(22)
    inputs = torch.randn(batch, 1, 48, 48, generator=g).double()
    labels = torch.randint(0, 7, (batch,), generator=g)

    def fresh():
        model = ResNet9(1, 7, NARROW)
        model.load_state_dict(initial.state_dict())
        return model.double().train()

    model = fresh()
    loss = torch.nn.functional.cross_entropy(model(inputs), labels)
    loss.backward()
    expected = {"inputs": inputs, "labels": labels.double(), "loss": loss.detach().reshape(1)}
    for name, parameter in model.named_parameters():
        expected[f"grad.{name}"] = parameter.grad.detach().clone()

    model = fresh()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005, weight_decay=9e-6)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.005, total_steps=total_steps)
    losses, rates = [], []
    for _ in range(steps):   # the reference notebook's loop order
        loss = torch.nn.functional.cross_entropy(model(inputs), labels)
        loss.backward()
        torch.nn.utils.clip_grad_value_(model.parameters(), 0.1)
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        optimizer.zero_grad()
        schedule.step()
        losses.append(loss.item())
    for name, value in model.state_dict().items():
        expected[f"after.{name}"] = value.detach().clone()
    expected["losses"] = torch.tensor(losses)
    expected["rates"] = torch.tensor(rates)

    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=0.005)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.005, total_steps=40)
    cycle_rates, cycle_betas = [], []
    for _ in range(40):
        cycle_rates.append(optimizer.param_groups[0]["lr"])
        cycle_betas.append(optimizer.param_groups[0]["betas"][0])
        optimizer.step()
        schedule.step()
    expected["onecycle.rates"] = torch.tensor(cycle_rates, dtype=torch.float64)
    expected["onecycle.betas"] = torch.tensor(cycle_betas, dtype=torch.float64)
    save_file({k: (v.float() if v.dtype == torch.float64 else v).contiguous() for k, v in expected.items()},
              os.path.join(OUT, "train_expected.safetensors"),
              metadata={"generator": "tools/make_fixtures.py", "fixture_version": FIXTURE_VERSION,
                        "steps": str(steps), "total_steps": str(total_steps), "max_lr": "0.005",
                        "weight_decay": "9e-6", "grad_clip": "0.1", "reference_precision": "float64"})


def training_options_reference(batch=8, smoothing=0.1, mix=0.7, dropout=0.3):
    """One backward of the recipe's options together, on the weights of train_initial.safetensors: the
    classifier pooling the whole 6x6 map (AdaptiveMaxPool2d(1)), dropout on the classifier's input with a
    recorded mask, mixup (the batch blended with a permutation of itself, weight `mix`) and label
    smoothing, as cross_entropy with probability targets and label_smoothing. In float64, as above."""
    model = ResNet9(1, 7, NARROW)
    model.load_state_dict(load_file(os.path.join(OUT, "train_initial.safetensors")))
    model = model.double().train()
    g = torch.Generator().manual_seed(23)
    inputs = torch.randn(batch, 1, 48, 48, generator=g).double()
    labels = torch.randint(0, 7, (batch,), generator=g)
    partner = torch.randperm(batch, generator=g)
    mask = (torch.rand(batch, NARROW[3], generator=g) >= dropout).double() / (1 - dropout)
    mixed = mix * inputs + (1 - mix) * inputs[partner]
    onehot = torch.nn.functional.one_hot(labels, 7).double()
    targets = mix * onehot + (1 - mix) * onehot[partner]

    out = model.conv1(mixed)
    out = model.conv2(out)
    out = model.res1(out) + out
    out = model.conv3(out)
    out = model.conv4(out)
    out = model.res2(out) + out
    features = torch.nn.functional.adaptive_max_pool2d(out, 1).flatten(1) * mask
    logits = model.classifier[2](features)
    loss = torch.nn.functional.cross_entropy(logits, targets, label_smoothing=smoothing)
    loss.backward()
    expected = {"inputs": mixed, "targets": targets, "mask": mask, "loss": loss.detach().reshape(1)}
    for name, parameter in model.named_parameters():
        expected[f"grad.{name}"] = parameter.grad.detach().clone()

    # Inference with the whole-map pooling: the initial weights (running statistics 0 and 1), eval mode.
    model = ResNet9(1, 7, NARROW)
    model.load_state_dict(load_file(os.path.join(OUT, "train_initial.safetensors")))
    model.classifier[0] = torch.nn.AdaptiveMaxPool2d(1)
    model.eval()
    eval_inputs = torch.randn(3, 1, 48, 48, generator=g)
    with torch.no_grad():
        expected["eval.inputs"] = eval_inputs
        expected["eval.logits"] = model(eval_inputs)
    save_file({k: v.float().contiguous() for k, v in expected.items()},
              os.path.join(OUT, "train_options_expected.safetensors"),
              metadata={"generator": "tools/make_fixtures.py", "fixture_version": FIXTURE_VERSION,
                        "label_smoothing": str(smoothing), "classifier_pooling": "global_max",
                        "reference_precision": "float64"})


FIXTURES = {
    "training": lambda: training_reference(),
    "training_options": lambda: training_options_reference(),
    "narrow": lambda: reference("narrow_resnet9", channels=1, classes=7, seed=11, images=3),
    # A whole pickled module (not a state dict): import must refuse it with a clear message.
    "notebook": lambda: torch.save(reference("notebook_resnet9", channels=3, classes=10, seed=12, images=2),
                                   os.path.join(OUT, "whole_model.pth")),
    "images": lambda: images(),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in sys.argv[1:] or list(FIXTURES):
        FIXTURES[name]()
    print("fixtures written to", OUT)


if __name__ == "__main__":
    main()
