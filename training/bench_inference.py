"""Our engine against onnxruntime (2 threads) on the same ONNX U-Net, in the same run.

    swift build -c release --product InferenceBench
    .venv/bin/python training/bench_inference.py [--size 1024] [--repeats 5] [--rounds 3]
"""
import argparse, os, statistics, subprocess, sys, time
import numpy as np
import onnxruntime as ort

root = os.path.join(os.path.dirname(__file__), "..")
parser = argparse.ArgumentParser()
parser.add_argument("--model", default=os.path.join(root, "Tests/InferenceTests/Fixtures/unet_small.onnx"))
parser.add_argument("--size", type=int, default=1024)
parser.add_argument("--repeats", type=int, default=5)
parser.add_argument("--rounds", type=int, default=3,
                    help="rounds of onnxruntime then antema; the ratio is the median of the rounds' ratios (a shared virtual machine's speed drifts by 10-40 %% within minutes)")
a = parser.parse_args()

opts = ort.SessionOptions()
opts.intra_op_num_threads = 2
opts.inter_op_num_threads = 1
sess = ort.InferenceSession(a.model, opts, providers=["CPUExecutionProvider"])
x = np.random.default_rng(0).uniform(-1, 1, (1, 1, a.size, a.size)).astype(np.float32)
name = sess.get_inputs()[0].name
sess.run(None, {name: x})
binary = os.path.join(root, ".build/release/InferenceBench")
ratios = []
for r in range(a.rounds):
    times = []
    for _ in range(a.repeats):
        t0 = time.perf_counter(); sess.run(None, {name: x}); times.append(time.perf_counter() - t0)
    ort_t = statistics.median(times)
    out = subprocess.run([binary, a.model, str(a.size), str(a.repeats)], capture_output=True, text=True, check=True).stdout.strip()
    ours = float(out.split("median ")[1].split(" s")[0])
    ratios.append(ours / ort_t)
    print(f"round {r + 1}: onnxruntime {ort.__version__} (2 threads) {a.size} x {a.size}, median {ort_t:.3f} s over {a.repeats} runs; {out}; ratio {ours / ort_t:.2f}")
print(f"ratio antema / onnxruntime: {statistics.median(ratios):.2f}, median of {a.rounds} rounds (range {min(ratios):.2f}-{max(ratios):.2f})")
mem = subprocess.run([binary, a.model, "2048", "1"], capture_output=True, text=True, check=True).stdout.strip()
print("2048 x 2048 in one piece: " + mem.split("runs, ")[1])
tiled = subprocess.run([binary, a.model, "2048", "1", "--tiled"], capture_output=True, text=True, check=True).stdout.strip()
print(tiled + " (goal under 1 GiB)")
