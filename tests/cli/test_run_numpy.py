#!/usr/bin/env python3
"""`attnbench run` agrees with an outside float64 computation in NumPy, on
random inputs, for every mask kind, grouped-query heads and dv != d, op=mha
layers, op=han documents, and every score function and mode of the seq2seq
family (weights from NumPy files), on every backend this CPU runs; a backend
that declines a variant says why. Usage: test_run_numpy.py ATTNBENCH_BINARY"""
import itertools, os, subprocess, sys, tempfile

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


failures, passed = [], 0


def run_backend(args, backend, problem, out):
    """The output of `attnbench run` in float64, or None (declined: skipped; failed: recorded)."""
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode == 0:
        return np.load(out).astype(np.float64)
    if "declines" in r.stderr:
        print(f"SKIP {backend} {problem}: {r.stderr.strip()}")
    else:
        failures.append(f"{backend} {problem}: exit {r.returncode}: {r.stderr.strip()}")
    return None


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
        o = run_backend(args, backend, problem, files["o"])
        if o is None:
            continue
        want = numpy_attention(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64),
                               "causal" if decode else c["mask"], lens, 1 / np.sqrt(c["d"]))
        # float32 arithmetic on unit-normal inputs: errors of a few 1e-7; 2e-5 leaves room for long rows and
        # fast exp approximations while any real bug (a masked key, a wrong head) moves outputs by 1e-2.
        err = np.abs(o - want).max()
        if o.shape != want.shape or not np.isfinite(o).all() or err > 2e-5 * max(1.0, np.abs(v).max()):
            failures.append(f"{backend} {problem}: max error {err:.3g}")
        else:
            passed += 1


# op=mha: the layer from its inputs and weights, against NumPy in float64:
# cross- and self-attention (no --xkv), grouped-query heads, dv != d, masks.
MHA_CASES = [
    dict(b=2, h=4, hkv=2, lq=13, lk=21, d=12, dv=12, dm=48, mask="none"),
    dict(b=1, h=3, hkv=3, lq=9, lk=9, d=8, dv=5, dm=20, mask="causal", self=True),
    dict(b=3, h=4, hkv=1, lq=6, lk=19, d=8, dv=10, dm=16, mask="pad"),
    dict(b=2, h=2, hkv=2, lq=11, lk=11, d=1, dv=3, dm=1, mask="causal-tl", self=True),
]


def numpy_mha(xq, xkv, wq, wk, wv, wo, c, lens):
    b, h, hkv = c["b"], c["h"], c["hkv"]
    heads = lambda x, n, dim: x.reshape(x.shape[0], x.shape[1], n, dim).transpose(0, 2, 1, 3)
    q, k, v = heads(xq @ wq, h, c["d"]), heads(xkv @ wk, hkv, c["d"]), heads(xkv @ wv, hkv, c["dv"])
    o = numpy_attention(q, k, v, c["mask"], lens, 1 / np.sqrt(c["d"]))
    return o.transpose(0, 2, 1, 3).reshape(b, c["lq"], h * c["dv"]) @ wo


