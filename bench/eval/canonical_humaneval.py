#!/usr/bin/env python3
"""Times the canonical HumanEval run end to end (all 164 reference solutions),
lcte against OpenAI's human-eval harness (reproduced in human_eval_reference.py),
with 1 and 2 workers. Each repetition runs every configuration once, back to
back, so that load from other users of the machine falls on all of them alike;
the table gives every run, the median, and the CPU time per sample of the
whole process tree (median of three more runs under `perf stat`, where perf
exists).

Timed from outside, as whole processes: interpreter or program start, reading
the suite, running every sample, writing the results (lcte: run.sqlite,
samples.csv, summary.json, and in the `store` rows also the experiment store and
the HTML report; human-eval: SAMPLES_results.jsonl).

Usage: canonical_humaneval.py LCTE DATA_DIR [REPEATS]
Env: OTHER_LCTE=path of another lcte binary (an earlier commit's build) to time
alongside, for before/after comparisons on the same machine.
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


def cpu_jiffies():
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    return sum(values), values[3] + values[4]  # total, idle + iowait


def timed(argv, env=None):
    """Wall seconds, the machine's busy share over the run (all processes,
    ours included: 1.0 means both cores were busy throughout), stdout."""
    total0, idle0 = cpu_jiffies()
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seconds = time.perf_counter() - start
    total1, idle1 = cpu_jiffies()
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(argv)}")
    busy = 1 - (idle1 - idle0) / max(1, total1 - total0)
    return seconds, busy, done.stdout


def cpu_ms_per_sample(argv, env, samples):
    """CPU time of the whole process tree (PID namespaces included), from
    `perf stat`, per sample; None without perf."""
    try:
        done = subprocess.run(["perf", "stat", "-x", ",", "-e", "task-clock", "--"] + argv, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        return None
    for line in done.stderr.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2] == "task-clock":
            return float(fields[0]) / samples if done.returncode == 0 else None
    return None


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
    # Both harnesses start the same interpreter directly (not through a pyenv
    # shim, which costs ~80 ms at lcte's start).
    env = dict(os.environ, LCTE_DATA_DIR=data,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))

    def lcte_argv(workers, store, tag, binary=lcte):
        argv = [binary, "--log-level", "warn", "eval", "--suite", "humaneval", "--backend", "canonical",
                "--split", "all", "--workers", str(workers), "--out", work, "--run-id", tag, "--json"]
        argv += ["--store", os.path.join(work, "store.sqlite")] if store else ["--no-store"]
        return argv

    def reference_argv(workers):
        return [sys.executable, os.path.join(HERE, "human_eval_reference.py"), problems, samples, str(workers)]

    def lcte_run(workers, store, tag, binary=lcte):
        seconds, load, out = timed(lcte_argv(workers, store, tag, binary), env)
        s = json.loads(out)
        return seconds, load, s["samples"], s["status_counts"]["passed"]

    def reference_run(workers):
        seconds, load, out = timed(reference_argv(workers), env)
        n, _, passed = out.split()[:3]  # "164 samples, 164 passed, ..."
        return seconds, load, int(n), int(passed)

    other = os.environ.get("OTHER_LCTE")  # e.g. a build of an earlier commit, for before/after
    configs = []
    for workers in (1, 2):
        configs.append(("lcte eval --no-store", workers, lambda r, w=workers: lcte_run(w, False, f"n{w}-{r}"),
                        lambda k, w=workers: lcte_argv(w, False, f"cpu-n{w}-{k}")))
        configs.append(("lcte eval (store + report)", workers, lambda r, w=workers: lcte_run(w, True, f"s{w}-{r}"),
                        lambda k, w=workers: lcte_argv(w, True, f"cpu-s{w}-{k}")))
        if other:
            configs.append(("other lcte build --no-store", workers,
                            lambda r, w=workers: lcte_run(w, False, f"o{w}-{r}", other),
                            lambda k, w=workers: lcte_argv(w, False, f"cpu-o{w}-{k}", other)))
        configs.append(("human-eval (reproduced)", workers, lambda r, w=workers: reference_run(w),
                        lambda k, w=workers: reference_argv(w)))
    results = {i: [] for i in range(len(configs))}
    print(f"machine: {os.cpu_count()} cores; {sys.version.split()[0]}; {repeats} repetitions", flush=True)
    for r in range(repeats):
        for i, (name, workers, run, _) in enumerate(configs):
            seconds, load, n, passed = run(r)
            results[i].append((seconds, load, n, passed))
            print(f"  rep {r} {name:<28} w{workers}: {passed}/{n} passed, {seconds:6.2f} s, "
                  f"{n / seconds:6.1f} samples/s (machine busy {100 * load:.0f}%)", flush=True)
    print()
    cpu = {}
    for i, (_, _, _, argv) in enumerate(configs):  # median of three perf runs
        got = [cpu_ms_per_sample(argv(k), env, 164) for k in range(3)]
        cpu[i] = statistics.median(got) if None not in got else None
    print(f"{'harness':<30} {'workers':>7} {'passed':>7} {'median s':>9} {'samples/s':>10} {'cpu ms/sample':>13} "
          f"{'runs (samples/s)':<24} machine busy")
    for i, (name, workers, _, _) in enumerate(configs):
        rows = results[i]
        rates = [n / s for s, _, n, _ in rows]
        median_s = statistics.median(s for s, _, _, _ in rows)
        cpu_text = f"{cpu[i]:.1f}" if cpu[i] is not None else "-"
        print(f"{name:<30} {workers:>7} {rows[0][3]:>7} {median_s:>9.2f} {rows[0][2] / median_s:>10.1f} {cpu_text:>13} "
              f"{', '.join(f'{x:.1f}' for x in rates):<24} {', '.join(f'{100 * l:.0f}%' for _, l, _, _ in rows)}")
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
