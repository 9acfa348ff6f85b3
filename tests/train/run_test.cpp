// Whole training runs from files to files (what `lcte train` does), on a small
// synthetic teacher, and the `lcte train` command itself.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/run_command.h"
#include "common/test_data.h"
#include "core/error.h"
#include "core/sha256.h"
#include "demo/synthetic_model.h"
#include "store/store.h"
#include "train/run.h"

namespace lcte::train {
namespace {

std::string teacher_path(const std::string& dir) {
  demo::SyntheticModelSpec spec;
  spec.n_layers = 2;
  spec.dim = 32;
  spec.n_heads = 4;
  spec.n_kv_heads = 2;
  spec.ffn_dim = 64;
  const std::string path = dir + "/teacher.gguf";
  demo::write_synthetic_model(spec, path);
  return path;
}

RunOptions small_run(const std::string& dir, int steps) {
  RunOptions o;
  o.teacher = teacher_path(dir);
  o.student.pick = LayerPick::parse("first:1");
  o.sample = 12;
  o.top_k = 16;
  o.train.batch = 4;
  o.train.seq = 12;
  o.train.steps = steps;
  o.train.lr = {3e-3, 3e-4, 2, steps};
  o.log_every = 0;
  return o;
}

// Bit for bit.
void expect_same_weights(const std::string& path_a, const std::string& path_b) {
  Model<float> a = load_model(gguf::File::open(path_a)), b = load_model(gguf::File::open(path_b));
  ASSERT_EQ(a.params().size(), b.params().size());
  EXPECT_EQ(std::memcmp(a.params().data(), b.params().data(), a.params().size() * sizeof(float)), 0);
}

TEST(TrainRun, DistilsAndWritesAModelWithLineage) {
  const std::string dir = testing::temp_dir();
  RunOptions o = small_run(dir, 6);
  o.out = dir + "/student.gguf";
  o.train.loss.temperature = 2;
  o.valid_fraction = 0.25;  // 3 of the 12 sampled sequences
  RunResult r = run_training(o);
  EXPECT_EQ(r.steps, 6);
  ASSERT_TRUE(r.valid.has_value());
  EXPECT_EQ(r.valid->positions, 3 * 12);  // each held-out sequence counted once
  EXPECT_GT(r.valid->kd, 0);
  EXPECT_GT(r.teacher_bytes, 0u);
  EXPECT_GT(r.student_plan.total(), 0u);
  gguf::File f = gguf::File::open(o.out);
  EXPECT_EQ(f.get_string("lcte.lineage.method"), "distill");
  EXPECT_EQ(f.get_string("lcte.lineage.teacher_sha256"), sha256_file_hex(o.teacher));
  EXPECT_EQ(f.get_string("lcte.lineage.teacher_layers"), "0");
  EXPECT_EQ(f.get_u64("lcte.lineage.steps"), 6u);
  EXPECT_NE(f.get_string("lcte.lineage.hyperparameters").find("\"temperature\":2.0"), std::string::npos);
  EXPECT_TRUE(f.has("tokenizer.ggml.tokens"));
  EXPECT_NEAR(f.get_f64("lcte.lineage.valid_loss"), r.valid->loss, 1e-5 * (1 + r.valid->loss));
  Model<float> m = load_model(f);
  EXPECT_EQ(m.config().n_layers, 1);
}

TEST(TrainRun, ResumedRunEndsWhereTheStraightRunEnds) {
  const std::string dir = testing::temp_dir();
  RunOptions straight = small_run(dir, 8);
  straight.out = dir + "/straight.gguf";
  run_training(straight);

  RunOptions first = small_run(dir, 8);
  first.train.steps = 4;  // stop half way; the schedule still spans 8 steps
  first.checkpoint = dir + "/ckpt.gguf";
  run_training(first);
  RunOptions second = small_run(dir, 8);
  second.resume = dir + "/ckpt.gguf";
  second.out = dir + "/resumed.gguf";
  EXPECT_EQ(run_training(second).steps, 8);

  expect_same_weights(straight.out, second.out);
}

// A stop between steps (SIGINT in lcte train) leaves a checkpoint and no
// output; resuming from it ends where a straight run ends.
TEST(TrainRun, StopFlagCheckpointsAndResumeEqualsAStraightRun) {
  const std::string dir = testing::temp_dir();
  RunOptions straight = small_run(dir, 6);
  straight.out = dir + "/straight.gguf";
  run_training(straight);

  RunOptions cut = small_run(dir, 6);
  cut.out = dir + "/resumed.gguf";
  std::atomic<bool> stop{false};
  cut.stop = &stop;
  cut.on_step = [&](const StepStats& s) {
    if (s.step == 2) stop = true;
  };
  const RunResult r = run_training(cut);
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.steps, 2);
  EXPECT_EQ(r.checkpoint, cut.out + ".ckpt.gguf");  // no --checkpoint: next to the output
  ASSERT_TRUE(std::filesystem::exists(r.checkpoint));
  EXPECT_FALSE(std::filesystem::exists(cut.out));

