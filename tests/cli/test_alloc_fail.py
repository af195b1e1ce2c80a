#!/usr/bin/env python3
"""Running out of memory is an error message, never a crash or a hang: on
every backend, `check` and `bench` run one problem under address-space
limits (RLIMIT_AS) rising from what the bare binary needs, in steps of 2 MiB
that grow to an eighth of the distance climbed (dense where the harness's own
allocations fail, then through every library's threshold in a few dozen runs)
until the problem fits, so that allocations fail one after another: the
tensors, the oracle's buffers, the backend's plan and workspace, the
libraries' own. Each run short of the fit must end with a nonzero exit and
one 'attnbench: error:' line, or with the backend's verdict naming the
memory (check's FAILED line, bench's "failed:" row, exit 1), or decline
(exit 0, SKIPPED, when the backend's library cannot even be loaded); a
signal or a hang fails the test.

Accepted besides, as what the OpenMP runtime does rather than attnbench
when it cannot start a thread of a team (it ends the process): libgomp's
one line 'libgomp: Thread creation failed' with exit 1 (gcc builds), LLVM
libomp's 'OMP: Error #34' and SIGABRT (clang builds).

The libraries that do not survive running out of address space (OpenBLAS
0.3.21 raises SIGINT when it cannot start its threads and retries a failed
mmap of its buffer forever; oneDNN 2.6 dies of SIGSEGV or of a std::bad_alloc
in primitive creation; hwloc_topology_load segfaults) are not called without
the room they need: blas and onednn then fail the plan with "address-space
limit leaves N MiB; ... needs about M MiB", and the harness skips the
topology. No exception is listed: every run must end cleanly.
Usage: test_alloc_fail.py ATTNBENCH_BINARY"""
import collections, os, re, resource, subprocess, sys

BIN = sys.argv[1]
MIB = 1 << 20
STEP = 2 * MIB
PROBLEM = "b=2,h=4,hkv=2,lq=48,lk=8192,d=16,dv=24,mask=causal"
COMMANDS = {
    "check": ["check", "--problem", PROBLEM, "--threads", "2"],
    "bench": ["bench", "--problem", PROBLEM, "--threads", "2", "--reps", "1", "--min-time", "0",
              "--warmup", "0", "--no-bind"],
}
failures, passed = [], 0
outcomes = collections.Counter()  # how the accepted runs ended


# Teams of the libraries' own choosing (oneDNN takes every CPU, a stack and an
# arena each) would make the fit depend on the machine's size.
ENV = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2")


def run(args, limit, timeout):
    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout, preexec_fn=cap,
                              env=ENV)
    except subprocess.TimeoutExpired:
        return None


def load_floor():
    """The smallest multiple of STEP under which `attnbench --help` starts:
    below it the loader cannot map the libraries."""
    lo, hi = 0, 4096 * MIB
    while hi - lo > STEP:
        mid = (lo + hi) // 2 // STEP * STEP
        r = run(["--help"], mid, 30)
        if r is not None and r.returncode == 0:
            hi = mid
        else:
            lo = mid
    return hi


def backends():
    r = subprocess.run([BIN, "list"], capture_output=True, text=True, timeout=60)
    return [line.split()[0] for line in r.stdout.splitlines() if line and not line[0].isspace()]


def fitted(name, r, backend):
    """Whether r ran the problem: check passed it, bench timed it. A backend
    that declines (its library could not even be loaded) has exit 0 too."""
    if r is None or r.returncode != 0:
        return False
    if name == "check":
        return "1 passed" in r.stdout
    return re.search(rf"^{backend} +2 +[0-9.]+ ", r.stdout, re.M) is not None


def verdict(name, r, backend, limit):
    """None if r is an acceptable failure, else what is wrong."""
    if r is None:
        return "no exit within the timeout (a hang)"
    err = r.stderr.strip().splitlines()
    if r.returncode == 0 and not err and ("SKIPPED" in r.stdout or "declined:" in r.stdout):
        outcomes["declined"] += 1
        return None
    # The OpenMP runtimes' own ends when they cannot start a team's thread:
    # libgomp (gcc) exits, LLVM's libomp (clang) aborts.
    if len(err) == 1 and err[0].startswith("libgomp: Thread creation failed") and r.returncode == 1:
        outcomes["libgomp: Thread creation failed (exit 1)"] += 1
        return None
    if r.returncode == -6 and err and err[0].startswith("OMP: Error #34: System unable to allocate"):
        outcomes["libomp: OMP: Error #34 (abort)"] += 1
        return None
    if r.returncode < 0:
        return f"killed by signal {-r.returncode}; stderr {r.stderr[-300:]!r}"
    if len(err) == 1 and err[0].startswith("attnbench: error: "):
        outcomes["attnbench: error"] += 1
        return None
    # A plan that cannot get its memory is that backend's verdict on the
    # problem: check's FAILED line, bench's row, each naming the memory (or
    # the address-space limit that leaves a library too little).
    named = "memory" in r.stdout or "address-space limit leaves" in r.stdout
    if r.returncode == 1 and not err and named and ("FAILED" in r.stdout or "failed:" in r.stdout):
        outcomes["the backend's verdict: out of memory"] += 1
        return None
    return f"exit {r.returncode} without a one-line error: stderr {r.stderr[-300:]!r}, stdout {r.stdout[-300:]!r}"


floor = load_floor()
if floor >= 4096 * MIB:
    # AddressSanitizer reserves terabytes of shadow memory up front.
    print("skipped: the binary does not start under a 4 GiB address-space limit (a sanitizer build?)")
    sys.exit(0)
for backend in backends():
    for name, args in COMMANDS.items():
        limit, fits = floor, None
        while limit <= floor + 1024 * MIB:
            # A run that fits takes a second or so.
            r = run([*args, "--backend", backend], limit, 120)
            if fitted(name, r, backend):
                fits = limit
                break
            v = verdict(name, r, backend, limit)
            if v:
                failures.append(f"{backend} {name} at {limit // MIB} MiB: {v}")
            else:
                passed += 1
            limit += max(STEP, (limit - floor) // 8 // STEP * STEP)
        if fits is None:
            failures.append(f"{backend} {name}: did not fit even in {limit // MIB} MiB")

for f in failures:
    print(f"FAIL: {f}")
print(f"{passed} limited runs ended cleanly (the binary alone needs {floor // MIB} MiB), {len(failures)} failures")
print("  " + "; ".join(f"{k}: {n}" for k, n in outcomes.most_common()))
sys.exit(1 if failures else 0)
