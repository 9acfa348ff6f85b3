// Wall-clock time as lcte records it in files and the store.
#pragma once

#include <string>

namespace lcte {

// "2026-11-27T08:30:00Z": UTC, whole seconds.
std::string utc_now_iso8601();

}  // namespace lcte
