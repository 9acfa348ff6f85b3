// Every `lcte ...` line in the code blocks of docs/commands.md and README.md
// runs as written (placeholders replaced by the tiny models and files made
// here, as the table in docs/commands.md says) and is not refused as a usage
// error: the documented option orders are the ones the parser takes. A line
// may still fail on its input (exit 1); it must never exit 2 (usage), 70
// (internal error) or die by a signal.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/run_command.h"
#include "common/test_data.h"

namespace lcte {
namespace {

using testing::data_path;
using testing::lcte_binary;

struct DocLine {
  std::string file;
  int line = 0;
  std::string text;
};

// `lcte ...` lines inside fenced code blocks; a trailing backslash continues a line.
std::vector<DocLine> documented_lines(const std::string& path, const std::string& label) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::vector<DocLine> out;
  std::string line, pending;
  bool fenced = false;
  int number = 0, start = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.rfind("```", 0) == 0) {
      fenced = !fenced;
      continue;
    }
    if (!fenced) continue;
    std::string text = line.substr(std::min(line.find_first_not_of(' '), line.size()));
    if (text.rfind("$ ", 0) == 0) text = text.substr(2);
    if (pending.empty() && text.rfind("lcte ", 0) != 0) continue;
    if (pending.empty()) start = number;
    bool continued = !text.empty() && text.back() == '\\';
    pending += continued ? text.substr(0, text.size() - 1) : text;
    if (!continued) {
      out.push_back({label, start, pending});
      pending.clear();
    }
  }
  return out;
}

