// lcte reports bad input (a corrupt file, a malformed line, a bad flag) by
// throwing lcte::Error with a message that names the file, line or field and
// what is wrong. The CLI catches it, prints it and exits non-zero.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace lcte {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace lcte
