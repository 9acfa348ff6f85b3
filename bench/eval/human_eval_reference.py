#!/usr/bin/env python3
"""Timing reference for bench/eval/canonical_humaneval.sh: what OpenAI's
human-eval harness (https://github.com/openai/human-eval, MIT licence; files
human_eval/evaluation.py, human_eval/execution.py, human_eval/data.py) does for
`evaluate_functional_correctness SAMPLES --n_workers W`, reproduced step by step
for timing only. This machine has no PyPI access, so the package cannot be
installed; numpy and tqdm are not installed either, so pass@k is computed with
the same product formula in plain Python and the progress bars are a minimal
stand-in that redraws at most 10 times a second (tqdm's default). It is not lcte
code and lcte does not use it.

What human-eval does, and so what this does:
  evaluation.py  read_problems (gzip JSONL); stream the samples JSONL and submit
                 one check_correctness per sample to a ThreadPoolExecutor(W);
                 collect with as_completed; pass@k per problem (unbiased
                 estimator) and its mean; stream the samples file again and
                 write SAMPLES_results.jsonl with result and passed per line.
  execution.py   check_correctness, per sample: a new multiprocessing.Manager()
                 (a server process) and a manager.list() for the verdict; a
                 multiprocessing.Process running unsafe_execute; join(timeout+1),
                 terminate if still alive. unsafe_execute, in the child: a
                 TemporaryDirectory and chdir into it; reliability_guard() (sets
                 ~30 os/shutil/subprocess/builtins functions to None and blocks a
                 few modules; no memory limit by default); builds prompt +
                 completion + test + check(entry_point); exec in a fresh dict,
                 with stdout/stderr/stdin redirected to a write-only StringIO and
                 a SIGALRM timer (setitimer) for the timeout; appends the verdict
                 to the managed list.
The Manager created per sample is dropped when check_correctness returns;
its finaliser shuts the server process down, as in human-eval.

Usage: human_eval_reference.py PROBLEMS.jsonl.gz SAMPLES.jsonl WORKERS [TIMEOUT]
Prints one line: "N samples, P passed, S s, R samples/s, pass@1 X".
"""
import contextlib
import faulthandler
import gzip
import io
import json
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed


# ---- human_eval/data.py ---------------------------------------------------

def stream_jsonl(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        for line in f:
            if any(not c.isspace() for c in line):
                yield json.loads(line)


def read_problems(path):
    return {p["task_id"]: p for p in stream_jsonl(path)}


def write_jsonl(path, rows):
    with open(path, "wb") as f:
        for row in rows:
            f.write((json.dumps(row) + "\n").encode("utf-8"))


# ---- human_eval/execution.py ----------------------------------------------

class TimeoutException(Exception):
    pass


class WriteOnlyStringIO(io.StringIO):
    """Reading from the sample's stdin raises, as in human-eval."""

    def read(self, *args, **kwargs):
        raise IOError

    def readline(self, *args, **kwargs):
        raise IOError

    def readlines(self, *args, **kwargs):
        raise IOError

    def readable(self, *args, **kwargs):
        return False


class redirect_stdin(contextlib._RedirectStream):  # noqa: N801 - human-eval's name
    _stream = "stdin"


@contextlib.contextmanager
def swallow_io():
    stream = WriteOnlyStringIO()
    with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream), redirect_stdin(stream):
        yield


@contextlib.contextmanager
def time_limit(seconds):
    def on_alarm(signum, frame):
        raise TimeoutException("Timed out!")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def chdir(root):
    if root == ".":
        yield
        return
    cwd = os.getcwd()
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(cwd)


@contextlib.contextmanager
def create_tempdir():
    with tempfile.TemporaryDirectory() as dirname:
        with chdir(dirname):
            yield dirname


def reliability_guard():
    # human-eval's list (maximum_memory_bytes defaults to None: no rlimit).
    faulthandler.disable()
    import builtins
    builtins.exit = None
    builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid",
                 "fork", "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink",
                 "fchmod", "fchown", "chmod", "chown", "chroot", "lchflags", "lchmod", "lchown",
                 "getcwd", "chdir"):
        setattr(os, name, None)
    import shutil
    shutil.rmtree = None
    shutil.move = None
    shutil.chown = None
    import subprocess
    subprocess.Popen = None
    builtins.help = None
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None


