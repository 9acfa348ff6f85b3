// The one piece of global state lcte allows: spdlog's default logger, which
// writes to stderr so that stdout stays clean for a command's results.
#pragma once

#include <spdlog/spdlog.h>

namespace lcte {

// level: "trace", "debug", "info", "warn", "error" or "off".
void init_logging(const std::string& level);

}  // namespace lcte
