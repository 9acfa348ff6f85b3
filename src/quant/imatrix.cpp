#include "quant/imatrix.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "core/file.h"

namespace lcte::quant {
namespace {

// Bounds-checked reading of the little-endian fields; every failure names
// the file and the field.
class Reader {
 public:
  Reader(std::string path, std::vector<char> bytes) : path_(std::move(path)), bytes_(std::move(bytes)) {}

  size_t remaining() const { return bytes_.size() - pos_; }

  int32_t i32(std::string_view what) {
    if (remaining() < 4) fail("{}: truncated at byte {}: expected {}", path_, pos_, what);
    int32_t v;
    std::memcpy(&v, bytes_.data() + pos_, 4);
    pos_ += 4;
    return v;
  }

  std::string string(int32_t len, std::string_view what) {
    if (len < 0 || static_cast<size_t>(len) > remaining())
      fail("{}: {} has length {} but only {} bytes remain (byte {})", path_, what, len, remaining(), pos_);
    std::string s(bytes_.data() + pos_, static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }

  std::vector<float> floats(int32_t n, std::string_view what) {
    if (n < 1 || static_cast<size_t>(n) > remaining() / 4)
      fail("{}: {} has {} values but only {} bytes remain (byte {})", path_, what, n, remaining(), pos_);
    std::vector<float> v(static_cast<size_t>(n));
    std::memcpy(v.data(), bytes_.data() + pos_, v.size() * 4);
    pos_ += v.size() * 4;
    return v;
  }

 private:
  std::string path_;
  std::vector<char> bytes_;
  size_t pos_ = 0;
};

std::vector<char> slurp(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) fail("{}: is a directory, not an imatrix file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open: {}", path, std::strerror(errno));
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

const std::vector<float>* Imatrix::find(std::string_view weight_name) const {
  auto it = entries.find(weight_name);
  return it == entries.end() ? nullptr : &it->second.mean;
}

Imatrix read_imatrix(const std::string& path) {
  Reader r(path, slurp(path));
  Imatrix m;
  m.path = path;
  const int32_t n = r.i32("the entry count");
  if (n < 1) fail("{}: entry count is {}; an imatrix file has at least one entry", path, n);
  // Each entry takes at least 16 bytes, so a count beyond that is corrupt;
  // checking first avoids looping over a garbage count.
  if (static_cast<size_t>(n) > r.remaining() / 16)
    fail("{}: entry count {} does not fit in the {} bytes that follow", path, n, r.remaining());
  for (int32_t i = 0; i < n; ++i) {
    const std::string where = fmt::format("entry {}", i);
    const int32_t len = r.i32(where + " name length");
    std::string name = r.string(len, where + " name");
    const std::string named = fmt::format("entry {} ('{}')", i, name);
    ImatrixEntry e;
    e.ncall = r.i32(named + " ncall");
    if (e.ncall < 0) fail("{}: {} has a negative ncall {}", path, named, e.ncall);
    const int32_t nval = r.i32(named + " value count");
    e.mean = r.floats(nval, named);
    for (size_t k = 0; k < e.mean.size(); ++k) {
      if (!std::isfinite(e.mean[k]) || e.mean[k] < 0)
        fail("{}: {} value {} is {}; squared activations must be finite and >= 0", path, named, k, e.mean[k]);
      if (e.ncall > 0) e.mean[k] /= static_cast<float>(e.ncall);
    }
    if (!m.entries.emplace(std::move(name), std::move(e)).second) fail("{}: {} appears twice", path, named);
  }
  // Optional trailer, absent in files from older llama.cpp versions.
  if (r.remaining() >= 4) m.last_call = r.i32("the chunk count");
  if (r.remaining() >= 4) m.dataset = r.string(r.i32("the dataset name length"), "the dataset name");
  if (r.remaining() != 0) fail("{}: {} unexpected bytes after the dataset name", path, r.remaining());
  return m;
}

void write_imatrix(const Imatrix& m, const std::string& path) {
  std::vector<char> out;
  auto put_i32 = [&](int32_t v) {
    const char* p = reinterpret_cast<const char*>(&v);
    out.insert(out.end(), p, p + 4);
  };
  auto put_bytes = [&](const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    out.insert(out.end(), c, c + n);
  };
  put_i32(static_cast<int32_t>(m.entries.size()));
  for (const auto& [name, e] : m.entries) {
    put_i32(static_cast<int32_t>(name.size()));
    put_bytes(name.data(), name.size());
    put_i32(e.ncall);
    put_i32(static_cast<int32_t>(e.mean.size()));
    // Stored as mean * ncall, llama-imatrix's convention (see imatrix.h).
    for (float v : e.mean) {
      const float stored = e.ncall > 0 ? v * static_cast<float>(e.ncall) : v;
      put_bytes(&stored, 4);
    }
  }
  put_i32(m.last_call);
  put_i32(static_cast<int32_t>(m.dataset.size()));
  put_bytes(m.dataset.data(), m.dataset.size());

  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(out.data()), out.size()));
}

void ImatrixCollector::observe(std::string_view weight_name, const float* x, int64_t n_tokens, int64_t n_cols) {
  auto it = sums_.find(weight_name);
  if (it == sums_.end()) it = sums_.emplace(std::string(weight_name), Sums{}).first;
  Sums& s = it->second;
  if (s.sum_sq.empty()) s.sum_sq.assign(static_cast<size_t>(n_cols), 0.0);
  if (static_cast<int64_t>(s.sum_sq.size()) != n_cols)
    fail("imatrix: {} reported {} columns, earlier {}", weight_name, n_cols, s.sum_sq.size());
  ++s.ncall;
  s.count += n_tokens;
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* row = x + t * n_cols;
    for (int64_t j = 0; j < n_cols; ++j) s.sum_sq[j] += static_cast<double>(row[j]) * row[j];
  }
}

Imatrix ImatrixCollector::result(std::string dataset) const {
  Imatrix m;
  m.last_call = chunks_;
  m.dataset = std::move(dataset);
  for (const auto& [name, s] : sums_) {
    if (s.count == 0) continue;
    ImatrixEntry e;
    e.ncall = s.ncall;
    e.mean.resize(s.sum_sq.size());
    for (size_t j = 0; j < s.sum_sq.size(); ++j) e.mean[j] = static_cast<float>(s.sum_sq[j] / s.count);
    m.entries.emplace(name, std::move(e));
  }
  return m;
}

}  // namespace lcte::quant
