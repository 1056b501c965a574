"""The reference ResNet9 of RECIPE.md in PyTorch, shared by the fixture script and the benchmarks."""
import torch
import torch.nn as nn


def conv_block(in_channels, out_channels, pool=False):
    layers = [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
              nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class ResNet9(nn.Module):
    """ResNet9 with configurable widths; widths=(64, 128, 256, 512) is the recipe's network."""

    def __init__(self, in_channels, num_classes, widths=(64, 128, 256, 512)):
        super().__init__()
        w0, w1, w2, w3 = widths
        self.conv1 = conv_block(in_channels, w0)
        self.conv2 = conv_block(w0, w1, pool=True)
        self.res1 = nn.Sequential(conv_block(w1, w1), conv_block(w1, w1))
        self.conv3 = conv_block(w1, w2, pool=True)
        self.conv4 = conv_block(w2, w3, pool=True)
        self.res2 = nn.Sequential(conv_block(w3, w3), conv_block(w3, w3))
        self.classifier = nn.Sequential(nn.MaxPool2d(4), nn.Flatten(), nn.Linear(w3, num_classes))

    def forward(self, x):
        out = self.conv1(x)
        out = self.conv2(out)
        out = self.res1(out) + out
        out = self.conv3(out)
        out = self.conv4(out)
        out = self.res2(out) + out
        return self.classifier(out)
