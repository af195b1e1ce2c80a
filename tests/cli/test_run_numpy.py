#!/usr/bin/env python3
"""`attnbench run` agrees with an outside float64 computation in NumPy, on
random inputs, for every mask kind, grouped-query heads and dv != d, on every
backend this CPU runs. Usage: test_run_numpy.py ATTNBENCH_BINARY"""
import os, subprocess, sys, tempfile

import numpy as np

BIN = sys.argv[1]
tmp = tempfile.mkdtemp()


def backends():
    out = subprocess.run([BIN, "list"], capture_output=True, text=True, check=True).stdout
    return [l.split()[0] for l in out.splitlines() if l[:1].strip() and "(compiled in, but" not in l]


def numpy_attention(q, k, v, mask, lens, scale):
    b, h, lq, _ = q.shape
    hkv, lk = k.shape[1], k.shape[2]
    k = np.repeat(k, h // hkv, axis=1)  # query head i uses kv head i // (h // hkv)
    v = np.repeat(v, h // hkv, axis=1)
    s = scale * q @ k.transpose(0, 1, 3, 2)
    i = np.arange(lq)[:, None]
    j = np.arange(lk)[None, :]
    visible = np.ones((b, 1, lq, lk), dtype=bool)
    if mask == "causal":
        visible &= j <= i + lk - lq
    elif mask == "causal-tl":
        visible &= j <= i
    elif mask == "pad":
        visible &= (j[None, None] < lens[:, None, None, None])
    s = np.where(visible, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    w = np.where(visible, np.exp(s - np.where(np.isfinite(m), m, 0)), 0)
    z = w.sum(axis=-1, keepdims=True)
    return np.where(z > 0, (w / np.where(z > 0, z, 1)) @ v, 0)


CASES = [
    dict(b=2, h=4, hkv=2, lq=13, lk=21, d=12, dv=12, mask="none"),
    dict(b=1, h=3, hkv=3, lq=9, lk=30, d=16, dv=7, mask="causal"),
    dict(b=1, h=2, hkv=1, lq=30, lk=9, d=16, dv=24, mask="causal"),
    dict(b=2, h=2, hkv=2, lq=11, lk=17, d=5, dv=5, mask="causal-tl"),
    dict(b=3, h=4, hkv=1, lq=6, lk=19, d=8, dv=10, mask="pad"),
    dict(b=1, h=8, hkv=2, lq=1, lk=200, d=64, dv=64, mask="none"),
    # A decode's steps are the rows of a bottom-right causal attention over its final cache.
    dict(op="decode", b=2, h=4, hkv=2, lk=20, steps=7, d=16, dv=8, mask="none"),
]

rng = np.random.default_rng(2026)
failures, passed = [], 0
for backend in backends():
    for c in CASES:
        decode = c.get("op") == "decode"
        lq, lk = (c["steps"], c["lk"] + c["steps"]) if decode else (c["lq"], c["lk"])
        q = rng.standard_normal((c["b"], c["h"], lq, c["d"])).astype(np.float32)
        k = rng.standard_normal((c["b"], c["hkv"], lk, c["d"])).astype(np.float32)
        v = rng.standard_normal((c["b"], c["hkv"], lk, c["dv"])).astype(np.float32)
        lens = np.array([0, 1, lk][: c["b"]], dtype=np.int64)
        files = {n: os.path.join(tmp, n + ".npy") for n in ("q", "k", "v", "lens", "o")}
        for n, a in (("q", q), ("k", k), ("v", v), ("lens", lens)):
            np.save(files[n], a)
        problem = ",".join(f"{key}={val}" for key, val in c.items())
        args = [BIN, "run", "--backend", backend, "--problem", problem, "--q", files["q"], "--k", files["k"],
                "--v", files["v"], "--out", files["o"]]
        if c["mask"] == "pad":
            args += ["--lens", files["lens"]]
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode != 0:
            if "declines" in r.stderr:
                print(f"SKIP {backend} {problem}: {r.stderr.strip()}")
                continue
            failures.append(f"{backend} {problem}: exit {r.returncode}: {r.stderr.strip()}")
            continue
        o = np.load(files["o"]).astype(np.float64)
        want = numpy_attention(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64),
                               "causal" if decode else c["mask"], lens, 1 / np.sqrt(c["d"]))
        # float32 arithmetic on unit-normal inputs: errors of a few 1e-7; 2e-5 leaves room for long rows and
        # fast exp approximations while any real bug (a masked key, a wrong head) moves outputs by 1e-2.
        err = np.abs(o - want).max()
        if o.shape != want.shape or not np.isfinite(o).all() or err > 2e-5 * max(1.0, np.abs(v).max()):
            failures.append(f"{backend} {problem}: max error {err:.3g}")
        else:
            passed += 1
for f in failures:
    print("FAIL", f)
print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures or passed == 0 else 0)
