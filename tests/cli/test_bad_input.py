#!/usr/bin/env python3
"""Every kind of bad input gets a one-line error and exit status 2 from
attnbench, never a crash or a hang, and never clobbers an earlier result.
Usage: test_bad_input.py ATTNBENCH_BINARY"""
from clicheck import error_problems
import json, os, subprocess, sys, tempfile

import numpy as np

BIN = sys.argv[1]
failures, passed = [], 0


def run(*args, timeout=120):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout)


def expect_error(name, args, needle, status=2):
    global passed
    r = run(*args)
    problems = error_problems(r, needle, status)
    if problems:
        failures.append(f"{name}: " + "; ".join(problems))
    else:
        passed += 1


P = "b=2,h=4,hkv=2,lq=5,lk=7,d=8,dv=6"
tmp = tempfile.mkdtemp()
path = lambda n: os.path.join(tmp, n)
rng = np.random.default_rng(1)
np.save(path("q.npy"), rng.standard_normal((2, 4, 5, 8)).astype(np.float32))
np.save(path("k.npy"), rng.standard_normal((2, 2, 7, 8)).astype(np.float32))
np.save(path("v.npy"), rng.standard_normal((2, 2, 7, 6)).astype(np.float32))
np.save(path("q64.npy"), rng.standard_normal((2, 4, 5, 8)))
np.save(path("qfortran.npy"), np.asfortranarray(rng.standard_normal((2, 4, 5, 8)).astype(np.float32)))
np.save(path("lens_bad.npy"), np.array([3, 9], dtype=np.int32))
np.save(path("lens_shape.npy"), np.array([3, 1, 2], dtype=np.int64))
with open(path("q.npy"), "rb") as f:
    good = f.read()
with open(path("truncated.npy"), "wb") as f:
    f.write(good[:-10])
with open(path("trailing.npy"), "wb") as f:
    f.write(good + b"\0\0\0\0")
with open(path("garbage.npy"), "wb") as f:
    f.write(b"this is not a numpy file at all, just text\n")
with open(path("badheader.npy"), "wb") as f:
    f.write(good[:10] + b"{'descr': <f4', 'shape': (2,}" + good[10 + 29:])
# Found by fuzz_npy: a control character inside the dtype once broke the
# message over two lines.
with open(path("ctrldtype.npy"), "wb") as f:
    f.write(good.replace(b"'<f4'", b"'<f\n4'", 1))
QKV = ["--q", path("q.npy"), "--k", path("k.npy"), "--v", path("v.npy")]
OUT = ["--out", path("o.npy")]

