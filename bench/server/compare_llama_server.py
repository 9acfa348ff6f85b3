#!/usr/bin/env python3
"""Aggregate completion throughput of `lcte serve` and llama.cpp's
`llama-server -np SLOTS` on the same GGUF model, same machine, same client
load, back to back in one run: C client threads each send R requests to
/v1/completions (a prompt per request, max_tokens T, temperature 0.8, a seed
per request, no streaming) and the tokens counted are the servers' own
usage.completion_tokens. lcte serves with --max-seqs SLOTS (continuous
batching) and --max-seqs 1; llama-server with -np SLOTS (context SLOTS x 512)
and -np 1.

usage: compare_llama_server.py --lcte BUILD/src/cli/lcte --llama-server LLAMA_BUILD/bin/llama-server
       --model MODEL.gguf [--clients 8] [--requests 6] [--max-tokens 64] [--slots 8] [--threads 2]
"""
import argparse, json, os, socket, subprocess, sys, threading, time, urllib.request

WORDS = "Once upon a time there was a little dog named Tom who liked to play in the park".split()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_ready(port, proc, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.3)
    sys.exit("server did not become ready")


def post(port, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def load(port, model, a):
    tokens, lock, errors = [0], threading.Lock(), []

    def client(c):
        for i in range(a.requests):
            k = c * a.requests + i
            body = {"model": model, "prompt": " ".join(WORDS[: 2 + k % 12]), "max_tokens": a.max_tokens,
                    "temperature": 0.8, "seed": 1000 + k}
            try:
                n = post(port, body)["usage"]["completion_tokens"]
                with lock:
                    tokens[0] += n
            except Exception as e:
                errors.append(str(e))

    post(port, {"model": model, "prompt": "warm up", "max_tokens": 4})
    t0 = time.time()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - t0
    if errors:
        print(f"  {len(errors)} failed requests, first: {errors[0]}", file=sys.stderr)
    return wall, tokens[0]


def run(name, cmd, port, model, a):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port, proc)
        wall, tokens = load(port, model, a)
        print(f"| {name} | {wall:.2f} | {tokens} | {tokens / wall:.1f} |", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lcte", required=True)
    p.add_argument("--llama-server", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests", type=int, default=6)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--slots", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    name = os.path.basename(a.model)
    print(f"model {name}, {a.clients} clients x {a.requests} requests x {a.max_tokens} tokens, {a.threads} threads\n")
    print("| server | wall s | completion tokens | tokens/s |")
    print("|---|---:|---:|---:|")
    for slots in (a.slots, 1):
        port = free_port()
        run(f"lcte serve --max-seqs {slots}",
            [a.lcte, "serve", "-m", a.model, "--port", str(port), "-t", str(a.threads), "--ctx", "512",
             "--max-seqs", str(slots), "--no-dashboard"], port, os.path.splitext(name)[0], a)
        port = free_port()
        run(f"llama-server -np {slots}",
            [a.llama_server, "-m", a.model, "--port", str(port), "-t", str(a.threads), "-np", str(slots),
             "-c", str(512 * slots)], port, name, a)


if __name__ == "__main__":
    main()
