#!/usr/bin/env python3
"""Files that are not what a command expects: an --out that is a device, a
FIFO, a symbolic link or a directory; an --out that is one of the inputs;
suites without a problem; inputs that are FIFOs, devices or directories.
Each is written through, refused with one line and exit status 2, or (the
roofline cache) ignored with a note; none hangs, none replaces what is not a
regular file, none loses an earlier result.
Usage: test_hostile_files.py ATTNBENCH_BINARY"""
from clicheck import error_problems
import os, shutil, signal, socket, stat, subprocess, sys, tempfile, time

import numpy as np

BIN = sys.argv[1]
failures, passed = [], 0
# Enough for any one command here; a command that blocks on a file is cut
# off and reported instead of hanging the test.
TIMEOUT = 20


def run(*args, env=None, timeout=TIMEOUT):
    try:
        return subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(f"{name}: {detail}")


def expect_error(name, args, needle, env=None):
    r = run(*args, env=env)
    if r is None:
        check(name, False, f"still running after {TIMEOUT} s")
    else:
        problems = error_problems(r, needle)
        check(name, not problems, "; ".join(problems))
    return r


def kind(p):
    m = os.lstat(p).st_mode
    return ("symlink" if stat.S_ISLNK(m) else "fifo" if stat.S_ISFIFO(m) else "chr" if stat.S_ISCHR(m)
            else "dir" if stat.S_ISDIR(m) else "socket" if stat.S_ISSOCK(m) else "file" if stat.S_ISREG(m)
            else "other")


def read(p):
    with open(p, "rb") as f:
        return f.read()


os.umask(0o022)
tmp = tempfile.mkdtemp()
path = lambda *n: os.path.join(tmp, *n)
P = "b=1,h=2,lq=5,lk=7,d=8"
rng = np.random.default_rng(3)
for n, shape in (("q", (1, 2, 5, 8)), ("k", (1, 2, 7, 8)), ("v", (1, 2, 7, 8))):
    np.save(path(n + ".npy"), rng.standard_normal(shape).astype(np.float32))
QKV = ["--q", path("q.npy"), "--k", path("k.npy"), "--v", path("v.npy")]
RUN = ["run", "--backend", "naive", "--threads", "1", "--problem", P, *QKV]
BENCH = ["bench", "--backend", "naive", "--threads", "1", "--no-bind", "--warmup", "0", "--reps", "1",
         "--min-time", "0", "--no-verify", "--format", "json"]
r = run(*RUN, "--out", path("ref.npy"))
check("run into a new file", r is not None and r.returncode == 0, r and r.stderr)
REF = read(path("ref.npy"))
check("a new file gets 0666 less the umask", stat.S_IMODE(os.stat(path("ref.npy")).st_mode) == 0o644,
      oct(os.stat(path("ref.npy")).st_mode))

