#include "cli/usage.h"

#include "core/text.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace lcte::cli {
namespace {

// The subcommand the parse reached: the deepest one given on the line.
CLI::App* deepest_selected(CLI::App& app) {
  CLI::App* cur = &app;
  for (;;) {
    auto chosen = cur->get_subcommands();
    if (chosen.empty()) return cur;
    cur = chosen.front();
  }
}

std::vector<std::string> subcommand_names(CLI::App& app) {
  std::vector<std::string> names;
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
    if (!sub->get_name().empty()) names.push_back(sub->get_name());
  return names;
}

std::string command_path(CLI::App* app) {
  std::string path;
  for (CLI::App* a = app; a != nullptr; a = a->get_parent())
    path = a->get_parent() == nullptr ? "lcte" + path : " " + a->get_name() + path;
  return path;
}

// The first word left over from the parse that is not an option: where a
// subcommand was required, the name the user meant as one.
std::string first_leftover_word(CLI::App& app) {
  for (const std::string& w : app.remaining(true))
    if (!w.empty() && w[0] != '-') return w;
  return {};
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

void allow_parent_options_after(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    sub->fallthrough();
    allow_parent_options_after(*sub);
  }
}

int report_parse_error(CLI::App& app, const CLI::ParseError& e) {
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
  CLI::App* at = deepest_selected(app);
  const std::vector<std::string> names = subcommand_names(*at);
  const bool wants_subcommand = !names.empty() && at->get_require_subcommand_min() > 0;
  const std::string word = wants_subcommand ? first_leftover_word(app) : std::string();
  if (!word.empty()) {
    std::fprintf(stderr, "lcte: error: '%s' is not a command of '%s'.", word.c_str(), command_path(at).c_str());
    const auto close = closest_names(word, names);
    if (!close.empty()) std::fprintf(stderr, " Did you mean: %s?", joined(close).c_str());
    std::fprintf(stderr, "\nCommands: %s. Run '%s --help' for more information.\n", joined(names).c_str(),
                 command_path(at).c_str());
    return kExitUsage;
  }
  std::fprintf(stderr, "lcte: usage error: %s\nRun '%s --help' for more information.\n", e.what(),
               command_path(at).c_str());
  return kExitUsage;
}

}  // namespace lcte::cli
