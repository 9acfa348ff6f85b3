// Prints N random texts (JSON lines: text and the official tiktoken's
// encode_ordinary ids for cl100k_base, o200k_base, p50k_base and r50k_base), drawn with a seeded
// generator from character classes where pre-tokenizers differ: letters of
// several scripts and cases, marks, digits of several systems, apostrophes,
// white space of every kind, CR/LF, punctuation, symbols, emoji, controls.
//   node random_texts.cjs N SEED
"use strict";
const { get_encoding } = require("tiktoken");

const n = Number(process.argv[2] || 100);
let state = BigInt(process.argv[3] || 1) & 0xffffffffffffffffn;
function next() {  // splitmix64
  state = (state + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
  let z = state;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
  return Number((z ^ (z >> 31n)) & 0xffffffffn);
}
const pick = (a) => a[next() % a.length];

const pools = [
  "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", "'", "'sStTdDmMlLvVrReE",
  " ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0\u2003\u3000\u202f\u2028\u0085\u000b\u000c",
  ".,;:!?-_/\\()[]{}<>=+*&^%$#@~`|\"", "\u00e9\u00c9\u00df\u00f1\u0130\u0131\u01c5\u02b0\u1e9e",
  "\u0301\u0308\u0327\u093f\u0e31", "\u0661\u0662\u0967\uff11\u00b2\u2167\u2460", "\u4e00\u6f22\u5b57\u3042\u30ab\uac00",
  "\u0645\u0631\u062d\u05e9\u05dc\u200f\u200e", "\u0416\u0436\u03a9\u03c9", "\u{1F600}\u{1F468}\u200d\u{1F469}\u{1F3FD}\ufe0f",
  "\u0000\u0001\u001b\u007f", "\u2020\u20ac\u00a9\u2122\u221e", "\u{1D400}\u{10400}\u{10428}",
];

const names = ["cl100k_base", "o200k_base", "p50k_base", "r50k_base"];
const encodings = names.map((name) => get_encoding(name));
for (let i = 0; i < n; ++i) {
  const len = 1 + (next() % 60);
  let text = "";
  for (let k = 0; k < len; ++k) {
    const pool = Array.from(pick(pools));
    const run = 1 + (next() % 4);
    for (let r = 0; r < run; ++r) text += pick(pool);
  }
  const line = { text };
  names.forEach((name, k) => { line[name] = Array.from(encodings[k].encode_ordinary(text)); });
  console.log(JSON.stringify(line));
}