# Malformed problem strings, through each subcommand that takes them.
for cmd in (["check", "--backend", "naive"], ["bench", "--backend", "naive"]):
    c = cmd[0]
    expect_error(f"{c} missing d", [*cmd, "--problem", "h=1,lq=2"], "'d' is required")
    expect_error(f"{c} unknown key", [*cmd, "--problem", "h=1,lq=2,d=4,foo=1"], "unknown key 'foo'")
    expect_error(f"{c} bad number", [*cmd, "--problem", "h=1,lq=2.5,d=4"], "'lq'")
    expect_error(f"{c} zero size", [*cmd, "--problem", "h=0,lq=2,d=4"], "'h'")
    expect_error(f"{c} negative size", [*cmd, "--problem", "h=1,lq=2,d=-4"], "'d'")
    expect_error(f"{c} hkv", [*cmd, "--problem", "h=4,hkv=3,lq=2,d=4"], "'hkv'")
    expect_error(f"{c} mask", [*cmd, "--problem", "h=1,lq=2,d=4,mask=sliding"], "'mask'")
    expect_error(f"{c} unaddressable", [*cmd, "--problem", "h=100000,lq=100000000,d=100000000"], "too large to address")
    expect_error(f"{c} no memory", [*cmd, "--problem", "h=64,lq=1000000,d=4096"], "of memory is available")
    # Every case declined: nothing was checked or measured, which is no success.
    expect_error(f"{c} every case declined", [c, "--backend", "blas", "--problem", "h=2,lq=13,lk=17,d=13,score=additive"],
                 "every backend declined every problem" if c == "check" else "no case was measured")
    # The refusal names the problem as given, not the workload's internal attention.
    expect_error(f"{c} no memory, op=mha", [*cmd, "--problem", "op=mha,h=64,lq=100000,d=128,dm=8192"],
                 "problem op=mha,b=1,h=64,hkv=64,lq=100000,lk=100000,d=128,dv=128,dm=8192,mask=none needs")
    expect_error(f"{c} no memory, op=han", [*cmd, "--problem", "op=han,b=1000,s=1000,t=1000,d=128,da=64"],
                 "problem op=han,b=1000,s=1000,t=1000,d=128,da=64 needs")
    expect_error(f"{c} no memory, op=decode", [*cmd, "--problem", "op=decode,b=100,h=64,lk=1000000,steps=100,d=128"],
                 "problem op=decode,b=100,h=64,hkv=64,lq=1,lk=1000000,steps=100,d=128,dv=128,mask=none needs")
    expect_error(f"{c} typo after good", [*cmd, "--problem", "h=1,lq=2,d=4", "--problem", "h=1,lq=2,d=4,"], "empty item")
    expect_error(f"{c} unknown backend", [c, "--backend", "nosuch", "--problem", "h=1,lq=2,d=4"], "unknown backend 'nosuch'")
    expect_error(f"{c} unknown suite", [c, "--suite", "nosuch"], "neither a built-in suite")
    expect_error(f"{c} threads", [*cmd, "--threads", "0"], "--threads")
    expect_error(f"{c} stray argument", [*cmd, "stray"], "unexpected argument 'stray'")
    # Found by fuzz_problem: the quoted input once carried its newline into the message.
    expect_error(f"{c} control characters", [*cmd, "--problem", "h=1,0h\n4,d=4"], "'0h?4'")
    # score=, mode=, window= and da= (the seq2seq family): unknown names, a local mode without its
    # window, a window without a local mode, local-p's sigma = window/2 = 0, a scale for a score that
    # has none, and the keys on an op other than attn.
    expect_error(f"{c} bad score", [*cmd, "--problem", "h=1,lq=2,d=4,score=luong"], "problem key 'score': 'luong' is not scaled, dot, general, additive or cosine")
    expect_error(f"{c} bad mode", [*cmd, "--problem", "h=1,lq=2,d=4,mode=local"], "problem key 'mode': 'local' is not soft, hard, local-m or local-p")
    expect_error(f"{c} local-m without window", [*cmd, "--problem", "h=1,lq=2,d=4,mode=local-m"], "mode=local-m needs window=D")
    expect_error(f"{c} local-p without window", [*cmd, "--problem", "h=1,lq=2,d=4,mode=local-p"], "mode=local-p needs window=D")
    expect_error(f"{c} window without local", [*cmd, "--problem", "h=1,lq=2,d=4,mode=hard,window=2"], "'window': only meaningful with mode=local-m or mode=local-p")
    expect_error(f"{c} local-p window=0", [*cmd, "--problem", "h=1,lq=2,d=4,mode=local-p,window=0"], "local-p needs window >= 1 (sigma = window/2)")
    expect_error(f"{c} negative window", [*cmd, "--problem", "h=1,lq=2,d=4,mode=local-m,window=-1"], "'window'")
    expect_error(f"{c} scale with additive", [*cmd, "--problem", "h=1,lq=2,d=4,score=additive,scale=0.5"], "scale= does not apply to score=additive")
    expect_error(f"{c} da with general", [*cmd, "--problem", "h=1,lq=2,d=4,score=general,da=3"], "'da': only meaningful")
    expect_error(f"{c} score with decode", [*cmd, "--problem", "op=decode,h=1,lk=4,steps=2,d=4,score=dot"], "'score': only meaningful with op=attn")
    expect_error(f"{c} mode with mha", [*cmd, "--problem", "op=mha,h=1,lq=2,d=4,dm=8,mode=hard"], "'mode': only meaningful with op=attn")
expect_error("bench format", ["bench", "--format", "xml"], "--format")
expect_error("bench sweep", ["bench", "--lq", "64"], "a sweep needs")
expect_error("unknown command", ["frobnicate"], "unknown command")

# run: missing, corrupt and mismatched files.
expect_error("run missing out", ["run", "--backend", "naive", "--problem", P, *QKV], "--out is required")
# An option given twice: which value counted would be a guess.
expect_error("run --q twice", ["run", "--backend", "naive", "--problem", P, *QKV, "--q", QKV[1], *OUT], "--q given twice")
expect_error("run --problem twice", ["run", "--backend", "naive", "--problem", P, "--problem", P, *QKV, *OUT],
             "--problem given twice")
expect_error("run --backend twice", ["run", "--backend", "naive", "--backend", "avx2", "--problem", P, *QKV, *OUT],
             "--backend given twice")
expect_error("run missing file", ["run", "--backend", "naive", "--problem", P, "--q", path("none.npy"), *QKV[2:], *OUT], "cannot open")
for name, needle in [("truncated", "truncated or corrupt"), ("trailing", "truncated or corrupt"),
                     ("garbage", "not a .npy file"), ("badheader", "malformed"), ("q64", "is not float32"),
                     ("qfortran", "Fortran-order"), ("ctrldtype", "dtype '<f?4'")]:
    expect_error(f"run {name}", ["run", "--backend", "naive", "--problem", P, "--q", path(name + ".npy"), *QKV[2:], *OUT], needle)
