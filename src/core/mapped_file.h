// A read-only memory mapping of a whole file. Model weights are used straight
// from the mapping, so the page cache holds them once and a model larger than
// the process's budget still loads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace lcte {

class MappedFile {
 public:
  MappedFile() = default;
  // Throws lcte::Error naming the path if the file cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void release();
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace lcte
