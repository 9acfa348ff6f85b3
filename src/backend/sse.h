// Server-Sent Events as OpenAI-compatible servers stream them: "data: ..."
// lines, events separated by a blank line, "data: [DONE]" at the end. Bytes
// arrive in arbitrary chunks; the parser keeps the partial line between them.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace lcte::backend {

class SseParser {
 public:
  // Called with the data of each complete event (several data lines joined by "\n").
  explicit SseParser(std::function<void(const std::string& data)> on_event) : on_event_(std::move(on_event)) {}
  void feed(std::string_view bytes);
  void finish();  // an unterminated last event still counts

 private:
  void line(std::string_view l);
  std::function<void(const std::string&)> on_event_;
  std::string partial_;
  std::string data_;
  bool has_data_ = false;
};

}  // namespace lcte::backend
