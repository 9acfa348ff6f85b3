// API keys and dashboard tokens come from an environment variable or a file,
// never from the command line: every local user can read another process's
// argv (ps, /proc/PID/cmdline), and so can code in the sandbox's jails.
#pragma once

#include <string>

namespace lcte::server {

// The secret from `env_var` (its name, e.g. LCTE_API_KEY) or from the file
// `file`: exactly one of them may be given; both empty gives "". Throws
// lcte::Error naming the flag (`env_flag` / `file_flag`) when the variable is
// unset or empty, the file cannot be read or is empty, or the secret is
// shorter than `min_length`. A file is read whole, without its trailing
// newline; one readable by other users is used with a warning.
std::string load_secret(const std::string& env_var, const std::string& file, const std::string& env_flag,
                        const std::string& file_flag, size_t min_length = 1);

}  // namespace lcte::server
