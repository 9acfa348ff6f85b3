#!/usr/bin/env python3
"""Runs `lcte bench` over the GGUF models in shared/data/models and prints a
markdown table next to llama.cpp's llama-bench figures (reference/bench.md),
matched by architecture and file size.

usage: compare_llama_bench.py [--lcte build/src/cli/lcte] [--baseline OTHER_LCTE] [--data ../shared/data]
                              [-p 128] [-n 64] [-t 1,2] [-r 3] [models...]

--baseline runs a second lcte binary on each model right after the first (an
A/B in the same minute, so both see the same load) and adds its wall-clock
rate, its ratio to llama.cpp and its CPU-time rate. tg rows also get the weight bytes read per second of CPU time
(file tensor bytes x t/CPU-s), to set against a streaming-read figure.

"best t/s" is the fastest of the -r timed runs: on a machine shared with
other work it is the run least disturbed by it (llama.cpp's figures are
means on an idle machine, so compare both columns).

Also reports lcte's tokens per CPU-second (user + system time of all its
threads during the timed runs): on a shared machine the wall-clock t/s move
with other people's load; with one thread the CPU-time rate much less so.
"""
import argparse, json, os, re, subprocess, sys


def reference_rows(path):
    rows = {}
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) != 7 or not re.match(r'\d', cells[4] or ''):
            continue
        arch = cells[0].split()[0]
        size = cells[1].split()[0]
        tps = float(cells[6].split('±')[0])
        # F16 and BF16 files have the same size: the type (first word after
        # the parameter count, "all" skipped) tells them apart.
        words = [w for w in cells[0].split()[2:] if w != 'all']
        kind = words[0].lower() if words else ''
        rows[(arch, size, int(cells[4]), cells[5], kind)] = (tps, cells[6])
    return rows


def find_reference(ref, arch, size, threads, test, model_name):
    """The reference row for lcte's model string ("llama f16", "llama q4_K (mixed)")."""
    ours = model_name.split()[1].lower() if len(model_name.split()) > 1 else ''
    hits = [(k, v) for k, v in ref.items() if k[:4] == (arch, size, threads, test)]
    exact = [v for k, v in hits if k[4] == ours]
    if exact:
        return exact[0]
    return hits[0][1] if len(hits) == 1 else None


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, '..', '..'))
    ap = argparse.ArgumentParser()
    ap.add_argument('--lcte', default=os.path.join(root, 'build', 'src', 'cli', 'lcte'))
    ap.add_argument('--baseline', default=None)
    ap.add_argument('--data', default=os.path.join(root, '..', 'shared', 'data'))
    ap.add_argument('-p', default='128')
    ap.add_argument('-n', default='64')
    ap.add_argument('-t', default='1,2')
    ap.add_argument('-r', default='3')
    ap.add_argument('models', nargs='*')
    a = ap.parse_args()
    models = a.models or sorted(
        os.path.join(a.data, 'models', f) for f in os.listdir(os.path.join(a.data, 'models')) if f.endswith('.gguf'))
    ref = reference_rows(os.path.join(a.data, 'reference', 'bench.md'))
    def run(binary, m, t):
        out = subprocess.run([binary, 'bench', '-m', m, '-p', a.p, '-n', a.n, '-t', t, '-r', a.r, '--json'],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out)

    print('load average at start: %s' % ' '.join(open('/proc/loadavg').read().split()[:3]))
    head = ('| model | threads | test | lcte t/s | llama.cpp t/s | lcte / llama.cpp | lcte best t/s | best / llama.cpp |'
            ' lcte t/CPU-s | t/CPU-s / llama.cpp |')
    sep = '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'
    if a.baseline:
        head += ' baseline t/s | baseline / llama.cpp | baseline best t/s | baseline best / llama.cpp | baseline t/CPU-s |'
        sep += ' ---: | ---: | ---: | ---: | ---: |'
    head += ' tg GB/CPU-s |'
    sep += ' ---: |'
    print(head)
    print(sep)
    for m in models:
        for t in a.t.split(','):
            rows = run(a.lcte, m, t)
            base = {r['test']: r for r in run(a.baseline, m, t)} if a.baseline else {}
            for r in rows:
                size = '%.2f' % (r['size_bytes'] / 2**20)
                arch = r['model'].split()[0]
                lref = find_reference(ref, arch, size, int(t), r['test'], r['model'])
                ours = '%.0f ± %.0f' % (r['tps_mean'], r['tps_stddev'])
                theirs = lref[1] if lref else 'n/a'
                ratio = '%.2f' % (r['tps_mean'] / lref[0]) if lref else ''
                cpu_ratio = '%.2f' % (r['cpu_tps'] / lref[0]) if lref else ''
                best = max(r['tps_samples'])
                best_ratio = '%.2f' % (best / lref[0]) if lref else ''
                line = '| %s | %s | %s | %s | %s | %s | %.0f | %s | %.0f | %s |' % (
                    os.path.basename(m), t, r['test'], ours, theirs, ratio, best, best_ratio, r['cpu_tps'], cpu_ratio)
                if a.baseline:
                    br = base.get(r['test'])
                    if br:
                        bbest = max(br['tps_samples'])
                        line += ' %.0f ± %.0f | %s | %.0f | %s | %.0f |' % (
                            br['tps_mean'], br['tps_stddev'], '%.2f' % (br['tps_mean'] / lref[0]) if lref else '',
                            bbest, '%.2f' % (bbest / lref[0]) if lref else '', br['cpu_tps'])
                    else:
                        line += ' | | | | |'
                gbs = r['size_bytes'] * r['cpu_tps'] / 1e9 if r['test'].startswith('tg') else None
                line += ' %.1f |' % gbs if gbs else ' |'
                print(line)
                sys.stdout.flush()
    print('load average at end: %s' % ' '.join(open('/proc/loadavg').read().split()[:3]))


if __name__ == '__main__':
    main()
