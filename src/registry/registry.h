// The model registry: a directory where every model lcte makes or is given is
// kept once, by the sha256 of its bytes, with a JSON manifest beside it:
//
//   <root>/models/<sha256>.gguf
//   <root>/manifests/<sha256>.json
//
// The manifest records name@version, format, parameters, quant type, size,
// lineage (parents by hash, the command and settings that made it), creation
// time, tags and metrics. Every write goes to a temporary file that is then
// renamed, so a reader never sees half a manifest and two processes adding the
// same file end with one copy (the rename of identical bytes is harmless).
#pragma once

#include <nlohmann/json.hpp>

#include "core/progress.h"

#include <optional>
#include <string>
#include <vector>

#include "core/file.h"

namespace lcte::registry {

struct Lineage {
  std::vector<std::string> parents;  // sha256 of the parent models
  std::string made_by;               // command line that made it
  nlohmann::json settings = nlohmann::json::object();
};

struct Manifest {
  std::string sha256;
  std::string name, version;
  std::string format = "gguf";
  uint64_t n_parameters = 0;
  std::string quant_type;  // general.file_type name, "" when absent
  uint64_t size_bytes = 0;
  Lineage lineage;
  std::string created_at;  // ISO 8601 UTC
  std::vector<std::string> tags;
  nlohmann::json metrics = nlohmann::json::object();
  std::string file;  // absolute path of the stored copy (not stored in the JSON)

  nlohmann::json to_json() const;
  // Throws lcte::Error naming `origin` and the field.
  static Manifest from_json(const nlohmann::json& j, const std::string& origin);
};

// $LCTE_REGISTRY, else $XDG_DATA_HOME/lcte/registry, else ~/.local/share/lcte/registry.
std::string default_registry_dir();

struct AddOptions {
  std::string name, version;         // empty version: "1" plus the number of models already under the name
  std::vector<std::string> parents;  // hashes or references (name@version, tag, hash prefix)
  std::string made_by;
  nlohmann::json settings = nlohmann::json::object();
  std::vector<std::string> tags;
  // Hashing the file and copying it in, in bytes (tasks "hash", "copy"); empty: none.
  ProgressCallback progress;
};

class Registry {
 public:
  explicit Registry(std::string root);  // created when absent
  const std::string& root() const { return root_; }

  // Stores `file` (when its hash is new) and writes its manifest. Adding a
  // file already present keeps one copy; the name, version, parents and tags
  // given are merged into the existing manifest. GGUF lineage keys
  // (lcte.lineage.teacher_sha256, init_sha256) become parents automatically.
  Manifest add(const std::string& file, const AddOptions& options);

  std::vector<Manifest> list() const;  // by name, then version
  // A reference: full sha256, a unique prefix of at least 8 hex digits,
  // name@version, a tag, or a bare name (its newest version).
  Manifest find(const std::string& ref) const;
  std::optional<Manifest> try_find(const std::string& ref) const;
  std::string resolve(const std::string& ref) const { return find(ref).file; }

  void tag(const std::string& ref, const std::string& tag);
  void set_metrics(const std::string& ref, const nlohmann::json& metrics);  // merged into the manifest's
  // Models whose lineage names `sha256`.
  std::vector<Manifest> children(const std::string& sha256) const;
  // Refuses (lcte::Error naming the children) when another model's lineage
  // refers to it, unless `force`.
  void remove(const std::string& ref, bool force = false);

 private:
  std::string manifest_path(const std::string& sha) const;
  std::string model_path(const std::string& sha) const;
  Manifest read_manifest(const std::string& path) const;
  void write_manifest(const Manifest& m) const;
  std::string root_;
};

// Writes `text` to `path` atomically (a unique temp file beside it, then rename).
using lcte::write_file_atomic;  // core/file.h

}  // namespace lcte::registry
