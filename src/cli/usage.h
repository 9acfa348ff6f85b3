// How lcte's command line reports mistakes: exit statuses, options of a parent
// command accepted after its subcommand, and the closest names offered for a
// mistyped command.
#pragma once

#include <CLI/CLI.hpp>

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

}  // namespace lcte::cli