for backend in backends():
    for c in MHA_CASES:
        self_attn = c.get("self", False)
        dm, hd, hkvd, hkvdv, hdv = c["dm"], c["h"] * c["d"], c["hkv"] * c["d"], c["hkv"] * c["dv"], c["h"] * c["dv"]
        xq = rng.standard_normal((c["b"], c["lq"], dm)).astype(np.float32)
        xkv = xq if self_attn else rng.standard_normal((c["b"], c["lk"], dm)).astype(np.float32)
        ws = {n: (rng.standard_normal(s) / np.sqrt(s[0])).astype(np.float32)
              for n, s in (("wq", (dm, hd)), ("wk", (dm, hkvd)), ("wv", (dm, hkvdv)), ("wo", (hdv, dm)))}
        lens = np.array([0, 1, c["lk"]][: c["b"]], dtype=np.int64)
        files = {n: os.path.join(tmp, n + ".npy") for n in ("xq", "xkv", "wq", "wk", "wv", "wo", "lens", "o")}
        for n, a in (("xq", xq), ("xkv", xkv), ("lens", lens), *ws.items()):
            np.save(files[n], a)
        problem = "op=mha," + ",".join(f"{key}={val}" for key, val in c.items() if key != "self")
        args = [BIN, "run", "--backend", backend, "--problem", problem, "--xq", files["xq"], "--out", files["o"]]
        args += [] if self_attn else ["--xkv", files["xkv"]]
        for n in ("wq", "wk", "wv", "wo"):
            args += ["--" + n, files[n]]
        if c["mask"] == "pad":
            args += ["--lens", files["lens"]]
        o = run_backend(args, backend, problem, files["o"])
        if o is None:
            continue
        f64 = lambda a: a.astype(np.float64)
        want = numpy_mha(f64(xq), f64(xkv), *(f64(ws[n]) for n in ("wq", "wk", "wv", "wo")), c, lens)
        # Unit-normal inputs and weights scaled by 1/sqrt(rows): every stage is of order one, float32 errors
        # of a few 1e-7 per stage; a wrong head, weight or projection moves outputs by 1e-1.
        err = np.abs(o - want).max()
        if o.shape != want.shape or not np.isfinite(o).all() or err > 2e-5 * max(1.0, np.abs(want).max()):
            failures.append(f"{backend} {problem}: max error {err:.3g}")
        else:
            passed += 1

# op=han: hierarchical attention over documents (Yang et al. 2016), with and without padding counts
# (empty sentences and an empty document among them), t=1, s=1 and a square weight.
HAN_CASES = [
    dict(b=2, s=5, t=7, d=16, da=10, pad=False),
    dict(b=3, s=4, t=9, d=12, da=8, pad=True),
    dict(b=2, s=1, t=1, d=5, da=5, pad=False),
    dict(b=1, s=6, t=3, d=1, da=1, pad=True),
]


def numpy_han(x, ww, bw, cw, ws, bs, cs, words, sents):
    def pool(v, w, bias, c, counts):  # v [n, len, d]: one attention per row over its first counts[i] entries
        u = np.tanh(v @ w.T + bias)
        score = u @ c
        visible = np.arange(v.shape[1])[None, :] < counts[:, None]
        score = np.where(visible, score, -np.inf)
        m = np.where(counts[:, None] > 0, score.max(axis=1, keepdims=True), 0)
        a = np.where(visible, np.exp(score - m), 0)
        z = a.sum(axis=1, keepdims=True)
        weights = np.where(z > 0, a / np.where(z > 0, z, 1), 0)
        return (weights[:, :, None] * v).sum(axis=1)

    b, s, t, d = x.shape
    sv = pool(x.reshape(b * s, t, d), ww, bw, cw, words.reshape(-1)).reshape(b, s, d)
    return pool(sv, ws, bs, cs, sents)