expect_error("run shape", ["run", "--backend", "naive", "--problem", P.replace("dv=6", "dv=5"), *QKV, *OUT], "does not match the problem's (2, 2, 7, 5)")
expect_error("run lens range", ["run", "--backend", "naive", "--problem", P + ",mask=pad", *QKV, "--lens", path("lens_bad.npy"), *OUT], "outside 0..lk=7")
expect_error("run lens shape", ["run", "--backend", "naive", "--problem", P + ",mask=pad", *QKV, "--lens", path("lens_shape.npy"), *OUT], "want int32 or int64 of shape (2,)")
expect_error("run pad without lens", ["run", "--backend", "naive", "--problem", P + ",mask=pad", *QKV, *OUT], "needs --lens")
expect_error("run unwritable", ["run", "--backend", "naive", "--problem", P, *QKV, "--out", path("no/such/dir/o.npy")], "cannot write")

# run op=mha: a missing weight, a weight of the wrong shape, X_kv where the
# problem says self-attention, none where lk != lq, Q/K/V files for a layer.
M = "op=mha,b=2,h=4,hkv=2,lq=5,lk=7,d=8,dv=6,dm=12"
for n, shape in [("xq", (2, 5, 12)), ("xkv", (2, 7, 12)), ("wq", (12, 32)), ("wk", (12, 16)), ("wv", (12, 12)),
                 ("wo", (24, 12)), ("wv_t", (12, 12 + 1))]:
    np.save(path(n + ".npy"), rng.standard_normal(shape).astype(np.float32))
np.save(path("wq_t.npy"), rng.standard_normal((32, 12)).astype(np.float32))
X = ["--xq", path("xq.npy"), "--xkv", path("xkv.npy")]
W = {n: ["--" + n, path(n + ".npy")] for n in ("wq", "wk", "wv", "wo")}
ALLW = W["wq"] + W["wk"] + W["wv"] + W["wo"]
expect_error("run mha missing weight", ["run", "--backend", "naive", "--problem", M, *X, *W["wq"], *W["wk"], *W["wo"], *OUT], "--wv (op=mha) is required")
expect_error("run mha transposed weight", ["run", "--backend", "naive", "--problem", M, *X, "--wq", path("wq_t.npy"), *ALLW[2:], *OUT], "shape (32, 12) does not match the problem's (12, 32)")
expect_error("run mha wrong width", ["run", "--backend", "naive", "--problem", M, *X, *W["wq"], *W["wk"], "--wv", path("wv_t.npy"), *W["wo"], *OUT], "does not match the problem's (12, 12)")
expect_error("run mha xkv for self", ["run", "--backend", "naive", "--problem", M.replace("lk=7", "lk=5") + ",self=1", *X, *ALLW, *OUT], "drop --xkv")
expect_error("run mha no xkv", ["run", "--backend", "naive", "--problem", M, "--xq", path("xq.npy"), *ALLW, *OUT], "--xkv is required when lk=7")
expect_error("run mha with q", ["run", "--backend", "naive", "--problem", M, *X, *ALLW, "--q", path("q.npy"), *OUT], "--q does not apply to op=mha")
expect_error("run mha dm missing", ["run", "--backend", "naive", "--problem", "op=mha,h=1,lq=2,d=4", *X, *ALLW, *OUT], "'dm' is required")
# run op=han: a missing weight, a weight of the wrong shape, counts of the wrong shape or range, and
# keys that op=han derives itself.
H = "op=han,b=2,s=3,t=4,d=5,da=6"
np.save(path("hx.npy"), rng.standard_normal((2, 3, 4, 5)).astype(np.float32))
np.save(path("hw.npy"), rng.standard_normal((6, 5)).astype(np.float32))
np.save(path("hw_t.npy"), rng.standard_normal((5, 6)).astype(np.float32))
np.save(path("hv.npy"), rng.standard_normal(6).astype(np.float32))
np.save(path("hwords.npy"), np.array([[4, 0, 1], [2, 3, 4]], dtype=np.int32))
np.save(path("hwords_t.npy"), np.array([[4, 0], [1, 2], [3, 4]], dtype=np.int32))
np.save(path("hsents_big.npy"), np.array([3, 4], dtype=np.int64))
HW = {n: ["--" + n, path("hw.npy" if n[0] == "w" else "hv.npy")] for n in ("ww", "bw", "cw", "ws", "bs", "cs")}
HALL = ["--x", path("hx.npy")] + [a for n in HW for a in HW[n]]
expect_error("run han missing weight", ["run", "--backend", "naive", "--problem", H, *HALL[:2], *HW["ww"], *HW["bw"], *HW["cw"], *HW["ws"], *HW["cs"], *OUT], "--bs (op=han) is required")
expect_error("run han transposed weight", ["run", "--backend", "naive", "--problem", H, *HALL[:2], *HW["ww"], *HW["bw"], *HW["cw"], "--ws", path("hw_t.npy"), *HW["bs"], *HW["cs"], *OUT], "--ws %s: shape (5, 6) does not match the problem's (6, 5)" % path("hw_t.npy"))
expect_error("run han words shape", ["run", "--backend", "naive", "--problem", H, *HALL, "--words", path("hwords_t.npy"), *OUT], "want int32 or int64 of shape (2, 3)")
expect_error("run han sents range", ["run", "--backend", "naive", "--problem", H, *HALL, "--words", path("hwords.npy"), "--sents", path("hsents_big.npy"), *OUT], "outside 0..s=3")
expect_error("run han with q", ["run", "--backend", "naive", "--problem", H, *HALL, "--q", path("q.npy"), *OUT], "--q does not apply to op=han")
expect_error("run han pad", ["run", "--backend", "naive", "--problem", H + ",pad=1", *HALL, *OUT], "give them as --words and --sents")
expect_error("check han with h", ["check", "--backend", "naive", "--problem", H + ",h=2"], "problem key 'h': not a key of op=han")
expect_error("check han with mask", ["check", "--backend", "naive", "--problem", H + ",mask=pad"], "problem key 'mask': not a key of op=han")
expect_error("check han without da", ["check", "--backend", "naive", "--problem", "op=han,s=2,t=3,d=4"], "'da' is required for op=han")
expect_error("check da without han", ["check", "--backend", "naive", "--problem", "h=1,lq=2,d=4,da=8"], "only meaningful with op=han")
expect_error("check dm without mha", ["check", "--backend", "naive", "--problem", "h=1,lq=2,d=4,dm=8"], "only meaningful with op=mha")
expect_error("check self with lk", ["check", "--backend", "naive", "--problem", "op=mha,h=1,lq=2,lk=3,d=4,dm=8,self=1"], "lk must equal lq")

