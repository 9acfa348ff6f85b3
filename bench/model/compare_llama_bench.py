#!/usr/bin/env python3
"""lcte against llama.cpp in the same run: llama-bench and `lcte bench`
alternate on the same GGUF files, and the table gives each one's t/s and
their ratio.

usage: compare_llama_bench.py --llama-build DIR [--lcte build/src/cli/lcte]
                              [--baseline OTHER_LCTE] [--baseline-kernels ISA]
                              [-p 128] [-n 64] [-t 1,2]
                              [-r 3] [--rounds 2] [--stat median|best]
                              [--kv-type f16] [--json OUT] [--llama-commit C] MODEL.gguf...

DIR is a llama.cpp build directory (its bin/llama-bench is run). For every
model and thread count the programs run one after the other, --rounds times,
in rotating order (llama.cpp first in the first round, lcte first in the
next, ...), so all see the same machine load; each run is -r timed
repetitions. A row reports, per program, the median (--stat median, the
default) or the best (--stat best: the round least disturbed by other work)
of the rounds' mean t/s, and the ratio lcte / llama.cpp of those.
--baseline adds a second lcte binary (e.g. a build of an earlier commit) to
the rotation, with its own columns, for a before/after in the same run;
--baseline-kernels ISA runs the baseline (by default the same lcte) with
LCTE_KERNELS=ISA, e.g. avx2 on an AVX-512 machine to see what the AVX-512
kernel table gains over the AVX2 one. The header names the kernel table each
lcte ran (`lcte bench` reports it). All
use the same prompt/generation lengths, threads and KV cache type;
llama-bench keeps its defaults otherwise (batch 2048, ubatch 512, no flash
attention, mmap).

The header names llama.cpp's commit and CPU as llama-bench reports them.
Decoding reads every weight once per token, so the generation rows also give
each program's weight bytes per second (llama-bench's model size times t/s);
the machine's copy bandwidth (a 256 MiB memmove, best of 5, read + written
bytes per second), measured before and after the runs, is printed with them
to compare against.
"""
import argparse, json, os, subprocess, sys, time


def copy_bandwidth(mib=256, tries=5):
    """Bytes read plus bytes written per second by a memmove of `mib` MiB, best of `tries`."""
    src = bytearray(os.urandom(1 << 20)) * mib
    dst = bytearray(len(src))
    best = 0.0
    for _ in range(tries):
        t0 = time.perf_counter()
        dst[:] = src
        best = max(best, 2 * len(src) / (time.perf_counter() - t0))
    return best


def run_json(cmd, env=None):
    """Runs cmd, returns its stdout parsed as JSON (exits with its stderr on failure)."""
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
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
                'model_type': r.get('model_type', '?'), 'model_size': r.get('model_size', 0)}
    return rows, meta


