// The registry on small synthetic GGUF models: stored once by hash, found by
// every kind of reference, lineage protecting parents, corrupt manifests named.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/test_data.h"
#include "core/error.h"
#include "core/sha256.h"
#include "demo/synthetic_model.h"
#include "gguf/gguf.h"
#include "registry/registry.h"

namespace lcte::registry {
namespace {
namespace fs = std::filesystem;

size_t count_files(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

struct Fixture {
  std::string dir = lcte::testing::temp_dir();
  std::string a = dir + "/a.gguf", b = dir + "/b.gguf";
  uint64_t params_a = 0;
  Fixture() {
    demo::SyntheticModelSpec s;
    s.dim = 32;
    s.ffn_dim = 64;
    params_a = demo::write_synthetic_model(s, a);
    s.seed = 2;
    demo::write_synthetic_model(s, b);
  }
};

TEST(Registry, AddStoresOnceByHashWithManifest) {
  Fixture fx;
  Registry reg(fx.dir + "/reg");
  Manifest m = reg.add(fx.a, {.name = "tiny", .version = "1", .made_by = "test"});
  EXPECT_EQ(m.sha256, lcte::sha256_file_hex(fx.a));
  EXPECT_EQ(m.n_parameters, fx.params_a);
  EXPECT_EQ(m.size_bytes, fs::file_size(fx.a));
  EXPECT_EQ(m.quant_type, "F32");  // the synthetic model is written in F32
  EXPECT_EQ(lcte::sha256_file_hex(m.file), m.sha256);

  // The same bytes again (a copy under another name): still one file and one manifest.
  fs::copy_file(fx.a, fx.dir + "/copy.gguf");
  Manifest again = reg.add(fx.dir + "/copy.gguf", {.tags = {"best"}});
  EXPECT_EQ(again.sha256, m.sha256);
  EXPECT_EQ(again.name, "tiny");
  EXPECT_EQ(count_files(fx.dir + "/reg/models"), 1u);
  EXPECT_EQ(count_files(fx.dir + "/reg/manifests"), 1u);
  ASSERT_EQ(reg.list().size(), 1u);
  EXPECT_EQ(reg.list()[0].tags, std::vector<std::string>{"best"});

  // The manifest on disk is what list() reads back.
  std::ifstream in(fx.dir + "/reg/manifests/" + m.sha256 + ".json");
  auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["name"], "tiny");
  EXPECT_EQ(j["lineage"]["made_by"], "test");
}

TEST(Registry, ResolveByNameVersionTagHashAndNewest) {
  Fixture fx;
  Registry reg(fx.dir + "/reg");
  Manifest a = reg.add(fx.a, {.name = "tiny"});
  Manifest b = reg.add(fx.b, {.name = "tiny"});
  EXPECT_EQ(a.version, "1");
  EXPECT_EQ(b.version, "2");
  EXPECT_EQ(reg.resolve("tiny@1"), a.file);
  EXPECT_EQ(reg.resolve("tiny@2"), b.file);
  EXPECT_EQ(reg.resolve("tiny"), b.file);  // newest version
  EXPECT_EQ(reg.resolve(a.sha256), a.file);
  EXPECT_EQ(reg.resolve(a.sha256.substr(0, 10)), a.file);
  reg.tag("tiny@1", "prod");
  EXPECT_EQ(reg.resolve("prod"), a.file);
  reg.tag("tiny@2", "prod");  // a tag moves
  EXPECT_EQ(reg.resolve("prod"), b.file);
  EXPECT_TRUE(reg.find("tiny@1").tags.empty());
  EXPECT_THROW(reg.resolve("tiny@3"), Error);
  EXPECT_THROW(reg.add(fx.a, {.name = "tiny", .version = "2"}), Error);  // name@version taken by b
}

TEST(Registry, LineageProtectsParentsUnlessForced) {
  Fixture fx;
  Registry reg(fx.dir + "/reg");
  Manifest a = reg.add(fx.a, {.name = "base", .version = "1"});
  Manifest b = reg.add(fx.b, {.name = "q4", .version = "1", .parents = {"base@1"}, .made_by = "lcte quantize"});
  EXPECT_EQ(b.lineage.parents, std::vector<std::string>{a.sha256});
  ASSERT_EQ(reg.children(a.sha256).size(), 1u);
  try {
    reg.remove("base@1");
    FAIL() << "removed a parent";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("q4@1"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::exists(a.file));
  reg.remove("q4@1");  // a leaf goes
  EXPECT_FALSE(fs::exists(b.file));
  reg.add(fx.b, {.name = "q4", .version = "1", .parents = {a.sha256}});
  reg.remove("base@1", true);
  EXPECT_FALSE(fs::exists(a.file));
  EXPECT_EQ(reg.list().size(), 1u);
  EXPECT_THROW(reg.add(fx.a, {.name = "x", .parents = {"nothing@9"}}), Error);
}

TEST(Registry, GgufLineageKeysBecomeParents) {
  Fixture fx;
  Registry reg(fx.dir + "/reg");
  Manifest teacher = reg.add(fx.a, {.name = "teacher"});
  // A "distilled" model: b's content plus the lineage keys distill writes.
  gguf::File src = gguf::File::open(fx.b);
  gguf::Writer w;
  w.copy_metadata(src);
  w.set("lcte.lineage.method", gguf::Value::string("distill"));
  w.set("lcte.lineage.teacher_sha256", gguf::Value::string(teacher.sha256));
  for (const auto& t : src.tensors()) w.add_tensor(t.name, t.type, t.ne, t.data);
  std::string student = fx.dir + "/student.gguf";
  w.write(student);
  Manifest s = reg.add(student, {.name = "student"});
  EXPECT_EQ(s.lineage.parents, std::vector<std::string>{teacher.sha256});
  EXPECT_EQ(s.lineage.settings["gguf"]["method"], "distill");
  EXPECT_THROW(reg.remove("teacher"), Error);
}

TEST(Registry, CorruptManifestIsNamed) {
  Fixture fx;
  Registry reg(fx.dir + "/reg");
  Manifest a = reg.add(fx.a, {.name = "tiny"});
  std::string path = fx.dir + "/reg/manifests/" + a.sha256 + ".json";
  std::ofstream(path) << "{\"sha256\": \"" << a.sha256 << "\", \"name\": ";
  try {
    reg.list();
    FAIL() << "read a corrupt manifest";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  std::ofstream(path) << "{\"sha256\": \"" << a.sha256 << "\", \"name\": \"t\", \"size_bytes\": \"big\"}";
  try {
    reg.find("t");
    FAIL() << "read a manifest with a wrong field";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("size_bytes"), std::string::npos) << e.what();
  }
}

TEST(Registry, ConcurrentAddsOfOneFileKeepOneCopyAndEveryTag) {
  Fixture fx;
  std::string root = fx.dir + "/reg";
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&, i] {
      Registry reg(root);  // each its own handle, as separate processes would
      reg.add(fx.a, {.name = "tiny", .version = "1", .tags = {"t" + std::to_string(i)}});
    });
  for (auto& t : threads) t.join();
  Registry reg(root);
  ASSERT_EQ(reg.list().size(), 1u);
  EXPECT_EQ(reg.list()[0].tags.size(), 4u);
  EXPECT_EQ(count_files(root + "/models"), 1u);
  EXPECT_EQ(count_files(root + "/manifests"), 1u);
  EXPECT_EQ(lcte::sha256_file_hex(reg.resolve("tiny@1")), lcte::sha256_file_hex(fx.a));
}

TEST(Registry, DefaultDirectoryFollowsEnvironment) {
  setenv("LCTE_REGISTRY", "/tmp/r1", 1);
  EXPECT_EQ(default_registry_dir(), "/tmp/r1");
  unsetenv("LCTE_REGISTRY");
  setenv("XDG_DATA_HOME", "/tmp/xdg", 1);
  EXPECT_EQ(default_registry_dir(), "/tmp/xdg/lcte/registry");
  unsetenv("XDG_DATA_HOME");
  setenv("HOME", "/tmp/home", 1);
  EXPECT_EQ(default_registry_dir(), "/tmp/home/.local/share/lcte/registry");
}

}  // namespace
}  // namespace lcte::registry