# run with weights: each one the problem uses is required, none other is taken, and a shape that does
# not fit names its file.
for n, shape in [("w", (8, 8)), ("w1", (5, 8)), ("w2", (5, 8)), ("u", (5,)), ("wp", (5, 8)), ("vp", (5,)),
                 ("w1_t", (8, 5)), ("u_2d", (5, 1)), ("w_64", (8, 8))]:
    a = rng.standard_normal(shape)
    np.save(path(n + ".npy"), a if n.endswith("64") else a.astype(np.float32))
WT = {n: ["--" + n, path(n + ".npy")] for n in ("w", "w1", "w2", "u", "wp", "vp")}
RUN = ["run", "--backend", "naive", "--problem"]
ADD = P + ",score=additive,da=5"
LP = P + ",mode=local-p,window=2,da=5"
expect_error("run general without --w", [*RUN, P + ",score=general", *QKV, *OUT], "--w is required for score=general")
expect_error("run additive without --u", [*RUN, ADD, *QKV, *WT["w1"], *WT["w2"], *OUT], "--u is required for score=additive")
expect_error("run additive without --w1", [*RUN, ADD, *QKV, *WT["w2"], *WT["u"], *OUT], "--w1 is required for score=additive")
expect_error("run local-p without --vp", [*RUN, LP, *QKV, *WT["wp"], *OUT], "--vp is required for mode=local-p")
expect_error("run --w for scaled", [*RUN, P, *QKV, *WT["w"], *OUT], "--w does not apply to this problem")
expect_error("run --wp for additive", [*RUN, ADD, *QKV, *WT["w1"], *WT["w2"], *WT["u"], *WT["wp"], *OUT], "--wp does not apply to this problem")
expect_error("run --w1 for local-m", [*RUN, P + ",mode=local-m,window=1", *QKV, *WT["w1"], *OUT], "--w1 does not apply")
expect_error("run --u for mha", [*RUN, M, *X, *ALLW, *WT["u"], *OUT], "--u does not apply")
expect_error("run transposed --w1", [*RUN, ADD, *QKV, "--w1", path("w1_t.npy"), *WT["w2"], *WT["u"], *OUT], "--w1 %s: shape (8, 5) does not match the problem's (5, 8)" % path("w1_t.npy"))
expect_error("run 2-d --u", [*RUN, ADD, *QKV, *WT["w1"], *WT["w2"], "--u", path("u_2d.npy"), *OUT], "--u %s: shape (5, 1) does not match the problem's (5,)" % path("u_2d.npy"))
expect_error("run --w of other shape", [*RUN, P + ",score=general", *QKV, "--w", path("w1.npy"), *OUT], "--w %s: shape (5, 8) does not match the problem's (8, 8)" % path("w1.npy"))
expect_error("run float64 --w", [*RUN, P + ",score=general", *QKV, "--w", path("w_64.npy"), *OUT], "--w %s: dtype '<f8' is not float32" % path("w_64.npy"))
expect_error("run --wp of other da", [*RUN, P + ",mode=local-p,window=2,da=4", *QKV, *WT["wp"], *WT["vp"], *OUT], "--wp %s: shape (5, 8) does not match the problem's (4, 8)" % path("wp.npy"))
expect_error("run missing --vp file", [*RUN, LP, *QKV, *WT["wp"], "--vp", path("none.npy"), *OUT], "cannot open")

