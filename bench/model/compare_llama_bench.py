#!/usr/bin/env python3
"""lcte against llama.cpp in the same run: llama-bench and `lcte bench`
alternate on the same GGUF files, and the table gives each one's t/s and
their ratio.

usage: compare_llama_bench.py --llama-build DIR [--lcte build/src/cli/lcte]
                              [-p 128] [-n 64] [-t 1,2] [-r 3] [--rounds 2]
                              [--kv-type f16] [--json OUT] [--llama-commit C] MODEL.gguf...

DIR is a llama.cpp build directory (its bin/llama-bench is run). For every
model and thread count the two programs run one after the other, --rounds
times, in alternating order (llama.cpp first in odd rounds, lcte first in
even ones), so both see the same machine load; each run is -r timed
repetitions. A row reports, per program, the best of the rounds' mean t/s
(the round least disturbed by other work) and the ratio lcte / llama.cpp of
those. Both use the same prompt/generation lengths, threads and KV cache
type; llama-bench keeps its defaults otherwise (batch 2048, ubatch 512, no
flash attention, mmap).

The header names llama.cpp's commit and CPU as llama-bench reports them.
"""
import argparse, json, os, subprocess, sys


def run_json(cmd):
    """Runs cmd, returns its stdout parsed as JSON (exits with its stderr on failure)."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f'{" ".join(cmd)} failed (exit {p.returncode}):\n{p.stderr[-2000:]}')
    out = p.stdout
    start = out.find('[')
    if start < 0:
        sys.exit(f'{" ".join(cmd)}: no JSON array in its output')
    return json.loads(out[start:])


def llama_rows(bench, model, args, threads):
    cmd = [bench, '-m', model, '-p', args.p, '-n', args.n, '-t', str(threads), '-r', args.r,
           '-ctk', args.kv_type, '-ctv', args.kv_type, '-o', 'json']
    rows = {}
    meta = {}
    for r in run_json(cmd):
        test = f'pp{r["n_prompt"]}' if r['n_prompt'] > 0 else f'tg{r["n_gen"]}'
        rows[test] = r['avg_ts']
        meta = {'commit': r.get('build_commit', '?'), 'cpu': r.get('cpu_info', '?'),
                'model_type': r.get('model_type', '?')}
    return rows, meta


def lcte_rows(lcte, model, args, threads):
    cmd = [lcte, 'bench', '-m', model, '-p', args.p, '-n', args.n, '-t', str(threads), '-r', args.r,
           '--kv-type', args.kv_type, '--json']
    return {r['test']: r['tps_mean'] for r in run_json(cmd)}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, '..', '..'))
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--llama-build', required=True, help='llama.cpp build directory (with bin/llama-bench)')
    ap.add_argument('--lcte', default=os.path.join(root, 'build', 'src', 'cli', 'lcte'))
    ap.add_argument('-p', default='128')
    ap.add_argument('-n', default='64')
    ap.add_argument('-t', default='1,2', help='thread counts, comma-separated')
    ap.add_argument('-r', default='3', help='timed repetitions per run')
    ap.add_argument('--rounds', type=int, default=2)
    ap.add_argument('--kv-type', default='f16', choices=['f16', 'f32'])
    ap.add_argument('--json', default=None, help='also write the rows as JSON to this file')
    ap.add_argument('--llama-commit', default=None,
                    help='commit to print for llama.cpp (llama-bench says "unknown" when built outside a git checkout)')
    ap.add_argument('models', nargs='+')
    args = ap.parse_args()

    bench = os.path.join(args.llama_build, 'bin', 'llama-bench')
    for path, what in ((bench, 'llama-bench'), (args.lcte, 'lcte')):
        if not os.access(path, os.X_OK):
            sys.exit(f'{what} not found or not executable: {path}')
    for m in args.models:
        if not os.path.isfile(m):
            sys.exit(f'model not found: {m}')
    threads = [int(t) for t in args.t.split(',')]

    results, meta = [], {}
    for model in args.models:
        for t in threads:
            best_l, best_c = {}, {}
            for rnd in range(args.rounds):
                order = ('llama', 'lcte') if rnd % 2 == 0 else ('lcte', 'llama')
                for who in order:
                    if who == 'llama':
                        rows, meta = llama_rows(bench, model, args, t)
                        for k, v in rows.items():
                            best_l[k] = max(best_l.get(k, 0.0), v)
                    else:
                        for k, v in lcte_rows(args.lcte, model, args, t).items():
                            best_c[k] = max(best_c.get(k, 0.0), v)
            for test in sorted(best_l, key=lambda s: (s[:2] != 'pp', s)):
                if test in best_c:
                    results.append({'model': os.path.basename(model), 'threads': t, 'test': test,
                                    'llama_tps': best_l[test], 'lcte_tps': best_c[test],
                                    'ratio': best_c[test] / best_l[test]})

    if args.llama_commit:
        meta['commit'] = args.llama_commit
    print(f'llama.cpp {meta.get("commit", "?")} ({args.llama_build}), CPU: {meta.get("cpu", "?")}; '
          f'-p {args.p} -n {args.n} -r {args.r}, {args.rounds} alternating rounds, KV {args.kv_type}, best round')
    print()
    print('| model | threads | test | llama.cpp t/s | lcte t/s | lcte / llama.cpp |')
    print('|---|---:|---|---:|---:|---:|')
    for r in results:
        print(f'| {r["model"]} | {r["threads"]} | {r["test"]} | {r["llama_tps"]:.1f} | {r["lcte_tps"]:.1f} | '
              f'{r["ratio"]:.2f} |')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'llama_cpp': meta, 'args': vars(args), 'rows': results}, f, indent=1)


if __name__ == '__main__':
    main()