def unsafe_execute(problem, completion, timeout, result):
    with create_tempdir():
        import shutil
        rmtree, rmdir, chdir_ = shutil.rmtree, os.rmdir, os.chdir  # needed by the temp dir's clean-up
        reliability_guard()
        program = problem["prompt"] + completion + "\n" + problem["test"] + "\n" + f"check({problem['entry_point']})"
        try:
            with swallow_io():
                with time_limit(timeout):
                    exec(program, {})
            result.append("passed")
        except TimeoutException:
            result.append("timed out")
        except BaseException as e:  # noqa: BLE001 - the verdict is the exception
            result.append(f"failed: {e}")
        shutil.rmtree, os.rmdir, os.chdir = rmtree, rmdir, chdir_


def check_correctness(problem, completion, timeout, completion_id=None):
    manager = multiprocessing.Manager()
    result = manager.list()
    p = multiprocessing.Process(target=unsafe_execute, args=(problem, completion, timeout, result))
    p.start()
    p.join(timeout=timeout + 1)
    if p.is_alive():
        p.terminate()
        p.join()
    if not result:
        result.append("timed out")
    return dict(task_id=problem["task_id"], passed=result[0] == "passed", result=result[0],
                completion_id=completion_id)


# ---- human_eval/evaluation.py ---------------------------------------------

def estimate_pass_at_k(num_samples, num_correct, k):
    def estimator(n, c, k):
        if n - c < k:
            return 1.0
        prod = 1.0
        for i in range(n - c + 1, n + 1):
            prod *= 1.0 - k / i
        return 1.0 - prod
    return [estimator(int(n), int(c), k) for n, c in zip(num_samples, num_correct)]


def progress(items, total=None, out=sys.stderr):
    # stand-in for tqdm: a counter redrawn at most every 0.1 s
    last = 0.0
    count = 0
    for item in items:
        yield item
        count += 1
        now = time.monotonic()
        if now - last >= 0.1:
            out.write(f"\r{count}/{total if total is not None else '?'}")
            out.flush()
            last = now
    out.write(f"\r{count}/{total if total is not None else '?'}\n")


def evaluate_functional_correctness(sample_file, k=(1, 10, 100), n_workers=4, timeout=3.0,
                                    problem_file=None):
    problems = read_problems(problem_file)
    with ThreadPoolExecutor(max_workers=n_workers) as executor:
        futures = []
        completion_id = Counter()
        n_samples = 0
        results = defaultdict(list)
        print("Reading samples...", file=sys.stderr)
        for sample in progress(stream_jsonl(sample_file)):
            task_id = sample["task_id"]
            args = (problems[task_id], sample["completion"], timeout, completion_id[task_id])
            futures.append(executor.submit(check_correctness, *args))
            completion_id[task_id] += 1
            n_samples += 1
        assert len(completion_id) == len(problems), "Some problems are not attempted."
        print("Running test suites...", file=sys.stderr)
        for future in progress(as_completed(futures), total=len(futures)):
            result = future.result()
            results[result["task_id"]].append((result["completion_id"], result))

    total, correct = [], []
    for result in results.values():
        result.sort(key=lambda r: r[0])
        passed = [r[1]["passed"] for r in result]
        total.append(len(passed))
        correct.append(sum(passed))
    pass_at_k = {f"pass@{kk}": sum(estimate_pass_at_k(total, correct, kk)) / len(total)
                 for kk in k if all(t >= kk for t in total)}

    def combine_results():
        for sample in stream_jsonl(sample_file):
            result = results[sample["task_id"]].pop(0)
            sample["result"] = result[1]["result"]
            sample["passed"] = result[1]["passed"]
            yield sample

    out_file = sample_file + "_results.jsonl"
    print(f"Writing results to {out_file}...", file=sys.stderr)
    write_jsonl(out_file, progress(combine_results(), total=n_samples))
    return pass_at_k, n_samples, sum(correct)


def main():
    problems, samples, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 3.0
    start = time.perf_counter()
    pass_at_k, n, passed = evaluate_functional_correctness(samples, k=(1,), n_workers=workers,
                                                           timeout=timeout, problem_file=problems)
    seconds = time.perf_counter() - start
    print(f"{n} samples, {passed} passed, {seconds:.2f} s, {n / seconds:.1f} samples/s, "
          f"pass@1 {pass_at_k.get('pass@1', float('nan')):.3f}")


if __name__ == "__main__":
    main()
