#!/usr/bin/env bash
# Reproduces the bundled model (Sources/DefaultModel/Resources/antema-unet.*) from fixed seeds.
# About 3 hours on this machine (2 cores with AVX512-BF16; stage 1: ~92 min, stage 2: ~27 min,
# stage 3: ~63 min).
# `--fast` is bfloat16 autocast with channels-last tensors (training/README.md); without it the
# same recipe takes about 3 times longer. Run from the repository root with the training
# environment of training/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
mkdir -p models
# stage 1: a 5-level U-Net (16-256 channels) from random weights, seed 3, simulator v3 (tiles as
# the engine presents micrographs to the network), a one-cycle schedule of 6000 steps, 8 tiles of 256^2
$py training/train.py --out models/stage1 --seed 3 --sim-version 3 --channels 16,32,64,128,256 --fast --steps 6000 --validate-every 250
# stage 2: the same network continued on larger tiles (2 of 512^2: more context per tile), seed 4, 1500 steps
$py training/train.py --out models/stage2 --seed 4 --sim-version 3 --channels 16,32,64,128,256 --fast --init models/stage1.pt \
  --tile 512 --batch 2 --steps 1500 --lr 5e-4 --warmup 0.05 --validate-every 250
# stage 3 (model 2.1): continued on simulator v4 (the dose in physical units), seed 5, a one-cycle
# schedule of 4000 steps of 8 tiles of 256^2 at lr 1e-3
$py training/train.py --out models/antema-unet --seed 5 --sim-version 4 --channels 16,32,64,128,256 --fast --init models/stage2.pt \
  --steps 4000 --lr 1e-3 --warmup 0.05 --validate-every 250 --model-version 2.1
cp models/antema-unet.onnx Sources/DefaultModel/Resources/
# Sources/DefaultModel/Resources/antema-unet.json is kept by hand: the export's settings plus the
# record of the three stages and the evaluation figures (compare with models/antema-unet.json)
echo "bundled model updated; evaluate it with training/make_testset.py and training/evaluate_testset.py"
