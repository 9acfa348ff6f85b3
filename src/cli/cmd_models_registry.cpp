// lcte models add|list|show|rm|tag: the model registry (registry/) from the shell.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.h"
#include "core/progress.h"
#include "registry/registry.h"

namespace lcte::cli {
namespace {

using nlohmann::json;

std::string human_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  return fmt::format("{:.1f} {}", v, units[u]);
}

void print_manifest(const registry::Manifest& m) {
  json j = m.to_json();
  j["file"] = m.file;
  std::printf("%s\n", j.dump(2).c_str());
}

}  // namespace

void list_registry(const std::string& root_dir, bool as_json) {
  registry::Registry reg(root_dir);
  auto all = reg.list();
  if (as_json) {
    json out = json::array();
    for (const auto& m : all) out.push_back(m.to_json());
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  if (all.empty()) {
    std::printf("no models in %s\n", reg.root().c_str());
    return;
  }
  std::printf("%-28s %-8s %-12s %12s %10s  %-12s %s\n", "name@version", "quant", "sha256", "parameters", "size",
              "parents", "tags");
  for (const auto& m : all) {
    std::string tags;
    for (const auto& t : m.tags) tags += (tags.empty() ? "" : ",") + t;
    std::printf("%-28s %-8s %-12s %12llu %10s  %-12zu %s\n", (m.name + "@" + m.version).c_str(), m.quant_type.c_str(),
                m.sha256.substr(0, 12).c_str(), static_cast<unsigned long long>(m.n_parameters),
                human_bytes(m.size_bytes).c_str(), m.lineage.parents.size(), tags.c_str());
  }
}

void add_registry_commands(CLI::App& app) {
  // `models` is shared with the catalogue's `models list` (cmd_models.cpp).
  CLI::App* models = nullptr;
  try {
    models = app.get_subcommand("models");
  } catch (const CLI::OptionNotFound&) {
    models = app.add_subcommand("models", "The model catalogue and the model registry");
    models->require_subcommand(1);
  }
  auto root = std::make_shared<std::string>(registry::default_registry_dir());
  models->add_option("--registry", *root, "Registry directory ($LCTE_REGISTRY, else the user's data directory)")
      ->capture_default_str();

  auto* add = models->add_subcommand("add", "Store a GGUF model in the registry");
  auto file = std::make_shared<std::string>();
  auto opts = std::make_shared<registry::AddOptions>();
  add->add_option("file", *file, "GGUF file")->required();
  add->add_option("--name", opts->name, "Model name")->required();
  add->add_option("--version", opts->version, "Version (default: the next number under the name)");
  add->add_option("--parent", opts->parents, "Parent model (sha256 or name@version); repeatable");
  add->add_option("--made-by", opts->made_by, "The command that made it");
  add->add_option("--tag", opts->tags, "Tag; repeatable");
  add->callback([=] {
    registry::Registry reg(*root);
    auto feed = std::make_shared<ProgressFeed>(stderr, "models add: ");  // hashing and copying a large file
    opts->progress = [feed](const ProgressEvent& e) { (*feed)(e); };
    registry::Manifest m = reg.add(*file, *opts);
    std::printf("%s@%s %s\n", m.name.c_str(), m.version.c_str(), m.sha256.c_str());
  });

  auto* show = models->add_subcommand("show", "A model's manifest and file");
  auto show_ref = std::make_shared<std::string>();
  show->add_option("ref", *show_ref, "name@version, tag, name or sha256 (prefix)")->required();
  show->callback([=] {
    registry::Registry reg(*root);
    print_manifest(reg.find(*show_ref));
  });

  auto* rm = models->add_subcommand("rm", "Remove a model (refused while another model's lineage names it)");
  auto rm_ref = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  rm->add_option("ref", *rm_ref, "name@version, tag, name or sha256 (prefix)")->required();
  rm->add_flag("--force", *force, "Remove even when other models name it as a parent");
  rm->callback([=] {
    registry::Registry reg(*root);
    registry::Manifest m = reg.find(*rm_ref);
    reg.remove(m.sha256, *force);
    std::printf("removed %s@%s %s\n", m.name.c_str(), m.version.c_str(), m.sha256.c_str());
  });

  auto* tag = models->add_subcommand("tag", "Give a model a tag (moved from any model that had it)");
  auto tag_ref = std::make_shared<std::string>(), tag_name = std::make_shared<std::string>();
  tag->add_option("ref", *tag_ref, "name@version, tag, name or sha256 (prefix)")->required();
  tag->add_option("tag", *tag_name, "Tag")->required();
  tag->callback([=] {
    registry::Registry reg(*root);
    reg.tag(*tag_ref, *tag_name);
    registry::Manifest m = reg.find(*tag_name);
    std::printf("%s -> %s@%s\n", tag_name->c_str(), m.name.c_str(), m.version.c_str());
  });
}

}  // namespace lcte::cli
