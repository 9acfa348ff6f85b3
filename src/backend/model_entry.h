// One `[[model]]` entry, as a study file and a model catalogue both write it:
// one set of keys, read and checked by one function, so an entry copied from
// one file to the other means the same there (docs/formats.md, "Model
// entries").
//
//   [[model]]
//   name = "coder-7b"                  # how runs, tiers and routes refer to it
//   url = "http://gpu-box:8000/v1"     # an OpenAI-compatible endpoint (or base_url)
//   model = "coder-7b"                 # the name the server knows it by
//   api_key_env = "VLLM_API_KEY"       # the variable holding the key
//   max_in_flight = 32                 # requests at once (endpoints; default 8)
//   style = "instruct"                 # chat messages; "completion": the raw prompt
//   top_p = 0.95                       # nucleus sampling for this model's samples
//   split = "test"                     # the suite's split it is evaluated on
//   tier = 1                           # routing order (lower first, ties by cost)
//   cost = 8                           # cost weight of one query
#pragma once

#include <toml++/toml.h>

#include <optional>
#include <string>
#include <vector>

namespace lcte::backend {

struct ModelEntry {
  std::string name;
  // engine (a GGUF: `path` or `ref`), http (`url` + `model`), canonical (the
  // suite's reference solutions) or file (`samples_file`). Given, or implied:
  // `url` makes http, `path`/`ref` engine, `samples_file` file.
  std::string backend = "engine";
  std::string path;          // local GGUF, absolute (relative paths are relative to the file)
  std::string ref;           // a registry model (name@version, tag, sha256); studies resolve it
  std::string samples_file;  // file backend, absolute
  std::string url;           // endpoint base URL, e.g. http://gpu-box:8000/v1 (key `url` or `base_url`)
  std::string remote_model;  // key `model`: the server's name for the model
  std::string api_key_env;   // the variable holding the key ("" for none)
  int max_in_flight = 8;     // endpoints: requests at once
  int tier = 0;              // routing order: lower is cheaper
  double cost = 1.0;         // cost weight of one query
  // How the model is evaluated; unset: the run's own setting (a study's
  // [eval], `lcte eval --style/--top-p/--split`).
  std::string style;            // "completion" or "instruct" ("chat" is read as "instruct")
  std::optional<double> top_p;  // in (0, 1]
  std::string split;            // test, validation, train, prompt or all

  bool is_local() const { return backend == "engine"; }
  bool is_remote() const { return backend == "http"; }
};

// Every key a [[model]] entry may hold.
const std::vector<std::string>& model_entry_keys();

// The entry `t`, the index-th [[model]] (0-based) of `file`: unknown keys,
// wrong types, missing or conflicting keys and values out of range are
// lcte::Error in core/toml_read.h's form, naming the file and line, the entry
// (`[[model]] #2` for index 1) and the key, and for an unknown key the closest
// known one. Relative paths become absolute beside `file`.
ModelEntry read_model_entry(const toml::table& t, const std::string& file, size_t index);

// The entry as a TOML [[model]] table that read_model_entry reads back equal
// (paths written absolute).
std::string model_entry_toml(const ModelEntry& entry);

}  // namespace lcte::backend
