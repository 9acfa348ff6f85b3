#include "train/topk_cache.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "core/error.h"
#include "core/file.h"
#include "core/random.h"
#include "core/sha256.h"

namespace lcte::train {
namespace {

constexpr size_t kHeaderBytes = 256;

size_t pad4(size_t n) { return (n + 3) / 4 * 4; }

template <class T>
void put(std::vector<uint8_t>& buf, const T& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  buf.insert(buf.end(), p, p + sizeof(T));
}

template <class T>
void put_array(std::vector<uint8_t>& buf, const T* v, size_t n) {
  const auto* p = reinterpret_cast<const uint8_t*>(v);
  buf.insert(buf.end(), p, p + n * sizeof(T));
}

bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// A bounds-checked reader over the file's bytes.
struct Cursor {
  const std::vector<uint8_t>& buf;
  size_t pos;
  const std::string& path;
  template <class T>
  void read(T* out, size_t n, const char* what) {
    const size_t bytes = n * sizeof(T);
    if (bytes / sizeof(T) != n || pos + bytes > buf.size() || pos + bytes < pos)
      fail("{}: truncated: {} needs {} bytes at offset {}, the file has {}", path, what, bytes, pos, buf.size());
    std::memcpy(out, buf.data() + pos, bytes);
    pos += bytes;
  }
};

}  // namespace

int64_t TopkCache::count_targets(const Example& e) {
  int64_t n = 0;
  for (size_t t = 1; t < e.tokens.size(); ++t) n += e.mask.empty() || e.mask[t] != 0;
  return n;
}

uint64_t TopkCache::add_example(Example e) {
  if (e.mask.empty()) e.mask.assign(e.tokens.size(), 1);
  if (pos_begin.empty()) pos_begin.push_back(0);
  const uint64_t first = pos_begin.back();
  pos_begin.push_back(first + count_targets(e));
  examples.push_back(std::move(e));
  // TeacherSignal::resize clears; grow keeping what is there.
  signal.k = key.k;
  signal.ids.resize(pos_begin.back() * key.k, 0);
  signal.logprobs.resize(pos_begin.back() * key.k, 0.f);
  signal.rest.resize(pos_begin.back(), 0.f);
  return first;
}

std::string data_sha256(const std::vector<Example>& examples, const std::string& recipe) {
  Sha256 hash;
  auto feed = [&](const void* p, size_t n) { hash.update(p, n); };
  const uint64_t n_ex = examples.size();
  feed(&n_ex, sizeof n_ex);
  for (const Example& e : examples) {
    const uint64_t n = e.tokens.size();
    feed(&n, sizeof n);
    feed(e.tokens.data(), n * sizeof(int32_t));
    // An absent mask means every token is a target: hash it as all ones so
    // that both spellings of the same example agree.
    for (size_t t = 0; t < n; ++t) {
      const uint8_t m = e.mask.empty() ? 1 : e.mask[t];
      feed(&m, 1);
    }
  }
  feed(recipe.data(), recipe.size());
  return hash.finish_hex();
}

void write_topk_cache(const std::string& path, const TopkCache& c) {
  const size_t n = c.examples.size();
  if (!is_hex64(c.key.teacher_sha256) || !is_hex64(c.key.data_sha256))
    fail("{}: cache key needs two sha256 hex digests", path);
  if (c.pos_begin.size() != n + 1 || c.signal.positions() != c.pos_begin.back() || c.signal.k != c.key.k)
    fail("{}: cache holds {} examples but {} position offsets and {} positions", path, n, c.pos_begin.size(),
         c.signal.positions());
  std::vector<uint64_t> tok_begin{0};
  for (const Example& e : c.examples) tok_begin.push_back(tok_begin.back() + e.tokens.size());
  const uint64_t n_tokens = tok_begin.back(), n_pos = c.signal.positions();

  std::vector<uint8_t> payload;
  put_array(payload, tok_begin.data(), tok_begin.size());
  put_array(payload, c.pos_begin.data(), c.pos_begin.size());
  for (const Example& e : c.examples) put_array(payload, e.tokens.data(), e.tokens.size());
  for (const Example& e : c.examples) {
    if (e.mask.empty())
      payload.insert(payload.end(), e.tokens.size(), 1);
    else
      put_array(payload, e.mask.data(), e.mask.size());
  }
  payload.resize(payload.size() + pad4(n_tokens) - n_tokens, 0);
  put_array(payload, c.signal.ids.data(), c.signal.ids.size());
  put_array(payload, c.signal.logprobs.data(), c.signal.logprobs.size());
  put_array(payload, c.signal.rest.data(), c.signal.rest.size());

  std::vector<uint8_t> head;
  head.insert(head.end(), kTopkCacheMagic, kTopkCacheMagic + 8);
  put(head, kTopkCacheVersion);
  put(head, static_cast<uint32_t>(kHeaderBytes));
  put(head, static_cast<uint32_t>(c.key.k));
  put(head, static_cast<uint32_t>(c.vocab));
  put(head, static_cast<uint64_t>(n));
  put(head, static_cast<uint64_t>(c.n_train));
  put(head, n_tokens);
  put(head, n_pos);
  put(head, fnv1a64(payload.data(), payload.size()));
  head.insert(head.end(), c.key.teacher_sha256.begin(), c.key.teacher_sha256.end());
  head.insert(head.end(), c.key.data_sha256.begin(), c.key.data_sha256.end());
  head.resize(kHeaderBytes, 0);

  write_file_atomic(path, {std::string_view(reinterpret_cast<const char*>(head.data()), head.size()),
                           std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size())});
}

