#include "registry/registry.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "core/clock.h"
#include "core/error.h"
#include "core/sha256.h"
#include "gguf/gguf.h"
#include "gguf/model_info.h"

namespace lcte::registry {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kBlock = 4 << 20;

// The file's sha256, its bytes reported as they are read.
std::string hash_file(const std::string& path, const ProgressCallback& progress) {
  if (!progress) return lcte::sha256_file_hex(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path);
  const uint64_t total = fs::file_size(path);
  Sha256 hash;
  std::vector<char> buffer(kBlock);
  uint64_t done = 0;
  progress({"hash", "bytes", 0, total, 0, path});
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const size_t got = static_cast<size_t>(in.gcount());
    if (got == 0) break;
    hash.update(buffer.data(), got);
    done += got;
    progress({"hash", "bytes", done, total, 0, path});
  }
  if (in.bad()) fail("{}: read error", path);
  return hash.finish_hex();
}

// fs::copy_file, or with progress a copy block by block that reports its bytes.
void copy_file(const std::string& from, const std::string& to, const ProgressCallback& progress) {
  std::error_code ec;
  if (!progress) {
    fs::copy_file(from, to, ec);
    if (ec) fail("{}: cannot copy into the registry: {}", from, ec.message());
    return;
  }
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  if (!in || !out) fail("{}: cannot copy into the registry ({})", from, to);
  const uint64_t total = fs::file_size(from);
  std::vector<char> buffer(kBlock);
  uint64_t done = 0;
  progress({"copy", "bytes", 0, total, 0, to});
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const std::streamsize got = in.gcount();
    if (got == 0) break;
    if (!out.write(buffer.data(), got)) fail("{}: cannot write (disk full?)", to);
    done += static_cast<uint64_t>(got);
    progress({"copy", "bytes", done, total, 0, to});
  }
  out.close();
  if (in.bad() || !out) fail("{}: cannot copy into the registry ({})", from, to);
}

bool is_hex(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::string unique_suffix() {
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  return fmt::format("{}.{}.{}", getpid(), counter++, rd() & 0xffff);
}

// Serialises the read-modify-write of manifests between processes.
class DirLock {
 public:
  explicit DirLock(const std::string& root) {
    fd_ = ::open((root + "/.lock").c_str(), O_RDWR | O_CREAT, 0644);
    if (fd_ < 0) fail("{}: cannot open the registry lock file", root);
    ::flock(fd_, LOCK_EX);
  }
  ~DirLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

template <class T>
T field(const json& j, const char* key, const std::string& origin, T fallback) {
  if (!j.contains(key)) return fallback;
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    fail("{}: field '{}' has the wrong type ({})", origin, key, j.at(key).dump());
  }
}

// Orders versions numerically when both are numbers ("2" < "10").
bool version_less(const std::string& a, const std::string& b) {
  bool na = !a.empty() && std::all_of(a.begin(), a.end(), ::isdigit);
  bool nb = !b.empty() && std::all_of(b.begin(), b.end(), ::isdigit);
  if (na && nb) return a.size() != b.size() ? a.size() < b.size() : a < b;
  return a < b;
}

}  // namespace

json Manifest::to_json() const {
  return json{{"sha256", sha256},
              {"name", name},
              {"version", version},
              {"format", format},
              {"n_parameters", n_parameters},
              {"quant_type", quant_type},
              {"size_bytes", size_bytes},
              {"lineage", {{"parents", lineage.parents}, {"made_by", lineage.made_by}, {"settings", lineage.settings}}},
              {"created_at", created_at},
              {"tags", tags},
              {"metrics", metrics}};
}

Manifest Manifest::from_json(const json& j, const std::string& origin) {
  if (!j.is_object()) fail("{}: a manifest must be a JSON object", origin);
  Manifest m;
  m.sha256 = field<std::string>(j, "sha256", origin, "");
  if (m.sha256.size() != 64 || !is_hex(m.sha256)) fail("{}: field 'sha256' is missing or not a sha256", origin);
  m.name = field<std::string>(j, "name", origin, "");
  if (m.name.empty()) fail("{}: field 'name' is missing", origin);
  m.version = field<std::string>(j, "version", origin, "");
  m.format = field<std::string>(j, "format", origin, "gguf");
  m.n_parameters = field<uint64_t>(j, "n_parameters", origin, 0);
  m.quant_type = field<std::string>(j, "quant_type", origin, "");
  m.size_bytes = field<uint64_t>(j, "size_bytes", origin, 0);
  if (j.contains("lineage")) {
    const json& l = j["lineage"];
    if (!l.is_object()) fail("{}: field 'lineage' must be an object", origin);
    m.lineage.parents = field<std::vector<std::string>>(l, "parents", origin + " lineage", {});
    m.lineage.made_by = field<std::string>(l, "made_by", origin + " lineage", "");
    m.lineage.settings = field<json>(l, "settings", origin + " lineage", json::object());
  }
  m.created_at = field<std::string>(j, "created_at", origin, "");
  m.tags = field<std::vector<std::string>>(j, "tags", origin, {});
  m.metrics = field<json>(j, "metrics", origin, json::object());
  return m;
}

