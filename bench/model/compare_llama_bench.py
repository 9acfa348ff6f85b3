#!/usr/bin/env python3
"""Runs `lcte bench` over the GGUF models in shared/data/models and prints a
markdown table next to llama.cpp's llama-bench figures (reference/bench.md),
matched by architecture and file size.

usage: compare_llama_bench.py [--lcte build/src/cli/lcte] [--data ../shared/data]
                              [-p 128] [-n 64] [-t 1,2] [-r 3] [models...]

Also reports, per model and thread count, the user CPU seconds of the lcte
process: on a shared machine the wall-clock t/s move with other people's load,
CPU time much less so.
"""
import argparse, json, os, re, resource, subprocess, sys


def reference_rows(path):
    rows = {}
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) != 7 or not re.match(r'\d', cells[4] or ''):
            continue
        arch = cells[0].split()[0]
        size = cells[1].split()[0]
        tps = float(cells[6].split('±')[0])
        rows[(arch, size, int(cells[4]), cells[5])] = (tps, cells[6])
    return rows


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, '..', '..'))
    ap = argparse.ArgumentParser()
    ap.add_argument('--lcte', default=os.path.join(root, 'build', 'src', 'cli', 'lcte'))
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
    print('| model | threads | test | lcte t/s | llama.cpp t/s | lcte / llama.cpp | lcte user CPU s |')
    print('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
    for m in models:
        for t in a.t.split(','):
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
            out = subprocess.run([a.lcte, 'bench', '-m', m, '-p', a.p, '-n', a.n, '-t', t, '-r', a.r, '--json'],
                                 check=True, capture_output=True, text=True).stdout
            cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before
            for r in json.loads(out):
                size = '%.2f' % (r['size_bytes'] / 2**20)
                arch = r['model'].split()[0]
                lref = ref.get((arch, size, int(t), r['test']))
                ours = '%.0f ± %.0f' % (r['tps_mean'], r['tps_stddev'])
                theirs = lref[1] if lref else 'n/a'
                ratio = '%.2f' % (r['tps_mean'] / lref[0]) if lref else ''
                print('| %s | %s | %s | %s | %s | %s | %.2f |' % (os.path.basename(m), t, r['test'], ours, theirs, ratio, cpu))
                sys.stdout.flush()


if __name__ == '__main__':
    main()