TopkCache read_topk_cache(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open the teacher top-k cache", path);
  std::vector<uint8_t> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (buf.size() < 8 || std::memcmp(buf.data(), kTopkCacheMagic, 8) != 0)
    fail("{}: not a teacher top-k cache (no LCTETOPK magic)", path);
  Cursor cur{buf, 8, path};
  uint32_t version = 0, header_bytes = 0, k = 0, vocab = 0;
  cur.read(&version, 1, "the header");
  if (version != kTopkCacheVersion)
    fail("{}: teacher top-k cache version {}, this lcte reads version {}; delete it to rebuild", path, version,
         kTopkCacheVersion);
  if (buf.size() < kHeaderBytes)
    fail("{}: truncated: {} bytes, the header alone is {}", path, buf.size(), kHeaderBytes);
  cur.read(&header_bytes, 1, "the header");
  cur.read(&k, 1, "the header");
  cur.read(&vocab, 1, "the header");
  uint64_t n = 0, n_train = 0, n_tokens = 0, n_pos = 0, checksum = 0;
  cur.read(&n, 1, "the header");
  cur.read(&n_train, 1, "the header");
  cur.read(&n_tokens, 1, "the header");
  cur.read(&n_pos, 1, "the header");
  cur.read(&checksum, 1, "the header");
  TopkCache c;
  c.key.teacher_sha256.assign(reinterpret_cast<const char*>(buf.data()) + 64, 64);
  c.key.data_sha256.assign(reinterpret_cast<const char*>(buf.data()) + 128, 64);
  if (header_bytes != kHeaderBytes) fail("{}: header size {} (expected {})", path, header_bytes, kHeaderBytes);
  if (k < 1 || vocab < 1 || k > vocab) fail("{}: header field k = {} with vocab {} is impossible", path, k, vocab);
  if (n_train > n) fail("{}: header says {} training examples of {}", path, n_train, n);
  if (!is_hex64(c.key.teacher_sha256) || !is_hex64(c.key.data_sha256))
    fail("{}: header fields teacher_sha256/data_sha256 are not sha256 hex digests", path);
  // Sizes from the header, checked against the length before anything is
  // allocated from them (a corrupt count must not ask for terabytes).
  const long double expect =
      (long double)kHeaderBytes + 16.0L * (n + 1) + 4.0L * n_tokens + pad4(n_tokens) + 8.0L * n_pos * k + 4.0L * n_pos;
  if (expect != (long double)buf.size())
    fail(
        "{}: truncated or padded: the header's counts ({} examples, {} tokens, {} positions, k {}) need {:.0f} "
        "bytes, the file has {}",
        path, n, n_tokens, n_pos, k, (double)expect, buf.size());
  if (fnv1a64(buf.data() + kHeaderBytes, buf.size() - kHeaderBytes) != checksum)
    fail("{}: checksum mismatch (corrupt file); delete it to rebuild", path);

  c.key.k = static_cast<int>(k);
  c.vocab = static_cast<int>(vocab);
  c.n_train = static_cast<int64_t>(n_train);
  cur.pos = kHeaderBytes;
  std::vector<uint64_t> tok_begin(n + 1);
  c.pos_begin.resize(n + 1);
  cur.read(tok_begin.data(), n + 1, "token offsets");
  cur.read(c.pos_begin.data(), n + 1, "position offsets");
  std::vector<int32_t> tokens(n_tokens);
  std::vector<uint8_t> mask(pad4(n_tokens));
  cur.read(tokens.data(), n_tokens, "tokens");
  cur.read(mask.data(), mask.size(), "masks");
  c.signal.k = c.key.k;
  c.signal.ids.resize(n_pos * k);
  c.signal.logprobs.resize(n_pos * k);
  c.signal.rest.resize(n_pos);
  cur.read(c.signal.ids.data(), c.signal.ids.size(), "top-k ids");
  cur.read(c.signal.logprobs.data(), c.signal.logprobs.size(), "top-k log-probabilities");
  cur.read(c.signal.rest.data(), c.signal.rest.size(), "rest masses");

  if (tok_begin[0] != 0 || c.pos_begin[0] != 0 || tok_begin[n] != n_tokens || c.pos_begin[n] != n_pos)
    fail("{}: offset tables do not span the data", path);
  c.examples.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    if (tok_begin[i + 1] < tok_begin[i] + 2 || c.pos_begin[i + 1] < c.pos_begin[i])
      fail("{}: example {}: offsets out of order", path, i);
    Example& e = c.examples[i];
    e.tokens.assign(tokens.begin() + tok_begin[i], tokens.begin() + tok_begin[i + 1]);
    e.mask.assign(mask.begin() + tok_begin[i], mask.begin() + tok_begin[i + 1]);
    for (size_t t = 0; t < e.tokens.size(); ++t) {
      if (e.tokens[t] < 0 || e.tokens[t] >= (int32_t)vocab)
        fail("{}: example {} token {}: id {} outside the vocabulary of {}", path, i, t, e.tokens[t], vocab);
      if (e.mask[t] > 1) fail("{}: example {} token {}: mask {} is not 0 or 1", path, i, t, e.mask[t]);
    }
    if ((uint64_t)TopkCache::count_targets(e) != c.pos_begin[i + 1] - c.pos_begin[i])
      fail("{}: example {} has {} target tokens but {} cached positions", path, i, TopkCache::count_targets(e),
           c.pos_begin[i + 1] - c.pos_begin[i]);
  }
  validate_teacher(c.signal, c.vocab, path);
  return c;
}

