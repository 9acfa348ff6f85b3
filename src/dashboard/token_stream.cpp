#include "dashboard/token_stream.h"

namespace lcte::dashboard {

size_t complete_utf8_prefix(std::string_view s) {
  size_t i = s.size();
  size_t continuation = 0;
  while (i > 0 && continuation < 3 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i, ++continuation;
  if (i == 0) return s.size();
  const auto lead = static_cast<unsigned char>(s[i - 1]);
  size_t need = 1;
  if ((lead & 0xE0) == 0xC0)
    need = 2;
  else if ((lead & 0xF0) == 0xE0)
    need = 3;
  else if ((lead & 0xF8) == 0xF0)
    need = 4;
  else if (continuation > 0)
    return s.size();  // continuation bytes after ASCII: not UTF-8, let it through
  return continuation + 1 < need ? i - 1 : s.size();
}

TokenStream::TokenStream(Publish publish, TokenStreamOptions options)
    : publish_(std::move(publish)), options_(options) {}

void TokenStream::add(int sample_index, std::string_view piece) {
  if (piece.empty()) return;
  std::lock_guard lock(mutex_);
  PerSample& s = samples_[sample_index];
  s.pending.append(piece);
  s.received += piece.size();
  pending_bytes_ += piece.size();
  auto now = std::chrono::steady_clock::now();
  if (pending_bytes_ >= options_.max_bytes || now - last_send_ >= options_.interval) {
    send_locked(true);
    last_send_ = now;
  }
}

void TokenStream::flush() {
  std::lock_guard lock(mutex_);
  send_locked(false);
  last_send_ = std::chrono::steady_clock::now();
}

size_t TokenStream::received(int sample_index) const {
  std::lock_guard lock(mutex_);
  auto it = samples_.find(sample_index);
  return it == samples_.end() ? 0 : it->second.received;
}

void TokenStream::send_locked(bool whole_characters_only) {
  for (auto& [index, s] : samples_) {
    size_t n = whole_characters_only ? complete_utf8_prefix(s.pending) : s.pending.size();
    if (n == 0) continue;
    std::string text = s.pending.substr(0, n);
    s.pending.erase(0, n);
    pending_bytes_ -= n;
    publish_(index, s.chunks++, text);
  }
}

}  // namespace lcte::dashboard
