#include "model/model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numbers>

#include "core/error.h"
#include "kernels/kernels.h"
#include "model/gguf_names.h"

namespace lcte::model {
namespace {

// Bounds that no real model reaches; they keep a corrupt header from asking
// for absurd scratch buffers before the tensor shapes are checked.
constexpr int64_t kMaxDim = 1 << 16;
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxHeads = 1024;
constexpr int64_t kMaxVocab = 1 << 22;

std::string shape_str(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

int64_t get_dim(const gguf::File& f, const std::string& key, int64_t max) {
  const uint64_t v = f.get_u64(key);
  if (v == 0 || v > static_cast<uint64_t>(max))
    fail("{}: metadata {} = {} is out of range (1..{})", f.path(), key, v, max);
  return static_cast<int64_t>(v);
}

// A 1-D tensor of n elements as F32.
std::vector<float> read_vector(const gguf::File& f, const gguf::TensorInfo& t, int64_t n) {
  if (t.ne.size() != 1 || t.ne[0] != n)
    fail("{}: tensor {} has shape {}, expected [{}]", f.path(), t.name, shape_str(t.ne), n);
  const TypeTraits& tr = type_traits(t.type);
  if (!tr.computable || n % tr.block_size != 0)
    fail("{}: tensor {} has type {}, which lcte cannot read as a vector of {}", f.path(), t.name, tr.name, n);
  std::vector<float> v(static_cast<size_t>(n));
  kernels::dequantize_row(t.type, t.data, v.data(), n);
  return v;
}

}  // namespace

std::vector<float> llama3_rope_factors(int64_t rope_dims, float base, float factor, float low_freq_factor,
                                       float high_freq_factor, int64_t original_context) {
  // Llama 3.1: wavelengths shorter than original_context/high_freq_factor keep
  // their frequency, longer than original_context/low_freq_factor are divided
  // by `factor`, and the band between blends the two linearly in 1/wavelength.
  const double low_wavelen = static_cast<double>(original_context) / low_freq_factor;
  const double high_wavelen = static_cast<double>(original_context) / high_freq_factor;
  std::vector<float> factors;
  for (int64_t i = 0; i < rope_dims / 2; ++i) {
    const double freq =
        std::pow(static_cast<double>(base), -2.0 * static_cast<double>(i) / static_cast<double>(rope_dims));
    const double wavelen = 2.0 * std::numbers::pi / freq;
    double f;
    if (wavelen < high_wavelen) {
      f = 1.0;
    } else if (wavelen > low_wavelen) {
      f = factor;
    } else {
      const double smooth =
          (static_cast<double>(original_context) / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
      f = 1.0 / ((1.0 - smooth) / factor + smooth);
    }
    factors.push_back(static_cast<float>(f));
  }
  return factors;
}

std::unique_ptr<Model> Model::load(const std::string& path) { return from_file(gguf::File::open(path)); }

std::unique_ptr<Model> Model::from_file(gguf::File file) {
  std::unique_ptr<Model> m(new Model(std::move(file)));
  m->config_ = read_config(m->file_);
  m->load_weights();
  return m;
}

namespace {

void read_architecture(const gguf::File& f, Config& c) {
  c.arch_name = f.architecture();
  if (c.arch_name == "llama") {
    c.arch = Arch::Llama;
    c.rope_style = RopeStyle::Normal;
  } else if (c.arch_name == "qwen2") {
    c.arch = Arch::Qwen2;
    c.rope_style = RopeStyle::Neox;
  } else {
    fail("{}: unsupported architecture '{}' (general.architecture; lcte runs llama and qwen2)", f.path(),
         c.arch_name.empty() ? std::string("<missing>") : c.arch_name);
  }
}

void read_shape(const gguf::File& f, Config& c) {
  const std::string a = c.arch_name + ".";
  c.name = f.get_string("general.name", "");
  if (f.get_u64(a + "expert_count", 0) > 0)
    fail("{}: mixture-of-experts models ({}expert_count > 0) are not supported", f.path(), a);

  c.dim = get_dim(f, a + "embedding_length", kMaxDim);
  c.n_layers = get_dim(f, a + "block_count", kMaxLayers);
  c.ffn_dim = get_dim(f, a + "feed_forward_length", kMaxDim * 8);
  c.n_heads = get_dim(f, a + "attention.head_count", kMaxHeads);
  c.n_kv_heads =
      f.has(a + "attention.head_count_kv") ? get_dim(f, a + "attention.head_count_kv", kMaxHeads) : c.n_heads;
  if (c.n_heads % c.n_kv_heads != 0)
    fail("{}: {}attention.head_count {} is not a multiple of head_count_kv {}", f.path(), a, c.n_heads, c.n_kv_heads);
  if (f.has(a + "attention.key_length")) {
    c.head_dim = get_dim(f, a + "attention.key_length", kMaxDim);
    const uint64_t vlen = f.get_u64(a + "attention.value_length", static_cast<uint64_t>(c.head_dim));
    if (vlen != static_cast<uint64_t>(c.head_dim))
      fail("{}: attention.key_length {} != value_length {} is not supported", f.path(), c.head_dim, vlen);
  } else {
    if (c.dim % c.n_heads != 0)
      fail("{}: embedding_length {} is not a multiple of head_count {}", f.path(), c.dim, c.n_heads);
    c.head_dim = c.dim / c.n_heads;
  }
  c.n_ctx_train = static_cast<int64_t>(f.get_u64(a + "context_length", 2048));
  c.norm_eps = static_cast<float>(f.get_f64(a + "attention.layer_norm_rms_epsilon", 1e-5));
  if (!(c.norm_eps > 0.0f && c.norm_eps < 1.0f))
    fail("{}: {}attention.layer_norm_rms_epsilon = {} is out of range", f.path(), a, c.norm_eps);

  c.rope_base = static_cast<float>(f.get_f64(a + "rope.freq_base", 10000.0));
  if (!(c.rope_base > 1.0f)) fail("{}: {}rope.freq_base = {} is out of range", f.path(), a, c.rope_base);
  c.rope_dims = f.has(a + "rope.dimension_count") ? get_dim(f, a + "rope.dimension_count", kMaxDim) : c.head_dim;
  if (c.rope_dims > c.head_dim || c.rope_dims % 2 != 0)
    fail("{}: {}rope.dimension_count {} must be even and at most the head size {}", f.path(), a, c.rope_dims,
         c.head_dim);
}

void read_rope_scaling(const gguf::File& f, Config& c) {
  const std::string a = c.arch_name + ".";

  // Position scaling: llama.cpp's keys rope.scaling.type/factor, or the older
  // rope.scale_linear. Llama 3.1's frequency factors normally come as the
  // tensor rope_freqs.weight (read in load_weights); a file that gives them as
  // metadata instead (scaling type "llama3") gets them computed here.
  const std::string scaling = f.get_string(a + "rope.scaling.type", "none");
  const double factor = f.get_f64(a + "rope.scaling.factor", f.get_f64(a + "rope.scale_linear", 1.0));
  if (!(factor > 0.0)) fail("{}: {}rope.scaling.factor = {} is out of range", f.path(), a, factor);
  if (scaling == "none" || scaling == "linear") {
    if (scaling == "linear" || f.has(a + "rope.scale_linear")) c.rope_freq_scale = static_cast<float>(1.0 / factor);
  } else if (scaling == "llama3") {
    c.rope_freq_factors =
        llama3_rope_factors(c.rope_dims, c.rope_base, static_cast<float>(factor),
                            static_cast<float>(f.get_f64(a + "rope.scaling.low_freq_factor", 1.0)),
                            static_cast<float>(f.get_f64(a + "rope.scaling.high_freq_factor", 4.0)),
                            static_cast<int64_t>(f.get_u64(a + "rope.scaling.original_context_length", 8192)));
  } else {
    fail("{}: {}rope.scaling.type '{}' is not supported (none, linear, llama3)", f.path(), a, scaling);
  }
  if (const gguf::TensorInfo* rf = f.find_tensor(gguf_names::kRopeFreqs))
    c.rope_freq_factors = read_vector(f, *rf, c.rope_dims / 2);
  for (float ff : c.rope_freq_factors)
    if (!(ff > 0.0f) || !std::isfinite(ff)) fail("{}: RoPE frequency factor {} is not positive", f.path(), ff);
}

void read_vocab(const gguf::File& f, Config& c) {
  const gguf::TensorInfo* emb = f.find_tensor(gguf_names::kTokenEmbd);
  if (emb == nullptr) fail("{}: missing tensor {}", f.path(), gguf_names::kTokenEmbd);
  if (emb->ne.size() != 2 || emb->ne[0] != c.dim || emb->ne[1] < 1 || emb->ne[1] > kMaxVocab)
    fail("{}: tensor {} has shape {}, expected [{}, n_vocab]", f.path(), gguf_names::kTokenEmbd, shape_str(emb->ne),
         c.dim);
  c.n_vocab = emb->ne[1];
}

}  // namespace

Config read_config(const gguf::File& f) {
  Config c;
  read_architecture(f, c);
  read_shape(f, c);
  read_rope_scaling(f, c);
  read_vocab(f, c);
  return c;
}

namespace {

struct Loader {
  const gguf::File& f;

  const gguf::TensorInfo& need(const std::string& name) const {
    const gguf::TensorInfo* t = f.find_tensor(name);
    if (t == nullptr) fail("{}: missing tensor {}", f.path(), name);
    return *t;
  }

  Matrix matrix(const std::string& name, int64_t cols, int64_t rows) const { return to_matrix(need(name), cols, rows); }

  Matrix to_matrix(const gguf::TensorInfo& t, int64_t cols, int64_t rows) const {
    if (t.ne.size() != 2 || t.ne[0] != cols || t.ne[1] != rows)
      fail("{}: tensor {} has shape {}, expected [{}, {}]", f.path(), t.name, shape_str(t.ne), cols, rows);
    const TypeTraits& tr = type_traits(t.type);
    if (!tr.computable) fail("{}: tensor {} has type {}, which lcte cannot compute with", f.path(), t.name, tr.name);
    if (cols % tr.block_size != 0)
      fail("{}: tensor {} of type {} has rows of {} elements, not a multiple of its block size {}", f.path(), t.name,
           tr.name, cols, tr.block_size);
    Matrix m;
    m.name = t.name;
    m.type = t.type;
    m.cols = cols;
    m.rows = rows;
    m.row_stride = row_bytes(t.type, cols);
    m.data = t.data;
    if (m.data == nullptr || m.bytes() > t.nbytes) fail("{}: tensor {} has no data", f.path(), t.name);
    return m;
  }

  std::vector<float> vector(const std::string& name, int64_t n) const { return read_vector(f, need(name), n); }

  std::vector<float> optional_vector(const std::string& name, int64_t n) const {
    const gguf::TensorInfo* t = f.find_tensor(name);
    return t == nullptr ? std::vector<float>{} : read_vector(f, *t, n);
  }
};

}  // namespace

void Model::load_weights() {
  namespace names = gguf_names;
  const Config& c = config_;
  const Loader ld{file_};
  token_embd_ = ld.matrix(std::string(names::kTokenEmbd), c.dim, c.n_vocab);
  if (const gguf::TensorInfo* out = file_.find_tensor(names::kOutput)) {
    output_ = ld.to_matrix(*out, c.dim, c.n_vocab);
  } else {
    output_ = token_embd_;
    tied_ = true;
  }
  output_norm_ = ld.vector(std::string(names::kOutputNorm), c.dim);

  const bool biases = c.arch == Arch::Qwen2;
  using names::block;
  using names::kProj;
  layers_.clear();
  layers_.reserve(static_cast<size_t>(c.n_layers));
  for (int64_t i = 0; i < c.n_layers; ++i) {
    Layer l;
    l.attn_norm = ld.vector(block(i, names::kAttnNorm), c.dim);
    l.wq = ld.matrix(block(i, kProj[names::kQ]), c.dim, c.q_dim());
    l.wk = ld.matrix(block(i, kProj[names::kK]), c.dim, c.kv_dim());
    l.wv = ld.matrix(block(i, kProj[names::kV]), c.dim, c.kv_dim());
    l.wo = ld.matrix(block(i, kProj[names::kO]), c.q_dim(), c.dim);
    if (biases) {
      l.bq = ld.vector(block(i, kProj[names::kQ], "bias"), c.q_dim());
      l.bk = ld.vector(block(i, kProj[names::kK], "bias"), c.kv_dim());
      l.bv = ld.vector(block(i, kProj[names::kV], "bias"), c.kv_dim());
    } else {
      // Some llama-architecture conversions carry biases too; use them if present.
      l.bq = ld.optional_vector(block(i, kProj[names::kQ], "bias"), c.q_dim());
      l.bk = ld.optional_vector(block(i, kProj[names::kK], "bias"), c.kv_dim());
      l.bv = ld.optional_vector(block(i, kProj[names::kV], "bias"), c.kv_dim());
    }
    l.ffn_norm = ld.vector(block(i, names::kFfnNorm), c.dim);
    l.w_gate = ld.matrix(block(i, kProj[names::kGate]), c.dim, c.ffn_dim);
    l.w_up = ld.matrix(block(i, kProj[names::kUp]), c.dim, c.ffn_dim);
    l.w_down = ld.matrix(block(i, kProj[names::kDown]), c.ffn_dim, c.dim);
    layers_.push_back(std::move(l));
  }
  if (file_.find_tensor(block(c.n_layers, names::kAttnNorm)) != nullptr)
    fail("{}: file has more blocks than {}.block_count = {}", path(), c.arch_name, c.n_layers);
}

void Model::embed(int32_t token, float* out) const {
  if (token < 0 || token >= config_.n_vocab)
    fail("token id {} is out of range (vocabulary of {})", token, config_.n_vocab);
  kernels::dequantize_row(token_embd_.type, token_embd_.row(token), out, config_.dim);
}

size_t Model::weight_bytes_per_token() const {
  size_t bytes = output_.bytes() + token_embd_.row_stride;
  for (const Layer& l : layers_)
    bytes += l.wq.bytes() + l.wk.bytes() + l.wv.bytes() + l.wo.bytes() + l.w_gate.bytes() + l.w_up.bytes() +
             l.w_down.bytes();
  return bytes;
}

size_t Model::tensor_bytes() const {
  size_t bytes = 0;
  for (const auto& t : file_.tensors()) bytes += t.nbytes;
  return bytes;
}

int64_t Model::n_params() const {
  int64_t n = 0;
  for (const auto& t : file_.tensors()) n += t.n_elements();
  return n;
}

std::string Model::type_summary() const {
  std::map<GgmlType, size_t> bytes;
  for (const Layer& l : layers_)
    for (const Matrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) bytes[m->type] += m->bytes();
  if (bytes.empty()) return "none";
  auto top =
      std::max_element(bytes.begin(), bytes.end(), [](const auto& x, const auto& y) { return x.second < y.second; });
  std::string s(type_name(top->first));
  if (bytes.size() > 1 || output_.type != top->first) s += " (mixed)";
  return s;
}

}  // namespace lcte::model
