// Models in and out of GGUF for training: read a llama GGUF (any type the
// tensor kernels can dequantize) into an F32 training model, build a student
// from a teacher, and write the result as a normal llama GGUF (merged) or as
// a llama.cpp LoRA adapter GGUF.
#pragma once

#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "train/model.h"

namespace lcte::train {

// The training shape of a llama GGUF. Throws lcte::Error naming the file and
// key for another architecture, a missing key, RoPE scaling lcte does not
// train with (rope_freqs.weight, rope.scaling.type), or an inconsistent shape.
ModelConfig config_from_gguf(const gguf::File& f);

// Copies every tensor of `f` into `m` (dequantized to F32), checking each
// name and shape against m's layout; an unexpected or missing tensor is an
// error naming it.
void load_weights(const gguf::File& f, Model<float>& m);
Model<float> load_model(const gguf::File& f, bool with_grads = true);

// Which teacher layers a student keeps.
struct LayerPick {
  enum class Mode { FirstN, EveryKth } mode = Mode::EveryKth;
  int n = 2;  // FirstN: how many; EveryKth: k (keeps layers 0, k, 2k, ...)
  // "first:N" or "every:K".
  static LayerPick parse(const std::string& text);
  std::vector<int> layers(int teacher_layers) const;
};

// A student's shape; zero fields take the teacher's value, except n_layers,
// which LayerPick decides when the widths match.
struct StudentSpec {
  int dim = 0, n_heads = 0, n_kv_heads = 0, ffn_dim = 0, n_layers = 0;
  LayerPick pick;
  uint64_t seed = 1;
};

struct StudentInit {
  Model<float> model;
  std::vector<int> kept_layers;     // teacher layer of each student layer (empty if none copied)
  std::vector<std::string> copied;  // student tensor names copied from the teacher
};

// The student's shape for a teacher of shape `teacher` (validated).
ModelConfig student_config(const ModelConfig& teacher, const StudentSpec& spec);

// A seeded random student of the spec's shape; where widths match, the
// teacher's embeddings, output head and norms are copied, and where whole
// layers match, the picked layers are copied entirely.
StudentInit student_from_teacher(const gguf::File& teacher, const StudentSpec& spec);

struct ExportOptions {
  GgmlType type = GgmlType::F32;                // of the matrices: F32 or F16; norms stay F32 as in llama.cpp
  std::string name = "lcte-student";            // general.name
  const gguf::File* metadata_source = nullptr;  // tokenizer.* keys are copied from it
  std::vector<gguf::KeyValue> lineage;          // lcte.* keys (teacher sha256, data, loss, steps, ...)
};

// A normal llama GGUF of the model; LoRA adapters, if any, merged in.
void save_model_gguf(const Model<float>& m, const std::string& path, const ExportOptions& opts);
// The adapters alone, in llama.cpp's adapter layout: general.type = "adapter",
// general.architecture = "llama", adapter.type = "lora", adapter.lora.alpha
// (f32; llama.cpp scales by alpha / rank), and per adapted weight W the
// tensors "<W name>.lora_a" (ne = [in, rank]) and "<W name>.lora_b"
// (ne = [rank, out]), F32.
void save_lora_adapter_gguf(const Model<float>& m, const std::string& path, const ExportOptions& opts);
// Reads an adapter written by save_lora_adapter_gguf (or llama.cpp's
// converter, F32/F16 tensors) into a model whose base is already loaded.
void load_lora_adapter(const gguf::File& f, Model<float>& m);

}  // namespace lcte::train
