#include "gguf/model_info.h"

#include <fmt/format.h>

#include <map>

namespace lcte::gguf {

std::string file_type_name(uint64_t ftype) {
  static const std::map<uint64_t, const char*> names = {
      {0, "F32"},     {1, "F16"},     {2, "Q4_0"},     {3, "Q4_1"},    {7, "Q8_0"},    {8, "Q5_0"},    {9, "Q5_1"},
      {10, "Q2_K"},   {11, "Q3_K_S"}, {12, "Q3_K_M"},  {13, "Q3_K_L"}, {14, "Q4_K_S"}, {15, "Q4_K_M"}, {16, "Q5_K_S"},
      {17, "Q5_K_M"}, {18, "Q6_K"},   {19, "IQ2_XXS"}, {20, "IQ2_XS"}, {21, "Q2_K_S"}, {22, "IQ3_XS"}, {23, "IQ3_XXS"},
      {24, "IQ1_S"},  {25, "IQ4_NL"}, {26, "IQ3_S"},   {27, "IQ3_M"},  {28, "IQ2_S"},  {29, "IQ2_M"},  {30, "IQ4_XS"},
      {31, "IQ1_M"},  {32, "BF16"},   {36, "TQ1_0"},   {37, "TQ2_0"},
  };
  auto it = names.find(ftype);
  return it == names.end() ? fmt::format("unknown ({})", ftype) : it->second;
}

ModelSummary summarize(const File& file) {
  ModelSummary s;
  s.architecture = file.architecture();
  s.name = file.get_string("general.name", "");
  if (file.has("general.file_type")) s.file_type = file_type_name(file.get_u64("general.file_type"));
  std::string prefix = s.architecture + ".";
  for (const KeyValue& kv : file.metadata()) {
    if (!s.architecture.empty() && kv.key.rfind(prefix, 0) == 0)
      s.hyper_parameters.emplace_back(kv.key.substr(prefix.size()), kv.value.to_string(4));
  }
  s.tokenizer_model = file.get_string("tokenizer.ggml.model", "");
  s.tokenizer_pre = file.get_string("tokenizer.ggml.pre", "");
  if (const Value* tokens = file.find("tokenizer.ggml.tokens"); tokens && tokens->type() == ValueType::ARRAY)
    s.vocab_size = tokens->as_array().items.size();
  std::map<std::string, uint64_t> counts;
  for (const TensorInfo& t : file.tensors()) {
    s.n_parameters += static_cast<uint64_t>(t.n_elements());
    s.tensor_bytes += t.nbytes;
    counts[std::string(type_name(t.type))]++;
  }
  s.type_counts.assign(counts.begin(), counts.end());
  s.file_bytes = file.file_size();
  s.bits_per_weight =
      s.n_parameters ? 8.0 * static_cast<double>(s.tensor_bytes) / static_cast<double>(s.n_parameters) : 0;
  return s;
}

namespace {

std::string shape_string(const TensorInfo& t) {
  std::string out;
  for (size_t i = 0; i < t.ne.size(); ++i) out += (i ? " x " : "") + std::to_string(t.ne[i]);
  return out;
}

std::string human_count(uint64_t n) {
  if (n >= 1000000000ull) return fmt::format("{:.2f} B", n / 1e9);
  if (n >= 1000000ull) return fmt::format("{:.2f} M", n / 1e6);
  if (n >= 1000ull) return fmt::format("{:.2f} K", n / 1e3);
  return std::to_string(n);
}

}  // namespace

std::string summary_to_text(const ModelSummary& s, const File& file, bool all_metadata) {
  std::string out;
  auto line = [&](std::string_view k, const std::string& v) { out += fmt::format("{:<22} {}\n", k, v); };
  line("file", file.path());
  line("gguf version", std::to_string(file.version()));
  line("architecture", s.architecture.empty() ? "(none: vocabulary only)" : s.architecture);
  if (!s.name.empty()) line("name", s.name);
  if (!s.file_type.empty()) line("file type", s.file_type);
  line("parameters", fmt::format("{} ({})", human_count(s.n_parameters), s.n_parameters));
  line("file size", fmt::format("{:.2f} MiB ({} bytes)", s.file_bytes / 1048576.0, s.file_bytes));
  line("bits per weight", fmt::format("{:.3f}", s.bits_per_weight));
  if (!s.tokenizer_model.empty())
    line("tokenizer", fmt::format("{}{} ({} tokens)", s.tokenizer_model,
                                  s.tokenizer_pre.empty() ? "" : " / pre " + s.tokenizer_pre, s.vocab_size));
  if (!s.hyper_parameters.empty()) {
    out += "\nhyper-parameters\n";
    for (const auto& [k, v] : s.hyper_parameters) out += fmt::format("  {:<36} {}\n", k, v);
  }
  if (all_metadata) {
    out += "\nmetadata\n";
    for (const KeyValue& kv : file.metadata()) out += fmt::format("  {:<40} {}\n", kv.key, kv.value.to_string(8));
  }
  out += fmt::format("\ntensors ({})\n", file.tensors().size());
  for (const TensorInfo& t : file.tensors())
    out += fmt::format("  {:<32} {:<6} {:<24} {:>12} bytes\n", t.name, type_name(t.type), shape_string(t), t.nbytes);
  return out;
}

nlohmann::json summary_to_json(const ModelSummary& s, const File& file) {
  nlohmann::json j;
  j["file"] = file.path();
  j["gguf_version"] = file.version();
  j["architecture"] = s.architecture;
  j["name"] = s.name;
  j["file_type"] = s.file_type;
  j["parameters"] = s.n_parameters;
  j["file_bytes"] = s.file_bytes;
  j["tensor_bytes"] = s.tensor_bytes;
  j["bits_per_weight"] = s.bits_per_weight;
  j["tokenizer"] = {{"model", s.tokenizer_model}, {"pre", s.tokenizer_pre}, {"vocab_size", s.vocab_size}};
  nlohmann::json hp = nlohmann::json::object();
  std::string prefix = s.architecture + ".";
  for (const KeyValue& kv : file.metadata()) {
    if (s.architecture.empty() || kv.key.rfind(prefix, 0) != 0) continue;
    const Value& v = kv.value;
    std::string key = kv.key.substr(prefix.size());
    if (v.is_integer())
      hp[key] = v.as_i64();
    else if (v.is_number())
      hp[key] = v.as_f64();
    else if (v.type() == ValueType::BOOL)
      hp[key] = v.as_bool();
    else if (v.type() == ValueType::STRING)
      hp[key] = v.as_string();
    else
      hp[key] = v.to_string(16);
  }
  j["hyper_parameters"] = hp;
  nlohmann::json tensors = nlohmann::json::array();
  for (const TensorInfo& t : file.tensors())
    tensors.push_back(
        {{"name", t.name}, {"type", type_name(t.type)}, {"shape", t.ne}, {"bytes", t.nbytes}, {"offset", t.offset}});
  j["tensors"] = tensors;
  return j;
}

}  // namespace lcte::gguf
