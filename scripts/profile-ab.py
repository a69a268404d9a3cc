#!/usr/bin/env python3
"""Per-operator times of the engine under two or more settings, interleaved.

    swift build -c release --product InferenceBench
    scripts/profile-ab.py [--model M] [--size 1024] [--rounds 5] SETTING [SETTING ...]

A SETTING is environment assignments separated by spaces ("ANTEMA_DIRECT_MAX_CIN=32"); BIN=PATH
runs another InferenceBench binary (a build of another commit). Each round runs every setting
once (in reverse order every other round, so that neither always comes first) with
ANTEMA_PROFILE=1 and 3 repeats; the table shows each operator's median over the rounds, then the
median of the runs' medians. This virtual machine's speed drifts by 10-40 % within minutes:
compare settings only within one table.
"""
import argparse, collections, os, re, statistics, subprocess

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
p = argparse.ArgumentParser()
p.add_argument("--model", default=os.path.join(root, "Sources/DefaultModel/Resources/antema-unet-instance.onnx"))
p.add_argument("--size", type=int, default=1024)
p.add_argument("--rounds", type=int, default=5)
p.add_argument("settings", nargs="+")
a = p.parse_args()
binary = os.path.join(root, ".build/release/InferenceBench")
ops = {s: collections.defaultdict(list) for s in a.settings}
whole = {s: [] for s in a.settings}
for r in range(a.rounds):
    for s in (a.settings if r % 2 == 0 else a.settings[::-1]):
        env = dict(os.environ, ANTEMA_PROFILE="1")
        for kv in s.split():
            k, v = kv.split("=", 1)
            env[k] = v
        run = subprocess.run([env.pop("BIN", binary), a.model, str(a.size), "3"], capture_output=True, text=True, env=env, check=True)
        text = run.stdout + run.stderr
        whole[s].append(float(re.search(r"median ([0-9.]+) s", text).group(1)))
        last = {}
        for line in text.splitlines():  # one block per run, sorted by time: the last run's overwrites
            m = re.match(r"(.*\S)\s+([0-9.]+) ms$", line)
            if m:
                last[m.group(1)] = float(m.group(2))
        for k, v in last.items():
            ops[s][k].append(v)
first = a.settings[0]
width = max(12, *(min(30, len(s)) for s in a.settings))
print(f"{'operator':52s}", *(f"{s[:30]:>{width}s}" for s in a.settings))
for k in sorted(ops[first], key=lambda k: -statistics.median(ops[first][k])):
    print(f"{k[:52]:52s}", *(f"{statistics.median(ops[s][k]):{width}.1f}" if ops[s][k] else f"{'-':>{width}s}" for s in a.settings))
print(f"{'whole run, s (median of the rounds)':52s}", *(f"{statistics.median(whole[s]):{width}.3f}" for s in a.settings))