# ---- --out onto what is not a regular file ----
# A character device is written through, never renamed over. As root a
# private node of /dev/null's numbers goes first, so that a regression
# replaces that rather than the machine's /dev/null.
devnulls = []
if os.geteuid() == 0:
    try:
        os.mknod(path("null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        devnulls.append(path("null"))
    except OSError:
        pass
devnulls.append("/dev/null")
for dev in devnulls:
    r = run(*RUN, "--out", dev)
    check(f"run --out {dev}: exit 0", r is not None and r.returncode == 0, r and r.stderr)
    check(f"run --out {dev}: still a character device", kind(dev) == "chr", kind(dev))
    if kind(dev) != "chr":
        break
    r = run(*BENCH, "--problem", "h=1,lq=4,d=8", "--out", dev)
    check(f"bench --out {dev}: exit 0", r is not None and r.returncode == 0, r and r.stderr)
    check(f"bench --out {dev}: still a character device", kind(dev) == "chr", kind(dev))
    if kind(dev) != "chr":
        break

# A FIFO with a reader gets the bytes (fewer than a pipe holds, so the
# writer never waits on this test) and stays a FIFO.
os.mkfifo(path("fifo"))
reader = os.open(path("fifo"), os.O_RDONLY | os.O_NONBLOCK)
r = run(*RUN, "--out", path("fifo"))
check("--out FIFO with a reader: exit 0", r is not None and r.returncode == 0, r and r.stderr)
try:
    got = os.read(reader, 1 << 20)
except BlockingIOError:
    got = b""
os.close(reader)
check("--out FIFO with a reader: it reads the result", got == REF, f"{len(got)} bytes, want {len(REF)}")
check("--out FIFO with a reader: still a FIFO", kind(path("fifo")) == "fifo", kind(path("fifo")))
# Without a reader: a one-line error at once, not a wait for one.
expect_error("--out FIFO without a reader", [*RUN, "--out", path("fifo")], "no reader")
check("--out FIFO without a reader: still a FIFO", kind(path("fifo")) == "fifo", kind(path("fifo")))
# /dev/stdout onto a pipe is that pipe, reached through /proc; tried only
# once a FIFO of this test's own stayed one, not to replace the machine's.
if kind(path("fifo")) == "fifo":
    r = subprocess.run([BIN, *RUN, "--out", "/dev/stdout"], capture_output=True, timeout=TIMEOUT)
    check("--out /dev/stdout onto a pipe: the pipe gets the result", r.returncode == 0 and r.stdout == REF,
          f"exit {r.returncode}, {len(r.stdout)} bytes, {r.stderr!r}")
    check("--out /dev/stdout: still a symlink", kind("/dev/stdout") == "symlink", kind("/dev/stdout"))

# A symbolic link stays one; its target (relative, in another directory,
# or not there yet) is what gets written.
os.mkdir(path("real"))
os.mkdir(path("links"))
with open(path("real", "t.npy"), "wb") as f:
    f.write(b"old")
os.symlink("../real/t.npy", path("links", "rel"))
os.symlink(path("links", "rel"), path("chain"))
os.symlink(path("real", "new.npy"), path("dangling"))
for link, target in (("links/rel", "real/t.npy"), ("chain", "real/t.npy"), ("dangling", "real/new.npy")):
    r = run(*RUN, "--out", path(link))
    check(f"--out symlink {link}: exit 0", r is not None and r.returncode == 0, r and r.stderr)
    check(f"--out symlink {link}: still a symlink", kind(path(link)) == "symlink", kind(path(link)))
    check(f"--out symlink {link}: its target holds the result",
          os.path.exists(path(target)) and read(path(target)) == REF)
check("--out symlink: nothing else in the directories",
      sorted(os.listdir(path("real"))) == ["new.npy", "t.npy"] and os.listdir(path("links")) == ["rel"],
      f"{os.listdir(path('real'))} {os.listdir(path('links'))}")

# Kinds that cannot take a result are refused and left alone.
os.mkdir(path("outdir"))
expect_error("--out a directory", [*RUN, "--out", path("outdir")], "is a directory, not a regular file")
check("--out a directory: left alone", kind(path("outdir")) == "dir" and os.listdir(path("outdir")) == [])
sock = socket.socket(socket.AF_UNIX)
sock.bind(path("sock"))
expect_error("--out a socket", [*RUN, "--out", path("sock")], "is a socket")
check("--out a socket: left alone", kind(path("sock")) == "socket", kind(path("sock")))
sock.close()

# Replacing a regular file keeps its permission bits.
with open(path("private.npy"), "wb") as f:
    f.write(b"old")
os.chmod(path("private.npy"), 0o600)
r = run(*RUN, "--out", path("private.npy"))
check("--out 0600 file: exit 0", r is not None and r.returncode == 0, r and r.stderr)
check("--out 0600 file: still 0600", stat.S_IMODE(os.stat(path("private.npy")).st_mode) == 0o600,
      oct(os.stat(path("private.npy")).st_mode))

# Killed while writing: no temporary name survives (at worst one for the
# instant between naming the new file and renaming it over the old, which
# the next write into the directory removes). The output is large and
# fsync'd, so a temporary file with a name would be seen here.
os.mkdir(path("kill"))
big = "b=1,h=1,lq=1048576,lk=1,d=4"
np.save(path("kill", "q.npy"), rng.standard_normal((1, 1, 1048576, 4)).astype(np.float32))
np.save(path("kill", "k.npy"), rng.standard_normal((1, 1, 1, 4)).astype(np.float32))
np.save(path("kill", "v.npy"), rng.standard_normal((1, 1, 1, 4)).astype(np.float32))
with open(path("kill", "o.npy"), "wb") as f:
    f.write(b"earlier")
inputs = {"q.npy", "k.npy", "v.npy", "o.npy"}
BIG = ["run", "--backend", "naive", "--threads", "1", "--problem", big,
       *[a for n in "qkv" for a in (f"--{n}", path("kill", f"{n}.npy"))], "--out", path("kill", "o.npy")]
p = subprocess.Popen([BIN, *BIG], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
seen, start = set(), time.monotonic()
while p.poll() is None and time.monotonic() - start < 60:
    seen = set(os.listdir(path("kill"))) - inputs
    if seen:
        p.send_signal(signal.SIGKILL)
        break
p.kill()
p.wait()
left = set(os.listdir(path("kill"))) - inputs
if left:
    r = run(*RUN, "--out", path("kill", "again.npy"))
    left = set(os.listdir(path("kill"))) - inputs - {"again.npy"}
check("SIGKILL while writing: no temporary file survives", not left, f"{sorted(left)} (seen {sorted(seen)})")
# A named temporary file of a process that is gone is removed by the next
# write into its directory; one of a live process, or not of our naming, is not.
gone = subprocess.Popen(["true"])
gone.wait()
os.mkdir(path("stale"))
names = [f".attnbench-tmp.{gone.pid}.0", f".attnbench-tmp.{os.getpid()}.0", "o.npy.tmp.1"]
for n in names:
    with open(path("stale", n), "wb") as f:
        f.write(b"partial")
r = run(*RUN, "--out", path("stale", "o.npy"))
check("stale temporary file: exit 0", r is not None and r.returncode == 0, r and r.stderr)
check("stale temporary file: only the dead process's removed",
      sorted(os.listdir(path("stale"))) == sorted(names[1:] + ["o.npy"]), sorted(os.listdir(path("stale"))))

# ---- --out that is one of the inputs ----
os.mkdir(path("same"))
for n in ("q", "k", "v"):
    with open(path("same", n + ".npy"), "wb") as f:
        f.write(read(path(n + ".npy")))
SQKV = ["--q", path("same", "q.npy"), "--k", path("same", "k.npy"), "--v", path("same", "v.npy")]
SRUN = ["run", "--backend", "naive", "--threads", "1", "--problem", P, *SQKV]
os.link(path("same", "k.npy"), path("same", "hard.npy"))
os.symlink("v.npy", path("same", "soft.npy"))
for name, out, flag in (("same path", "q.npy", "--q"), ("hard link", "hard.npy", "--k"),
                        ("symlink", "soft.npy", "--v")):
    expect_error(f"--out is {flag} ({name})", [*SRUN, "--out", path("same", out)], f"--out '{path('same', out)}' is the same file as {flag}")
for n in ("q", "k", "v"):
    check(f"--out is an input: {n}.npy unchanged", read(path("same", n + ".npy")) == read(path(n + ".npy")))
with open(path("same", "suite.txt"), "w") as f:
    f.write("h=1,lq=4,d=8\n")
expect_error("bench --out is --suite", [*BENCH, "--suite", path("same", "suite.txt"), "--out", path("same", "suite.txt")],
             "is the same file as --suite")
check("bench --out is --suite: suite unchanged", read(path("same", "suite.txt")) == b"h=1,lq=4,d=8\n")
with open(path("same", "peak.json"), "w") as f:
    f.write('{"version": 0}\n')
env = dict(os.environ, ATTNBENCH_PEAK_FILE=path("same", "peak.json"))
expect_error("bench --out is the roofline cache", [*BENCH, "--problem", "h=1,lq=4,d=8", "--out", path("same", "peak.json")],
             "is the same file as the roofline cache", env=env)
check("bench --out is the roofline cache: unchanged", read(path("same", "peak.json")) == b'{"version": 0}\n')

# ---- a run without cases ----
EARLIER = b'{"context": {"note": "an earlier result"}, "benchmarks": []}\n'


def earlier(name):
    with open(path(name), "wb") as f:
        f.write(EARLIER)
    return path(name)


for name, text in (("comments.txt", "# nothing here\n\n   \n# nor here\n"), ("empty.txt", "")):
    with open(path(name), "w") as f:
        f.write(text)
    expect_error(f"check --suite {name}", ["check", "--backend", "naive", "--suite", path(name)], "holds no problem")
    out = earlier("r.json")
    expect_error(f"bench --suite {name}", [*BENCH, "--suite", path(name), "--out", out], "holds no problem")
    check(f"bench --suite {name}: earlier file byte-identical", read(out) == EARLIER)
out = earlier("r.json")
os.mkdir(path("suitedir"))
expect_error("bench --suite DIR", [*BENCH, "--suite", path("suitedir"), "--out", out], "not a regular file (a directory)")
check("bench --suite DIR: earlier file byte-identical", read(out) == EARLIER)
# Every case declined by every backend: nothing measured, nothing written.
# blas and onednn decline score=additive; a build with neither skips this.
listing = run("list").stdout
decliner = next((b for b in ("blas", "onednn") if f"{b} has no tanh kernel" in listing), None)
if decliner:
    DECLINED = ["bench", *BENCH[3:], "--backend", decliner, "--problem", "h=1,lq=4,d=8,score=additive"]
    expect_error("bench, every case declined", [*DECLINED, "--out", out], "no case was measured")
    check("bench, every case declined: earlier file byte-identical", read(out) == EARLIER)
    r = expect_error("bench to stdout, every case declined", DECLINED, "has no tanh kernel")
    check("bench to stdout, every case declined: nothing on stdout", r is not None and r.stdout == "", r and r.stdout)
else:
    print("note: no backend declines score=additive in this build; the all-declined bench is not tested")

# ---- inputs that are not regular files ----
os.mkfifo(path("in.fifo"))
os.mkdir(path("in.dir"))
expect_error("--q FIFO", ["run", "--backend", "naive", "--problem", P, "--q", path("in.fifo"), *QKV[2:], "--out", path("o.npy")],
             f"--q: '{path('in.fifo')}' is not a regular file (a FIFO)")
expect_error("--q directory", ["run", "--backend", "naive", "--problem", P, "--q", path("in.dir"), *QKV[2:], "--out", path("o.npy")],
             "is not a regular file (a directory)")
expect_error("--v /dev/null", ["run", "--backend", "naive", "--problem", P, *QKV[:4], "--v", "/dev/null", "--out", path("o.npy")],
             "is not a regular file (a character device)")
expect_error("check --suite FIFO", ["check", "--backend", "naive", "--suite", path("in.fifo")], "is not a regular file (a FIFO)")
expect_error("bench --suite FIFO", [*BENCH, "--suite", path("in.fifo")], "is not a regular file (a FIFO)")
r = run(*BENCH, "--problem", "h=1,lq=4,d=8", "--out", path("base.json"))
check("bench for compare: exit 0", r is not None and r.returncode == 0, r and r.stderr)
expect_error("compare FIFO NEW", ["compare", path("in.fifo"), path("base.json")], "is not a regular file (a FIFO)")
expect_error("compare BASE FIFO", ["compare", path("base.json"), path("in.fifo")], "is not a regular file (a FIFO)")
expect_error("compare directory", ["compare", path("in.dir"), path("base.json")], "is not a regular file (a directory)")
# A roofline cache that cannot be read is ignored with a note, as a damaged one is.
env = dict(os.environ, ATTNBENCH_PEAK_FILE=path("in.fifo"))
r = run("info", env=env)
check("info with a FIFO cache: exit 0", r is not None and r.returncode == 0, "hung" if r is None else r.stderr)
check("info with a FIFO cache: one note", r is not None and r.stderr.startswith("attnbench: note: ignoring")
      and "not a regular file (a FIFO)" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r and r.stderr)
r = run(*BENCH, "--problem", "h=1,lq=4,d=8", env=env)
check("bench with a FIFO cache: runs", r is not None and r.returncode == 0, "hung" if r is None else r.stderr)

for f in failures:
    print("FAIL", f)
print(f"{passed} passed, {len(failures)} failed")
if not failures:
    shutil.rmtree(tmp)  # the 16 MiB of the SIGKILL case; kept to look at after a failure
sys.exit(1 if failures else 0)