  RunOptions rest = small_run(dir, 6);
  rest.out = cut.out;
  rest.resume = r.checkpoint;
  EXPECT_EQ(run_training(rest).steps, 6);
  expect_same_weights(straight.out, rest.out);
}

TEST(TrainRun, RefusesARunThatDoesNotFit) {
  const std::string dir = testing::temp_dir();
  RunOptions o = small_run(dir, 2);
  o.max_memory = 64 * 1024;
  try {
    run_training(o);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train: needs weights"), std::string::npos) << e.what();
  }
}

TEST(TrainRun, LoraOnTokenDataWritesAnAdapter) {
  const std::string dir = testing::temp_dir();
  RunOptions o;
  o.init = teacher_path(dir);
  o.lora_rank = 2;
  o.lora_targets = "attn";
  o.data = dir + "/data.jsonl";
  {
    std::ofstream d(o.data);
    for (int i = 0; i < 6; ++i) d << "{\"prompt\": [1, " << 40 + i << "], \"completion\": [50, 51, 52, 53]}\n";
  }
  o.train.batch = 2;
  o.train.seq = 8;
  o.train.steps = 3;
  o.adapter_out = dir + "/adapter.gguf";
  o.out = dir + "/merged.gguf";
  o.log_every = 0;
  run_training(o);
  gguf::File a = gguf::File::open(o.adapter_out);
  EXPECT_EQ(a.get_string("lcte.lineage.method"), "lora");
  EXPECT_NE(a.find_tensor("blk.1.attn_output.weight.lora_b"), nullptr);
  EXPECT_EQ(a.find_tensor("blk.1.ffn_up.weight.lora_a"), nullptr);
  // The adapters moved off zero, so the merged model differs from the base.
  Model<float> base = load_model(gguf::File::open(o.init)), merged = load_model(gguf::File::open(o.out));
  EXPECT_NE(base.params(), merged.params());
}

TEST(TrainCli, BadInputIsReportedByName) {
  const std::string dir = testing::temp_dir();
  const std::string teacher = teacher_path(dir);
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {testing::lcte_binary(), "train"});
    return testing::run_command(args, dir);
  };
  auto r = run({"--teacher", teacher, "--sample", "4", "--loss", "kld", "--out", dir + "/x.gguf"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown divergence 'kld'"), std::string::npos) << r.err;
  r = run({"--teacher", teacher, "--sample", "4", "--student-layers", "half"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("layer pick 'half'"), std::string::npos) << r.err;
  r = run({"--teacher", teacher, "--sample", "4", "--out", dir + "/x.gguf", "--max-memory", "0.01"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("only 0.0 MiB is available"), std::string::npos) << r.err;
  r = run({"--teacher", teacher, "--steps", "2", "--sample", "4", "--seq", "8", "--batch", "2", "--out",
           dir + "/ok.gguf", "--log-every", "0"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("trained 2 steps"), std::string::npos) << r.out;
}

// lcte train --store records the run like every other: kind "train", its
// parameters, the loss series at each evaluation, the model as an artifact,
// the machine and the summary with energy.
TEST(TrainCli, StoreRecordsTheRunAndItsSeries) {
  const std::string dir = testing::temp_dir();
  const std::string teacher = teacher_path(dir), store_path = dir + "/store.sqlite", out = dir + "/s.gguf";
  auto r = testing::run_command({testing::lcte_binary(),
                                 "train",
                                 "--teacher",
                                 teacher,
                                 "--student-layers",
                                 "first:1",
                                 "--sample",
                                 "8",
                                 "--valid-fraction",
                                 "0.25",
                                 "--seq",
                                 "8",
                                 "--batch",
                                 "2",
                                 "--steps",
                                 "4",
                                 "--eval-every",
                                 "2",
                                 "--threads",
                                 "1",
                                 "--log-every",
                                 "1",
                                 "--store",
                                 store_path,
                                 "--out",
                                 out},
                                dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("store run train-"), std::string::npos) << r.out;
  store::Store st(store_path);
  const auto runs = st.list_runs(store::RunFilter{.kind = "train"});
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].status, "finished");
  EXPECT_EQ(runs[0].model_path, out);
  EXPECT_TRUE(runs[0].machine.contains("logical_cpus"));
  EXPECT_FALSE(runs[0].code_version.empty());
  EXPECT_EQ(st.params(runs[0].id).at("teacher"), teacher);
  EXPECT_EQ(st.params(runs[0].id).at("loss"), "fkl");
  for (const char* name : {"train_loss", "tokens_per_s", "valid_loss", "valid_ce", "valid_kd"}) {
    const auto pts = st.metrics(runs[0].id, name);
    ASSERT_EQ(pts.size(), 2u) << name;
    EXPECT_EQ(pts[0].step, 2);
    EXPECT_EQ(pts[1].step, 4);
  }
  // The last held-out loss is the one the lineage carries.
  const gguf::File f = gguf::File::open(out);
  EXPECT_NEAR(st.metrics(runs[0].id, "valid_loss")[1].value, f.get_f64("lcte.lineage.valid_loss"), 1e-5);
  EXPECT_EQ(runs[0].summary["steps"], 4);
  EXPECT_TRUE(runs[0].summary.contains("energy"));
  ASSERT_EQ(st.artifacts(runs[0].id).size(), 1u);
  EXPECT_EQ(st.artifacts(runs[0].id)[0].path, out);
}

}  // namespace
}  // namespace lcte::train
