// lcte data fetch [NAME...] [--dir DIR] [--list] [--base-url URL]
// Downloads the public files lcte reads (benchmarks, tiktoken rank files)
// from their official URLs into the data directory, each checked against its
// pinned sha256.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "core/error.h"
#include "core/sha256.h"
#include "data/datasets.h"

namespace lcte::cli {

namespace {

namespace fs = std::filesystem;

std::string known_names() {
  std::string names;
  for (const data::DatasetFile& f : data::known_datasets()) names += (names.empty() ? "" : ", ") + f.name;
  return names;
}

// What `dir` holds for `file`, for --list.
std::string status_in(const data::DatasetFile& file, const std::string& dir) {
  const fs::path path = fs::path(dir) / file.relative_path;
  if (!fs::is_regular_file(path)) return "missing";
  return sha256_file_hex(path.string()) == file.sha256 ? "present, verified" : "present, sha256 differs";
}

}  // namespace

void add_data_command(CLI::App& app) {
  struct Options {
    std::vector<std::string> names;
    std::string dir, base_url;
    bool list = false;
  };
  auto o = std::make_shared<Options>();
  auto* data = app.add_subcommand("data", "Public data files: benchmarks and tokenizer rank files");
  data->require_subcommand(1);
  auto* fetch = data->add_subcommand("fetch", "Download public files from their official URLs, verified by sha256");
  fetch->add_option("names", o->names, "Files to fetch (default: all; see --list)");
  fetch->add_option("--dir", o->dir, "Data directory (default: $XDG_CACHE_HOME/lcte/datasets)");
  fetch->add_flag("--list", o->list, "List the files lcte knows and whether the directory has them");
  fetch->add_option("--base-url", o->base_url,
                    "Fetch from a mirror laid out like the data directory (URL/relative/path) instead");
  fetch->callback([o] {
    std::string dir = o->dir.empty() ? data::default_cache_dir() : o->dir;
    if (dir.empty()) fail("data fetch: no --dir given and neither XDG_CACHE_HOME nor HOME is set");

    std::vector<const data::DatasetFile*> files;
    for (const std::string& name : o->names) {
      const data::DatasetFile* f = data::find_dataset(name);
      if (f == nullptr) fail("data fetch: unknown file '{}' (known: {})", name, known_names());
      files.push_back(f);
    }
    if (files.empty())
      for (const data::DatasetFile& f : data::known_datasets()) files.push_back(&f);

    if (o->list) {
      std::printf("%-15s %-42s %-24s %s\n", "name", "path", "status", "source");
      for (const data::DatasetFile* f : files)
        std::printf("%-15s %-42s %-24s %s\n", f->name.c_str(), f->relative_path.c_str(), status_in(*f, dir).c_str(),
                    data::source_url(*f, o->base_url).c_str());
      std::printf("directory: %s\n", dir.c_str());
      return;
    }

    size_t failed = 0;
    for (const data::DatasetFile* f : files) {
      const std::string dest = (fs::path(dir) / f->relative_path).string();
      try {
        const data::FetchOutcome outcome = data::fetch_dataset(*f, dir, o->base_url);
        std::printf("%-15s %s %s (sha256 %s)\n", f->name.c_str(),
                    outcome == data::FetchOutcome::kDownloaded ? "downloaded to" : "already at", dest.c_str(),
                    f->sha256.substr(0, 12).c_str());
      } catch (const Error& e) {
        ++failed;
        std::fprintf(stderr, "%-15s failed: %s\n", f->name.c_str(), e.what());
      }
      std::fflush(stdout);
    }
    if (failed > 0) fail("data fetch: {} of {} files failed (no partial file is left behind)", failed, files.size());
  });
}

}  // namespace lcte::cli
