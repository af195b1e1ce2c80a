#!/usr/bin/env python3
"""`attnbench check --format table|csv|json|md|junit --out FILE`: the table
unchanged and still on stdout with --out, the JSON against the check result
spec (every field and type, the summary equal to the records), JUnit parsed
with xml.etree (counts per testsuite, properties, skipped and failed cases
where the JSON has them), CSV parsed with the csv module, Markdown rows, exit
codes per format, --out written atomically and an earlier file surviving a
bad run, --repro refusing the formats. FAILED records cannot be had from
the command (no backend fails the suites); tests/bench/test_check_report.c
holds the writers to them.
Usage: test_check_formats.py ATTNBENCH_BINARY"""
from clicheck import error_problems
import csv, io, json, os, stat, subprocess, sys, tempfile
import xml.etree.ElementTree as ET

BIN = sys.argv[1]
failures, passed = [], 0
tmp = tempfile.mkdtemp()
path = lambda n: os.path.join(tmp, n)
FORMATS = ["table", "csv", "json", "md", "junit"]
VERDICTS = {"PASSED", "FAILED", "SKIPPED", "MISTRUSTED"}
ADDITIVE = "b=1,h=2,lq=1,lk=37,d=16,da=16,score=additive"
MHA = "op=mha,b=1,h=2,hkv=2,lq=5,lk=7,d=4,dv=4,dm=8,mask=none"


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=600)


def check(*args):
    return run("check", *args)


def record(name, problems):
    global passed
    if problems:
        failures.append(f"{name}: " + "; ".join(str(p) for p in problems[:6]))
    else:
        passed += 1


def available_backends():
    """Backend names `list` shows (a name at the start of a line)."""
    r = run("list")
    return [line.split()[0] for line in r.stdout.splitlines() if line and not line[0].isspace()]


BACKENDS = available_backends()
# naive and one more, so that each format has two backends to group by.
PAIR = ["naive"] + [b for b in BACKENDS if b != "naive"][:1]
# A backend that declines score=additive gives a SKIPPED case, where there is one.
DECLINER = next((b for b in ("blas", "onednn") if b in BACKENDS), None)
BASE = ["--backend", ",".join(PAIR), "--suite", "quick", "--threads", "2"]


def read(name, mode="r"):
    """A file's content, or None when there is none."""
    try:
        with open(name, mode, **({} if "b" in mode else {"newline": ""})) as f:
            return f.read()
    except OSError:
        return None


def table_rows(text):
    """(backend, verdict, problem) per case line of check's table."""
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[1] in VERDICTS:
            rows.append((parts[0], parts[1], parts[4]))
    return rows


def is_num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def spec_problems(doc, threads, backends):
    """What in doc departs from the check result spec."""
    p = []
    if set(doc) != {"context", "checks", "summary"}:
        p.append(f"top-level keys {sorted(doc)}")
    ctx = doc.get("context", {})
    types = {"date": str, "host_name": str, "cpu_model": str, "num_cpus": int, "caches": list, "threads": int,
             "thread_binding": str, "backends": dict, "attnbench_version": str, "command": str,
             "interrupted": bool}
    for k, t in types.items():
        if not isinstance(ctx.get(k), t):
            p.append(f"context.{k} is {ctx.get(k)!r}, not {t.__name__}")
    if ctx.get("command") != "check" or ctx.get("threads") != threads or ctx.get("interrupted") is not False:
        p.append(f"context command/threads/interrupted: {ctx.get('command')}, {ctx.get('threads')}, "
                 f"{ctx.get('interrupted')}")
    if "suite" not in ctx or not (ctx["suite"] is None or isinstance(ctx["suite"], str)):
        p.append(f"context.suite is {ctx.get('suite', 'missing')!r}")
    for b in backends:
        if not isinstance(ctx.get("backends", {}).get(b, {}).get("summary"), str):
            p.append(f"context.backends.{b} has no summary")
    counts = dict.fromkeys(VERDICTS, 0)
    names = set()
    for i, c in enumerate(doc.get("checks", [])):
        where = f"checks[{i}]"
        missing = {"backend", "problem", "name", "verdict", "reason", "max_abs_err", "err_bound", "worst", "stage",
                   "nonfinite"} - set(c)
        if missing:
            p.append(f"{where} lacks {sorted(missing)}")
            continue
        if c["name"] != f"{c['backend']}/{c['problem']}/threads:{threads}":
            p.append(f"{where} name {c['name']!r}")
        if c["name"] in names:
            p.append(f"{where} name {c['name']!r} twice")
        names.add(c["name"])
        if c["verdict"] not in VERDICTS:
            p.append(f"{where} verdict {c['verdict']!r}")
            continue
        counts[c["verdict"]] += 1
        for k in ("max_abs_err", "err_bound"):
            if not (c[k] is None or is_num(c[k])):
                p.append(f"{where}.{k} = {c[k]!r}")
        if not (c["reason"] is None or isinstance(c["reason"], str) and c["reason"]):
            p.append(f"{where}.reason = {c['reason']!r}")
        if not (c["stage"] is None or isinstance(c["stage"], str)):
            p.append(f"{where}.stage = {c['stage']!r}")
        if not (c["nonfinite"] is None or isinstance(c["nonfinite"], int) and not isinstance(c["nonfinite"], bool)):
            p.append(f"{where}.nonfinite = {c['nonfinite']!r}")
        w = c["worst"]
        if w is not None:
            if set(w) != {"row", "col", "got", "want", "bound"}:
                p.append(f"{where}.worst keys {sorted(w)}")
            elif not all(w[k] is None or isinstance(w[k], int) for k in ("row", "col")) or \
                    not all(w[k] is None or is_num(w[k]) for k in ("got", "want", "bound")):
                p.append(f"{where}.worst = {w!r}")
            elif (w["row"] is None) != (c["stage"] is not None):
                p.append(f"{where}: a worst row exactly when there is no stage: {w!r}, stage {c['stage']!r}")
        ran = c["max_abs_err"] is not None or c["worst"] is not None
        if c["verdict"] == "SKIPPED" and (ran or c["reason"] is None or c["nonfinite"] is not None):
            p.append(f"{where}: SKIPPED with figures or without a reason")
        if c["verdict"] == "PASSED" and (c["reason"] is not None or not is_num(c["err_bound"]) or c["err_bound"] > 1):
            p.append(f"{where}: PASSED with reason {c['reason']!r}, err/bound {c['err_bound']!r}")
        if c["verdict"] in ("FAILED", "MISTRUSTED") and c["reason"] is None:
            p.append(f"{where}: {c['verdict']} without a reason")
    if doc.get("summary") != {v.lower(): n for v, n in counts.items()}:
        p.append(f"summary {doc.get('summary')} but the records count {counts}")
    return p


