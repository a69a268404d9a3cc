"""Segmentation networks antema uses and tests its engine on (PyTorch)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBlock(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """U-Net, 4 levels (16/32/64/128 channels by default), `cout` output logits per pixel (1: the
    particle logit; 2: the particle logit and the logit of the normalised distance to the
    particle's edge, emps.normalized_distance)."""

    def __init__(self, channels=(16, 32, 64, 128), cin=1, cout=1):
        super().__init__()
        self.down = nn.ModuleList()
        c = cin
        for ch in channels:
            self.down.append(ConvBlock(c, ch))
            c = ch
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for ch in reversed(channels[:-1]):
            self.up.append(nn.ConvTranspose2d(c, ch, 2, stride=2))
            self.merge.append(ConvBlock(2 * ch, ch))
            c = ch
        self.head = nn.Conv2d(c, cout, 1)

    def features(self, x):
        """The last decoder level's features, with what that level was made from: the level below
        it (before upsampling) and the first skip connection."""
        skips = []
        for i, block in enumerate(self.down):
            x = block(x)
            if i < len(self.down) - 1:
                skips.append(x)
                x = F.max_pool2d(x, 2)
        below = skip = None
        for up, merge in zip(self.up, self.merge):
            below, skip = x, skips.pop()
            x = merge(torch.cat([up(x), skip], dim=1))
        return x, below, skip

    def forward(self, x):
        return self.head(self.features(x)[0])


class ASPP(nn.Module):
    def __init__(self, cin, cout, rates=(1, 6, 12)):
        super().__init__()
        self.branches = nn.ModuleList([
            nn.Sequential(nn.Conv2d(cin, cout, 1 if r == 1 else 3, padding=0 if r == 1 else r, dilation=r, bias=False),
                          nn.BatchNorm2d(cout), nn.ReLU()) for r in rates])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1), nn.ReLU())
        self.project = nn.Sequential(nn.Conv2d(cout * (len(rates) + 1), cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

    def forward(self, x):
        h, w = x.shape[-2:]
        feats = [b(x) for b in self.branches]
        feats.append(F.interpolate(self.pool(x), size=(h, w), mode="bilinear", align_corners=False))
        return self.project(torch.cat(feats, dim=1))


class DeepLabLite(nn.Module):
    """A small DeepLabv3+-style network: strided encoder with a depthwise-separable block, atrous
    convolutions and ASPP, bilinear upsampling and a low-level skip connection; 2-class softmax."""

    def __init__(self, cin=1):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(cin, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.low = nn.Sequential(nn.Conv2d(16, 24, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(24), nn.ReLU())
        self.mid = nn.Sequential(
            nn.Conv2d(24, 24, 3, stride=2, padding=1, groups=24, bias=False), nn.BatchNorm2d(24), nn.ReLU(),
            nn.Conv2d(24, 48, 1, bias=False), nn.BatchNorm2d(48), nn.LeakyReLU(0.1),
            nn.Conv2d(48, 48, 3, padding=2, dilation=2, bias=False), nn.BatchNorm2d(48), nn.ReLU())
        self.aspp = ASPP(48, 32)
        self.reduce = nn.Sequential(nn.Conv2d(24, 16, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.decode = nn.Sequential(nn.Conv2d(48, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.Conv2d(32, 2, 1))

    def forward(self, x):
        h, w = x.shape[-2:]
        low = self.low(self.stem(x))
        y = self.aspp(self.mid(low))
        y = F.interpolate(y, size=low.shape[-2:], mode="bilinear", align_corners=False)
        y = self.decode(torch.cat([y, self.reduce(low)], dim=1))
        y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
        return torch.softmax(y, dim=1)
