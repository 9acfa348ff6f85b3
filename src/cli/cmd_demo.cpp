// lcte demo: lcte's main job on models and data it makes itself (see
// demo/pipeline.h); no download and no ../shared needed.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/progress.h"
#include "demo/pipeline.h"

namespace lcte::cli {
namespace {

void print_summary(const demo::DemoResult& r, const std::string& store) {
  std::printf("\n%s", demo::summary_text(r).c_str());
  std::printf(
      "\nThese are tiny models (well under a million parameters) trained in minutes on tasks lcte made up;\n"
      "the trade-offs are real measurements, the absolute numbers say nothing about real code models.\n"
      "Point the same study at real GGUF files: edit %s (docs/guide.md explains how).\n\n",
      r.study_file.c_str());
  std::printf("Report:    %s/report.html (and report.md, CSVs)\n", r.report_dir.c_str());
  std::printf(
      "Dashboard: lcte dashboard%s%s   (the runs are in the store; lcte serve -m %s serves the teacher "
      "through the OpenAI API with the same dashboard)\n",
      store.empty() ? "" : " --store ", store.c_str(), r.teacher.c_str());
  std::printf("Models:    lcte models --registry %s list\n", r.registry.c_str());
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Run lcte's whole loop on tiny models it trains itself (no download)");
  auto o = std::make_shared<demo::DemoOptions>();
  cmd->add_option("-o,--out", o->out_dir, "Output directory (models, suite, study, report)")->capture_default_str();
  cmd->add_option("--store", o->store, "Experiment store (default: the user's store)");
  cmd->add_option("--registry", o->registry, "Model registry (default: <out>/registry)");
  cmd->add_option("--seed", o->seed, "Seed of the suite, the models and the training")->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "Training threads (0: one per core)")->capture_default_str();
  cmd->add_option("--teacher-steps", o->teacher_steps, "Optimiser steps of the teacher")->capture_default_str();
  cmd->add_option("--student-steps", o->student_steps, "Optimiser steps of the student's distillation")
      ->capture_default_str();
  cmd->add_option("--held-out", o->test_per_level, "Held-out tasks per difficulty level")->capture_default_str();
  cmd->add_flag("!--no-public-suites", o->public_suites, "Skip HumanEval/MBPP even where the data is present");
  cmd->add_flag("--resume", o->resume, "Continue an evaluation an interrupted demo left unfinished");
  cmd->callback([o] {
    // Training, the study's steps and the fidelity chunks: a progress line each on stderr.
    auto feed = std::make_shared<ProgressFeed>(stderr, "      ");
    o->progress = [feed](const ProgressEvent& e) { (*feed)(e); };
    demo::DemoResult r = demo::run_demo(*o, [](const std::string& line) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    });
    print_summary(r, o->store);
  });
}

}  // namespace lcte::cli
