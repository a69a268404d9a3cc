#!/usr/bin/env bash
# Reproduces the bundled instance-aware model (Sources/DefaultModel/Resources/antema-unet-instance.*)
# from fixed seeds, starting from the bundled model 2.1. About 5 h on this machine (2 cores,
# bfloat16). Needs ../shared/data/emps-train (read in place, never copied). Run from the
# repository root with the training environment of training/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
mkdir -p models
# stage A: from model 2.1's weights (the distance head starts as a copy of the particle head),
# half EMPS crops and half simulator v5 tiles with export artefacts, lr 1e-3 one-cycle over 4500
# steps, stopped at step 1500 (the checkpoint at the validation of step 1500)
$py training/train_instance.py --out models/stage3a --seed 11 --fast --init-onnx Sources/DefaultModel/Resources/antema-unet.onnx \
  --steps 4500 --validate-every 750 --stop-after 1500 --model-version 3.0
# stage B: continued at lr 3e-4 (one-cycle over 2400 steps), 40 % EMPS, fewer artefacts on the
# simulated tiles; the bundled checkpoint is the validation of step 1200
$py training/train_instance.py --out models/stage3b --seed 12 --fast --init models/stage3a.pt --steps 2400 --lr 3e-4 --warmup 0.05 \
  --real-fraction 0.4 --sim-artifacts 0.15,0.3,0.2,0.25 --validate-every 600 --stop-after 1200 --model-version 3.0
# stage C (model 3.0 was stage B; 3.1 continues): more simulated tiles (25 % EMPS, fewer
# artefacts), lr 2e-4 one-cycle over 1200 steps, the validation of step 600
$py training/train_instance.py --out models/stage3c --seed 13 --fast --init models/stage3b.pt --steps 1200 --lr 2e-4 --warmup 0.05 \
  --real-fraction 0.25 --sim-artifacts 0.1,0.2,0.1,0.2 --validate-every 600 --stop-after 600 --model-version 3.1
# stage E (3.1; stage D was not kept, training/README.md): an exponential moving average of the
# weights and BatchNorm statistics is validated and exported, Dice per tile, a fixed simulated
# validation draw; 35 % EMPS, lr 2e-4 one-cycle over 3000 steps (60 min); the last validation
$py training/train_instance.py --out models/stage3e --seed 16 --fast --init models/stage3c.pt --steps 3000 --lr 2e-4 --warmup 0.05 \
  --real-fraction 0.35 --sim-artifacts 0.15,0.3,0.2,0.25 --validate-every 500 --per-tile-dice --ema 0.999 --sim-val-seed 4242 \
  --select joint --model-version 3.1
# stage H (3.2; stage G, 20 % EMPS without the jitter, was stopped after its step-1500 validation, training/README.md):
# from stage E, the normalised tiles stretched by exp(U(-0.4, 0.4)) and shifted by U(-0.2, 0.2)
# (--contrast-jitter 0.4), 35 % EMPS, lr 1.5e-4 one-cycle over 3000 steps (57 min); the last validation
$py training/train_instance.py --out models/stage3h --seed 18 --fast --init models/stage3e.pt --steps 3000 --lr 1.5e-4 --warmup 0.05 \
  --real-fraction 0.35 --sim-artifacts 0.15,0.3,0.2,0.25 --validate-every 500 --per-tile-dice --ema 0.999 --sim-val-seed 4242 \
  --contrast-jitter 0.4 --select joint --model-version 3.2
# stage I (3.3): stage H's recipe once more from its end (its validations were still rising),
# seed 19 (81 min with evaluations running beside it); the last validation
$py training/train_instance.py --out models/stage3i --seed 19 --fast --init models/stage3h.pt --steps 3000 --lr 1.5e-4 --warmup 0.05 \
  --real-fraction 0.35 --sim-artifacts 0.15,0.3,0.2,0.25 --validate-every 500 --per-tile-dice --ema 0.999 --sim-val-seed 4242 \
  --contrast-jitter 0.4 --select joint --model-version 3.3
# stage J (the 3.4 candidate, not bundled): stage I's recipe once more from its end, seed 20;
# every validated step kept, stage K starts from its step 3000
$py training/train_instance.py --out models/stage3j --seed 20 --fast --init models/stage3i.pt --steps 3000 --lr 1.5e-4 --warmup 0.05 \
  --real-fraction 0.35 --sim-artifacts 0.15,0.3,0.2,0.25 --validate-every 500 --per-tile-dice --ema 0.999 --sim-val-seed 4242 \
  --contrast-jitter 0.4 --select joint --model-version 3.4 --keep-all
# stage K (3.5): the EMPS crops resampled by 0.3-1.1 (log-uniform) instead of 0.5-1.6, where
# antemactl shows an uncalibrated image (0.35-0.71, NetworkScale), and the EMPS validation at
# half scale; seed 21 (99 min with evaluations beside it); the run's own choice (--select joint)
$py training/train_instance.py --out models/stage3k --seed 21 --fast --init models/stage3j-step3000.pt --steps 3000 --lr 1.5e-4 --warmup 0.05 \
  --real-fraction 0.35 --sim-artifacts 0.15,0.3,0.2,0.25 --validate-every 500 --per-tile-dice --ema 0.999 --sim-val-seed 4242 \
  --contrast-jitter 0.4 --select joint --model-version 3.5 --real-scale-range 0.3,1.1 --val-scale 0.5 --keep-all
# stage L (3.6): stage K's recipe from its end, half of the simulated tiles drawn as agglomerates
# (simulate.py clustered: three particles in four overlap a neighbour, as much as the pair test
# set's pairs; --sim-clustered 0.5), 48 simulated pairs' split logged (--pair-val 48), 2500 steps,
# seed 22; the run's own choice (--select joint)
$py training/train_instance.py --out models/stage3l --seed 22 --fast --init models/stage3k.pt --steps 2500 --lr 1.5e-4 --warmup 0.05 \
  --real-fraction 0.35 --sim-artifacts 0.15,0.3,0.2,0.25 --validate-every 500 --per-tile-dice --ema 0.999 --sim-val-seed 4242 \
  --contrast-jitter 0.4 --select joint --model-version 3.6 --real-scale-range 0.3,1.1 --val-scale 0.5 --keep-all \
  --sim-clustered 0.5 --pair-val 48
cp models/stage3l.onnx Sources/DefaultModel/Resources/antema-unet-instance.onnx
# Sources/DefaultModel/Resources/antema-unet-instance.json is kept by hand: the export's settings
# with name antema-unet-instance, minimumConfidence 0.7 and the record of every stage
echo "instance model updated; evaluate it with training/evaluate_emps.py"
