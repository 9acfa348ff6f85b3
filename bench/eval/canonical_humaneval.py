#!/usr/bin/env python3
"""Times the canonical HumanEval run end to end (all 164 reference solutions),
lcte against OpenAI's human-eval harness (reproduced in human_eval_reference.py),
with 1 and 2 workers. Each repetition runs every configuration once, back to
back, so that load from other users of the machine falls on all of them alike;
the table gives every run and the median.

Timed from outside, as whole processes: interpreter or program start, reading
the suite, running every sample, writing the results (lcte: run.sqlite,
samples.csv, summary.json, and in the `store` rows also the experiment store and
the HTML report; human-eval: SAMPLES_results.jsonl).

Usage: canonical_humaneval.py LCTE DATA_DIR [REPEATS]
"""
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def timed(argv, env=None):
    load = loadavg()
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(argv)}")
    return seconds, load, done.stdout


def main():
    lcte, data = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    problems = os.path.join(data, "humaneval", "HumanEval.jsonl.gz")
    work = tempfile.mkdtemp(prefix="lcte-bench-")
    samples = os.path.join(work, "samples.jsonl")
    with gzip.open(problems, "rt") as f, open(samples, "w") as out:
        for line in f:
            if line.strip():
                p = json.loads(line)
                out.write(json.dumps({"task_id": p["task_id"], "completion": p["canonical_solution"]}) + "\n")
    env = dict(os.environ, LCTE_DATA_DIR=data)

    def lcte_run(workers, store, tag):
        argv = [lcte, "--log-level", "warn", "eval", "--suite", "humaneval", "--backend", "canonical",
                "--split", "all", "--workers", str(workers), "--out", work, "--run-id", tag, "--json"]
        argv += ["--store", os.path.join(work, "store.sqlite")] if store else ["--no-store"]
        seconds, load, out = timed(argv, env)
        s = json.loads(out)
        return seconds, load, s["samples"], s["status_counts"]["passed"]

    def reference_run(workers):
        seconds, load, out = timed([sys.executable, os.path.join(HERE, "human_eval_reference.py"),
                                    problems, samples, str(workers)])
        n, _, passed = out.split()[:3]  # "164 samples, 164 passed, ..."
        return seconds, load, int(n), int(passed)

    configs = []
    for workers in (1, 2):
        configs.append((f"lcte eval --no-store", workers, lambda r, w=workers: lcte_run(w, False, f"n{w}-{r}")))
        configs.append((f"lcte eval (store + report)", workers, lambda r, w=workers: lcte_run(w, True, f"s{w}-{r}")))
        configs.append(("human-eval (reproduced)", workers, lambda r, w=workers: reference_run(w)))
    results = {i: [] for i in range(len(configs))}
    print(f"machine: {os.cpu_count()} cores; {sys.version.split()[0]}; {repeats} repetitions", flush=True)
    for r in range(repeats):
        for i, (name, workers, run) in enumerate(configs):
            seconds, load, n, passed = run(r)
            results[i].append((seconds, load, n, passed))
            print(f"  rep {r} {name:<28} w{workers}: {passed}/{n} passed, {seconds:6.2f} s, "
                  f"{n / seconds:6.1f} samples/s (load {load:.1f})", flush=True)
    print()
    print(f"{'harness':<30} {'workers':>7} {'passed':>7} {'median s':>9} {'samples/s':>10} {'runs (samples/s)':<28} loads")
    for i, (name, workers, _) in enumerate(configs):
        rows = results[i]
        rates = [n / s for s, _, n, _ in rows]
        median_s = statistics.median(s for s, _, _, _ in rows)
        print(f"{name:<30} {workers:>7} {rows[0][3]:>7} {median_s:>9.2f} {rows[0][2] / median_s:>10.1f} "
              f"{', '.join(f'{x:.1f}' for x in rates):<28} {', '.join(f'{l:.1f}' for _, l, _, _ in rows)}")
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
