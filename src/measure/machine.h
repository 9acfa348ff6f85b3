// What a run ran on, stored with it so that two runs' figures can be judged
// comparable (or not): CPU model and count, memory, kernel, host.
#pragma once

#include <nlohmann/json.hpp>

namespace lcte::measure {

// {"cpu_model", "logical_cpus", "memory_bytes", "kernel", "hostname"}; fields
// that cannot be read are left out rather than guessed.
nlohmann::json describe_machine();

}  // namespace lcte::measure