TopkCache read_topk_cache(const std::string& path, const TopkCacheKey& expected) {
  TopkCache c = read_topk_cache(path);
  auto mismatch = [&](const char* field, const std::string& have, const std::string& want) {
    fail(
        "{}: teacher top-k cache made for another {} (cache: {}, this run: {}); delete it or pick another "
        "--cache",
        path, field, have, want);
  };
  if (c.key.teacher_sha256 != expected.teacher_sha256)
    mismatch("teacher (sha256)", c.key.teacher_sha256, expected.teacher_sha256);
  if (c.key.data_sha256 != expected.data_sha256) mismatch("data (sha256)", c.key.data_sha256, expected.data_sha256);
  if (c.key.k != expected.k) mismatch("top-k", std::to_string(c.key.k), std::to_string(expected.k));
  return c;
}

void fill_cached_signal(const TopkCache& c, int64_t base, const Batch& b, TeacherSignal& out) {
  const int k = c.key.k;
  out.resize((size_t)b.B * b.T, k);
  for (int r = 0; r < b.B; ++r) {
    const int64_t ex = r < (int)b.rows.size() ? b.rows[r] + base : -1;
    uint64_t p = ex >= 0 ? c.pos_begin.at(ex) : 0;
    const uint64_t end = ex >= 0 ? c.pos_begin.at(ex + 1) : 0;
    for (int t = 0; t < b.T; ++t) {
      const size_t n = (size_t)r * b.T + t;
      int32_t* ids = out.ids.data() + n * k;
      float* lp = out.logprobs.data() + n * k;
      if (b.targets[n] >= 0) {
        if (p >= end) fail("teacher cache: example {} has fewer cached positions than the batch row's targets", ex);
        std::memcpy(ids, c.signal.ids.data() + p * k, k * sizeof(int32_t));
        std::memcpy(lp, c.signal.logprobs.data() + p * k, k * sizeof(float));
        out.rest[n] = c.signal.rest[p];
        ++p;
      } else {
        // Not a target: the loss skips it, but the signal must still be valid.
        for (int j = 0; j < k; ++j) {
          ids[j] = j;
          lp[j] = -std::log((float)k);
        }
        out.rest[n] = 0;
      }
    }
  }
}

TeacherFn cached_teacher(const TopkCache& cache, int64_t base) {
  return [&cache, base](const Batch& b, TeacherSignal& out) { fill_cached_signal(cache, base, b, out); };
}

}  // namespace lcte::train