# Earlier results survive a failed run and are replaced whole by a good one.
results = path("results.json")
with open(results, "w") as f:
    f.write('{"earlier": true}\n')
expect_error("bench keeps earlier results", ["bench", "--backend", "naive", "--problem", "h=1,lq=2", "--format", "json", "--out", results], "'d' is required")
with open(results) as f:
    ok = json.load(f) == {"earlier": True}
passed += ok
if not ok:
    failures.append("an earlier result file was changed by a failed bench")
r = run("bench", "--backend", "naive", "--problem", "h=1,lq=16,d=8", "--reps", "2", "--min-time", "0", "--format", "json", "--out", results)
with open(results) as f:
    doc = json.load(f)
ok = r.returncode == 0 and doc["benchmarks"][0]["problem"] == "b=1,h=1,hkv=1,lq=16,lk=16,d=8,dv=8,mask=none"
passed += ok
if not ok:
    failures.append(f"bench --out did not write a complete result: {r.stderr}")
leftovers = [n for n in os.listdir(tmp) if ".tmp." in n]
passed += not leftovers
if leftovers:
    failures.append(f"temporary files left behind: {leftovers}")

# Runtime dispatch: with the ISA capped, SIMD backends are listed as not
# runnable, refuse to be selected, and the rest still pass the quick suite.
env = dict(os.environ, ATTNBENCH_MAX_ISA="sse4.2")
listing = subprocess.run([BIN, "list"], capture_output=True, text=True, env=env).stdout
runnable = [l.split()[0] for l in listing.splitlines() if l[:1].strip() and "(compiled in, but" not in l]
hidden = [l.split()[0] for l in listing.splitlines() if "(compiled in, but" in l]
ok = "naive" in runnable and not any("avx" in n for n in runnable)
passed += ok
if not ok:
    failures.append(f"ATTNBENCH_MAX_ISA=sse4.2 still lists SIMD backends: {runnable}")
for name in hidden:
    r = subprocess.run([BIN, "check", "--backend", name], capture_output=True, text=True, env=env)
    ok = r.returncode == 2 and "cannot run on this CPU" in r.stderr
    passed += ok
    if not ok:
        failures.append(f"capped ISA: check --backend {name} gave {r.returncode}: {r.stderr.strip()}")
r = subprocess.run([BIN, "check", "--suite", "quick"], capture_output=True, text=True, env=env)
passed += r.returncode == 0
if r.returncode:
    failures.append(f"capped ISA: check --suite quick failed: {r.stdout[-500:]}")

# A sweep's lists multiply: four lists of 64 values would be 16.7 M problems,
# built before the first one runs; more than 100000 is an error at once.
vals = ",".join(str(i) for i in range(1, 65))
expect_error("sweep product cap", ["bench", "--backend", "naive", "--lq", vals, "--lk", vals, "--heads", vals,
                                   "--d", vals], "more than 100000")

# Ambiguous input and trusted files (issue 12, classes 7 and 8).
# .npy headers: NumPy reads the dict with ast.literal_eval, where a key given twice means its last value,
# "(5)" is an int and "Falsey" no bool; each is refused, as is anything past the dict. Every header NumPy
# itself writes or reads, in any key order, with or without a trailing comma, is taken.
def npy_with_header(name, header, src):
    """A copy of src whose header dict is `header`, padded with spaces as NumPy pads it."""
    with open(path(src), "rb") as f:
        raw = f.read()
    body = header.encode("latin1")
    hdr = body + b" " * (-(10 + len(body) + 1) % 64) + b"\n"
    with open(path(name), "wb") as f:
        f.write(raw[:8] + len(hdr).to_bytes(2, "little") + hdr + raw[10 + (raw[8] | raw[9] << 8):])
    return path(name)


