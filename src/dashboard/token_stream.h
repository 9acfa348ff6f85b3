// The interactive tab's live text: a backend's pieces (one token's text at a
// time, from several samples at once) become "try_token" events. Pieces are
// held per sample and sent together once `interval` has passed since the last
// send or `max_bytes` are waiting, so a fast model does not flood the event
// bus (each event is a frame to every open browser tab). Only whole UTF-8
// characters go out while generating: a token may end inside a character,
// and an event's JSON would otherwise carry a replacement character.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace lcte::dashboard {

// The length of the longest prefix of `s` that does not end inside a UTF-8
// character (bytes that are not UTF-8 at all are let through).
size_t complete_utf8_prefix(std::string_view s);

struct TokenStreamOptions {
  std::chrono::milliseconds interval{50};  // 0: every piece goes out at once
  size_t max_bytes = 512;                  // waiting bytes (all samples) that force a send
};

class TokenStream {
 public:
  // Called, under the stream's lock, with each delta of a sample: its chunk
  // number (0, 1, 2, ... per sample, so a reader can tell a gap) and the text.
  using Publish = std::function<void(int sample_index, int chunk, const std::string& text)>;

  TokenStream(Publish publish, TokenStreamOptions options);
  // One piece of sample `sample_index`; thread-safe (a backend may call it
  // from several worker threads).
  void add(int sample_index, std::string_view piece);
  // Sends everything waiting, cut characters included (the end of a generation).
  void flush();
  // Bytes of sample `sample_index` received so far.
  size_t received(int sample_index) const;

 private:
  void send_locked(bool whole_characters_only);

  Publish publish_;
  TokenStreamOptions options_;
  mutable std::mutex mutex_;
  struct PerSample {
    std::string pending;
    size_t received = 0;
    int chunks = 0;
  };
  std::map<int, PerSample> samples_;
  size_t pending_bytes_ = 0;
  std::chrono::steady_clock::time_point last_send_ = std::chrono::steady_clock::now();
};

}  // namespace lcte::dashboard
