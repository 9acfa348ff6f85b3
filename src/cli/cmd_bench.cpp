// lcte bench -m MODEL [-m MODEL...] [-p 512] [-n 128] [-t 1,2] [-r 5] [--json]:
// prompt-processing and generation speed, as llama-bench measures and prints it.
#include <nlohmann/json.hpp>

#include <cstdio>

#include "cli/commands.h"
#include "core/error.h"
#include "experiment/recorder.h"
#include "kernels/kernels.h"
#include "model/bench.h"

namespace lcte::cli {
namespace {

struct BenchArgs {
  std::vector<std::string> models;
  int64_t n_prompt = 512;
  int64_t n_gen = 128;
  std::vector<int> threads = {2};
  int reps = 5;
  int64_t batch = 512;
  std::string kv_type = "f16";
  bool json = false;
  std::string store;  // experiment store: one run per model; empty: none
};

void run(const BenchArgs& a) {
  model::BenchOptions o;
  o.n_prompt = a.n_prompt;
  o.n_gen = a.n_gen;
  o.reps = a.reps;
  o.kv_type = model::kv_type_from_name(a.kv_type);
  for (int t : a.threads)
    if (t < 1 || t > 256) fail("-t: thread count {} is out of range (1..256)", t);
  // Which kernel table ran (the best this CPU has, capped by $LCTE_KERNELS):
  // a figure is only comparable with others from the same table.
  const std::string kernels(kernels::isa_name(kernels::best_isa()));
  nlohmann::json out = nlohmann::json::array();
  if (!a.json) {
    std::printf("| model | size | params | backend | threads | test | t/s |\n");
    std::printf("| --- | ---: | ---: | --- | ---: | ---: | ---: |\n");
  }
  for (const std::string& path : a.models) {
    const nlohmann::json config = {{"model", path},        {"n_prompt", a.n_prompt}, {"n_gen", a.n_gen},
                                   {"threads", a.threads}, {"repetitions", a.reps},  {"batch", a.batch},
                                   {"kv_type", a.kv_type}, {"kernels", kernels}};
    store::RunRecord record = experiment::new_run_record("bench", path, config);
    record.model_name = path;
    record.model_path = path;
    experiment::record_run(a.store, record, [&](experiment::RunRecorder* rec) {
      const auto m = model::Model::load(path);
      const std::string name = m->config().arch_name + " " + m->type_summary();
      nlohmann::json results = nlohmann::json::array();
      for (int t : a.threads) {
        model::ThreadPool pool(t);
        model::Context ctx(*m, pool, a.batch);
        for (const model::BenchResult& r : model::run_bench(ctx, o)) {
          const nlohmann::json row = {{"model", name},
                                      {"path", path},
                                      {"size_bytes", m->tensor_bytes()},
                                      {"params", m->n_params()},
                                      {"threads", t},
                                      {"test", r.test},
                                      {"n_tokens", r.n_tokens},
                                      {"kv_type", a.kv_type},
                                      {"kernels", kernels},
                                      {"tps_mean", r.mean},
                                      {"tps_stddev", r.stddev},
                                      {"tps_samples", r.tokens_per_second},
                                      {"cpu_tps", r.cpu_tokens_per_second}};
          results.push_back(row);
          // One series per test, its step the thread count: pp512_tps, tg128_tps, ...
          if (rec) rec->add_values(t, {{r.test + "_tps", r.mean}, {r.test + "_tps_stddev", r.stddev}});
          if (a.json) {
            out.push_back(row);
          } else {
            std::printf("| %s | %.2f MiB | %.2f M | CPU (%s) | %d | %s | %.2f ± %.2f |\n", name.c_str(),
                        static_cast<double>(m->tensor_bytes()) / (1 << 20), static_cast<double>(m->n_params()) / 1e6,
                        kernels.c_str(), t, r.test.c_str(), r.mean, r.stddev);
            std::fflush(stdout);
          }
        }
      }
      return nlohmann::json{{"results", results}, {"peak_rss_bytes", model::peak_rss_bytes()}};
    });
  }
  if (a.json) std::printf("%s\n", out.dump(2).c_str());
  std::fprintf(stderr, "peak RSS: %.1f MiB\n", static_cast<double>(model::peak_rss_bytes()) / (1 << 20));
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("bench", "Measure prompt processing (pp) and generation (tg) speed, llama-bench style");
  auto a = std::make_shared<BenchArgs>();
  cmd->add_option("-m,--model", a->models, "GGUF model file (repeat for several)")->required();
  cmd->add_option("-p,--n-prompt", a->n_prompt, "Prompt tokens for the pp test (0: skip)")->capture_default_str();
  cmd->add_option("-n,--n-gen", a->n_gen, "Generated tokens for the tg test (0: skip)")->capture_default_str();
  cmd->add_option("-t,--threads", a->threads, "Thread counts, comma-separated")->delimiter(',')->capture_default_str();
  cmd->add_option("-r,--repetitions", a->reps, "Timed runs per test (after one warm-up)")->capture_default_str();
  cmd->add_option("-b,--batch", a->batch, "Most tokens per forward call")->capture_default_str();
  cmd->add_option("--kv-type", a->kv_type, "KV cache type: f16 or f32")->capture_default_str();
  cmd->add_flag("--json", a->json, "Print JSON instead of the table");
  cmd->add_option("--store", a->store, "Experiment store to record the runs in (kind bench, one per model)");
  cmd->callback([a] { run(*a); });
}

}  // namespace lcte::cli
