#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "gguf/gguf.h"

namespace lcte::gguf {
namespace {

constexpr uint32_t kVersion = 3;

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

Writer::Writer(uint32_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) fail("GGUF alignment {} is not a power of two", alignment);
  if (alignment != kDefaultAlignment) set("general.alignment", Value::u32(alignment));
}

Writer::~Writer() { abort_file(); }

void Writer::set(const std::string& key, Value value) {
  for (KeyValue& kv : kv_) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  kv_.push_back({key, std::move(value)});
}

void Writer::remove(const std::string& key) {
  std::erase_if(kv_, [&](const KeyValue& kv) { return kv.key == key; });
}

void Writer::copy_metadata(const File& src) {
  for (const KeyValue& kv : src.metadata()) {
    if (kv.key == "general.alignment") continue;  // ours decides the layout
    set(kv.key, kv.value);
  }
}

void Writer::declare_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne) {
  if (out_ != nullptr) fail("{}: cannot declare tensor '{}' after the header is written", path_, name);
  for (const Pending& p : tensors_)
    if (p.info.name == name) fail("GGUF writer: tensor '{}' declared twice", name);
  if (ne.empty() || ne.size() > 4) fail("GGUF writer: tensor '{}' has {} dimensions", name, ne.size());
  const TypeTraits& tr = type_traits(type);
  if (ne[0] % tr.block_size != 0)
    fail("GGUF writer: tensor '{}': row length {} is not a multiple of the {} block size {}", name, ne[0], tr.name,
         tr.block_size);
  Pending p;
  p.info.name = name;
  p.info.type = type;
  p.info.ne = std::move(ne);
  p.info.nbytes = static_cast<uint64_t>(p.info.n_elements() / tr.block_size) * tr.block_bytes;
  p.info.offset = data_size_;
  data_size_ = align_up(data_size_ + p.info.nbytes, alignment_);
  tensors_.push_back(std::move(p));
}

void Writer::add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne, const void* data) {
  declare_tensor(name, type, std::move(ne));
  tensors_.back().data = data;
}

void Writer::write_bytes(const void* p, size_t n) {
  if (n == 0) return;
  if (std::fwrite(p, 1, n, out_) != n) {
    int err = errno;
    abort_file();
    fail("{}: write failed: {}", path_, std::strerror(err));
  }
  written_ += n;
}

void Writer::write_padding(uint64_t to_multiple) {
  static const char zeros[64] = {};
  uint64_t pad = align_up(written_, to_multiple) - written_;
  while (pad > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(pad, sizeof zeros));
    write_bytes(zeros, n);
    pad -= n;
  }
}

namespace {

struct Encoder {
  std::vector<uint8_t> bytes;
  template <class T>
  void put(T x) {
    size_t at = bytes.size();
    bytes.resize(at + sizeof(T));
    std::memcpy(bytes.data() + at, &x, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
  }
  void put_value(const Value& v) {
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::string>) {
            put_string(x);
          } else if constexpr (std::is_same_v<T, std::shared_ptr<Array>>) {
            put<uint32_t>(static_cast<uint32_t>(x->element_type));
            put<uint64_t>(x->items.size());
            for (const Value& item : x->items) {
              if (item.type() != x->element_type)
                fail("GGUF writer: array of {} holds a {}", value_type_name(x->element_type),
                     value_type_name(item.type()));
              put_value(item);
            }
          } else if constexpr (std::is_same_v<T, bool>) {
            put<uint8_t>(x ? 1 : 0);
          } else {
            put<T>(x);
          }
        },
        v.storage());
  }
};

}  // namespace

void Writer::write_header() {
  Encoder e;
  e.put<uint32_t>(0x46554747);
  e.put<uint32_t>(kVersion);
  e.put<uint64_t>(tensors_.size());
  e.put<uint64_t>(kv_.size());
  for (const KeyValue& kv : kv_) {
    e.put_string(kv.key);
    e.put<uint32_t>(static_cast<uint32_t>(kv.value.type()));
    e.put_value(kv.value);
  }
  for (const Pending& p : tensors_) {
    e.put_string(p.info.name);
    e.put<uint32_t>(static_cast<uint32_t>(p.info.ne.size()));
    for (int64_t d : p.info.ne) e.put<uint64_t>(static_cast<uint64_t>(d));
    e.put<uint32_t>(static_cast<uint32_t>(p.info.type));
    e.put<uint64_t>(p.info.offset);
  }
  write_bytes(e.bytes.data(), e.bytes.size());
  // llama.cpp pads to the data section only when there is one; vocabulary-only
  // files end right after the metadata.
  if (!tensors_.empty()) write_padding(alignment_);
}

void Writer::begin(const std::string& path) {
  if (out_ != nullptr) fail("{}: GGUF writer already started", path_);
  path_ = path;
  tmp_path_ = path + ".tmp";
  out_ = std::fopen(tmp_path_.c_str(), "wb");
  if (out_ == nullptr) fail("{}: cannot create: {}", tmp_path_, std::strerror(errno));
  written_ = 0;
  next_tensor_ = 0;
  write_header();
}

void Writer::write_tensor(const std::string& name, const void* data, size_t nbytes) {
  if (out_ == nullptr) fail("GGUF writer: write_tensor('{}') before begin()", name);
  // Tensors given with data up front are written as their turn comes.
  while (next_tensor_ < tensors_.size() && tensors_[next_tensor_].data != nullptr) {
    Pending& p = tensors_[next_tensor_++];
    write_bytes(p.data, p.info.nbytes);
    write_padding(alignment_);
    p.written = true;
  }
  if (next_tensor_ >= tensors_.size() || tensors_[next_tensor_].info.name != name) {
    std::string expected = next_tensor_ < tensors_.size() ? tensors_[next_tensor_].info.name : "(none)";
    abort_file();
    fail("{}: tensor '{}' written out of order (expected '{}')", path_, name, expected);
  }
  Pending& p = tensors_[next_tensor_++];
  if (nbytes != p.info.nbytes) {
    abort_file();
    fail("{}: tensor '{}' has {} bytes, its type and shape need {}", path_, name, nbytes, p.info.nbytes);
  }
  write_bytes(data, nbytes);
  write_padding(alignment_);
  p.written = true;
}

void Writer::finish() {
  if (out_ == nullptr) fail("GGUF writer: finish() before begin()");
  for (; next_tensor_ < tensors_.size(); ++next_tensor_) {
    Pending& p = tensors_[next_tensor_];
    if (p.data == nullptr) {
      std::string name = p.info.name;
      abort_file();
      fail("{}: tensor '{}' was declared but never written", path_, name);
    }
    write_bytes(p.data, p.info.nbytes);
    write_padding(alignment_);
    p.written = true;
  }
  if (std::fflush(out_) != 0 || ::fsync(::fileno(out_)) != 0) {
    int err = errno;
    abort_file();
    fail("{}: write failed: {}", path_, std::strerror(err));
  }
  std::fclose(out_);
  out_ = nullptr;
  std::error_code ec;
  std::filesystem::rename(tmp_path_, path_, ec);
  if (ec) {
    std::filesystem::remove(tmp_path_, ec);
    fail("{}: cannot rename from {}: {}", path_, tmp_path_, ec.message());
  }
}

void Writer::write(const std::string& path) {
  begin(path);
  finish();
}

void Writer::abort_file() {
  if (out_ != nullptr) {
    std::fclose(out_);
    out_ = nullptr;
    std::error_code ec;
    std::filesystem::remove(tmp_path_, ec);
  }
}

}  // namespace lcte::gguf