for backend in backends():
    for c in HAN_CASES:
        b, s, t, d, da = c["b"], c["s"], c["t"], c["d"], c["da"]
        arrs = dict(x=rng.standard_normal((b, s, t, d)), ww=rng.standard_normal((da, d)) / np.sqrt(d),
                    ws=rng.standard_normal((da, d)) / np.sqrt(d), bw=rng.standard_normal(da) / 2,
                    bs=rng.standard_normal(da) / 2, cw=rng.standard_normal(da), cs=rng.standard_normal(da))
        arrs = {n: a.astype(np.float32) for n, a in arrs.items()}
        words = np.where(np.arange(b * s).reshape(b, s) % 3 == 1, 0, rng.integers(1, t + 1, (b, s)))
        words[0, 0] = t
        sents = np.array([s, 0, 1][:b]) if c["pad"] else np.full(b, s)
        if not c["pad"]:
            words = np.full((b, s), t)
        files = {n: os.path.join(tmp, n + ".npy") for n in (*arrs, "words", "sents", "o")}
        for n, a in arrs.items():
            np.save(files[n], a)
        np.save(files["words"], words.astype(np.int32))
        np.save(files["sents"], sents.astype(np.int64))
        problem = f"op=han,b={b},s={s},t={t},d={d},da={da}"
        args = [BIN, "run", "--backend", backend, "--problem", problem, "--out", files["o"]]
        for n in arrs:
            args += ["--" + n, files[n]]
        if c["pad"]:
            args += ["--words", files["words"], "--sents", files["sents"]]
        o = run_backend(args, backend, problem, files["o"])
        if o is None:
            continue
        f64 = {n: a.astype(np.float64) for n, a in arrs.items()}
        want = numpy_han(f64["x"], f64["ww"], f64["bw"], f64["cw"], f64["ws"], f64["bs"], f64["cs"], words, sents)
        # Unit-normal inputs, weights scaled by 1/sqrt(d): every stage of order one; a skipped tanh, a missing
        # bias or a wrong count moves outputs by 1e-1.
        err = np.abs(o - want).max()
        if o.shape != want.shape or not np.isfinite(o).all() or err > 2e-5 * max(1.0, np.abs(want).max()):
            failures.append(f"{backend} {problem}: max error {err:.3g}")
        else:
            passed += 1

# The seq2seq family (score=, mode=), written from the spec's formulas (README.md), per query row t of
# head hd: scores e_j, the keys the mask and the window let through, then the row's output. A row may
# have more than one right answer where float32 arithmetic can decide either way: hard's argmax among
# keys scoring within SLACK of the best, local-p's window edge when a key lies within SLACK of it; the
# row passes against the nearest of its answers.
SLACK = 1e-4
S2S_CASES = [
    dict(b=2, h=4, hkv=2, lq=13, lk=21, d=12, dv=7, score="dot", mask="causal"),
    dict(b=2, h=4, hkv=2, lq=13, lk=21, d=12, dv=7, score="general", mask="none"),
    dict(b=1, h=2, hkv=2, lq=9, lk=9, d=5, dv=5, score="general", scale=0.5, mask="causal-tl"),
    dict(b=3, h=4, hkv=1, lq=6, lk=19, d=8, dv=10, da=9, score="additive", mask="pad"),
    dict(b=1, h=3, hkv=3, lq=11, lk=17, d=16, dv=16, score="cosine", mask="none"),
    dict(b=2, h=2, hkv=1, lq=7, lk=15, d=12, dv=9, mode="hard", mask="pad"),
    dict(b=2, h=4, hkv=2, lq=13, lk=21, d=12, dv=7, mode="local-m", window=3, mask="causal"),
    dict(b=1, h=2, hkv=2, lq=21, lk=13, d=8, dv=8, mode="local-m", window=0, mask="none"),
    dict(b=3, h=2, hkv=2, lq=9, lk=30, d=16, dv=6, mode="local-p", window=4, da=6, mask="pad"),
    dict(b=1, h=2, hkv=1, lq=8, lk=40, d=12, dv=12, mode="local-p", window=1, mask="none"),
    dict(b=2, h=2, hkv=2, lq=10, lk=14, d=7, dv=5, da=11, score="additive", mode="hard", mask="causal"),
    dict(b=1, h=4, hkv=2, lq=12, lk=25, d=12, dv=12, da=5, score="general", mode="local-p", window=2, mask="none"),
    dict(b=2, h=2, hkv=2, lq=13, lk=13, d=9, dv=4, score="cosine", mode="local-m", window=5, mask="pad"),
    dict(b=1, h=2, hkv=2, lq=9, lk=21, d=10, dv=6, da=7, score="additive", mode="local-p", window=3,
         mask="causal"),
    dict(b=1, h=3, hkv=1, lq=5, lk=12, d=6, dv=6, score="cosine", mode="hard", mask="none"),
    dict(b=1, h=2, hkv=2, lq=6, lk=11, d=8, dv=3, score="dot", mode="local-m", window=40, mask="none"),
]
# Weights and their shapes, by the score or mode that uses them.
S2S_WEIGHTS = dict(general=("w",), additive=("w1", "w2", "u"), **{"local-p": ("wp", "vp")})