np.save(path("lens2.npy"), np.array([3, 7], dtype=np.int32))
Q_SHAPE, F4 = "(2, 4, 5, 8)", "'descr': '<f4', 'fortran_order': False"
for name, header, needle in [
        ("twice", f"{{{F4}, 'shape': (1, 1, 1, 1), 'shape': {Q_SHAPE}, }}", "key 'shape' given twice"),
        ("descr twice", f"{{{F4}, 'descr': '<f8', 'shape': {Q_SHAPE}}}", "key 'descr' given twice"),
        ("falsey", f"{{'descr': '<f4', 'fortran_order': Falsey, 'shape': {Q_SHAPE}}}", "'fortran_order' is neither True nor False"),
        ("order as int", f"{{'descr': '<f4', 'fortran_order': 0, 'shape': {Q_SHAPE}}}", "'fortran_order' is neither True nor False"),
        ("no commas", f"{{{F4}, 'shape': (2 4 5 8), }}", "'shape' needs ',' or ')' after each dimension"),
        ("double comma", f"{{{F4}, 'shape': (2, 4, 5, 8,,), }}", "'shape' holds something other"),
        ("signed dim", f"{{{F4}, 'shape': (2, +4, 5, 8), }}", "'shape' holds something other"),
        ("leading zero", f"{{{F4}, 'shape': (2, 04, 5, 8), }}", "'shape' holds something other"),
        ("float dim", f"{{{F4}, 'shape': (2, 4, 5, 8.0), }}", "'shape' needs ',' or ')'"),
        ("trailing garbage", f"{{{F4}, 'shape': {Q_SHAPE}, }} junk", "bytes after the dict's closing '}'"),
        ("two dicts", f"{{{F4}, 'shape': {Q_SHAPE}}}{{}}", "bytes after the dict's closing '}'"),
        ("unknown key", f"{{{F4}, 'shape': {Q_SHAPE}, 'order': 'C'}}", "unknown key 'order'"),
        ("missing key", f"{{'descr': '<f4', 'shape': {Q_SHAPE}}}", "key 'fortran_order' missing"),
        ("no dict", f"{F4}, 'shape': {Q_SHAPE}", "not a dict"),
        ("unclosed", f"{{{F4}, 'shape': {Q_SHAPE}, ", "expected a quoted key"),
        ("key in a value", f"{{'descr': '<f4', 'fortran_order': False, 'x': \"'shape': {Q_SHAPE}\"}}", "unknown key 'x'"),
        ("escaped descr", f"{{'descr': '<f\\x34', 'fortran_order': False, 'shape': {Q_SHAPE}}}", "'descr' is not a quoted dtype"),
        ("NUL in descr", f"{{'descr': '<f4\0', 'fortran_order': False, 'shape': {Q_SHAPE}}}", "'descr' is not a quoted dtype")]:
    f = npy_with_header(name.replace(" ", "_") + ".npy", header, "q.npy")
    expect_error(f"run header {name}", [*RUN, P, "--q", f, *QKV[2:], *OUT], f"--q: {f}: malformed .npy header: {needle}")
with open(path("q.npy"), "rb") as f:
    raw = f.read()
with open(path("minor1.npy"), "wb") as f:  # format 1.1: no such version
    f.write(raw[:7] + b"\x01" + raw[8:])
expect_error("run format 1.1", [*RUN, P, "--q", path("minor1.npy"), *QKV[2:], *OUT], "bad magic or version")
f = npy_with_header("lens_int.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (2)}", "lens2.npy")
expect_error("run header (N) is no tuple", [*RUN, P + ",mask=pad", *QKV, "--lens", f, *OUT], "'shape' (N) is an int")
r = run(*RUN, P + ",mask=pad", *QKV, "--lens", path("lens2.npy"), "--out", path("o_base.npy"))
with open(path("o_base.npy"), "rb") as f:
    base = f.read() if r.returncode == 0 else None
for name, header, src in [
        ("numpy's", f"{{{F4}, 'shape': {Q_SHAPE}, }}", "q.npy"),
        ("no trailing comma", f"{{{F4}, 'shape': {Q_SHAPE}}}", "q.npy"),
        ("keys reordered", f"{{'shape': {Q_SHAPE}, 'fortran_order': False, 'descr': '<f4'}}", "q.npy"),
        ("no spaces", "{'descr':'<f4','fortran_order':False,'shape':(2,4,5,8)}", "q.npy"),
        ("spaces", f"{{ 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 2 , 4 , 5 , 8 , ) , }}", "q.npy"),
        ("1-d (N,)", "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", "lens2.npy")]:
    f = npy_with_header("ok_" + name.replace(" ", "_") + ".npy", header, src)
    args = [*QKV, "--lens", f] if src == "lens2.npy" else ["--q", f, *QKV[2:], "--lens", path("lens2.npy")]
    r = run(*RUN, P + ",mask=pad", *args, *OUT)
    with open(path("o.npy"), "rb") as o:
        ok = r.returncode == 0 and base is not None and o.read() == base
    passed += ok
    if not ok:
        failures.append(f"run header {name}: not read as NumPy reads it: exit {r.returncode}, {r.stderr.strip()}")