# ---- the table, unchanged and the default ----
plain = check(*BASE)
record("check exits 0", [] if plain.returncode == 0 and not plain.stderr else [plain.returncode, plain.stderr])
rows = table_rows(plain.stdout)
as_table = check(*BASE, "--format", "table")
record("--format table is the default table, byte for byte",
       [] if as_table.stdout == plain.stdout and as_table.returncode == 0 else ["differs"])
record("the table has a line per case and the counts",
       [] if len(rows) > 100 and plain.stdout.endswith(f"{len(rows)} passed, 0 failed, 0 skipped\n") else
       [f"{len(rows)} rows, ends {plain.stdout[-60:]!r}"])

# ---- json ----
r = check(*BASE, "--format", "json")
doc = None
try:
    doc = json.loads(r.stdout)
except ValueError as e:
    record("json on stdout is only the JSON", [e, r.stdout[:200]])
if doc is not None:
    record("json on stdout is only the JSON", [] if r.returncode == 0 and not r.stderr else [r.returncode, r.stderr])
    record("json follows the spec", spec_problems(doc, 2, PAIR))
    got = [(c["backend"], c["verdict"], c["problem"]) for c in doc["checks"]]
    record("json has the table's cases in its order", [] if got == rows else [f"{len(got)} vs {len(rows)}"])
    staged = [c for c in doc["checks"] if c["stage"]]
    record("a staged op (quick's op=mha) names its stage and has no worst row",
           [] if staged and all(c["worst"]["row"] is None for c in staged) else ["no staged record"])
    located = [c for c in doc["checks"] if c["worst"] and c["worst"]["row"] is not None]
    record("the other records locate their worst element",
           [] if located and all(c["worst"]["row"] >= 0 and c["worst"]["col"] >= 0 for c in located) else ["none"])
    record("json context says the suite", [] if doc["context"]["suite"] == "quick" else [doc["context"]["suite"]])
one = check("--backend", "naive", "--problem", MHA, "--threads", "1", "--format", "json")
try:
    d1 = json.loads(one.stdout)
    record("json with --problem only and --threads 1",
           spec_problems(d1, 1, ["naive"]) + ([] if d1["context"]["suite"] is None else ["suite not null"]))
except ValueError as e:
    record("json with --problem only and --threads 1", [e, one.stderr])

# ---- junit ----
out = path("check.xml")
r = check(*BASE, "--format", "junit", "--out", out)
record("with --out, stdout keeps the table", [] if r.stdout == plain.stdout and r.returncode == 0 else
       [r.returncode, r.stderr, r.stdout[:100]])


