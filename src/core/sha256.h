// SHA-256 (FIPS 180-4): downloaded datasets checked against their published
// sums, models identified by content (registry, study, lineage metadata).
// Written here so the project does not need OpenSSL.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace lcte {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::array<uint8_t, 32> finish();  // the object is spent afterwards
  std::string finish_hex();

 private:
  void compress(const uint8_t block[64]);
  uint32_t h_[8];
  uint8_t buffer_[64];
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

std::string sha256_hex(std::string_view data);
// Throws lcte::Error naming the file when it cannot be read.
std::string sha256_file_hex(const std::string& path);

}  // namespace lcte
