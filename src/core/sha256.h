// SHA-256 (FIPS 180-4) through OpenSSL's libcrypto: downloaded datasets
// checked against their published sums, models identified by content
// (registry, study, lineage metadata, every `lcte eval --model`), where the
// speed of the hash is the time a user waits on a many-GB file.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace lcte {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::array<uint8_t, 32> finish();  // the object is spent afterwards
  std::string finish_hex();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

std::string sha256_hex(std::string_view data);
// Throws lcte::Error naming the file when it cannot be read.
std::string sha256_file_hex(const std::string& path);

}  // namespace lcte
