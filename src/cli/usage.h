// How lcte's command line reports mistakes: exit statuses, options of a parent
// command accepted after its subcommand, and the closest names offered for a
// mistyped command.
#pragma once

#include <CLI/CLI.hpp>

#include <charconv>
#include <string>
#include <vector>

namespace lcte::cli {

// Exit statuses (docs/commands.md, "Exit status"). 2 for usage errors, as
// other Unix tools do; commands may return their own (130 after Ctrl-C).
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInternal = 70;  // sysexits.h's EX_SOFTWARE

// Every subcommand, at any depth, passes options it does not know to its parent.
void allow_parent_options_after(CLI::App& app);

// Prints the usage error (naming the closest commands when a subcommand name
// was mistyped) and returns the exit status: 0 for --help and --version,
// kExitUsage otherwise.
int report_parse_error(CLI::App& app, const CLI::ParseError& e);

// --prefill-chunk (serve, eval): 0 or at least 2 tokens, the engine's rule
// (model::check_prefill_chunk), checked here too so that a bad value is a
// usage error even when no local model is opened.
inline CLI::Validator prefill_chunk_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        long long v = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || end != text.data() + text.size()) return {};  // the conversion reports it
        if (v < 0 || v == 1)
          return "prefill chunk " + text + " is out of range: 0 (each prompt at once) or at least 2 tokens";
        return {};
      },
      "0 or >= 2");
}

}  // namespace lcte::cli
