#include "quant/model_quantizer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"
#include "quant/quantize.h"

namespace lcte::quant {
namespace {

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

// Runs fn(first, last) over [0, n) in up to `threads` contiguous slices.
template <class Fn>
void parallel_slices(int64_t n, int threads, Fn fn) {
  const int64_t k = std::clamp<int64_t>(threads, 1, std::max<int64_t>(n, 1));
  if (k == 1) return fn(int64_t{0}, n);
  std::vector<std::thread> workers;
  for (int64_t i = 1; i < k; ++i) workers.emplace_back(fn, n * i / k, n * (i + 1) / k);
  fn(int64_t{0}, n / k);
  for (std::thread& w : workers) w.join();
}

bool is_float_type(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }

// Checks, before any output is created, that every tensor to be converted
// can be read as floats.
void check_sources(const gguf::File& src, const std::vector<TensorPlan>& plans, bool* requantized) {
  *requantized = false;
  for (const TensorPlan& p : plans) {
    if (!p.quantize) continue;
    const TypeTraits& tr = type_traits(p.from);
    if (!is_float_type(p.from) && !tr.computable)
      fail("{}: tensor {} is {}, which lcte cannot dequantize; it cannot be requantized", src.path(), p.name, tr.name);
    if (!is_float_type(p.from)) *requantized = true;
  }
}

// The importance weights of one tensor, checked against its shape (one
// value per column, per expert for 3-D tensors), or nullptr.
const float* importance_for(const Imatrix* im, const TensorPlan& p) {
  if (im == nullptr || !p.quantize || !type_traits(p.to).quantized) return nullptr;
  const std::vector<float>* w = im->find(p.name);
  if (w == nullptr) {
    spdlog::debug("imatrix has no entry for {}; quantizing it without", p.name);
    return nullptr;
  }
  const int64_t experts = p.ne.size() >= 3 ? p.ne[2] : 1;
  const int64_t want = p.ne[0] * experts;
  if (static_cast<int64_t>(w->size()) != want || p.ne.size() > 3) {
    // llama.cpp tolerates this for token_embd (its imatrix entry, if any,
    // comes from a different use) and refuses it elsewhere: a silently
    // unweighted tensor would hide a mismatched imatrix.
    if (p.name == "token_embd.weight") return nullptr;
    fail("{}: entry {} has {} values but the tensor has {} columns x {} experts", im->path, p.name, w->size(), p.ne[0],
         experts);
  }
  return w->data();
}

// Drops the tensor's source pages from this process (they stay in the page
// cache): without this the whole input would end up counted in our RSS.
void release_pages(const void* data, size_t n) {
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + n) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace

QuantizeResult quantize_model(const QuantizeOptions& options, const QuantizeProgress& progress) {
  const auto start = std::chrono::steady_clock::now();
  const gguf::File src = gguf::File::open(options.input);
  const int threads = resolve_threads(options.threads);

  MixOptions mix;
  mix.ftype = options.ftype;
  mix.pure = options.pure;
  mix.keep_output = options.keep_output;
  mix.has_imatrix = options.imatrix != nullptr;
  const std::vector<TensorPlan> plans = plan_mix(src, mix);

  QuantizeResult result;
  check_sources(src, plans, &result.requantized);
  if (result.requantized)
    spdlog::warn(
        "{} already holds quantized tensors: they are dequantized and quantized again, which compounds "
        "the error; quantize from the F32/F16/BF16 original when you have it",
        options.input);
  std::vector<const float*> importance;
  for (const TensorPlan& p : plans) importance.push_back(importance_for(options.imatrix, p));

  gguf::Writer writer(src.alignment());
  writer.copy_metadata(src);
  // Split files are merged into one; llama.cpp moves these two keys to the
  // end (remove, then add), and so does lcte, for identical headers.
  for (const char* key : {"split.no", "split.count", "split.tensors.count"}) writer.remove(key);
  writer.remove("general.quantization_version");
  writer.set("general.quantization_version", gguf::Value::u32(2));
  writer.remove("general.file_type");
  writer.set("general.file_type", gguf::Value::u32(static_cast<uint32_t>(options.ftype)));
  for (const TensorPlan& p : plans) writer.declare_tensor(p.name, p.to, p.ne);
  writer.begin(options.output);

  QuantizeTick tick;
  tick.count = plans.size();
  for (const TensorPlan& p : plans) tick.bytes_total += src.tensor(p.name).nbytes;
  if (progress) progress(tick);
  std::vector<float> f32;
  std::vector<uint8_t> out;
  for (size_t i = 0; i < plans.size(); ++i) {
    const TensorPlan& p = plans[i];
    const gguf::TensorInfo& t = src.tensor(p.name);
    TensorReport rep;
    rep.plan = p;
    rep.bytes_in = t.nbytes;
    if (!p.quantize) {
      writer.write_tensor(p.name, t.data, t.nbytes);
      rep.bytes_out = t.nbytes;
    } else {
      const int64_t n = t.ne[0], rows = t.rows();
      const float* x = reinterpret_cast<const float*>(t.data);
      if (t.type != GgmlType::F32) {
        f32.resize(static_cast<size_t>(t.n_elements()));
        const size_t in_row = row_bytes(t.type, n);
        parallel_slices(rows, threads, [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r) kernels::dequantize_row(t.type, t.data + r * in_row, f32.data() + r * n, n);
        });
        x = f32.data();
      }
      const size_t out_row = row_bytes(p.to, n);
      out.resize(out_row * static_cast<size_t>(rows));
      // One importance vector per expert (ne[2]); rows of a 2-D tensor
      // share one.
      const int64_t experts = t.ne.size() >= 3 ? t.ne[2] : 1;
      const int64_t rows_per_expert = importance[i] ? rows / experts : rows;
      for (int64_t e = 0; e * rows_per_expert < rows; ++e) {
        const float* imp = importance[i] ? importance[i] + e * n : nullptr;
        quantize_rows(p.to, x + e * rows_per_expert * n, out.data() + e * rows_per_expert * out_row, rows_per_expert, n,
                      imp, threads);
      }
      rep.used_imatrix = importance[i] != nullptr;
      writer.write_tensor(p.name, out.data(), out.size());
      rep.bytes_out = out.size();
    }
    release_pages(t.data, t.nbytes);
    result.tensor_bytes_in += rep.bytes_in;
    result.tensor_bytes_out += rep.bytes_out;
    result.n_params += t.n_elements();
    result.n_fallback += p.fallback ? 1 : 0;
    result.tensors.push_back(rep);
    tick.index = i;
    tick.bytes_done += rep.bytes_in;
    tick.tensor = &result.tensors.back();
    if (progress) progress(tick);
  }
  writer.finish();
  std::error_code ec;
  result.file_bytes_out = std::filesystem::file_size(options.output, ec);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace lcte::quant