# run --lens: only for mask=pad, and given both as a file and as lens= they must agree.
expect_error("run --lens without pad", [*RUN, P, *QKV, "--lens", path("lens2.npy"), *OUT], "--lens applies only to mask=pad (this problem has mask=none)")
expect_error("run --lens with causal", [*RUN, P + ",mask=causal", *QKV, "--lens", path("lens2.npy"), *OUT], "mask=causal")
expect_error("run --lens for mha without pad", [*RUN, M, *X, *ALLW, "--lens", path("lens2.npy"), *OUT], "--lens applies only to mask=pad")
expect_error("run --lens contradicts lens=", [*RUN, P + ",mask=pad,lens=3:6", *QKV, "--lens", path("lens2.npy"), *OUT], "batch 1's length 7 contradicts lens= in the problem string (6)")
r = run(*RUN, P + ",mask=pad,lens=3:7", *QKV, "--lens", path("lens2.npy"), *OUT)
passed += r.returncode == 0
if r.returncode:
    failures.append(f"run --lens agreeing with lens= refused: {r.stderr.strip()}")
# run computes with one backend: all, or a list, is refused rather than cut to its first.
expect_error("run --backend all", ["run", "--backend", "all", "--problem", P, *QKV, *OUT], "--backend all; run computes with exactly one backend")
expect_error("run --backend list", ["run", "--backend", "naive,naive", "--problem", P, *QKV, *OUT], "names more than one; run computes with exactly one")

# ATTNBENCH_MAX_ISA: a name it does not know is refused by every command at startup, not taken as sse4.2.
for value in ("garbage", "AVX2", "avx2 ", "sse4"):
    for cmd in (["list"], ["info"], ["check", "--backend", "naive", "--problem", "h=1,lq=2,d=4"], ["bench"],
                ["run", "--backend", "naive", "--problem", P, *QKV, *OUT], ["compare", "a.json", "b.json"]):
        r = subprocess.run([BIN, *cmd], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, ATTNBENCH_MAX_ISA=value))
        problems = error_problems(r, "ATTNBENCH_MAX_ISA must be one of sse4.2, avx2, avx512")
        passed += not problems
        if problems:
            failures.append(f"ATTNBENCH_MAX_ISA={value!r} {cmd[0]}: " + "; ".join(problems))
r = subprocess.run([BIN, "list"], capture_output=True, text=True, env=dict(os.environ, ATTNBENCH_MAX_ISA=""))
passed += r.returncode == 0
if r.returncode:
    failures.append(f"ATTNBENCH_MAX_ISA='' (no cap) refused: {r.stderr.strip()}")
# onednn takes the cap too: its ISA, its sample plans and what oneDNN runs stay at AVX2 (without the cap,
# on this CPU, they are AVX-512: the check can fail).
info = subprocess.run([BIN, "info"], capture_output=True, text=True).stdout
machine_isa = next((l.split(None, 1)[1] for l in info.splitlines() if l.strip().startswith("isa ")), "")
if "backend onednn\n" in info and "avx512f" in machine_isa.split():
    def onednn_isa(cap):
        env = dict(os.environ, ONEDNN_VERBOSE="1", **({"ATTNBENCH_MAX_ISA": cap} if cap else {}))
        out = subprocess.run([BIN, "info"], capture_output=True, text=True, env=env).stdout
        block = out.split("backend onednn\n", 1)[1].split("\nbackend ", 1)[0]
        lines = [l for l in block.splitlines() if l.split()[:1] in (["isa"], ["sample_none"], ["sample_causal"], ["sample_pad"])]
        r = subprocess.run([BIN, "run", "--backend", "onednn", "--problem", P, *QKV, *OUT], capture_output=True,
                           text=True, env=env)
        verbose = [l for l in r.stdout.splitlines() if l.startswith(("onednn_verbose,exec", "onednn_verbose,info,cpu,isa"))]
        return lines, verbose
    lines, verbose = onednn_isa(None)
    ok = any("avx512" in l for l in lines) and any("avx512" in l.lower() or "AVX-512" in l for l in verbose)
    lines_c, verbose_c = onednn_isa("avx2")
    ok = ok and len(lines_c) == 4 and lines_c[0].split()[1] == "avx2," and "ATTNBENCH_MAX_ISA=avx2" in lines_c[0]
    ok = ok and len(verbose_c) > 1 and not any("avx512" in l.lower() or "AVX-512" in l for l in lines_c + verbose_c)
    passed += ok
    if not ok:
        failures.append(f"onednn ignores ATTNBENCH_MAX_ISA=avx2: {lines_c} {verbose_c}")