def junit_problems(xml_path, doc, backends, threads):
    p = []
    try:
        root = ET.parse(xml_path).getroot()
    except (ET.ParseError, OSError) as e:
        return [f"does not parse: {e}"]
    if root.tag != "testsuites":
        return [f"root {root.tag}"]
    suites = root.findall("testsuite")
    if [s.get("name") for s in suites] != backends:
        p.append(f"testsuites {[s.get('name') for s in suites]}")
    want = {(c["backend"], c["problem"]): c for c in doc["checks"]}
    total = 0
    for s in suites:
        cases = s.findall("testcase")
        total += len(cases)
        fails = sum(len(c.findall("failure")) for c in cases)
        skips = sum(len(c.findall("skipped")) for c in cases)
        counts = (s.get("tests"), s.get("failures"), s.get("skipped"), s.get("errors"))
        if counts != (str(len(cases)), str(fails), str(skips), "0"):
            p.append(f"{s.get('name')}: tests/failures/skipped/errors {counts}, has {len(cases)}, {fails}, {skips}")
        try:
            float(s.get("time"))
        except (TypeError, ValueError):
            p.append(f"{s.get('name')}: time {s.get('time')!r}")
        props = {q.get("name"): q.get("value") for q in s.findall("properties/property")}
        if props.get("threads") != str(threads) or not props.get("machine"):
            p.append(f"{s.get('name')}: properties {props}")
        for c in cases:
            if c.get("classname") != f"attnbench.check.{s.get('name')}":
                p.append(f"classname {c.get('classname')}")
            rec = want.pop((s.get("name"), c.get("name")), None)
            if rec is None:
                p.append(f"testcase {s.get('name')} {c.get('name')} is not in the JSON")
                continue
            kind = "failure" if rec["verdict"] == "FAILED" else None if rec["verdict"] == "PASSED" else "skipped"
            children = [e.tag for e in c]
            if children != ([kind] if kind else []):
                p.append(f"{rec['name']}: {rec['verdict']} as {children}")
            elif rec["verdict"] == "SKIPPED" and c.find("skipped").get("message") != f"declined: {rec['reason']}":
                p.append(f"{rec['name']}: skipped message {c.find('skipped').get('message')!r}")
            elif rec["verdict"] == "MISTRUSTED" and not c.find("skipped").get("message").startswith("MISTRUSTED: "):
                p.append(f"{rec['name']}: mistrusted message {c.find('skipped').get('message')!r}")
    if want:
        p.append(f"{len(want)} records without a testcase")
    if root.get("tests") != str(total):
        p.append(f"testsuites tests={root.get('tests')}, {total} testcases")
    return p


if doc is not None:
    record("junit parses and matches the records", junit_problems(out, doc, PAIR, 2))
if DECLINER:
    xml_path = path("declined.xml")
    r = check("--backend", f"naive,{DECLINER}", "--problem", ADDITIVE, "--format", "junit", "--out", xml_path)
    j = check("--backend", f"naive,{DECLINER}", "--problem", ADDITIVE, "--format", "json")
    try:
        dj = json.loads(j.stdout)
        probs = junit_problems(xml_path, dj, ["naive", DECLINER], 2) + spec_problems(dj, 2, ["naive", DECLINER])
        verdicts = [c["verdict"] for c in dj["checks"]]
        if verdicts != ["PASSED", "SKIPPED"] or r.returncode != 0:
            probs.append(f"verdicts {verdicts}, exit {r.returncode}")
        record(f"a case {DECLINER} declines is a JUnit skipped, 'declined: reason'", probs)
    except ValueError as e:
        record(f"a case {DECLINER} declines", [e, j.stderr])

# ---- csv ----
csv_path = path("check.csv")
r = check(*BASE, "--format", "csv", "--out", csv_path)
COLUMNS = ["backend", "problem", "threads", "name", "verdict", "max_abs_err", "err_bound", "worst_row", "worst_col",
           "got", "want", "bound", "stage", "nonfinite", "reason"]
table = list(csv.reader(io.StringIO(read(csv_path) or "")))
probs = [] if table and table[0] == COLUMNS else [f"header {table[:1]}"]
if doc is not None:
    if [(t[3], t[4]) for t in table[1:]] != [(c["name"], c["verdict"]) for c in doc["checks"]]:
        probs.append("rows differ from the JSON's records")
    for t in table[1:]:
        try:
            [float(x) for x in t[5:12] + [t[13]] if x]
        except ValueError:
            probs.append(f"a figure that is no number: {t}")
            break
    if any(len(t) != len(COLUMNS) for t in table):
        probs.append("rows of other widths")
record("csv parses with the csv module, a row per record", probs)

# ---- md ----
r = check(*BASE, "--format", "md", "--verbose")
lines = [line for line in r.stdout.splitlines() if line.startswith("|")]
cells = [len(line.replace("\\|", "").split("|")) - 2 for line in lines]
probs = [] if lines[:2] == ["| backend | verdict | max abs err | err/bound | problem | detail |",
                            "|---|---|---:|---:|---|---|"] else [lines[:2]]
