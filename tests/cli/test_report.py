#!/usr/bin/env python3
"""`attnbench report` from the committed results/zen5-2core-vm/prefill-none.json,
a second machine made from it (another host name and CPU, hostile ones), a
check result (synthetic, and a real one from `check --format json`): the
HTML parses as XML, each plot has one series per backend and thread count
of its inputs, strings from the files come out escaped (in HTML and in
Markdown), the page fetches nothing, missing numbers are left out with a
note, bad input is one error line with exit 2, --out is atomic; then, where
Chromium is installed, the page rendered headless (its DOM dumped and a
screenshot taken) without an error about it.
Usage: test_report.py ATTNBENCH_BINARY"""
from clicheck import error_problems
from html.parser import HTMLParser
import copy, glob, json, os, re, shutil, subprocess, sys, tempfile
import xml.etree.ElementTree as ET

BIN = sys.argv[1]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PREFILL = os.path.join(ROOT, "results", "zen5-2core-vm", "prefill-none.json")
failures, passed, skipped = [], 0, 0
tmp = tempfile.mkdtemp()
path = lambda n: os.path.join(tmp, n)
SVG = "{http://www.w3.org/2000/svg}"
XHTML = "{http://www.w3.org/1999/xhtml}"

# What the page makes of outside text: C0 controls, DEL and the characters
# XML forbids become '?', a C1 control '??' (one per byte, as every message
# quoting a file has it).
HOSTILE_HOST = 'evil<script>alert("h")</script>&amp;\'q\x01\x7f\u0085\ufffe|`*_'
HOSTILE_PROBLEM = 'b=1,h=2,lq=4,d=8</code><script>alert(1)</script>&lt;"\'\x1b[31m|`x``y'
HOSTILE_REASON = 'bad <b>bold</b> & "quoted"\n\x07 second line'


def printable(s):
    return re.sub("[\x80-\x9f]", "??", re.sub("[\x00-\x1f\x7f\ufffe\uffff]", "?", s))


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(f"{name}: {detail}")


def report(*args):
    return subprocess.run([BIN, "report", *args], capture_output=True, text=True, timeout=120)


def write(name, doc):
    with open(path(name), "w") as f:
        json.dump(doc, f)
    return path(name)


# ---- inputs ----

base = json.load(open(PREFILL))
other = copy.deepcopy(base)
other["context"]["host_name"] = HOSTILE_HOST
other["context"]["cpu_model"] = 'Other CPU "9000" <x>'
# Another machine twice as fast against a roofline three times as high:
# its own %roof differs. One case loses its GFLOP/s (null): left out, noted.
for b in other["benchmarks"]:
    if "gflops" in b:
        b["gflops"] *= 2
    if "pct_peak" in b:
        b["pct_peak"] *= 2 / 3
    if "roof_gflops" in b:
        b["roof_gflops"] *= 3
nulled = next(b for b in other["benchmarks"] if b.get("aggregate_name") == "median"
              and b["backend"] == "avx2" and "lq=2048," in b["problem"] and b["threads"] == 1)
nulled["gflops"] = None
second = write("second.json", other)


def check_result(cases, host="vm", cpu="AMD EPYC"):
    """A check result as `check --format json` writes it: cases are
    (backend, problem, verdict, err_bound, reason)."""
    checks, summary = [], {"passed": 0, "failed": 0, "skipped": 0, "mistrusted": 0}
    for backend, problem, verdict, eb, reason in cases:
        ran = eb is not None
        checks.append({"backend": backend, "problem": problem, "name": f"{backend}/{problem}/threads:2",
                       "threads": 2, "verdict": verdict, "reason": reason,
                       "max_abs_err": eb * 1e-7 if ran else None, "err_bound": eb,
                       "worst": {"row": 0, "col": 0, "got": 1.0, "want": 1.0, "bound": 1e-7} if ran else None,
                       "stage": None, "nonfinite": 0 if ran else None})
        summary[verdict.lower()] += 1
    ctx = {"date": "2026-01-01T00:00:00Z", "host_name": host, "executable": "attnbench",
           "attnbench_version": "0.1.0", "cpu_model": cpu, "num_cpus": 2, "caches": [], "command": "check",
           "threads": 2, "suite": "quick", "interrupted": False}
    return {"context": ctx, "checks": checks, "summary": summary}


