#include "quant/mix.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/error.h"

namespace lcte::quant {
namespace {

struct FileTypeInfo {
  FileType type;
  std::string_view name;
  GgmlType base;
};

constexpr FileTypeInfo kFileTypes[] = {
    {FileType::Q4_0, "Q4_0", GgmlType::Q4_0},     {FileType::Q4_1, "Q4_1", GgmlType::Q4_1},
    {FileType::Q5_0, "Q5_0", GgmlType::Q5_0},     {FileType::Q5_1, "Q5_1", GgmlType::Q5_1},
    {FileType::Q2_K, "Q2_K", GgmlType::Q2_K},     {FileType::Q3_K_S, "Q3_K_S", GgmlType::Q3_K},
    {FileType::Q3_K_M, "Q3_K_M", GgmlType::Q3_K}, {FileType::Q3_K_L, "Q3_K_L", GgmlType::Q3_K},
    {FileType::Q4_K_S, "Q4_K_S", GgmlType::Q4_K}, {FileType::Q4_K_M, "Q4_K_M", GgmlType::Q4_K},
    {FileType::Q5_K_S, "Q5_K_S", GgmlType::Q5_K}, {FileType::Q5_K_M, "Q5_K_M", GgmlType::Q5_K},
    {FileType::Q6_K, "Q6_K", GgmlType::Q6_K},     {FileType::Q8_0, "Q8_0", GgmlType::Q8_0},
    {FileType::F16, "F16", GgmlType::F16},        {FileType::BF16, "BF16", GgmlType::BF16},
    {FileType::F32, "F32", GgmlType::F32},
};

const FileTypeInfo& info(FileType t) {
  for (const FileTypeInfo& i : kFileTypes)
    if (i.type == t) return i;
  fail("unknown file type {}", static_cast<uint32_t>(t));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
         });
}

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

// The block index of "blk.<i>.<...>", or -1.
int layer_of(std::string_view name) {
  if (!name.starts_with("blk.")) return -1;
  int layer = -1;
  const char* begin = name.data() + 4;
  auto [end, ec] = std::from_chars(begin, name.data() + name.size(), layer);
  if (ec != std::errc() || end == begin || *end != '.') return -1;
  return layer;
}

bool use_more_bits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

int64_t block_of(GgmlType t) { return type_traits(t).block_size; }

// llama.cpp's fallback table, with lcte's replacements for the types it
// cannot write (see mix.h).
GgmlType fallback_type(GgmlType t, int64_t row) {
  GgmlType f = GgmlType::F16;
  switch (t) {
    case GgmlType::Q2_K:
    case GgmlType::Q3_K: f = GgmlType::Q4_0; break;
    case GgmlType::Q4_K: f = GgmlType::Q5_0; break;
    case GgmlType::Q5_K: f = GgmlType::Q5_1; break;
    case GgmlType::Q6_K: f = GgmlType::Q8_0; break;
    default: break;
  }
  return row % block_of(f) == 0 ? f : GgmlType::F16;
}

// The per-tensor rules; `state` counts attn_v / ffn_down tensors seen so far
// (llama.cpp's i_attention_wv and i_ffn_down), in planning order.
struct RuleState {
  int i_attention_wv = 0;
  int i_ffn_down = 0;
};

bool is_70b_llama(const ModelFacts& m) { return m.arch == "llama" && m.n_layer == 80 && m.n_head != m.n_head_kv; }