std::string default_registry_dir() {
  if (const char* r = std::getenv("LCTE_REGISTRY"); r != nullptr && *r != '\0') return r;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x != nullptr && *x != '\0')
    return std::string(x) + "/lcte/registry";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.local/share/lcte/registry";
}

Registry::Registry(std::string root) : root_(std::move(root)) {
  std::error_code ec;
  fs::create_directories(fs::path(root_) / "models", ec);
  fs::create_directories(fs::path(root_) / "manifests", ec);
  if (!fs::is_directory(fs::path(root_) / "manifests")) fail("{}: cannot create the registry directory", root_);
  root_ = fs::absolute(root_).lexically_normal().string();
}

std::string Registry::manifest_path(const std::string& sha) const { return root_ + "/manifests/" + sha + ".json"; }
std::string Registry::model_path(const std::string& sha) const { return root_ + "/models/" + sha + ".gguf"; }

Manifest Registry::read_manifest(const std::string& path) const {
  std::ifstream in(path);
  if (!in) fail("{}: cannot read the manifest", path);
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    fail("{}: corrupt manifest: {}", path, e.what());
  }
  Manifest m = Manifest::from_json(j, path);
  m.file = model_path(m.sha256);
  return m;
}

void Registry::write_manifest(const Manifest& m) const {
  write_file_atomic(manifest_path(m.sha256), m.to_json().dump(2) + "\n");
}

std::vector<Manifest> Registry::list() const {
  std::vector<Manifest> out;
  for (const auto& e : fs::directory_iterator(fs::path(root_) / "manifests")) {
    if (e.path().extension() != ".json") continue;
    out.push_back(read_manifest(e.path().string()));
  }
  std::sort(out.begin(), out.end(), [](const Manifest& a, const Manifest& b) {
    if (a.name != b.name) return a.name < b.name;
    return version_less(a.version, b.version);
  });
  return out;
}

std::optional<Manifest> Registry::try_find(const std::string& ref) const {
  if (ref.empty()) return std::nullopt;
  std::vector<Manifest> all = list();
  std::vector<const Manifest*> hits;
  auto at = ref.find('@');
  if (at != std::string::npos) {
    std::string name = ref.substr(0, at), version = ref.substr(at + 1);
    for (const auto& m : all)
      if (m.name == name && m.version == version) hits.push_back(&m);
  } else {
    for (const auto& m : all)
      if (std::find(m.tags.begin(), m.tags.end(), ref) != m.tags.end()) hits.push_back(&m);
    if (hits.empty() && ref.size() >= 8 && is_hex(ref))
      for (const auto& m : all)
        if (m.sha256.rfind(ref, 0) == 0) hits.push_back(&m);
    if (hits.empty()) {
      // A bare name: its newest version (list() is sorted by version).
      for (const auto& m : all)
        if (m.name == ref) hits = {&m};
    }
  }
  if (hits.empty()) return std::nullopt;
  if (hits.size() > 1) {
    std::string names;
    for (const auto* m : hits) names += fmt::format(" {}@{} ({})", m->name, m->version, m->sha256.substr(0, 12));
    fail("registry {}: '{}' is ambiguous:{}", root_, ref, names);
  }
  return *hits.front();
}

Manifest Registry::find(const std::string& ref) const {
  auto m = try_find(ref);
  if (!m) fail("registry {}: no model '{}' (use name@version, a tag or a sha256)", root_, ref);
  return *m;
}

