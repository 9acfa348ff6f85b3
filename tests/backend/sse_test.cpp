#include "backend/sse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lcte::backend {
namespace {

std::vector<std::string> parse_in_pieces(const std::string& stream, size_t piece) {
  std::vector<std::string> events;
  SseParser p([&](const std::string& d) { events.push_back(d); });
  for (size_t i = 0; i < stream.size(); i += piece) p.feed(std::string_view(stream).substr(i, piece));
  p.finish();
  return events;
}

TEST(Sse, EventsSurviveAnyChunking) {
  std::string stream =
      ": keep-alive\r\n\r\n"
      "data: {\"a\":1}\n\n"
      "event: message\ndata: line one\ndata: line two\n\n"
      "data:no-space\r\n\r\n"
      "data: [DONE]\n\n";
  std::vector<std::string> want = {"{\"a\":1}", "line one\nline two", "no-space", "[DONE]"};
  for (size_t piece = 1; piece <= stream.size(); ++piece) EXPECT_EQ(parse_in_pieces(stream, piece), want) << piece;
}

TEST(Sse, AnUnterminatedLastEventStillCounts) {
  EXPECT_EQ(parse_in_pieces("data: x\n\ndata: y", 3), (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(parse_in_pieces("\n\n\n", 1).empty());
}

}  // namespace
}  // namespace lcte::backend