GgmlType rules_type(const std::string& name, const std::vector<int64_t>& ne, FileType ft, const ModelFacts& m,
                    bool has_imatrix, RuleState& st) {
  using F = FileType;
  using T = GgmlType;
  T t = base_type(ft);
  const bool falcon = m.arch == "falcon";
  if (name == "output.weight" || (!m.has_output && name == "token_embd.weight")) {
    if (falcon || ne[0] % block_of(t) != 0)
      t = T::Q8_0;
    else if (t != T::Q8_0)
      t = T::Q6_K;
  } else if (name == "token_embd.weight") {
    // No rule for the file types lcte writes (only the i-quants have one).
  } else if (contains(name, "attn_v.weight")) {
    if (ft == F::Q2_K)
      t = m.n_gqa() >= 4 ? T::Q4_K : T::Q3_K;
    else if (ft == F::Q3_K_M)
      t = st.i_attention_wv < 2 ? T::Q5_K : T::Q4_K;
    else if (ft == F::Q3_K_L)
      t = T::Q5_K;
    else if ((ft == F::Q4_K_M || ft == F::Q5_K_M) && use_more_bits(st.i_attention_wv, m.n_attention_wv))
      t = T::Q6_K;
    else if (ft == F::Q4_K_S && st.i_attention_wv < 4)
      t = T::Q5_K;
    // 70B: eight query heads share each V head, so attn_v is 8x smaller than
    // attn_q and extra bits there cost almost nothing.
    if (is_70b_llama(m) && (t == T::Q3_K || t == T::Q4_K)) t = T::Q5_K;
    if (m.n_expert == 8) t = T::Q8_0;
    ++st.i_attention_wv;
  } else if (contains(name, "attn_k.weight")) {
    if (m.n_expert == 8) t = T::Q8_0;
  } else if (contains(name, "ffn_down")) {
    // With experts, llama.cpp takes the layer from the name (the expert
    // tensors of a layer are not consecutive); otherwise it counts.
    int64_t i = st.i_ffn_down;
    if (m.n_expert > 1) {
      i = layer_of(name);
      if (i < 0 || i >= m.n_layer) fail("{}: cannot tell the layer of this expert tensor", name);
    }
    const int64_t n = m.n_layer;
    if (ft == F::Q2_K)
      t = T::Q3_K;
    else if (ft == F::Q3_K_M)
      t = i < n / 16 ? T::Q5_K : (!falcon || use_more_bits(i, n)) ? T::Q4_K : T::Q3_K;
    else if (ft == F::Q3_K_L)
      t = falcon ? T::Q4_K : T::Q5_K;
    else if (ft == F::Q4_K_M) {
      if (falcon)
        t = i < n / 16 ? T::Q6_K : use_more_bits(i, n) ? T::Q5_K : T::Q4_K;
      else if (use_more_bits(i, n))
        t = T::Q6_K;
    } else if (ft == F::Q5_K_M && use_more_bits(i, n))
      t = T::Q6_K;
    else if (ft == F::Q4_K_S && !falcon && i < n / 8)
      t = T::Q5_K;
    else if ((ft == F::Q4_0 || ft == F::Q5_0) && has_imatrix && i < n / 8)
      t = ft == F::Q4_0 ? T::Q4_1 : T::Q5_1;
    ++st.i_ffn_down;
  } else if (contains(name, "attn_output.weight")) {
    if (!falcon) {
      if (m.n_expert == 8) {
        if (ft == F::Q2_K || ft == F::Q3_K_S || ft == F::Q3_K_M || ft == F::Q4_K_S || ft == F::Q4_K_M) t = T::Q5_K;
      } else {
        if (ft == F::Q2_K)
          t = T::Q3_K;
        else if (ft == F::Q3_K_M)
          t = T::Q4_K;
        else if (ft == F::Q3_K_L)
          t = T::Q5_K;
      }
    } else if (ft == F::Q3_K_L) {
      t = T::Q4_K;
    }
  } else if (contains(name, "attn_qkv.weight")) {
    if (ft == F::Q3_K_M || ft == F::Q3_K_L)
      t = T::Q4_K;
    else if (ft == F::Q4_K_M)
      t = T::Q5_K;
    else if (ft == F::Q5_K_M)
      t = T::Q6_K;
  }
  return t;
}

}  // namespace

const std::vector<FileType>& all_file_types() {
  static const std::vector<FileType> types = [] {
    std::vector<FileType> v;
    for (const FileTypeInfo& i : kFileTypes) v.push_back(i.type);
    return v;
  }();
  return types;
}

