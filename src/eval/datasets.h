// The dataset registry and downloads live in data/ (below the tokenizer,
// which finds tiktoken rank files the same way); eval re-exports the names
// so its callers need not know where they live.
#pragma once

#include "data/datasets.h"

namespace lcte::eval {

using data::DatasetFile;
using data::DatasetLocations;
using data::default_dataset_locations;
using data::download_verified;
using data::humaneval_dataset;
using data::mbpp_dataset;
using data::mbpp_sanitized_dataset;
using data::resolve_dataset;

}  // namespace lcte::eval