CHECK_CASES = [("naive", "b=1,h=2,lq=8,d=8", "PASSED", 0.0, None),
               ("naive", "b=1,h=2,lq=8,d=8,mask=causal", "PASSED", 0.02, None),
               ("avx512", "b=1,h=2,lq=8,d=8", "PASSED", 3e-4, None),
               ("avx512", HOSTILE_PROBLEM, "FAILED", 4.5, HOSTILE_REASON),
               ("avx512", "b=1,h=2,lq=8,d=8,fill=huge-v", "FAILED", None, "non-finite output"),
               ("blas", "b=1,h=2,lq=8,d=8", "MISTRUSTED", 0.5, "most outputs zero"),
               ("blas", "b=1,h=2,lq=8,d=8,score=additive", "SKIPPED", None, "not a GEMM"),
               ("blas", "b=1,h=2,lq=8,d=8,mask=causal", "PASSED", 0.9, None)]
checkfile = write("check.json", check_result(CHECK_CASES))


# ---- what the inputs hold, computed here independently ----

def problem_keys(problem):
    return dict(kv.split("=", 1) for kv in problem.split(",") if "=" in kv)


def panels_of(doc):
    """(d, mask) -> the set of lines (backend, threads, rest) with a finite
    GFLOP/s, for op=attn cases: what each panel must draw."""
    panels = {}
    for b in doc["benchmarks"]:
        if b.get("aggregate_name") != "median" or not isinstance(b.get("gflops"), (int, float)) \
                or not b["gflops"] > 0:
            continue
        k = problem_keys(b["problem"])
        if k.get("op", "attn") != "attn":
            continue
        rest = tuple(sorted((key, v) for key, v in k.items() if key not in ("lq", "d", "mask")
                            and not (key == "lk" and v == k["lq"]) and not (key == "dv" and v == k["d"])))
        panels.setdefault((k["d"], k.get("mask", "none")), set()).add((b["backend"], b["threads"], rest))
    return panels


def gflops_plots(root):
    """(title, count of series groups, count of roofline groups) per GFLOP/s plot."""
    out = []
    for svg in root.iter(SVG + "svg"):
        if svg.get("data-plot") != "gflops":
            continue
        groups = [g for g in svg.iter(SVG + "g")]
        out.append((svg.find(SVG + "title").text, sum(g.get("class") == "series" for g in groups),
                    sum(g.get("class") == "roofline" for g in groups), svg))
    return out


def all_text(el):
    return "".join(el.itertext())


def parse_page(file):
    """The page's XML tree, or None and a failure."""
    try:
        return ET.parse(file).getroot()
    except ET.ParseError as e:
        failures.append(f"{file} is not well-formed XML: {e}")
        return None


# ---- the HTML page ----

html_out = path("report.html")
r = report(PREFILL, second, checkfile, "--out", html_out)
check("report exits 0", r.returncode == 0 and not r.stderr, f"exit {r.returncode}: {r.stderr}")
page = open(html_out, encoding="utf-8").read() if os.path.exists(html_out) else ""
root = parse_page(html_out) if page else None
check("the page is well-formed XML", root is not None)


class Strict(HTMLParser):
    """html.parser, failing on anything it cannot take."""
    def error(self, message):
        raise ValueError(message)


try:
    Strict().feed(page)
    passed += 1
except Exception as e:
    failures.append(f"html.parser fails on the page: {e}")

