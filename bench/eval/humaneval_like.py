#!/usr/bin/env python3
"""A stand-in for OpenAI's human-eval harness (not installable here: no PyPI),
written for lcte's benchmark. It follows the execution method of human-eval's
execution.py: a thread pool of N workers, and for every sample a fresh
multiprocessing.Process that exec()s prompt + completion + test +
check(entry_point) in a temporary directory, with a timeout, the verdict
coming back through a Manager list. No confinement beyond that (as in
human-eval, which also only disables some os functions).

Usage: humaneval_like.py HumanEval.jsonl.gz WORKERS [TIMEOUT]
Prints: samples, passed, seconds, samples/s.
"""
import contextlib
import gzip
import json
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor


def run_program(program, timeout, result):
    with tempfile.TemporaryDirectory() as work:
        os.chdir(work)
        try:
            with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
                exec(program, {})
            result.append("passed")
        except BaseException as e:  # noqa: BLE001 - the verdict is the exception's type
            result.append("failed: " + type(e).__name__)


def check_one(manager, problem, completion, timeout):
    program = (problem["prompt"] + completion + "\n" + problem["test"] + "\n" +
               "check(" + problem["entry_point"] + ")")
    result = manager.list()
    process = multiprocessing.Process(target=run_program, args=(program, timeout, result))
    process.start()
    process.join(timeout=timeout + 1)
    if process.is_alive():
        process.kill()
        process.join()
    return result[0] if result else "timed out"


def main():
    path, workers = sys.argv[1], int(sys.argv[2])
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    with gzip.open(path, "rt") as f:
        problems = [json.loads(line) for line in f if line.strip()]
    manager = multiprocessing.Manager()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        verdicts = list(pool.map(lambda p: check_one(manager, p, p["canonical_solution"], timeout), problems))
    seconds = time.perf_counter() - start
    passed = sum(v == "passed" for v in verdicts)
    print(f"{len(verdicts)} samples, {passed} passed, {seconds:.2f} s, {len(verdicts) / seconds:.1f} samples/s")


if __name__ == "__main__":
    main()
