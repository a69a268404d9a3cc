"""Seconds per training step (8 tiles of 256 x 256, forward + backward + AdamW), float32 against
train.py's --fast (bfloat16 autocast, channels-last), for the networks of bundled models 1.0 and 2.0.

    .venv/bin/python training/bench_training.py [--steps 4]

Run on a quiet machine: the figures are wall-clock medians over --steps steps after 2 warm-up steps.
"""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import UNet  # noqa: E402


def seconds_per_step(channels, fast, steps):
    torch.manual_seed(0)
    layout = torch.channels_last if fast else torch.contiguous_format
    model = UNet(channels).to(memory_format=layout)
    opt = torch.optim.AdamW(model.parameters())
    x = torch.randn(8, 1, 256, 256).contiguous(memory_format=layout)
    y = (torch.rand(8, 1, 256, 256) > 0.5).float()
    times = []
    for i in range(steps + 2):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast):
            logits = model(x)
        loss = F.binary_cross_entropy_with_logits(logits.float(), y)
        opt.zero_grad(); loss.backward(); opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=4)
    a = ap.parse_args()
    torch.set_num_threads(2)
    for name, channels in [("model 1.0 (4 levels)", (16, 32, 64, 128)), ("model 2.0 (5 levels)", (16, 32, 64, 128, 256))]:
        slow, fast = seconds_per_step(channels, False, a.steps), seconds_per_step(channels, True, a.steps)
        print(f"{name}: float32 {slow:.3f} s/step, --fast {fast:.3f} s/step, ratio {slow / fast:.2f}")


if __name__ == "__main__":
    main()