if len(lines) - 2 != len(rows) or set(cells) != {6}:
    probs.append(f"{len(lines) - 2} rows for {len(rows)} cases, cells {set(cells)}")
if not all("(worst " in line for line in lines[2:]):
    probs.append("--verbose: a row without its worst element")
record("md: a table row per case, six cells", probs)

# ---- table to a file ----
table_path = path("check.txt")
r = check(*BASE, "--out", table_path)
record("--format table --out: the file and stdout are the table",
       [] if read(table_path) == plain.stdout == r.stdout else ["differ"])

# ---- exit codes, per format ----
for fmt in FORMATS:
    r = check("--backend", "naive", "--problem", "b=1,h=1,lq=3,d=4", "--format", fmt)
    record(f"{fmt}: exit 0 when every case passed", [] if r.returncode == 0 and r.stdout else [r.returncode, r.stderr])
    record(f"{fmt}: a bad problem string is exit 2", error_problems(
        check("--backend", "naive", "--problem", "b=1,h=1,lq=3,d=4,bogus=1", "--format", fmt), "bogus"))
    if DECLINER:
        r = check("--backend", DECLINER, "--problem", ADDITIVE, "--format", fmt)
        record(f"{fmt}: every case declined is exit 2, nothing printed in the format",
               error_problems(r, "no case was checked") +
               ([] if fmt == "table" or not r.stdout else [f"stdout {r.stdout[:80]!r}"]))
record("an unknown format is refused", error_problems(check("--format", "xml"), "--format: 'xml'"))
record("--repro refuses --format", error_problems(check("--repro", "--format", "json"), "--repro"))
record("--repro refuses --out", error_problems(check("--repro", "--out", path("repro.txt")), "--repro"))
r = check("--repro", "--backend", "naive", "--problem", "b=1,h=1,lq=3,d=4", "--format", "table")
record("--repro --format table is its own table", [] if r.returncode == 0 and "identical across runs" in r.stdout
       else [r.returncode, r.stderr])

# ---- --out: atomic, never replaced by a bad run ----
keep = path("keep.json")
r = check("--backend", "naive", "--problem", "b=1,h=1,lq=3,d=4", "--format", "json", "--out", keep)
earlier = read(keep, "rb")
if earlier is not None:
    os.chmod(keep, 0o640)
comments = path("comments.txt")
with open(comments, "w") as f:
    f.write("# nothing but a comment\n\n")
bad_runs = {
    "a missing suite file": (["--suite", path("missing.txt")], "neither a built-in suite"),
    "a suite of comments only": (["--suite", comments], "holds no problem strings"),
    "a bad problem string": (["--problem", "h=1,lq=3"], "'d' is required"),
}
if DECLINER:
    bad_runs["every case declined"] = (["--backend", DECLINER, "--problem", ADDITIVE], "no case was checked")
for fmt in ("json", "junit"):
    for what, (args, needle) in bad_runs.items():
        r = check(*args, "--format", fmt, "--out", keep)
        record(f"{fmt} --out: {what} leaves the earlier file", error_problems(r, needle) +
               ([] if earlier and read(keep, "rb") == earlier else ["the earlier file changed"]))
suite = path("suite.txt")
with open(suite, "w") as f:
    f.write("b=1,h=1,lq=3,d=4\n")
r = check("--backend", "naive", "--suite", suite, "--format", "json", "--out", suite)
record("--out the --suite file is refused, the suite intact",
       error_problems(r, "is the same file as --suite") + ([] if read(suite) == "b=1,h=1,lq=3,d=4\n" else ["changed"]))
link = path("suite-link.txt")
os.symlink(suite, link)
record("--out a link to the --suite file is refused",
       error_problems(check("--backend", "naive", "--suite", suite, "--format", "csv", "--out", link), "same file"))
record("--out in a missing directory is one error",
       error_problems(check("--backend", "naive", "--problem", "b=1,h=1,lq=3,d=4", "--format", "json", "--out",
                            path("no/such/dir.json")), "cannot write"))
r = check("--backend", "naive", "--problem", "b=1,h=1,lq=3,d=4,seed=1", "--format", "json", "--out", keep)
now = read(keep, "rb") or b""
mode = stat.S_IMODE(os.stat(keep).st_mode) if os.path.exists(keep) else None
leftovers = [n for n in os.listdir(tmp) if n.startswith(".attnbench-tmp")]
record("a good run replaces the file, keeping its mode, leaving no temporary file",
       [] if r.returncode == 0 and now != earlier and b"seed=1" in now and mode == 0o640 and not leftovers else
       [r.returncode, mode, leftovers])

for f in failures:
    print("FAIL", f)
print(f"{passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
