#!/usr/bin/env python3
"""Overflow at the top of the float range, through `attnbench run` on every
backend this CPU runs (reference/README.md, "Numerics policy"):
- values near FLT_MAX, whose sums overflow fp32 although their weighted mean
  does not, give a finite answer that agrees with NumPy in float64;
- scores beyond the fp32 range (|q.k| > 3.4e38) from finite inputs are
  refused with one line naming the range, exit 2, and nothing written (an
  earlier output file stays as it was);
- a NaN input still gives its NaN output (the policy explains it), exit 0.
Usage: test_overflow.py ATTNBENCH_BINARY"""
import os, subprocess, sys, tempfile

import numpy as np

from clicheck import error_problems

BIN = sys.argv[1]
tmp = tempfile.mkdtemp()


def backends():
    out = subprocess.run([BIN, "list"], capture_output=True, text=True, check=True).stdout
    return [l.split()[0] for l in out.splitlines() if l[:1].strip() and "(compiled in, but" not in l]


def softmax_attention(q, k, v, causal):
    s = q.astype(np.float64) @ k.astype(np.float64).transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1])
    lq, lk = s.shape[-2:]
    if causal:
        s = np.where(np.arange(lk)[None, :] <= np.arange(lq)[:, None] + lk - lq, s, -np.inf)
    w = np.exp(s - s.max(axis=-1, keepdims=True))
    return (w / w.sum(axis=-1, keepdims=True)) @ v.astype(np.float64)


def save(name, a):
    path = os.path.join(tmp, name + ".npy")
    np.save(path, a.astype(np.float32))
    return path


def run(be, problem, q, k, v, out):
    return subprocess.run([BIN, "run", "--backend", be, "--problem", problem, "--q", q, "--k", k, "--v", v,
                           "--out", out, "--threads", "2"], capture_output=True, text=True, timeout=300)


rng = np.random.default_rng(7)
b, h, lq, lk, d = 1, 2, 24, 300, 32
q = rng.uniform(-1, 1, (b, h, lq, d))
k = rng.uniform(-1, 1, (b, h, lk, d))
v = rng.uniform(-1, 1, (b, h, lk, d)) * 2.0**127
big_q, big_k = q * 1e20, k * 1e20  # |q.k| up to 1e40 * d
nan_q = q.copy()
nan_q[0, 1, 3, 5] = np.nan
paths = {n: save(n, a) for n, a in [("q", q), ("k", k), ("v", v), ("bq", big_q), ("bk", big_k),
                                      ("nq", nan_q), ("sv", v / 2.0**127)]}

failures, checked = [], 0
for be in backends():
    for mask in ["none", "causal"]:
        problem = f"b={b},h={h},lq={lq},lk={lk},d={d},mask={mask}"
        out = os.path.join(tmp, f"o-{be}-{mask}.npy")
        r = run(be, problem, paths["q"], paths["k"], paths["v"], out)
        if r.returncode == 2 and "declines" in r.stderr:
            continue
        checked += 1
        if r.returncode != 0:
            failures.append(f"{be} {problem}: huge values: exit {r.returncode}: {r.stderr.strip()}")
            continue
        got, want = np.load(out).astype(np.float64), softmax_attention(q, k, v, mask == "causal")
        err = np.abs(got - want).max() / np.abs(want).max() if np.isfinite(got).all() else np.inf
        if not err < 1e-5:
            failures.append(f"{be} {problem}: huge values: relative error {err:.3g} (non-finite: "
                            f"{int((~np.isfinite(got)).sum())})")
        # Scores beyond the fp32 range: refused, and the earlier output kept.
        before = open(out, "rb").read()
        r = run(be, problem, paths["bq"], paths["bk"], paths["sv"], out)
        failures += [f"{be} {problem}: scores beyond fp32: {p}"
                     for p in error_problems(r, "beyond the fp32 range")]
        if open(out, "rb").read() != before:
            failures.append(f"{be} {problem}: scores beyond fp32: the earlier --out file was replaced")
        # A NaN input explains its NaN output: written, exit 0.
        r = run(be, problem, paths["nq"], paths["k"], paths["sv"], out)
        if r.returncode != 0:
            failures.append(f"{be} {problem}: NaN query: exit {r.returncode}: {r.stderr.strip()}")
        elif not np.isnan(np.load(out)[0, 1, 3]).all():
            failures.append(f"{be} {problem}: NaN query: its output row is not NaN")

for f in failures:
    print("FAIL:", f)
if not checked:
    print("SKIPPED: no backend ran the problems")
    sys.exit(77)
print(f"{checked - len(set(f.split(':')[0] for f in failures))} passed, "
      f"{len(set(f.split(':')[0] for f in failures))} failed")
sys.exit(1 if failures else 0)
