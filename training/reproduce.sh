#!/usr/bin/env bash
# Reproduces the bundled model (Sources/DefaultModel/Resources/antema-unet.*) from fixed seeds.
# About 75 minutes on 2 cores (stage 1: ~48 min, stage 2: ~25 min). Run from the repository root
# with the training environment of training/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
mkdir -p models
# stage 1: simulator v1, seed 1, a one-cycle schedule planned for 2600 steps, stopped after 1400
$py training/train.py --out models/stage1 --seed 1 --sim-version 1 --steps 2600 --stop-after 1400
# stage 2: simulator v2 (coarser carbon grain and detector blur), seed 2, 1000 steps from stage 1
$py training/train.py --out models/antema-unet --seed 2 --sim-version 2 --init models/stage1.pt --steps 1000 --lr 1e-3 --warmup 0.02
cp models/antema-unet.onnx Sources/DefaultModel/Resources/
# Sources/DefaultModel/Resources/antema-unet.json is kept by hand: the export's settings plus the
# record of both stages and the evaluation figures (compare with models/antema-unet.json)
echo "bundled model updated; evaluate it with training/make_testset.py and training/evaluate_testset.py"
