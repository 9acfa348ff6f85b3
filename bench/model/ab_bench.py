#!/usr/bin/env python3
"""Paired A/B of two lcte binaries on the same models, for a machine shared
with other work: each round runs `lcte bench` with binary A and then B (the
order swapped every round) for pp and tg separately, and the speed-up is the
median over rounds of B's median / A's median in that round, so both sides of
each ratio saw nearly the same load.

usage: ab_bench.py --a OLD_LCTE [--b build/src/cli/lcte] [--data ../shared/data] [-t 1]
                   [--rounds 6] [-r 5] [-p 128] [-n 64] MODEL_NAME...
(MODEL_NAME: a file in DATA/models without .gguf). Prints a markdown table.
"""
import argparse, json, os, statistics, subprocess, sys


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, '..', '..'))
    ap = argparse.ArgumentParser()
    ap.add_argument('--a', required=True, help='baseline lcte binary')
    ap.add_argument('--b', default=os.path.join(root, 'build', 'src', 'cli', 'lcte'))
    ap.add_argument('--data', default=os.path.join(root, '..', 'shared', 'data'))
    ap.add_argument('-t', default='1')
    ap.add_argument('--rounds', type=int, default=6)
    ap.add_argument('-r', default='5')
    ap.add_argument('-p', default='128')
    ap.add_argument('-n', default='64')
    ap.add_argument('models', nargs='+')
    a = ap.parse_args()
    bins = {'before': a.a, 'after': a.b}
    print('| model | threads | test | before best t/s | after best t/s | before median t/s | after median t/s |'
          ' median after/before (paired) | before t/CPU-s | after t/CPU-s |')
    print('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|')
    for m in a.models:
        path = os.path.join(a.data, 'models', m + '.gguf')
        tests = [('pp' + a.p, ['-p', a.p, '-n', '0'])] if a.p != '0' else []
        tests += [('tg' + a.n, ['-p', '0', '-n', a.n])] if a.n != '0' else []
        for test, args in tests:
            samples = {'before': [], 'after': []}
            cpu = {'before': [], 'after': []}
            ratios = []
            for rnd in range(a.rounds):
                med = {}
                for k in (('before', 'after') if rnd % 2 == 0 else ('after', 'before')):
                    out = subprocess.run([bins[k], 'bench', '-m', path] + args + ['-r', a.r, '-t', a.t, '--json'],
                                         check=True, capture_output=True, text=True).stdout
                    d = json.loads(out)[0]
                    samples[k] += d['tps_samples']
                    cpu[k].append(d['cpu_tps'])
                    med[k] = statistics.median(d['tps_samples'])
                ratios.append(med['after'] / med['before'])
            print('| %s | %s | %s | %.0f | %.0f | %.0f | %.0f | %.2f | %.0f | %.0f |' % (
                m, a.t, test, max(samples['before']), max(samples['after']), statistics.median(samples['before']),
                statistics.median(samples['after']), statistics.median(ratios), statistics.median(cpu['before']),
                statistics.median(cpu['after'])))
            sys.stdout.flush()


if __name__ == '__main__':
    main()
