#!/usr/bin/python3
"""run.py [NAME...] — `make mutants`: apply each deliberate bug of tests/mutants/mutants.txt
to a scratch copy of the tree, rebuild it, run the suites named for it, and report it as

  killed    a named suite failed (counted failures, not a crash of the harness)
  survived  every named suite passed: the tests miss this bug
  stale     its text is not (or not exactly once) in its file: the code moved, the
            list must follow
  broken    the mutated tree does not build (a mutant must be a bug, not a typo)

Exit 0 only if every mutant is killed. The real tree is never touched: the scratch copy is
made with tar (no .git) under $TMPDIR and removed at the end. Before the mutants, every
named suite runs once on the unmutated copy (the control): a suite that fails there kills
nothing, so the run stops.

  env MUTANT_KEEP=1  keep the scratch directories (for a look at a survivor)
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIST = os.path.join(ROOT, "tests", "mutants", "mutants.txt")


def parse(path):
    """Blocks of 'key: value' lines separated by blank lines; from/to take \\n and \\t."""
    muts, cur = [], {}
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if line.startswith("#"):
            continue
        if not line.strip():
            if cur:
                muts.append(cur)
            cur = {}
            continue
        key, _, val = line.partition(":")
        val = val[1:] if val.startswith(" ") else val
        if key.rstrip("23456789") in ("from", "to"):
            val = val.replace("\\n", "\n").replace("\\t", "\t")
        cur[key.strip()] = val
    if cur:
        muts.append(cur)
    for m in muts:
        for k in ("name", "file", "from", "to", "suites", "why"):
            if k not in m:
                sys.exit("mutants.txt: mutant %s lacks '%s:'" % (m.get("name", "?"), k))
        m["suites"] = m["suites"].split()
    return muts


def copy_tree(src, dst):
    os.makedirs(dst)
    tar = subprocess.Popen(["tar", "-C", src, "--exclude=./.git", "--exclude=./llmnas.db",
                            "-cf", "-", "."], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-C", dst, "-xf", "-"], stdin=tar.stdout, check=True)
    if tar.wait():
        raise SystemExit("tar of %s failed" % src)


def build(tree, log):
    with open(log, "w") as f:
        ctests = sorted("build/tests/" + n[:-2] for n in os.listdir(os.path.join(tree, "tests", "c"))
                        if n.startswith("test_") and n.endswith(".c"))
        return subprocess.run(["make", "-j2", "all"] + ctests, cwd=tree, stdout=f,
                              stderr=subprocess.STDOUT).returncode == 0


def run_suite(tree, suite, log):
    """(failed, passed) of tests/run.sh on one suite: 'kind/name' (matched exactly), or
    'c/name:pattern' for only the cmocka tests matching pattern (LLMNAS_TEST_ONLY)."""
    env = dict(os.environ, BUILD="build", LLMNAS=os.path.join(tree, "build", "llmnas"))
    env.pop("SKIP_OK", None)
    env.pop("LLMNAS_TEST_ONLY", None)
    name, _, only = suite.partition(":")
    if only:
        env["LLMNAS_TEST_ONLY"] = only
    with open(log, "a") as f:
        f.write("=== %s\n" % suite)
        f.flush()
        subprocess.run(["sh", "tests/run.sh", name], cwd=tree, env=env, stdout=f,
                       stderr=subprocess.STDOUT)
    text = open(log).read().split("=== %s\n" % suite)[-1]
    m = re.search(r"^total: (\d+) passed, (\d+) failed, (\d+) skipped$", text, re.M)
    if not m:
        return None, 0
    return int(m.group(2)), int(m.group(1))


def main():
    muts = parse(LIST)
    only = sys.argv[1:]
    if only:
        muts = [m for m in muts if m["name"] in only]
        if not muts:
            sys.exit("no mutant named %s" % " ".join(only))
    work = tempfile.mkdtemp(prefix="llmnas-mutants.")
    keep = os.environ.get("MUTANT_KEEP") == "1"
    t0 = time.time()
    base = os.path.join(work, "base")
    print("mutants: %d, scratch copies under %s" % (len(muts), work), flush=True)
    copy_tree(ROOT, base)
    if not build(base, os.path.join(work, "base.build.log")):
        sys.exit("the unmutated tree does not build: %s/base.build.log" % work)
    suites = sorted({s for m in muts for s in m["suites"]})
    for s in suites:
        failed, passed = run_suite(base, s, os.path.join(work, "base.log"))
        if failed != 0 or passed == 0:
            sys.exit("control: %s fails or runs nothing on the unmutated tree (%s/base.log)"
                     % (s, work))
    print("control: %d suites pass on the unmutated tree (%.0f s)" % (len(suites), time.time() - t0),
          flush=True)

    results = []
    for m in muts:
        t1 = time.time()
        tree = os.path.join(work, m["name"])
        log = os.path.join(work, m["name"] + ".log")
        path = os.path.join(base, m["file"])
        src = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
        # from/to, then from2/to2, ...: every edit's text exactly once
        edits = [(m["from"], m["to"])] + [(m["from%d" % k], m["to%d" % k])
                                          for k in range(2, 10) if "from%d" % k in m]
        stale = ["'%s' found %d times in %s" % (a.split("\n")[0][:40], src.count(a), m["file"])
                 for a, _ in edits if src.count(a) != 1]
        if stale:
            verdict, by = "stale", "; ".join(stale)
        else:
            for a, b in edits:
                src = src.replace(a, b)
            shutil.copytree(base, tree, symlinks=True)
            with open(os.path.join(tree, m["file"]), "w", encoding="utf-8") as f:
                f.write(src)
            if not build(tree, log):
                verdict, by = "broken", "does not build: " + log
            else:
                verdict, by = "survived", "passed " + " ".join(m["suites"])
                for s in m["suites"]:
                    failed, _ = run_suite(tree, s, log)
                    if failed is None or failed > 0:
                        verdict, by = "killed", s
                        break
            if not keep:
                shutil.rmtree(tree, ignore_errors=True)
        results.append((m, verdict, by))
        print("%-8s %-28s by %s  (%.0f s)" % (verdict, m["name"], by, time.time() - t1), flush=True)

    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    bad = [r for r in results if r[1] != "killed"]
    print("mutants: %d killed, %d survived, %d stale, %d broken  (%.0f s)" % (
        sum(r[1] == "killed" for r in results), sum(r[1] == "survived" for r in results),
        sum(r[1] == "stale" for r in results), sum(r[1] == "broken" for r in results),
        time.time() - t0))
    sys.exit(1 if bad else 0)


main()
