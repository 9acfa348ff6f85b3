#!/usr/bin/env python3
"""Reads ctest's JUnit output (ctest --output-junit FILE) and prints what the
run did not test, then one closing line: "N passed, N failed, N skipped".

ctest's own line counts skipped tests as passed; this one does not. Skipped
tests are grouped by what they wanted: the data file named in a test's
"data file absent: PATH" message (PATH relative to the data directory), or
else the skip message itself (an ISA this machine lacks, a missing tool).

--also LABEL=FILE adds another ctest run's JUnit file (scripts/test.sh adds
the AVX-512 tests run under emulation, scripts/emulate_avx512.sh, on CPUs
without AVX-512): its tests count in the closing line under names prefixed
"LABEL:", and a line before it gives that run's own counts.
"""
import argparse
import collections
import os
import re
import sys
import xml.etree.ElementTree as ET

# ctest marks these "notrun" tests as deliberately skipped; any other "notrun"
# (a missing executable, a failed fixture) is a failure.
SKIP_STATUSES = re.compile(r"^(SKIP_RETURN_CODE=\d+|SKIP_REGULAR_EXPRESSION_MATCHED|Disabled)$")
DATA_ABSENT = re.compile(r"data file absent: (\S+)")
GATE_LINE = re.compile(r"^this machine has no .*$", re.M)
# gtest prints "file:line: Skipped" then the message, up to "[  SKIPPED ]".
GTEST_SKIP = re.compile(r": Skipped\n(.*?)\n\[  SKIPPED \]", re.S)
MAX_GROUPS = 30


def skip_reason(output, status, data_dir):
    """The group a skipped test belongs to, from the output it printed."""
    m = DATA_ABSENT.search(output)
    if m:
        path = m.group(1)
        if data_dir and os.path.isabs(path):
            # Tests print the directory as they were given it ("src/../shared/data").
            prefix = os.path.normpath(os.path.abspath(data_dir)) + os.sep
            path = os.path.normpath(path)
            if path.startswith(prefix):
                path = path[len(prefix):]
        return "data file " + path
    m = GATE_LINE.search(output)
    if m:
        return m.group(0).strip()
    m = GTEST_SKIP.search(output)
    if m:
        return m.group(1).strip().splitlines()[0]
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else status


def classify(case, data_dir):
    """('passed' | 'failed' | 'skipped', reason or None) for one <testcase>."""
    if case.find("failure") is not None or case.find("error") is not None:
        return "failed", None
    if case.get("status") == "disabled":
        return "skipped", "disabled in CMake"
    skipped = case.find("skipped")
    if skipped is None:
        return "passed", None
    if not SKIP_STATUSES.match(skipped.get("message", "")):
        return "failed", None
    out = case.findtext("system-out") or ""
    return "skipped", skip_reason(out, skipped.get("message"), data_dir)


def summarize(junit_path, data_dir, label=None):
    root = ET.parse(junit_path).getroot()
    counts = collections.Counter()
    reasons = collections.Counter()
    failed = []
    prefix = f"{label}: " if label else ""
    for case in root.iter("testcase"):
        kind, reason = classify(case, data_dir)
        counts[kind] += 1
        if kind == "skipped":
            reasons[prefix + reason] += 1
        elif kind == "failed":
            failed.append(prefix + case.get("name", "?"))
    return counts, reasons, failed


def counts_line(counts):
    return f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("junit", help="ctest --output-junit file")
    ap.add_argument("--data-dir", help="the tests' data directory: paths under it are shown relative to it, "
                                       "and its absence is said before the closing line")
    ap.add_argument("--also", action="append", default=[], metavar="LABEL=FILE",
                    help="another run's JUnit file, counted in the closing line under LABEL (repeatable)")
    args = ap.parse_args()
    try:
        counts, reasons, failed = summarize(args.junit, args.data_dir)
    except (OSError, ET.ParseError) as e:
        print(f"ctest_summary: cannot read {args.junit}: {e}", file=sys.stderr)
        print("0 passed, 1 failed, 0 skipped")
        return 1
    extra_lines = []
    for spec in args.also:
        label, sep, path = spec.partition("=")
        if not sep or not label or not path:
            ap.error(f"--also {spec!r}: expected LABEL=FILE")
        try:
            c, r, f = summarize(path, args.data_dir, label)
        except (OSError, ET.ParseError) as e:
            print(f"ctest_summary: cannot read {label}'s {path}: {e}", file=sys.stderr)
            c, r, f = collections.Counter(failed=1), collections.Counter(), [f"{label}: (no results)"]
        extra_lines.append(f"{label}: {counts_line(c)}")
        counts.update(c)
        reasons.update(r)
        failed.extend(f)
    if reasons:
        print(f"skipped tests, by what they wanted ({counts['skipped']}):")
        ranked = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        for reason, n in ranked[:MAX_GROUPS]:
            print(f"  {n:5d}  {reason}")
        rest = ranked[MAX_GROUPS:]
        if rest:
            print(f"  {sum(n for _, n in rest):5d}  ({len(rest)} more groups)")
    if failed:
        print(f"failed ({len(failed)}): " + ", ".join(failed))
    if args.data_dir and not os.path.isdir(args.data_dir):
        print(f"the test data directory {args.data_dir} is absent: tests that need its files were skipped")
    for line in extra_lines:
        print(line)
    print(counts_line(counts))
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