def s2s_weights(c, da):
    d = c["d"]
    shapes = dict(w=(d, d), w1=(da, d), w2=(da, d), u=(da,), wp=(da, d), vp=(da,))
    scale = dict(w=1 / np.sqrt(d), w1=1 / np.sqrt(d), w2=1 / np.sqrt(d), u=1.0, wp=1 / np.sqrt(d),
                 vp=4 / np.sqrt(da))
    names = S2S_WEIGHTS.get(c.get("score"), ()) + S2S_WEIGHTS.get(c.get("mode"), ())
    return {n: (rng.standard_normal(shapes[n]) * scale[n]).astype(np.float32) for n in names}


def unit_rows(x):
    """x / |x| along the last axis; a zero vector stays zero (the spec's rule)."""
    norm = np.sqrt((x * x).sum(axis=-1, keepdims=True))
    return np.where(norm > 0, x / np.where(norm > 0, norm, 1), 0)


def s2s_scores(q, k, c, wt):
    """e [b, h, lq, lk] in float64; k already repeated to h heads."""
    score = c.get("score", "scaled")
    scale = c.get("scale", 1 / np.sqrt(c["d"]) if score == "scaled" else 1.0)
    if score in ("scaled", "dot"):
        return scale * q @ k.transpose(0, 1, 3, 2)
    if score == "general":
        return scale * (q @ wt["w"]) @ k.transpose(0, 1, 3, 2)
    if score == "cosine":
        return scale * unit_rows(q) @ unit_rows(k).transpose(0, 1, 3, 2)
    keys, queries = k @ wt["w1"].T, q @ wt["w2"].T  # [b, h, lk, da], [b, h, lq, da]
    return np.tanh(queries[:, :, :, None, :] + keys[:, :, None, :, :]) @ wt["u"]


def s2s_answers(e, v, vis, centre, c):
    """Every admissible output of one row: scores e [lk], values v [lk, dv], mask prefix vis [lk]."""
    mode, window, lk = c.get("mode", "soft"), c.get("window", 0), len(e)
    j = np.arange(lk)
    if mode == "hard":
        if not vis.any():
            return [np.zeros(v.shape[1])]
        best = e[vis].max()
        return [v[x] for x in j[vis & (e >= best - SLACK)]]
    dist = np.abs(j - centre)
    inside = [dist <= window]
    if mode == "local-p":  # a key within SLACK of the window's edge may fall either side of it
        edge = np.abs(dist - window) <= SLACK
        for flip in range(1, 2 ** min(int(edge.sum()), 2)):
            alt = inside[0].copy()
            for bit, x in enumerate(j[edge][:2]):
                if flip >> bit & 1:
                    alt[x] = not alt[x]
            inside.append(alt)
    outs = []
    for ins in inside:
        keep = vis & (ins if mode in ("local-m", "local-p") else True)
        if not keep.any():
            outs.append(np.zeros(v.shape[1]))
            continue
        a = np.where(keep, np.exp(e - e[keep].max()), 0)
        a /= a.sum()
        if mode == "local-p":
            a = a * np.exp(-2 * (j - centre) ** 2 / window ** 2)
        outs.append(a @ v)
    return outs


