#!/usr/bin/env python3
"""Writes a llama-architecture GGUF with random F16 or F32 weights, larger than
the CPU caches, for memory and bandwidth measurements (the test models in
shared/data fit in L3). The vocabulary metadata (tokenizer.*) is copied from
another GGUF, e.g. stories260K-f32.gguf (tok512), so `lcte generate` runs on it.
Only the standard library: a 1 MiB pool of random values is tiled over every
tensor, which is all a speed or memory measurement needs.

usage: make_synthetic.py VOCAB_SOURCE.gguf OUT.gguf [--dim 2048] [--layers 8]
       [--ffn 5632] [--heads 16] [--kv-heads 4] [--type f16|f32]
"""
import argparse, random, struct

def read_gguf_metadata(path):
    f = open(path, 'rb')
    def rd(fmt):
        n = struct.calcsize('<' + fmt)
        return struct.unpack('<' + fmt, f.read(n))
    def rstr():
        (n,) = rd('Q')
        return f.read(n)
    scal = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}
    def rval(t):
        if t == 8:
            return rstr()
        if t == 9:
            (et,) = rd('I'); (n,) = rd('Q')
            return (et, [rval(et) for _ in range(n)])
        return rd(scal[t])[0]
    assert f.read(4) == b'GGUF'
    rd('I'); (_, nkv) = rd('QQ')
    kvs = []
    for _ in range(nkv):
        k = rstr(); (t,) = rd('I'); kvs.append((k, t, rval(t)))
    return kvs

def enc_val(t, v):
    scal = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}
    if t == 8:
        return struct.pack('<Q', len(v)) + v
    if t == 9:
        et, items = v
        return struct.pack('<IQ', et, len(items)) + b''.join(enc_val(et, x) for x in items)
    return struct.pack('<' + scal[t], v)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('vocab_source'); ap.add_argument('out')
    ap.add_argument('--dim', type=int, default=2048); ap.add_argument('--layers', type=int, default=8)
    ap.add_argument('--ffn', type=int, default=5632); ap.add_argument('--heads', type=int, default=16)
    ap.add_argument('--kv-heads', type=int, default=4); ap.add_argument('--type', default='f16')
    a = ap.parse_args()
    tok = [kv for kv in read_gguf_metadata(a.vocab_source) if kv[0].startswith(b'tokenizer.')]
    n_vocab = len(next(v for k, t, v in tok if k == b'tokenizer.ggml.tokens')[1])
    hd = a.dim // a.heads
    kvs = [(b'general.architecture', 8, b'llama'), (b'general.name', 8, b'synthetic'),
           (b'llama.context_length', 4, 4096), (b'llama.embedding_length', 4, a.dim),
           (b'llama.block_count', 4, a.layers), (b'llama.feed_forward_length', 4, a.ffn),
           (b'llama.attention.head_count', 4, a.heads), (b'llama.attention.head_count_kv', 4, a.kv_heads),
           (b'llama.attention.layer_norm_rms_epsilon', 6, 1e-5), (b'llama.rope.freq_base', 6, 10000.0)] + tok
    wtype = 1 if a.type == 'f16' else 0
    tensors = [('token_embd.weight', [a.dim, n_vocab], wtype), ('output_norm.weight', [a.dim], 0),
               ('output.weight', [a.dim, n_vocab], wtype)]
    for i in range(a.layers):
        p = 'blk.%d.' % i
        tensors += [(p + 'attn_norm.weight', [a.dim], 0), (p + 'attn_q.weight', [a.dim, a.dim], wtype),
                    (p + 'attn_k.weight', [a.dim, a.kv_heads * hd], wtype),
                    (p + 'attn_v.weight', [a.dim, a.kv_heads * hd], wtype),
                    (p + 'attn_output.weight', [a.dim, a.dim], wtype), (p + 'ffn_norm.weight', [a.dim], 0),
                    (p + 'ffn_gate.weight', [a.dim, a.ffn], wtype), (p + 'ffn_up.weight', [a.dim, a.ffn], wtype),
                    (p + 'ffn_down.weight', [a.ffn, a.dim], wtype)]
    rng = random.Random(1)
    pool = {t: b''.join(struct.pack('<' + ('e' if t == 1 else 'f'), rng.gauss(0, 0.02)) for _ in range(1 << 18))
            for t in (0, 1)}
    ones = struct.pack('<f', 1.0) * a.dim
    header = b'GGUF' + struct.pack('<IQQ', 3, len(tensors), len(kvs))
    for k, t, v in kvs:
        header += struct.pack('<Q', len(k)) + k + struct.pack('<I', t) + enc_val(t, v)
    off = 0; infos = b''; sizes = []
    for name, ne, t in tensors:
        n = 1
        for x in ne: n *= x
        nbytes = n * (2 if t == 1 else 4)
        infos += struct.pack('<Q', len(name)) + name.encode() + struct.pack('<I', len(ne))
        infos += b''.join(struct.pack('<Q', x) for x in ne) + struct.pack('<IQ', t, off)
        sizes.append(nbytes); off += (nbytes + 31) // 32 * 32
    with open(a.out, 'wb') as f:
        f.write(header + infos)
        f.write(b'\0' * ((-f.tell()) % 32))
        for (name, ne, t), nbytes in zip(tensors, sizes):
            if len(ne) == 1:
                data = ones
            else:
                src = pool[t]; data = (src * (nbytes // len(src) + 1))[:nbytes]
            f.write(data); f.write(b'\0' * ((-nbytes) % 32))
    print('%s: %.1f MiB of tensors' % (a.out, off / 2**20))

if __name__ == '__main__':
    main()
