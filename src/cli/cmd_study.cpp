// lcte study run FILE [--resume] [--dry-run]: a whole study from one TOML file.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/progress.h"
#include "study/study.h"

namespace lcte::cli {

void add_study_command(CLI::App& app) {
  auto* study = app.add_subcommand("study", "Compress, evaluate and route a set of models from one study file");
  study->require_subcommand(1);
  auto* run = study->add_subcommand("run", "Plan the study's steps and run what is not done yet");
  auto file = std::make_shared<std::string>();
  auto options = std::make_shared<study::StudyOptions>();
  run->add_option("file", *file, "Study file (TOML; see examples/study.toml)")->required();
  run->add_flag("--resume", options->resume, "Continue evaluations a killed invocation left half done");
  run->add_flag("--dry-run", options->dry_run, "Print the plan (cached / to run) and stop");
  run->callback([=] {
    // Each quantize and eval step's progress on stderr, a line per step.
    auto feed = std::make_shared<ProgressFeed>(stderr, "  ");
    options->step_progress = [feed](const ProgressEvent& e) { (*feed)(e); };
    study::StudySpec spec = study::load_study(*file);
    study::StudyResult r = study::run_study(spec, *options);
    if (options->dry_run) return;
    std::printf("study %s: %zu steps run, %zu cached; results in %s\n", spec.name.c_str(), r.ran.size(),
                r.plan.size() - std::min(r.plan.size(), r.ran.size()), spec.output.c_str());
  });
}

}  // namespace lcte::cli
