// lcte inspect MODEL.gguf [--json]: what is in a model file.
#include <nlohmann/json.hpp>

#include <cstdio>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "gguf/model_info.h"

namespace lcte::cli {

void add_inspect_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Show a GGUF file's architecture, hyper-parameters, tokenizer and tensors");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto all_metadata = std::make_shared<bool>(false);
  cmd->add_option("model", *path, "GGUF file")->required();
  cmd->add_flag("--json", *json, "Print JSON");
  cmd->add_flag("--metadata", *all_metadata, "Also print every metadata key (arrays abbreviated)");
  cmd->callback([=] {
    gguf::File file = gguf::File::open(*path);
    gguf::ModelSummary s = gguf::summarize(file);
    if (*json) {
      // Names and strings in a file need not be UTF-8; replace what is not.
      std::printf("%s\n",
                  gguf::summary_to_json(s, file).dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      std::fputs(gguf::summary_to_text(s, file, *all_metadata).c_str(), stdout);
    }
  });
}

}  // namespace lcte::cli