# The cached roofline (ATTNBENCH_PEAK_FILE) is hand-editable: implausible values are ignored with a note,
# a thread count it lacks gets no %roof ('-', null), and its strings reach the terminal as one printable line.
machine = {"cpu_model": next(l.split(None, 1)[1] for l in info.splitlines() if l.strip().startswith("cpu ")),
           "cores": int(next(l for l in info.splitlines() if "core(s)" in l).split(" core(s)")[0].split()[-1]),
           "isa": machine_isa}


def peak_file(points, measured="2024-01-02T03:04:05Z"):
    with open(path("peak.json"), "w") as f:
        json.dump({"version": 1, "machine": machine, "measured": measured, "pinned": True, "points": points}, f)
    return dict(os.environ, ATTNBENCH_PEAK_FILE=path("peak.json"))


def bench_roof(env, threads, fmt):
    return subprocess.run([BIN, "bench", "--backend", "naive", "--problem", "h=1,lq=16,d=8", "--threads", threads,
                           "--reps", "2", "--min-time", "0", "--format", fmt], capture_output=True, text=True, env=env)


for what, point in [("tiny peak", {"fma_gflops": {"avx2": 1e-300, "avx512": 1e-300}, "read_gbs": 20}),
                    ("huge peak", {"fma_gflops": {"avx2": 1e308}, "read_gbs": 20}),
                    ("zero peak", {"fma_gflops": {"avx2": 0.0}, "read_gbs": 20}),
                    ("string peak", {"fma_gflops": {"avx2": "NaN"}, "read_gbs": 20}),
                    ("tiny bandwidth", {"fma_gflops": {"avx2": 50}, "read_gbs": 1e-300}),
                    ("negative bandwidth", {"fma_gflops": {"avx2": 50}, "read_gbs": -1})]:
    r = bench_roof(peak_file([dict(threads=1, **point)]), "1", "json")
    notes = r.stderr.strip().splitlines()
    med = [b for b in json.loads(r.stdout)["benchmarks"] if b.get("aggregate_name") == "median"] if r.returncode == 0 else []
    ok = (len(notes) == 1 and notes[0].startswith("attnbench: note: ignoring " + path("peak.json")) and "plausible" in notes[0]
          and len(med) == 1 and med[0].get("pct_peak") is None)
    passed += ok
    if not ok:
        failures.append(f"peak file with {what}: exit {r.returncode}, stderr {r.stderr!r}, {med[0] if med else ''}")
env = peak_file([{"threads": 1, "fma_gflops": {"avx2": 50.0, "avx512": 100.0}, "read_gbs": 10.0}])
r = bench_roof(env, "1,2", "json")
med = {b["threads"]: b for b in json.loads(r.stdout)["benchmarks"] if b.get("aggregate_name") == "median"} if r.returncode == 0 else {}
ok = (set(med) == {1, 2} and isinstance(med[1].get("pct_peak"), float) and "pct_peak" in med[2]
      and med[2]["pct_peak"] is None and med[2]["roof_gflops"] is None)
r = bench_roof(env, "1,2", "table")
rows = [l.split() for l in r.stdout.splitlines() if l.startswith("naive")]
ok = ok and len(rows) == 2 and rows[0][10].endswith("%") and rows[1][10] == "-"
passed += ok
if not ok:
    failures.append(f"a 1-thread roofline gave 2-thread rows a %roof: {med} {rows}")
env = peak_file([{"threads": 1, "fma_gflops": {"avx2": 50.0}, "read_gbs": 10.0}], measured="x\n\x1b[31mred\x1b[0m\rz\x07")
outs = [bench_roof(env, "1", "table").stdout, subprocess.run([BIN, "info"], capture_output=True, text=True, env=env).stdout]
shown = [l for o in outs for l in o.splitlines() if "x??[31mred?[0m?z?" in l]
ok = len(shown) == 2 and not any(c in o for o in outs for c in "\x1b\r\x07")
passed += ok
if not ok:
    failures.append(f"the peak file's measured string reached the terminal raw: {outs!r}")

for f in failures:
    print("FAIL", f)
print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
