// The message of the lcte::Error a call throws, for tests that assert an
// error's exact text.
#pragma once

#include <functional>
#include <string>

#include "core/error.h"

namespace lcte::testing {

// What error_of returns for a call that does not throw.
inline constexpr const char* kNoError = "(no error)";

// f's lcte::Error message, or kNoError when it returns normally.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return kNoError;
}

}  // namespace lcte::testing
