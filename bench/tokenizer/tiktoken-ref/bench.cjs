// The official tiktoken's speed on the texts bench_tiktoken gives it: one
// thread, encode_ordinary over every text per pass, after two warm-up passes.
// Prints one JSON line per encoding: {"encoding", "tokens" (per pass),
// "seconds" (wall time of each pass), "cpu_seconds" (user + system time of each pass)}.
//   node bench.cjs TEXTS.json REPS cl100k_base[,o200k_base...]
"use strict";
const fs = require("fs");
const { get_encoding } = require("tiktoken");

const texts = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const reps = Number(process.argv[3] || 20);
const names = (process.argv[4] || "cl100k_base,o200k_base").split(",");

for (const name of names) {
  const enc = get_encoding(name);
  const pass = () => {
    let tokens = 0;
    for (const t of texts) tokens += enc.encode_ordinary(t).length;
    return tokens;
  };
  pass();
  pass();
  const seconds = [], cpu_seconds = [];
  let tokens = 0;
  for (let r = 0; r < reps; ++r) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    tokens = pass();
    const t1 = process.hrtime.bigint();
    const c = process.cpuUsage(c0);
    seconds.push(Number(t1 - t0) / 1e9);
    cpu_seconds.push((c.user + c.system) / 1e6);
  }
  enc.free();
  console.log(JSON.stringify({ encoding: name, tokens, seconds, cpu_seconds }));
}