// Words as a POSIX shell splits them for the quoting the docs use: blanks
// separate, '...' and "..." group (no expansions inside the examples).
std::vector<std::string> shell_words(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (char c : line) {
    if (quote != 0) {
      if (c == quote)
        quote = 0;
      else
        word += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  EXPECT_EQ(quote, 0) << "unbalanced quote in: " << line;
  if (in_word) words.push_back(word);
  return words;
}

// Replaces whole placeholder names (RUN in "RUN,RUN2" but not in "RUN2" or "OLD_RUN").
std::string substitute(const std::string& word, const std::map<std::string, std::string>& placeholders) {
  auto is_name_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  std::string out;
  for (size_t i = 0; i < word.size();) {
    bool replaced = false;
    if (i == 0 || !is_name_char(word[i - 1])) {
      for (const auto& [name, value] : placeholders) {
        size_t end = i + name.size();
        if (word.compare(i, name.size(), name) == 0 && (end == word.size() || !is_name_char(word[end]))) {
          out += value;
          i = end;
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out += word[i++];
  }
  return out;
}

struct Outcome {
  int exit_code = -1;
  int signal = 0;
  bool still_running = false;  // stopped by the test after its time
  std::string err;
};

// Runs argv in `cwd`; after `seconds` a command still running is stopped (SIGTERM, then SIGKILL).
Outcome run_for(const std::vector<std::string>& argv, const std::string& cwd, double seconds) {
  std::string err_path = cwd + "/.stderr";
  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(cwd.c_str()) != 0) _exit(127);
    int null_in = open("/dev/null", O_RDONLY), null_out = open("/dev/null", O_WRONLY);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(null_in, 0);
    dup2(null_out, 1);
    dup2(err, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  Outcome o;
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      o.still_running = true;
      kill(pid, SIGTERM);
      for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status)) o.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) o.signal = WTERMSIG(status);
  std::ifstream in(err_path);
  std::stringstream ss;
  ss << in.rdbuf();
  o.err = ss.str();
  return o;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// The files the placeholders stand for, made in `dir`.
std::map<std::string, std::string> make_fixtures(const std::string& dir) {
  std::string words;
  const char* vocabulary[] = {"once", "upon",  "a",  "time", "there", "was", "a",    "little", "girl", "named", "lily",
                              "she",  "liked", "to", "play", "in",    "the", "park", "with",   "her",  "dog"};
  for (int i = 0; i < 500; ++i) words += std::string(vocabulary[(i * 7 + i / 3) % 21]) + (i % 12 == 11 ? ".\n" : " ");
  write(dir + "/text.txt", words);
  write(
      dir + "/suite.jsonl",
      R"({"task_id": "docs/add", "prompt": "def add(a, b):\n    \"\"\"Sum of a and b.\"\"\"\n", "entry_point": "add", )"
      R"("reference": "    return a + b\n", "tests": "def check(f):\n    assert f(1, 2) == 3\n    assert f(-1, 1) == 0\n"})"
      "\n"
      R"({"task_id": "docs/twice", "prompt": "def twice(s):\n    \"\"\"s written twice.\"\"\"\n", "entry_point": "twice", )"
      R"("reference": "    return s + s\n", "tests": "def check(f):\n    assert f('ab') == 'abab'\n"})"
      "\n");
  write(dir + "/samples.jsonl", R"({"task_id": "docs/add", "completion": "    return a + b\n"})"
                                "\n"
                                R"({"task_id": "docs/twice", "completion": "    return s * 3\n"})"
                                "\n");
  const std::string model = data_path("models/stories260K-f32.gguf");
  write(dir + "/catalogue.toml",
        "[[model]]\nname = \"small\"\npath = \"" + model + "\"\ncost = 1\n\n[[model]]\nname = \"large\"\npath = \"" +
            model + "\"\ncost = 4\n\n[routing]\ntiers = [\"small\", \"large\"]\ntokenizer = \"small\"\n");
  write(dir + "/program.py", "print(1 + 1)\n");
  return {{"MODEL.gguf", model},
          {"MODEL-Q8_0.gguf", data_path("models/stories260K-q8_0.gguf")},
          {"TEXT.txt", dir + "/text.txt"},
          {"SUITE.jsonl", dir + "/suite.jsonl"},
          {"SAMPLES.jsonl", dir + "/samples.jsonl"},
          {"CATALOGUE.toml", dir + "/catalogue.toml"},
          {"STUDY.toml", std::string(LCTE_SOURCE_DIR) + "/examples/study.toml"},
          {"PROGRAM.py", dir + "/program.py"},
          {"STORE.sqlite", dir + "/store.sqlite"},
          {"REGISTRY", dir + "/registry"}};
}

// Evaluations of the suite in the store for RUN (the samples file, as model
// "weak"), RUN2 (the references) and OLD_RUN; where the sandbox cannot run
// here, ids that name no run (those lines then fail on their input, which is
// still not a usage error).
bool add_runs(std::map<std::string, std::string>& placeholders, const std::string& dir) {
  bool all_made = true;
  const std::vector<std::pair<std::string, std::vector<std::string>>> runs = {
      {"RUN", {"--backend", "file", "--samples", placeholders["SAMPLES.jsonl"], "--model", "weak"}},
      {"RUN2", {"--backend", "canonical"}},
      {"OLD_RUN", {"--backend", "canonical"}}};
  for (const auto& [name, backend] : runs) {
    std::string id = "docs-" + name;
    std::vector<std::string> argv = {lcte_binary(),
                                     "eval",
                                     "--suite",
                                     placeholders["SUITE.jsonl"],
                                     "--no-report",
                                     "--store",
                                     placeholders["STORE.sqlite"],
                                     "--out",
                                     dir + "/runs",
                                     "--run-id",
                                     id};
    argv.insert(argv.end(), backend.begin(), backend.end());
    Outcome o = run_for(argv, dir, 120);
    if (o.exit_code != 0) std::printf("no run %s for the examples: %s\n", name.c_str(), o.err.c_str());
    placeholders[name] = o.exit_code == 0 ? id : "no-such-run-" + name;
    all_made = all_made && o.exit_code == 0;
  }
  return all_made;
}

struct Special {
  std::string prefix;  // of the line as documented
  std::string reason;
  enum Kind { Skip, Server, MayFail } kind = Skip;  // Server: run for a few seconds and stopped
  int matched = 0;
};

std::vector<std::string> top_level_commands() {
  std::string dir = testing::temp_dir();
  auto r = testing::run_command({lcte_binary(), "--help"}, dir);
  std::vector<std::string> names;
  std::istringstream in(r.out);
  std::string line;
  bool listing = false;
  while (std::getline(in, line)) {
    if (line.rfind("Subcommands:", 0) == 0)
      listing = true;
    else if (listing && line.rfind("  ", 0) == 0)
      names.push_back(line.substr(2, line.find(' ', 2) - 2));
    else if (listing && !line.empty())
      listing = false;
  }
  return names;
}

TEST(DocumentedCommands, EveryLineParsesAndRuns) {
  LCTE_REQUIRE_DATA("models/stories260K-f32.gguf");
  LCTE_REQUIRE_DATA("models/stories260K-q8_0.gguf");
  const std::string dir = testing::temp_dir();
  std::vector<DocLine> lines = documented_lines(std::string(LCTE_SOURCE_DIR) + "/docs/commands.md", "docs/commands.md");
  for (auto& l : documented_lines(std::string(LCTE_SOURCE_DIR) + "/README.md", "README.md")) lines.push_back(l);
  ASSERT_GT(lines.size(), 40u);

  std::map<std::string, std::string> placeholders = make_fixtures(dir);
  // Commands publish to the scratch store and registry, never the user's.
  setenv("LCTE_STORE", placeholders["STORE.sqlite"].c_str(), 1);
  setenv("LCTE_REGISTRY", placeholders["REGISTRY"].c_str(), 1);
  // The lines run in the scratch directory, where the default data directory
  // (../shared/data, relative) does not resolve: name it absolutely.
  setenv("LCTE_DATA_DIR", std::filesystem::absolute(testing::data_dir()).c_str(), 1);
  // Without the runs (no sandbox here) lines may fail on their input; with
  // them every line but the listed ones succeeds.
  const bool runs_made = add_runs(placeholders, dir);

  std::vector<Special> special = {
      {"lcte demo", "trains two models and evaluates six: minutes (tests/demo runs it)", Special::Skip},
      {"lcte data fetch humaneval", "downloads from the internet (tests/data use a local mirror)", Special::Skip},
      {"lcte eval --suite SUITE.jsonl --backend http", "needs an OpenAI-compatible server at the URL", Special::Skip},
      {"lcte runs export RUN --mlflow-uri", "needs an MLflow server (tests/store/mlflow_cli_test.cpp runs one)",
       Special::Skip},
      {"lcte serve", "a server: runs until stopped", Special::Server},
      {"lcte dashboard", "a server: runs until stopped", Special::Server},
      {"lcte study run STUDY.toml", "examples/study.toml names real models the checkout lacks", Special::MayFail},
  };
  int ran = 0;
  for (const DocLine& doc : lines) {
    SCOPED_TRACE(doc.file + ":" + std::to_string(doc.line) + ": " + doc.text);
    Special* s = nullptr;
    for (Special& candidate : special)
      if (doc.text.rfind(candidate.prefix, 0) == 0) s = &candidate;
    if (s != nullptr) ++s->matched;
    if (s != nullptr && s->kind == Special::Skip) continue;
    std::vector<std::string> argv = shell_words(doc.text);
    argv[0] = lcte_binary();
    for (size_t i = 1; i < argv.size(); ++i) argv[i] = substitute(argv[i], placeholders);
    const bool server = s != nullptr && s->kind == Special::Server;
    const bool may_fail = !runs_made || (s != nullptr && s->kind == Special::MayFail);
    const auto started = std::chrono::steady_clock::now();
    Outcome o = run_for(argv, dir, server ? 4 : 120);
    ++ran;
    EXPECT_FALSE(!server && o.still_running) << "took over 120 s: examples must stay small";
    EXPECT_EQ(o.signal, o.still_running ? o.signal : 0) << o.err;
    EXPECT_NE(o.exit_code, 2) << "usage error: " << o.err;
    EXPECT_NE(o.exit_code, 70) << "internal error: " << o.err;
    if (!server) {
      EXPECT_TRUE(o.exit_code == 0 || (may_fail && o.exit_code == 1)) << "exit " << o.exit_code << ": " << o.err;
    } else {
      EXPECT_TRUE(o.still_running) << "a server stopped by itself (exit " << o.exit_code << "): " << o.err;
    }
    std::printf("[exit %3d %5.1f s] %s\n", o.still_running ? -1 : o.exit_code, seconds_since(started),
                doc.text.c_str());
  }
  for (const Special& s : special) EXPECT_GT(s.matched, 0) << "no documented line starts with '" << s.prefix << "'";
  EXPECT_GT(ran, 40);
}

// docs/commands.md shows every command of `lcte --help` at work.
TEST(DocumentedCommands, EveryCommandHasAnExample) {
  std::vector<DocLine> lines = documented_lines(std::string(LCTE_SOURCE_DIR) + "/docs/commands.md", "docs/commands.md");
  std::vector<std::string> commands = top_level_commands();
  ASSERT_GT(commands.size(), 15u);
  for (const std::string& c : commands) {
    bool shown = false;
    for (const DocLine& l : lines) shown = shown || l.text.rfind("lcte " + c + " ", 0) == 0 || l.text == "lcte " + c;
    EXPECT_TRUE(shown) << "docs/commands.md has no example of lcte " << c;
  }
}

// A mistyped command is a usage error that names the closest commands, at any depth.
TEST(DocumentedCommands, UnknownCommandsNameTheClosest) {
  const std::string dir = testing::temp_dir();
  auto r = testing::run_command({lcte_binary(), "evl"}, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("'evl' is not a command of 'lcte'. Did you mean: eval?"), std::string::npos) << r.err;
  r = testing::run_command({lcte_binary(), "runs", "lst", "--store", dir + "/s.sqlite"}, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("Did you mean: list?"), std::string::npos) << r.err;
  r = testing::run_command({lcte_binary(), "quantise"}, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("Did you mean: quantize"), std::string::npos) << r.err;
  r = testing::run_command({lcte_binary(), "inspect", "--no-such-flag", "x.gguf"}, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--no-such-flag"), std::string::npos) << r.err;
  r = testing::run_command({lcte_binary()}, dir);
  EXPECT_EQ(r.exit_code, 2);
  r = testing::run_command({lcte_binary(), "--version"}, dir);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("lcte ", 0), 0u) << r.out;
  // It names the kernel table that runs, which $LCTE_KERNELS caps.
  r = testing::run_command({"/usr/bin/env", "LCTE_KERNELS=scalar", lcte_binary(), "--version"}, dir);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find(" (kernels: scalar)"), std::string::npos) << r.out;
  r = testing::run_command({"/usr/bin/env", "LCTE_KERNELS=avx1024", lcte_binary(), "--version"}, dir);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("LCTE_KERNELS='avx1024' is not one of"), std::string::npos) << r.out;
}

// A parent's option given after the subcommand means the same as before it.
TEST(DocumentedCommands, ParentOptionsAfterTheSubcommand) {
  const std::string dir = testing::temp_dir();
  const std::string store = dir + "/after.sqlite";
  auto before = testing::run_command({lcte_binary(), "runs", "--store", store, "list"}, dir);
  auto after = testing::run_command({lcte_binary(), "runs", "list", "--store", store}, dir);
  EXPECT_EQ(before.exit_code, 0) << before.err;
  EXPECT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(before.out, after.out);
  EXPECT_NE(after.out.find(store), std::string::npos) << after.out;  // "no runs in <store>"
  auto registry = testing::run_command({lcte_binary(), "models", "list", "--registry", dir + "/reg"}, dir);
  EXPECT_EQ(registry.exit_code, 0) << registry.err;
  EXPECT_NE(registry.out.find(dir + "/reg"), std::string::npos) << registry.out;
}

}  // namespace
}  // namespace lcte