def lcte_rows(lcte, model, args, threads, kernels=None, seen_kernels=None):
    """lcte bench's mean t/s per test; kernels caps the kernel table (LCTE_KERNELS),
    and the table that ran is added to the set seen_kernels."""
    cmd = [lcte, 'bench', '-m', model, '-p', args.p, '-n', args.n, '-t', str(threads), '-r', args.r,
           '--kv-type', args.kv_type, '--json']
    env = dict(os.environ)
    if kernels:
        env['LCTE_KERNELS'] = kernels
    else:
        env.pop('LCTE_KERNELS', None)
    rows = run_json(cmd, env)
    if seen_kernels is not None:
        seen_kernels.update(r.get('kernels', '?') for r in rows)
    return {r['test']: r['tps_mean'] for r in rows}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, '..', '..'))
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--llama-build', required=True, help='llama.cpp build directory (with bin/llama-bench)')
    ap.add_argument('--lcte', default=os.path.join(root, 'build', 'src', 'cli', 'lcte'))
    ap.add_argument('--baseline', default=None, help='a second lcte binary to run in the same rotation')
    ap.add_argument('--baseline-kernels', default=None, choices=['scalar', 'avx2', 'avx512', 'avx512vnni'],
                    help='run the baseline (the same lcte unless --baseline) with LCTE_KERNELS set to this')
    ap.add_argument('--stat', default='median', choices=['median', 'best'],
                    help="how the rounds' mean t/s are combined")
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
    if args.baseline_kernels and not args.baseline:
        args.baseline = args.lcte

    bench = os.path.join(args.llama_build, 'bin', 'llama-bench')
    checks = [(bench, 'llama-bench'), (args.lcte, 'lcte')]
    if args.baseline:
        checks.append((args.baseline, 'baseline lcte'))
    for path, what in checks:
        if not os.access(path, os.X_OK):
            sys.exit(f'{what} not found or not executable: {path}')
    for m in args.models:
        if not os.path.isfile(m):
            sys.exit(f'model not found: {m}')
    threads = [int(t) for t in args.t.split(',')]
    programs = ['llama', 'lcte'] + (['base'] if args.baseline else [])

    def combine(values):
        if args.stat == 'best':
            return max(values)
        v = sorted(values)
        mid = len(v) // 2
        return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2

    results, meta, sizes = [], {}, {}
    kernels_seen = {'lcte': set(), 'base': set()}
    copy_before = copy_bandwidth()
    for model in args.models:
        for t in threads:
            seen = {who: {} for who in programs}  # test -> every round's mean t/s
            for rnd in range(args.rounds):
                k = rnd % len(programs)
                for who in programs[k:] + programs[:k]:
                    if who == 'llama':
                        rows, meta = llama_rows(bench, model, args, t)
                        sizes[model] = meta.get('model_size', 0)
                    elif who == 'lcte':
                        rows = lcte_rows(args.lcte, model, args, t, None, kernels_seen['lcte'])
                    else:
                        rows = lcte_rows(args.baseline, model, args, t, args.baseline_kernels, kernels_seen['base'])
                    for test, v in rows.items():
                        seen[who].setdefault(test, []).append(v)
            for test in sorted(seen['llama'], key=lambda s: (s[:2] != 'pp', s)):
                if test not in seen['lcte']:
                    continue
                row = {'model': os.path.basename(model), 'threads': t, 'test': test,
                       'llama_tps': combine(seen['llama'][test]), 'lcte_tps': combine(seen['lcte'][test]),
                       'rounds': {who: seen[who].get(test, []) for who in programs}}
                row['ratio'] = row['lcte_tps'] / row['llama_tps']
                if test.startswith('tg') and sizes.get(model):
                    row['llama_gbs'] = row['llama_tps'] * sizes[model] / 1e9
                    row['lcte_gbs'] = row['lcte_tps'] * sizes[model] / 1e9
                if args.baseline and test in seen['base']:
                    row['base_tps'] = combine(seen['base'][test])
                    row['base_ratio'] = row['base_tps'] / row['llama_tps']
                results.append(row)

    copy_after = copy_bandwidth()
    if args.llama_commit:
        meta['commit'] = args.llama_commit
    print(f'llama.cpp {meta.get("commit", "?")} ({args.llama_build}), CPU: {meta.get("cpu", "?")}; '
          f'-p {args.p} -n {args.n} -r {args.r}, {args.rounds} rotating rounds, KV {args.kv_type}, '
          f'{args.stat} of the rounds')
    print(f'copy bandwidth (256 MiB memmove, read + write): {copy_before / 1e9:.1f} GB/s before, '
          f'{copy_after / 1e9:.1f} GB/s after; weight GB/s = model size x t/s (generation rows)')
    print(f'lcte kernels: {", ".join(sorted(kernels_seen["lcte"]))} ({args.lcte})' +
          (f'; baseline kernels: {", ".join(sorted(kernels_seen["base"]))} ({args.baseline}'
           f'{", LCTE_KERNELS=" + args.baseline_kernels if args.baseline_kernels else ""})' if args.baseline else ''))
    print()
    if args.baseline:
        print('| model | threads | test | llama.cpp t/s | baseline t/s | lcte t/s | baseline / llama.cpp | lcte / llama.cpp |')
        print('|---|---:|---|---:|---:|---:|---:|---:|')
    else:
        print('| model | threads | test | llama.cpp t/s | lcte t/s | lcte / llama.cpp | weight GB/s llama.cpp / lcte |')
        print('|---|---:|---|---:|---:|---:|---:|')
    for r in results:
        if args.baseline:
            print(f'| {r["model"]} | {r["threads"]} | {r["test"]} | {r["llama_tps"]:.1f} | '
                  f'{r.get("base_tps", 0):.1f} | {r["lcte_tps"]:.1f} | {r.get("base_ratio", 0):.2f} | '
                  f'{r["ratio"]:.2f} |')
        else:
            gbs = f'{r["llama_gbs"]:.1f} / {r["lcte_gbs"]:.1f}' if 'lcte_gbs' in r else ''
            print(f'| {r["model"]} | {r["threads"]} | {r["test"]} | {r["llama_tps"]:.1f} | {r["lcte_tps"]:.1f} | '
                  f'{r["ratio"]:.2f} | {gbs} |')
        sys.stdout.flush()
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'llama_cpp': meta, 'args': vars(args), 'copy_bandwidth': [copy_before, copy_after],
                       'lcte_kernels': sorted(kernels_seen['lcte']), 'baseline_kernels': sorted(kernels_seen['base']),
                       'rows': results}, f, indent=1)


if __name__ == '__main__':
    main()
