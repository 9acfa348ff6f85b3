#include "train/gguf_io.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include <fmt/ranges.h>

#include "core/error.h"
#include "model/gguf_names.h"
#include "model/model.h"

#include "kernels/fp16.h"
#include "kernels/kernels.h"

namespace lcte::train {
namespace {

namespace names = model::gguf_names;

// One tensor of the file as F32, n elements.
void tensor_to_f32(const gguf::File& f, const gguf::TensorInfo& t, float* dst) {
  const int64_t n = t.n_elements();
  if (t.type == GgmlType::F32) {
    std::memcpy(dst, t.data, (size_t)n * sizeof(float));
    return;
  }
  const TypeTraits& tr = type_traits(t.type);
  if (!tr.computable) fail("{}: tensor {} has type {}, which lcte cannot dequantize", f.path(), t.name, tr.name);
  const int64_t row = t.ne[0];
  const size_t rb = row_bytes(t.type, row);
  for (int64_t r = 0; r < t.rows(); ++r) kernels::dequantize_row(t.type, t.data + r * rb, dst + r * row, row);
}

std::vector<std::string> expected_names(const ParamLayout& L) {
  std::vector<std::string> names;
  for (const ParamTensor& t : L.tensors) names.push_back(t.name);
  return names;
}

}  // namespace

ModelConfig config_from_gguf(const gguf::File& f) {
  const std::string arch = f.architecture();
  if (arch != "llama")
    fail("{}: architecture '{}' cannot be trained by lcte (only 'llama')", f.path(), arch.empty() ? "?" : arch);
  const model::Config m = model::read_config(f);
  // What the engine runs but the training model does not implement.
  if (f.find_tensor(names::kRopeFreqs) != nullptr)
    fail("{}: {} (Llama 3 RoPE frequency factors) is not supported for training", f.path(), names::kRopeFreqs);
  if (!m.rope_freq_factors.empty() || m.rope_freq_scale != 1.0f)
    fail("{}: RoPE scaling '{}' is not supported for training", f.path(),
         f.get_string(arch + ".rope.scaling.type", "linear"));
  if (m.head_dim * m.n_heads != m.dim)
    fail("{}: attention.key_length {} differs from embedding_length / head_count {} (not supported for training)",
         f.path(), m.head_dim, m.dim / m.n_heads);
  if (m.rope_dims != m.head_dim)
    fail("{}: rope.dimension_count {} differs from head_dim {} (partial rotary is not supported)", f.path(),
         m.rope_dims, m.head_dim);
  ModelConfig c;
  c.dim = static_cast<int>(m.dim);
  c.n_layers = static_cast<int>(m.n_layers);
  c.ffn_dim = static_cast<int>(m.ffn_dim);
  c.n_heads = static_cast<int>(m.n_heads);
  c.n_kv_heads = static_cast<int>(m.n_kv_heads);
  c.context = static_cast<int>(std::min<int64_t>(m.n_ctx_train, 1 << 20));
  // The file's own value, not the engine's float copy, so that a trained model
  // round-trips its keys exactly.
  c.rope_base = f.get_f64(arch + ".rope.freq_base", 10000.0);
  c.norm_eps = f.get_f64(arch + ".attention.layer_norm_rms_epsilon", 1e-5);
  c.vocab = static_cast<int>(m.n_vocab);
  c.tied_output = f.find_tensor(names::kOutput) == nullptr;
  c.validate(f.path());
  return c;
}

void load_weights(const gguf::File& f, Model<float>& m) {
  const ParamLayout& L = m.layout();
  for (const gguf::TensorInfo& t : f.tensors()) {
    const ParamTensor* p = L.find(t.name);
    if (p == nullptr) fail("{}: unexpected tensor {} for a llama model", f.path(), t.name);
    if (t.ne != p->ne)
      fail("{}: tensor {} has shape [{}], the model expects [{}]", f.path(), t.name, fmt::join(t.ne, ", "),
           fmt::join(p->ne, ", "));
  }
  for (const std::string& name : expected_names(L)) {
    const gguf::TensorInfo* t = f.find_tensor(name);
    if (t == nullptr) fail("{}: missing tensor {}", f.path(), name);
    tensor_to_f32(f, *t, m.param(name));
  }
}

Model<float> load_model(const gguf::File& f, bool with_grads) {
  Model<float> m(config_from_gguf(f), with_grads);
  load_weights(f, m);
  return m;
}

LayerPick LayerPick::parse(const std::string& text) {
  LayerPick p;
  auto colon = text.find(':');
  std::string mode = text.substr(0, colon);
  if (colon == std::string::npos || (mode != "first" && mode != "every"))
    fail("layer pick '{}': expected first:N or every:K", text);
  p.mode = mode == "first" ? Mode::FirstN : Mode::EveryKth;
  try {
    size_t used = 0;
    p.n = std::stoi(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    fail("layer pick '{}': '{}' is not a number", text, text.substr(colon + 1));
  }
  if (p.n < 1) fail("layer pick '{}': the number must be at least 1", text);
  return p;
}

std::vector<int> LayerPick::layers(int teacher_layers) const {
  std::vector<int> out;
  if (mode == Mode::FirstN) {
    if (n > teacher_layers) fail("layer pick first:{}: the teacher has only {} layers", n, teacher_layers);
    for (int l = 0; l < n; ++l) out.push_back(l);
  } else {
    for (int l = 0; l < teacher_layers; l += n) out.push_back(l);
  }
  return out;
}

ModelConfig student_config(const ModelConfig& tc, const StudentSpec& spec) {
  ModelConfig sc = tc;
  sc.dim = spec.dim ? spec.dim : tc.dim;
  sc.n_heads = spec.n_heads ? spec.n_heads : tc.n_heads;
  sc.n_kv_heads = spec.n_kv_heads ? spec.n_kv_heads : tc.n_kv_heads;
  sc.ffn_dim = spec.ffn_dim ? spec.ffn_dim : tc.ffn_dim;
  const bool same_layer_shape =
      sc.dim == tc.dim && sc.n_heads == tc.n_heads && sc.n_kv_heads == tc.n_kv_heads && sc.ffn_dim == tc.ffn_dim;
  const size_t picked = spec.pick.layers(tc.n_layers).size();
  sc.n_layers = spec.n_layers ? spec.n_layers : static_cast<int>(picked);
  if (same_layer_shape && sc.n_layers != (int)picked)
    fail("student: {} layers asked for, but the layer pick keeps {} teacher layers", sc.n_layers, picked);
  sc.validate("student");
  return sc;
}

StudentInit student_from_teacher(const gguf::File& teacher, const StudentSpec& spec) {
  const ModelConfig tc = config_from_gguf(teacher);
  const ModelConfig sc = student_config(tc, spec);
  const bool same_width = sc.dim == tc.dim;
  const bool same_layer_shape =
      same_width && sc.n_heads == tc.n_heads && sc.n_kv_heads == tc.n_kv_heads && sc.ffn_dim == tc.ffn_dim;
  const std::vector<int> picked = spec.pick.layers(tc.n_layers);

  StudentInit init{Model<float>(sc), {}, {}};
  init.model.init_random(spec.seed);
  auto copy = [&](const std::string& teacher_name, const std::string& student_name) {
    const gguf::TensorInfo& t = teacher.tensor(teacher_name);
    const ParamTensor* p = init.model.layout().find(student_name);
    if (p == nullptr || t.ne != p->ne) return;
    tensor_to_f32(teacher, t, init.model.param(student_name));
    init.copied.push_back(student_name);
  };
  if (same_width) {
    for (std::string_view n : {names::kTokenEmbd, names::kOutputNorm}) copy(std::string(n), std::string(n));
    if (!tc.tied_output) copy(std::string(names::kOutput), std::string(names::kOutput));
    for (int l = 0; l < sc.n_layers && l < (int)picked.size(); ++l) {
      for (std::string_view n : {names::kAttnNorm, names::kFfnNorm})
        copy(names::block(picked[l], n), names::block(l, n));
      if (!same_layer_shape) continue;
      for (int p = 0; p < kNumProj; ++p)
        copy(names::block(picked[l], names::kProj[p]), names::block(l, names::kProj[p]));
    }
    if (same_layer_shape) init.kept_layers = picked;
  }
  return init;
}

namespace {

// Norms and 1-D tensors stay F32 (llama.cpp keeps them F32 in every type).
struct Encoded {
  GgmlType type;
  std::vector<uint8_t> bytes;
};

Encoded encode(const float* x, size_t n, GgmlType type, const std::vector<int64_t>& ne) {
  Encoded e{ne.size() >= 2 ? type : GgmlType::F32, {}};
  if (e.type == GgmlType::F32) {
    e.bytes.resize(n * sizeof(float));
    std::memcpy(e.bytes.data(), x, n * sizeof(float));
    return e;
  }
  if (e.type != GgmlType::F16) fail("export: type {} is not supported (F32 or F16)", type_name(type));
  e.bytes.resize(n * sizeof(uint16_t));
  auto* h = reinterpret_cast<uint16_t*>(e.bytes.data());
  for (size_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(x[i]);
  return e;
}

void set_common_metadata(gguf::Writer& w, const ModelConfig& c, const ExportOptions& opts) {
  if (opts.metadata_source != nullptr) {
    for (const gguf::KeyValue& kv : opts.metadata_source->metadata())
      if (kv.key.rfind("tokenizer.", 0) == 0) w.set(kv.key, kv.value);
  }
  w.set("general.architecture", gguf::Value::string("llama"));
  w.set("general.name", gguf::Value::string(opts.name));
  w.set("llama.context_length", gguf::Value::u32(c.context));
  w.set("llama.embedding_length", gguf::Value::u32(c.dim));
  w.set("llama.block_count", gguf::Value::u32(c.n_layers));
  w.set("llama.feed_forward_length", gguf::Value::u32(c.ffn_dim));
  w.set("llama.rope.dimension_count", gguf::Value::u32(c.head_dim()));
  w.set("llama.attention.head_count", gguf::Value::u32(c.n_heads));
  w.set("llama.attention.head_count_kv", gguf::Value::u32(c.n_kv_heads));
  w.set("llama.attention.layer_norm_rms_epsilon", gguf::Value::f32(static_cast<float>(c.norm_eps)));
  w.set("llama.rope.freq_base", gguf::Value::f32(static_cast<float>(c.rope_base)));
  w.set("llama.vocab_size", gguf::Value::u32(c.vocab));
  for (const gguf::KeyValue& kv : opts.lineage) w.set(kv.key, kv.value);
}

}  // namespace

void save_model_gguf(const Model<float>& m, const std::string& path, const ExportOptions& opts) {
  if (opts.type != GgmlType::F32 && opts.type != GgmlType::F16)
    fail("{}: export type {} is not supported (F32 or F16)", path, type_name(opts.type));
  gguf::Writer w;
  set_common_metadata(w, m.config(), opts);
  // llama.cpp's file types: 0 = all F32, 1 = mostly F16.
  w.set("general.file_type", gguf::Value::u32(opts.type == GgmlType::F16 ? 1 : 0));
  std::vector<float> weights = m.params();
  m.merge_lora_into(weights);
  std::vector<Encoded> data;
  data.reserve(m.layout().tensors.size());
  for (const ParamTensor& t : m.layout().tensors) {
    data.push_back(encode(weights.data() + t.offset, t.size, opts.type, t.ne));
    w.add_tensor(t.name, data.back().type, t.ne, data.back().bytes.data());
  }
  w.write(path);
}

void save_lora_adapter_gguf(const Model<float>& m, const std::string& path, const ExportOptions& opts) {
  if (!m.lora_enabled()) fail("{}: the model has no LoRA adapters to save", path);
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string("llama"));
  w.set("general.type", gguf::Value::string("adapter"));
  w.set("general.name", gguf::Value::string(opts.name));
  w.set("adapter.type", gguf::Value::string("lora"));
  w.set("adapter.lora.alpha", gguf::Value::f32(static_cast<float>(m.lora_config().alpha)));
  for (const gguf::KeyValue& kv : opts.lineage) w.set(kv.key, kv.value);
  const int r = m.lora_config().rank;
  const ParamLayout& L = m.layout();
  for (int l = 0; l < m.config().n_layers; ++l) {
    for (int p = 0; p < kNumProj; ++p) {
      const LoraLayout::Slot& s = m.lora_layout().layers[l][p];
      if (!s.on) continue;
      const std::string base = names::block(l, names::kProj[p]);
      const int in = L.layers[l].in[p], out = L.layers[l].out[p];
      w.add_tensor(base + ".lora_a", GgmlType::F32, {in, r}, m.lora_params().data() + s.a);
      w.add_tensor(base + ".lora_b", GgmlType::F32, {r, out}, m.lora_params().data() + s.b);
    }
  }
  w.write(path);
}

void load_lora_adapter(const gguf::File& f, Model<float>& m) {
  if (f.get_string("general.type", "") != "adapter" || f.get_string("adapter.type", "") != "lora")
    fail("{}: not a LoRA adapter (general.type must be 'adapter' and adapter.type 'lora')", f.path());
  if (f.architecture() != "llama") fail("{}: adapter architecture '{}' is not llama", f.path(), f.architecture());
  const ModelConfig& c = m.config();
  LoraConfig lc;
  lc.alpha = f.get_f64("adapter.lora.alpha");
  lc.targets = {};
  int rank = 0;
  for (const gguf::TensorInfo& t : f.tensors()) {
    bool known = false;
    for (int l = 0; l < c.n_layers && !known; ++l)
      for (int p = 0; p < kNumProj && !known; ++p) {
        const std::string base = names::block(l, names::kProj[p]);
        if (t.name == base + ".lora_a" || t.name == base + ".lora_b") {
          known = true;
          lc.targets[p] = true;
          if (t.name == base + ".lora_a" && t.ne.size() == 2) rank = static_cast<int>(t.ne[1]);
        }
      }
    if (!known) fail("{}: tensor {} is not a LoRA tensor of this model", f.path(), t.name);
  }
  if (rank <= 0) fail("{}: no lora_a tensor found", f.path());
  lc.rank = rank;
  m.enable_lora(lc, 0);
  const ParamLayout& L = m.layout();
  for (int l = 0; l < c.n_layers; ++l) {
    for (int p = 0; p < kNumProj; ++p) {
      if (!lc.targets[p]) continue;
      const std::string base = names::block(l, names::kProj[p]);
      const LoraLayout::Slot& s = m.lora_layout().layers[l][p];
      const int in = L.layers[l].in[p], out = L.layers[l].out[p];
      const gguf::TensorInfo* a = f.find_tensor(base + ".lora_a");
      const gguf::TensorInfo* b = f.find_tensor(base + ".lora_b");
      if (a == nullptr || b == nullptr)
        fail(
            "{}: layer {} lacks {} adapters that other layers have (lcte adapts the same projections in every "
            "layer)",
            f.path(), l, proj_gguf_name(p));
      if (a->ne != std::vector<int64_t>{in, rank} || b->ne != std::vector<int64_t>{rank, out})
        fail("{}: {}.lora_a/.lora_b have shapes [{}] and [{}], expected [{}, {}] and [{}, {}]", f.path(), base,
             fmt::join(a->ne, ", "), fmt::join(b->ne, ", "), in, rank, rank, out);
      tensor_to_f32(f, *a, m.lora_params().data() + s.a);
      tensor_to_f32(f, *b, m.lora_params().data() + s.b);
    }
  }
}

}  // namespace lcte::train