if root is not None:
    plots = gflops_plots(root)
    want = panels_of(base), panels_of(other)
    # Each panel's series are its (backend, threads, rest) lines.
    expected = sorted(len(lines) for doc in want for lines in doc.values())
    got = sorted(n for _, n, _, _ in plots)
    check("one gflops plot per (file, d, mask)", len(plots) == sum(len(d) for d in want),
          f"{len(plots)} plots, want {sum(len(d) for d in want)}")
    check("series per plot = backend x thread count", got == expected, f"got {got}, want {expected}")
    check("10 series in each prefill panel", all(n == 10 for _, n, _, _ in plots),
          [(t, n) for t, n, _, _ in plots])
    check("a dashed roofline per thread count", all(roofs == 2 for _, _, roofs, _ in plots),
          [(t, roofs) for t, _, roofs, _ in plots])
    for title, _, _, svg in plots:
        texts = {t.get("class"): all_text(t) for t in svg.iter(SVG + "text") if t.get("class")}
        ok = title and "GFLOP/s" in texts.get("xlabel", "") + texts.get("ylabel", "") and "lq" in \
            texts.get("xlabel", "") and svg.find(f".//{SVG}g[@class='legend-entry']") is not None
        check(f"plot {title!r} has a title, labelled axes, a legend", ok, texts)
    # The series of a plot carry distinct names (their legend labels).
    names = [g.get("data-series") for g in plots[0][3].iter(SVG + "g") if g.get("class") == "series"]
    check("series names distinct", len(set(names)) == len(names) == 10, names)

    # The err/bound strip: one series per backend of the check file.
    strips = [s for s in root.iter(SVG + "svg") if s.get("data-plot") == "err-bound"]
    backends = list(dict.fromkeys(c[0] for c in CHECK_CASES))
    strip_series = [g.get("data-series") for g in strips[0].iter(SVG + "g") if g.get("class") == "series"] \
        if strips else []
    check("err/bound strip: a series per backend", strip_series == backends, strip_series)
    marks = sum(1 for g in strips[0].iter(SVG + "g") if g.get("class") == "series" for m in g
                if m.tag in (SVG + "circle", SVG + "rect", SVG + "path")) if strips else 0
    drawn = sum(1 for c in CHECK_CASES if c[3] is not None)
    check("err/bound strip: a mark per case with a finite err/bound", marks == drawn, f"{marks}, want {drawn}")
    check("err/bound strip: the bound drawn", bool(strips) and strips[0].find(f".//{SVG}g[@class='bound']")
          is not None)

    # Verdicts: FAILED first, problem strings in <code>, escaped exactly.
    table = root.find(f".//{XHTML}table[@class='verdicts']")
    rows = [[all_text(td) for td in tr] for tr in table.find(XHTML + "tbody")] if table is not None else []
    verdicts = [row[0] for row in rows]
    check("verdict table: one row per case, FAILED first",
          len(rows) == len(CHECK_CASES) and verdicts[:2] == ["FAILED", "FAILED"]
          and verdicts.index("PASSED") > verdicts.index("SKIPPED"), verdicts)
    codes = [all_text(c) for c in table.iter(XHTML + "code")] if table is not None else []
    check("hostile problem string round-trips through <code>", printable(HOSTILE_PROBLEM) in codes, codes)
    check("hostile reason escaped", any(printable(HOSTILE_REASON) in row[5] for row in rows),
          [row[5] for row in rows])

    # The hostile host names its machine in a heading, as text.
    heads = [all_text(h) for h in root.iter(XHTML + "h2")]
    check("hostile host name escaped", any(printable(HOSTILE_HOST) in h for h in heads), heads)

    # %roof side by side: every measured case of the two machines.
    across = root.find(f".//{XHTML}table[@class='across']")
    nrows = len(across.find(XHTML + "tbody")) if across is not None else 0
    common = sum(1 for b in base["benchmarks"] if b.get("aggregate_name") == "median" and "pct_peak" in b)
    check("across machines: a row per common case", nrows == common, f"{nrows}, want {common}")

    # The nulled GFLOP/s is left out and said so.
    notes = " ".join(all_text(li) for ul in root.iter(XHTML + "ul") if ul.get("class") == "notes" for li in ul)
    check("a missing GFLOP/s left out with a note", "without a finite, positive GFLOP/s" in notes, notes[:500])

# Nothing to fetch: no script, no external reference of any kind.
check("no script element", "<script" not in page)
external = re.findall(r'(?:src|href)="(?!#)[^"]*"|url\(|@import|https?://(?!www\.w3\.org/)', page)
check("nothing external", not external, external[:5])


# ---- Markdown ----

r = report(PREFILL, second, checkfile, "--format", "md")
md = r.stdout
check("md exits 0", r.returncode == 0, r.stderr)
for heading in ("## Machine 1", "## Machine 2", "## % of each machine's roofline", "## Conformance",
                "### Verdicts, FAILED first", "#### GFLOP/s, d=64, mask=none"):
    check(f"md has {heading!r}", heading in md)


def unescaped_pipes(line):
    return len(re.findall(r"(?<!\\)\|", line))


bad_rows, header = [], None
for line in md.splitlines():
    if not line.startswith("|"):
        header = None
        continue
    if header is None:
        header = unescaped_pipes(line)
    elif unescaped_pipes(line) != header:
        bad_rows.append(line)
check("md: every table row has its header's cells", not bad_rows, bad_rows[:3])
outside_code = re.sub(r"(`+).*?\1", "", md)
check("md: no raw markup outside code spans", not re.search(r"(?<!\\)[<>]", outside_code),
      re.findall(r".{20}(?<!\\)[<>].{20}", outside_code)[:3])
check("md: the hostile problem in a code span", printable(HOSTILE_PROBLEM).replace("|", "\\|") in md)
check("md: no control characters", not re.search("[\x00-\x09\x0b-\x1f\x7f]", md))


# ---- every committed result of the folder, and a real check result ----

folder = sorted(glob.glob(os.path.join(ROOT, "results", "zen5-2core-vm", "*.json")))
r = report(*folder, "--out", path("folder.html"))
check("the committed folder reports", r.returncode == 0, r.stderr)
if r.returncode == 0:
    root2 = parse_page(path("folder.html"))
    want = sum(len(lines) for f in folder for lines in panels_of(json.load(open(f))).values())
    got = sum(n for _, n, _, _ in gflops_plots(root2)) if root2 is not None else -1
    check("folder: series = lines of every panel", got == want, f"{got}, want {want}")