std::string_view file_type_name(FileType t) { return info(t).name; }

GgmlType base_type(FileType t) { return info(t).base; }

std::optional<FileType> parse_file_type(std::string_view name) {
  for (const FileTypeInfo& i : kFileTypes)
    if (iequals(name, i.name)) return i.type;
  if (iequals(name, "Q3_K")) return FileType::Q3_K_M;
  if (iequals(name, "Q4_K")) return FileType::Q4_K_M;
  if (iequals(name, "Q5_K")) return FileType::Q5_K_M;
  return std::nullopt;
}

ModelFacts model_facts(const gguf::File& file) {
  ModelFacts m;
  m.arch = file.architecture();
  const std::string p = m.arch + ".";
  m.n_layer = static_cast<int64_t>(file.get_u64(p + "block_count", 0));
  m.n_embd = static_cast<int64_t>(file.get_u64(p + "embedding_length", 0));
  m.n_expert = static_cast<int64_t>(file.get_u64(p + "expert_count", 0));
  // head counts may be arrays (one per layer) in some models; the rules only
  // need layer 0's, as llama.cpp's n_gqa() does.
  auto first_int = [&](const std::string& key) -> int64_t {
    const gguf::Value* v = file.find(key);
    if (v == nullptr) return 0;
    if (v->type() == gguf::ValueType::ARRAY) {
      const std::vector<int64_t> xs = file.get_int_array(key);
      return xs.empty() ? 0 : xs[0];
    }
    return static_cast<int64_t>(v->as_u64());
  };
  m.n_head = first_int(p + "attention.head_count");
  m.n_head_kv = file.has(p + "attention.head_count_kv") ? first_int(p + "attention.head_count_kv") : m.n_head;
  for (const gguf::TensorInfo& t : file.tensors()) {
    if (contains(t.name, "attn_v.weight") || contains(t.name, "attn_qkv.weight") ||
        contains(t.name, "attn_kv_b.weight"))
      ++m.n_attention_wv;
    if (t.name == "output.weight") m.has_output = true;
  }
  return m;
}

bool is_quantizable(std::string_view name, size_t n_dims, bool keep_output) {
  if (!name.ends_with("weight") || n_dims < 2) return false;
  if (keep_output && name == "output.weight") return false;
  for (std::string_view never : {"_norm.weight", "ffn_gate_inp.weight", "ssm_conv1d.weight", "time_mix_first.weight",
                                 "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_decay_w1.weight",
                                 "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight"})
    if (contains(name, never)) return false;
  return name != "position_embd.weight" && name != "token_types.weight";
}

std::vector<TensorPlan> plan_mix(const gguf::File& file, const MixOptions& options) {
  const ModelFacts facts = model_facts(file);
  std::vector<const gguf::TensorInfo*> order;
  for (const gguf::TensorInfo& t : file.tensors()) order.push_back(&t);
  std::stable_sort(order.begin(), order.end(), [](const gguf::TensorInfo* a, const gguf::TensorInfo* b) {
    const int la = layer_of(a->name), lb = layer_of(b->name);
    return la != lb ? la < lb : a->name < b->name;
  });

  const GgmlType base = base_type(options.ftype);
  RuleState state;
  std::vector<TensorPlan> plans;
  for (const gguf::TensorInfo* t : order) {
    TensorPlan p;
    p.name = t->name;
    p.ne = t->ne;
    p.from = p.to = p.wanted = t->type;
    if (is_quantizable(t->name, t->ne.size(), options.keep_output)) {
      GgmlType want = base;
      if (!options.pure && type_traits(base).quantized)
        want = rules_type(t->name, t->ne, options.ftype, facts, options.has_imatrix, state);
      p.wanted = want;
      p.to = want;
      if (t->ne[0] % block_of(want) != 0) {
        p.to = fallback_type(want, t->ne[0]);
        p.fallback = true;
      }
      p.quantize = p.to != p.from;
    }
    plans.push_back(std::move(p));
  }
  return plans;
}

}  // namespace lcte::quant
