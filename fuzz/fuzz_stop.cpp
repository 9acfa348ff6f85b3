// libFuzzer target for the streaming stop-string matcher. The input is split
// into up to three stop strings, a text, and piece lengths. Checked on every
// input: feeding the text in those pieces gives the same result as feeding it
// whole; the emitted text never contains a stop string; without a stop the
// output is the whole text, with one the output followed by that stop string
// is a prefix of the text.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "sampling/stop.h"

namespace {

struct Outcome {
  std::string output;
  int stop;
};

Outcome feed(const std::vector<std::string>& stops, std::string_view text, std::string_view cuts) {
  lcte::sampling::StopMatcher m(stops);
  size_t at = 0, c = 0;
  while (at < text.size() && !m.stopped()) {
    const size_t len = cuts.empty() ? text.size() : 1 + static_cast<unsigned char>(cuts[c++ % cuts.size()]) % 7;
    m.feed(text.substr(at, len));
    at += len;
  }
  m.finish();
  return {m.output(), m.stop_index()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Layout: fields separated by 0xFF: stop1, stop2, stop3, text, cuts.
  std::vector<std::string> fields(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0xFF && fields.size() < 5)
      fields.emplace_back();
    else
      fields.back().push_back(static_cast<char>(data[i]));
  }
  fields.resize(5);
  std::vector<std::string> stops;
  for (size_t i = 0; i < 3; ++i)
    if (!fields[i].empty()) stops.push_back(fields[i]);
  const std::string& text = fields[3];

  const Outcome whole = feed(stops, text, "");
  const Outcome pieces = feed(stops, text, fields[4].empty() ? std::string_view("\x00", 1) : fields[4]);
  if (whole.output != pieces.output || whole.stop != pieces.stop) std::abort();
  for (const std::string& s : stops)
    if (whole.output.find(s) != std::string::npos) std::abort();
  if (whole.stop < 0 && whole.output != text) std::abort();
  if (whole.stop >= 0 && text.compare(0, whole.output.size() + stops[static_cast<size_t>(whole.stop)].size(),
                                      whole.output + stops[static_cast<size_t>(whole.stop)]) != 0)
    std::abort();
  return 0;
}