real = path("real-check.json")
r = subprocess.run([BIN, "check", "--backend", "all", "--problem", "b=1,h=2,lq=16,d=8", "--problem",
                    "b=1,h=2,lq=9,d=8,score=additive", "--threads", "1", "--format", "json", "--out", real],
                   capture_output=True, text=True, timeout=300)
if r.returncode == 2 and "--format" in r.stderr:
    print("real check result skipped: this attnbench check has no --format json yet")
else:
    check("real check --format json", r.returncode == 0, r.stderr)
    r = report(real, PREFILL, "--out", path("real.html"))
    check("report of a real check result", r.returncode == 0, r.stderr)
    if r.returncode == 0:
        root3 = parse_page(path("real.html"))
        doc = json.load(open(real))
        strip = [s for s in root3.iter(SVG + "svg") if s.get("data-plot") == "err-bound"] if root3 else []
        n = len([g for g in strip[0].iter(SVG + "g") if g.get("class") == "series"]) if strip else 0
        check("real check: a series per backend", n == len({c["backend"] for c in doc["checks"]}), n)


# ---- bad input ----

def expect_error(name, r, needle):
    problems = error_problems(r, needle)
    check(name, not problems, "; ".join(problems))


expect_error("no inputs", report("--out", path("x.html")), "at least one result file")
write("neither.json", {"context": {"attnbench_version": "0.1.0"}, "rows": []})
expect_error("neither bench nor check", report(path("neither.json")), "not an attnbench result")
with open(path("broken.json"), "w") as f:
    f.write('{"context": ')
expect_error("not JSON", report(path("broken.json")), "not valid JSON")
expect_error("a directory as input", report(tmp), "not a regular file")
os.mkfifo(path("fifo"))
expect_error("a FIFO as input", report(path("fifo")), "not a regular file")
expect_error("unknown format", report(PREFILL, "--format", "pdf"), "--format")
expect_error("--out is an input", report(second, "--out", second), "same file")
# A refused input leaves an earlier page whole.
keep = path("keep.html")
with open(keep, "w") as f:
    f.write("earlier page")
r = report(PREFILL, path("neither.json"), "--out", keep)
check("refused input: earlier --out kept", r.returncode == 2 and open(keep).read() == "earlier page",
      f"exit {r.returncode}")
r = report(PREFILL, "--out", keep)
check("--out replaced", r.returncode == 0 and open(keep).read().startswith("<!DOCTYPE html>"), r.stderr)
check("no temporary file left", not [n for n in os.listdir(tmp) if n.startswith(".attnbench-tmp")],
      os.listdir(tmp))


# ---- rendered by a browser ----

chromium = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
if not chromium:
    print("SKIPPED: chromium not installed")
    skipped += 1
else:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    url = "file://" + os.path.abspath(html_out)

    def browse(*args):
        profile = tempfile.mkdtemp(dir=tmp)
        return subprocess.run([chromium, *flags, f"--user-data-dir={profile}", *args, url], capture_output=True,
                              text=True, timeout=180)

    # Chromium logs its own troubles (no D-Bus in a container, its launcher
    # script); only what concerns the page counts.
    about_page = re.compile(r"CONSOLE|Uncaught|SyntaxError|net::ERR|Failed to load|Refused to|"
                            r"Not allowed to load|This page contains the following errors|" + re.escape(url))

    dom = browse("--dump-dom")
    series = len(re.findall(r'<g class="series"', dom.stdout))
    want = sum(n for _, n, _, _ in gflops_plots(root)) + len(dict.fromkeys(c[0] for c in CHECK_CASES)) \
        if root is not None else -1
    check("chromium: the dumped DOM has every series", dom.returncode == 0 and series == want,
          f"exit {dom.returncode}, {series} series, want {want}")
    complaints = [line for line in dom.stderr.splitlines() if about_page.search(line)]
    check("chromium: no error about the page (DOM)", not complaints, complaints[:5])
    png = path("report.png")
    shot = browse(f"--screenshot={png}", "--window-size=1400,3000")
    check("chromium: screenshot taken", shot.returncode == 0 and os.path.exists(png)
          and os.path.getsize(png) > 10000, f"exit {shot.returncode}: {shot.stderr[-500:]}")
    complaints = [line for line in shot.stderr.splitlines() if about_page.search(line)]
    check("chromium: no error about the page (screenshot)", not complaints, complaints[:5])

for f in failures:
    print("FAIL", f)
print(f"{passed} passed, {len(failures)} failed" + (f", {skipped} skipped" if skipped else ""))
shutil.rmtree(tmp, ignore_errors=True)
sys.exit(1 if failures else 0)