Manifest Registry::add(const std::string& file, const AddOptions& options) {
  if (!fs::is_regular_file(file)) fail("{}: no such file", file);
  gguf::File g = gguf::File::open(file);  // throws naming the file when it is not GGUF
  gguf::ModelSummary s = gguf::summarize(g);
  std::string sha = hash_file(file, options.progress);

  Lineage from_file;
  for (const char* key : {"lcte.lineage.teacher_sha256", "lcte.lineage.init_sha256"})
    if (std::string h = g.get_string(key, ""); !h.empty()) from_file.parents.push_back(h);
  json gguf_lineage = json::object();
  for (const auto& kv : g.metadata())
    if (kv.key.rfind("lcte.lineage.", 0) == 0)
      gguf_lineage[kv.key.substr(13)] =
          kv.value.type() == gguf::ValueType::STRING ? kv.value.as_string() : kv.value.to_string(64);

  DirLock lock(root_);
  std::vector<std::string> parents;
  for (const std::string& p : options.parents) {
    if (auto m = try_find(p)) {
      parents.push_back(m->sha256);
    } else if (p.size() == 64 && is_hex(p)) {
      parents.push_back(p);  // a parent the registry does not hold (yet)
    } else {
      fail("registry {}: parent '{}' is not a registered model", root_, p);
    }
  }
  for (const auto& p : from_file.parents) parents.push_back(p);

  std::string dest = model_path(sha);
  if (!fs::exists(dest)) {
    std::string tmp = dest + ".tmp." + unique_suffix();
    std::error_code ec;
    try {
      copy_file(file, tmp, options.progress);
    } catch (...) {
      fs::remove(tmp, ec);
      throw;
    }
    fs::rename(tmp, dest, ec);
    if (ec) {
      fs::remove(tmp);
      fail("{}: cannot rename into place: {}", dest, ec.message());
    }
  }

  Manifest m;
  bool existed = fs::exists(manifest_path(sha));
  if (existed) m = read_manifest(manifest_path(sha));
  if (!existed) {
    m.sha256 = sha;
    m.created_at = utc_now_iso8601();
    m.format = "gguf";
    m.name = !options.name.empty() ? options.name : (!s.name.empty() ? s.name : fs::path(file).stem().string());
    m.version = options.version;
    if (m.version.empty()) {
      int n = 0;
      for (const auto& other : list()) n += other.name == m.name;
      m.version = std::to_string(n + 1);
    }
  } else {
    if (!options.name.empty()) m.name = options.name;
    if (!options.version.empty()) m.version = options.version;
  }
  if (auto clash = try_find(m.name + "@" + m.version); clash && clash->sha256 != sha)
    fail("registry {}: {}@{} is already another model ({})", root_, m.name, m.version, clash->sha256.substr(0, 12));
  m.n_parameters = s.n_parameters;
  m.quant_type = s.file_type;
  m.size_bytes = fs::file_size(dest);
  for (const auto& p : parents)
    if (p != sha && std::find(m.lineage.parents.begin(), m.lineage.parents.end(), p) == m.lineage.parents.end())
      m.lineage.parents.push_back(p);
  if (!options.made_by.empty()) m.lineage.made_by = options.made_by;
  for (const auto& [k, v] : options.settings.items()) m.lineage.settings[k] = v;
  if (!gguf_lineage.empty()) m.lineage.settings["gguf"] = gguf_lineage;
  for (const auto& t : options.tags)
    if (std::find(m.tags.begin(), m.tags.end(), t) == m.tags.end()) m.tags.push_back(t);
  m.file = dest;
  write_manifest(m);
  return m;
}

void Registry::tag(const std::string& ref, const std::string& tag) {
  if (tag.empty() || tag.find('@') != std::string::npos) fail("tag '{}': a tag is a non-empty word without '@'", tag);
  DirLock lock(root_);
  Manifest target = find(ref);
  // A tag names one model: moving it takes it off the one that had it.
  for (Manifest m : list()) {
    auto it = std::find(m.tags.begin(), m.tags.end(), tag);
    if (it != m.tags.end() && m.sha256 != target.sha256) {
      m.tags.erase(it);
      write_manifest(m);
    }
  }
  if (std::find(target.tags.begin(), target.tags.end(), tag) == target.tags.end()) target.tags.push_back(tag);
  write_manifest(target);
}

void Registry::set_metrics(const std::string& ref, const json& metrics) {
  DirLock lock(root_);
  Manifest m = find(ref);
  for (const auto& [k, v] : metrics.items()) m.metrics[k] = v;
  write_manifest(m);
}

std::vector<Manifest> Registry::children(const std::string& sha256) const {
  std::vector<Manifest> out;
  for (const auto& m : list())
    if (std::find(m.lineage.parents.begin(), m.lineage.parents.end(), sha256) != m.lineage.parents.end())
      out.push_back(m);
  return out;
}

void Registry::remove(const std::string& ref, bool force) {
  DirLock lock(root_);
  Manifest m = find(ref);
  std::vector<Manifest> kids = children(m.sha256);
  if (!kids.empty() && !force) {
    std::string names;
    for (const auto& k : kids) names += " " + k.name + "@" + k.version;
    fail("registry {}: {}@{} is a parent of{}; use --force to remove it anyway", root_, m.name, m.version, names);
  }
  std::error_code ec;
  fs::remove(manifest_path(m.sha256), ec);
  fs::remove(model_path(m.sha256), ec);
}

}  // namespace lcte::registry
