#include "server/secret.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "core/error.h"

namespace lcte::server {

std::string load_secret(const std::string& env_var, const std::string& file, const std::string& env_flag,
                        const std::string& file_flag, size_t min_length) {
  if (!env_var.empty() && !file.empty()) fail("give {} or {}, not both", env_flag, file_flag);
  std::string secret;
  if (!env_var.empty()) {
    const char* v = std::getenv(env_var.c_str());
    if (v == nullptr || *v == '\0') fail("{} {}: the variable is not set (or empty)", env_flag, env_var);
    secret = v;
  } else if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) fail("{} {}: cannot read the file", file_flag, file);
    std::stringstream ss;
    ss << in.rdbuf();
    secret = ss.str();
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    if (secret.empty()) fail("{} {}: the file is empty", file_flag, file);
    if (secret.find('\n') != std::string::npos) fail("{} {}: the secret must be one line", file_flag, file);
    struct stat st {};
    if (stat(file.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
      spdlog::warn("{} {}: other users can read this file (chmod 600 it)", file_flag, file);
  } else {
    return {};
  }
  if (secret.size() < min_length)
    fail("{}: the secret has {} characters; use at least {}", env_var.empty() ? file_flag : env_flag, secret.size(),
         min_length);
  return secret;
}

}  // namespace lcte::server