def numpy_s2s(q, k, v, lens, c, wt):
    """The row-wise admissible outputs [b][h][lq] -> list of arrays [dv], in float64."""
    b, h, lq, _ = q.shape
    hkv, lk = k.shape[1], k.shape[2]
    k, v = np.repeat(k, h // hkv, axis=1), np.repeat(v, h // hkv, axis=1)
    e = s2s_scores(q, k, c, wt)
    if c.get("mode") == "local-p":
        centres = lk / (1 + np.exp(-(np.tanh(q @ wt["wp"].T) @ wt["vp"])))  # [b, h, lq]
    out = {}
    for bi, hd, t in itertools.product(range(b), range(h), range(lq)):
        end = {"none": lk, "causal": t + lk - lq + 1, "causal-tl": t + 1, "pad": lens[bi]}[c["mask"]]
        vis = np.arange(lk) < end
        centre = centres[bi, hd, t] if c.get("mode") == "local-p" else t + lk - lq
        out[bi, hd, t] = s2s_answers(e[bi, hd, t], v[bi, hd], vis, centre, c)
    return out


def s2s_problem(c):
    return ",".join(f"{key}={val}" for key, val in c.items())


def run_s2s(backend, c, args, out):
    """Output of `run`, None if the backend declined with a reason; a decline without one, a crash or
    naive declining (the floor implements every variant) is a failure."""
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode == 0:
        return np.load(out).astype(np.float64)
    lines = r.stderr.strip().splitlines()
    why = lines[0].partition("declines the problem: ")[2] if len(lines) == 1 else ""
    if r.returncode == 2 and why and backend != "naive":
        print(f"SKIP {backend} {s2s_problem(c)}: declined: {why}")
        declined.append((backend, s2s_problem(c)))
        return None
    failures.append(f"{backend} {s2s_problem(c)}: exit {r.returncode}: {r.stderr.strip()}")
    return None


declined = []
for c in S2S_CASES:
    da = c.get("da", c["d"])
    q = rng.standard_normal((c["b"], c["h"], c["lq"], c["d"])).astype(np.float32)
    k = rng.standard_normal((c["b"], c["hkv"], c["lk"], c["d"])).astype(np.float32)
    v = rng.standard_normal((c["b"], c["hkv"], c["lk"], c["dv"])).astype(np.float32)
    if c.get("score") == "cosine":  # a zero query and a zero key: their scores are 0 exactly
        q[0, 0, 1] = 0
        k[0, 0, 2] = 0
    wt = s2s_weights(c, da)
    lens = np.array([c["lk"], 0, c["lk"] // 2][: c["b"]], dtype=np.int32)
    files = {n: os.path.join(tmp, n + ".npy") for n in ("q", "k", "v", "lens", "o", *wt)}
    for n, a in (("q", q), ("k", k), ("v", v), ("lens", lens), *wt.items()):
        np.save(files[n], a)
    f64 = lambda a: a.astype(np.float64)
    want = numpy_s2s(f64(q), f64(k), f64(v), lens, c, {n: f64(a) for n, a in wt.items()})
    for backend in backends():
        args = [BIN, "run", "--backend", backend, "--problem", s2s_problem(c), "--q", files["q"], "--k", files["k"],
                "--v", files["v"], "--out", files["o"]]
        args += ["--lens", files["lens"]] if c["mask"] == "pad" else []
        for n in wt:
            args += ["--" + n, files[n]]
        o = run_s2s(backend, c, args, files["o"])
        if o is None:
            continue
        if o.shape != (c["b"], c["h"], c["lq"], c["dv"]) or not np.isfinite(o).all():
            failures.append(f"{backend} {s2s_problem(c)}: shape {o.shape} or non-finite outputs")
            continue
        # As above: float32 errors of a few 1e-7 on unit-normal inputs; the additive score sums da tanh
        # approximations, local-p scales by a Gaussian of a computed centre, so 1e-4 of the values' range,
        # while a transposed weight, a swapped W1/W2, a window off by one or a missed Gaussian moves
        # outputs by 1e-1.
        err = max(min(np.abs(o[key] - a).max() for a in answers) for key, answers in want.items())
        if err > 1e-4 * max(1.0, np.abs(v).max()):
            failures.append(f"{backend} {s2s_problem(c)}: max error {err:.3g}")
        else:
            passed += 1
print(f"seq2seq: {len(declined)} declined case(s)")

for f in failures:
    print("FAIL", f)
print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures or passed == 0 else 0)
