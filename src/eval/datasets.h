// Where the benchmark files come from: a data directory (LCTE_DATA_DIR, or
// ../shared/data beside the working directory), the user's cache, or a
// download from the public source, verified against a known sha256.
#pragma once

#include <string>
#include <vector>

namespace lcte::eval {

struct DatasetFile {
  std::string relative_path;  // inside a data dir or the cache, e.g. "humaneval/HumanEval.jsonl.gz"
  std::string url;            // public source
  std::string sha256;         // of the file as published
};

// The files lcte knows, with the sums recorded in shared/data/SOURCES.md.
const DatasetFile& humaneval_dataset();
const DatasetFile& mbpp_dataset();
const DatasetFile& mbpp_sanitized_dataset();

struct DatasetLocations {
  std::vector<std::string> data_dirs;  // searched in order, files used as they are
  std::string cache_dir;               // verified files; downloads land here
  bool allow_download = true;
};

// LCTE_DATA_DIR (when set), ./../shared/data and ./shared/data, then
// $XDG_CACHE_HOME/lcte/datasets (or ~/.cache/lcte/datasets).
DatasetLocations default_dataset_locations();

// Path of a readable copy of `file`: the first data dir that has it, else the
// cache (re-verified), else a fresh download into the cache. Throws
// lcte::Error saying where it looked when none works.
std::string resolve_dataset(const DatasetFile& file, const DatasetLocations& where);

// Downloads `url` to `dest` (parent dirs created) with libcurl and checks its
// sha256; on any failure (HTTP error, mismatch, too large) nothing is left at
// `dest` and lcte::Error says what happened.
void download_verified(const std::string& url, const std::string& dest, const std::string& sha256,
                       size_t max_bytes = size_t(64) << 20);

}  // namespace lcte::eval
