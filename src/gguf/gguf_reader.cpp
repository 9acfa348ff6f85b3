#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "gguf/gguf.h"

namespace lcte::gguf {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian u32
constexpr int kMaxArrayDepth = 8;        // metadata never nests deeper in practice
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS

// Reads little-endian fields from a byte range and turns every overrun into
// an error naming the file, the field and the byte offset.
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size, const std::string& name) : data_(data), size_(size), name_(name) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  const std::string& name() const { return name_; }

  template <class... Args>
  [[noreturn]] void error(fmt::format_string<Args...> format, Args&&... args) const {
    fail("{}: {} (at byte {})", name_, fmt::format(format, std::forward<Args>(args)...), pos_);
  }

  void need(uint64_t n, std::string_view what) const {
    if (n > remaining()) error("file is truncated: {} needs {} bytes, only {} remain", what, n, remaining());
  }

  template <class T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T value;
    std::memcpy(&value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  std::string read_string(std::string_view what) {
    uint64_t len = read<uint64_t>(what);
    need(len, what);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  const std::string& name_;
  size_t pos_ = 0;
};

// The fewest bytes one encoded element of type t can occupy: lets us reject an
// array count the remaining bytes cannot hold before reserving memory for it.
uint64_t min_encoded_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL: return 1;
    case ValueType::UINT16:
    case ValueType::INT16: return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32: return 4;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64: return 8;
    case ValueType::STRING: return 8;
    case ValueType::ARRAY: return 4 + 8;
  }
  return 1;
}

bool valid_value_type(uint32_t raw) { return raw <= static_cast<uint32_t>(ValueType::FLOAT64); }

Value read_value(Cursor& c, ValueType type, const std::string& key, int depth);

Value read_array(Cursor& c, const std::string& key, int depth) {
  if (depth >= kMaxArrayDepth) c.error("metadata '{}': arrays nested deeper than {}", key, kMaxArrayDepth);
  uint32_t raw = c.read<uint32_t>("array element type");
  if (!valid_value_type(raw)) c.error("metadata '{}': unknown array element type {}", key, raw);
  auto elem = static_cast<ValueType>(raw);
  uint64_t count = c.read<uint64_t>("array length");
  uint64_t min_size = min_encoded_size(elem);
  if (count > c.remaining() / min_size)
    c.error("metadata '{}': array of {} {} elements cannot fit in the {} bytes left", key, count, value_type_name(elem),
            c.remaining());
  Array a{elem, {}};
  a.items.reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) a.items.push_back(read_value(c, elem, key, depth + 1));
  return Value::array(std::move(a));
}

Value read_value(Cursor& c, ValueType type, const std::string& key, int depth) {
  switch (type) {
    case ValueType::UINT8: return Value::u8(c.read<uint8_t>("u8 value"));
    case ValueType::INT8: return Value::i8(c.read<int8_t>("i8 value"));
    case ValueType::UINT16: return Value::u16(c.read<uint16_t>("u16 value"));
    case ValueType::INT16: return Value::i16(c.read<int16_t>("i16 value"));
    case ValueType::UINT32: return Value::u32(c.read<uint32_t>("u32 value"));
    case ValueType::INT32: return Value::i32(c.read<int32_t>("i32 value"));
    case ValueType::FLOAT32: return Value::f32(c.read<float>("f32 value"));
    case ValueType::UINT64: return Value::u64(c.read<uint64_t>("u64 value"));
    case ValueType::INT64: return Value::i64(c.read<int64_t>("i64 value"));
    case ValueType::FLOAT64: return Value::f64(c.read<double>("f64 value"));
    case ValueType::BOOL: {
      uint8_t b = c.read<uint8_t>("bool value");
      if (b > 1) c.error("metadata '{}': bool value {} is neither 0 nor 1", key, b);
      return Value::boolean(b != 0);
    }
    case ValueType::STRING: return Value::string(c.read_string("string value"));
    case ValueType::ARRAY: return read_array(c, key, depth);
  }
  c.error("metadata '{}': unknown value type {}", key, static_cast<uint32_t>(type));
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

int64_t TensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

File File::open(const std::string& path) {
  auto mapping = std::make_shared<MappedFile>(path);
  File f;
  f.path_ = path;
  f.mapping_ = mapping;
  f.parse_all(mapping->data(), mapping->size());
  return f;
}

File File::parse(const uint8_t* data, size_t size, const std::string& name) {
  File f;
  f.path_ = name;
  f.parse_all(data, size);
  return f;
}

void File::parse_all(const uint8_t* data, size_t size) {
  size_ = size;
  Cursor c(data, size, path_);
  if (size < 4) fail("{}: not a GGUF file: only {} bytes", path_, size);
  uint32_t magic = c.read<uint32_t>("magic");
  if (magic != kMagic) fail("{}: not a GGUF file: bad magic bytes", path_);
  version_ = c.read<uint32_t>("version");
  if (version_ == 1) fail("{}: GGUF version 1 is not supported (convert it with a current llama.cpp)", path_);
  if (version_ == 0x02000000 || version_ == 0x03000000) fail("{}: big-endian GGUF files are not supported", path_);
  if (version_ != 2 && version_ != 3) fail("{}: unknown GGUF version {}", path_, version_);

  uint64_t n_tensors = c.read<uint64_t>("tensor count");
  uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes; each
  // tensor info at least 8 + 4 + 4 + 8 bytes.
  if (n_kv > c.remaining() / 13) c.error("metadata count {} cannot fit in the {} bytes left", n_kv, c.remaining());
  if (n_tensors > c.remaining() / 24)
    c.error("tensor count {} cannot fit in the {} bytes left", n_tensors, c.remaining());

  kv_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.read_string("metadata key");
    uint32_t raw = c.read<uint32_t>("metadata value type");
    if (!valid_value_type(raw)) c.error("metadata '{}': unknown value type {}", key, raw);
    Value v = read_value(c, static_cast<ValueType>(raw), key, 0);
    if (kv_index_.count(key)) c.error("metadata key '{}' appears twice", key);
    kv_index_.emplace(key, kv_.size());
    kv_.push_back({std::move(key), std::move(v)});
  }

  if (const Value* a = find("general.alignment")) {
    if (a->type() != ValueType::UINT32)
      fail("{}: general.alignment must be u32, found {}", path_, value_type_name(a->type()));
    uint64_t al = a->as_u64();
    if (al == 0 || (al & (al - 1)) != 0) fail("{}: general.alignment {} is not a power of two", path_, al);
    alignment_ = static_cast<uint32_t>(al);
  }

  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    t.name = c.read_string("tensor name");
    uint32_t n_dims = c.read<uint32_t>("tensor dimension count");
    if (n_dims == 0 || n_dims > kMaxDims)
      c.error("tensor '{}': {} dimensions (must be 1 to {})", t.name, n_dims, kMaxDims);
    int64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne = c.read<uint64_t>("tensor dimension");
      if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / 2)
        c.error("tensor '{}': dimension {} is {}, not a size", t.name, d, ne);
      if (ne != 0 &&
          static_cast<uint64_t>(n_elements) > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / ne)
        c.error("tensor '{}': element count overflows", t.name);
      n_elements *= static_cast<int64_t>(ne);
      t.ne.push_back(static_cast<int64_t>(ne));
    }
    uint32_t raw_type = c.read<uint32_t>("tensor type");
    const TypeTraits* tr = find_type_traits(raw_type);
    if (tr == nullptr) c.error("tensor '{}': unknown tensor type {}", t.name, raw_type);
    t.type = tr->type;
    if (t.ne[0] % tr->block_size != 0)
      c.error("tensor '{}': row length {} is not a multiple of the {} block size {}", t.name, t.ne[0], tr->name,
              tr->block_size);
    uint64_t blocks = static_cast<uint64_t>(n_elements / tr->block_size);
    if (blocks > std::numeric_limits<uint64_t>::max() / tr->block_bytes)
      c.error("tensor '{}': byte size overflows", t.name);
    t.nbytes = blocks * tr->block_bytes;
    t.offset = c.read<uint64_t>("tensor data offset");
    if (t.offset % alignment_ != 0)
      c.error("tensor '{}': data offset {} is not a multiple of the alignment {}", t.name, t.offset, alignment_);
    if (tensor_index_.count(t.name)) c.error("tensor name '{}' appears twice", t.name);
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  data_offset_ = align_up(c.pos(), alignment_);
  if (n_tensors > 0 && data_offset_ > size)
    fail("{}: file is truncated: tensor data would start at byte {} but the file has {} bytes", path_, data_offset_,
         size);
  uint64_t data_size = size >= data_offset_ ? size - data_offset_ : 0;
  for (TensorInfo& t : tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      fail("{}: file is truncated: tensor '{}' needs bytes {}..{} of the data section, which has {}", path_, t.name,
           t.offset, t.offset + t.nbytes, data_size);
    t.data = data + data_offset_ + t.offset;
  }
  // Writers pad every tensor, the last included, to the alignment; a file that
  // stops inside that padding was cut short.
  uint64_t data_end = 0;
  for (const TensorInfo& t : tensors_) data_end = std::max(data_end, align_up(t.offset + t.nbytes, alignment_));
  if (data_end > data_size)
    fail("{}: file is truncated: the data section should be {} bytes, the file holds {}", path_, data_end, data_size);
  // Overlapping tensors mean a corrupt offset table.
  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo* prev = by_offset[i - 1];
    if (prev->nbytes > 0 && by_offset[i]->offset < prev->offset + prev->nbytes)
      fail("{}: tensors '{}' and '{}' overlap in the data section", path_, prev->name, by_offset[i]->name);
  }
}

const Value* File::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].value;
}

const Value& File::get(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) fail("{}: missing metadata key {}", path_, key);
  return *v;
}

namespace {

template <class F>
auto typed(const std::string& path, std::string_view key, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    fail("{}: metadata {}: {}", path, key, e.what());
  }
}

}  // namespace

std::string File::get_string(std::string_view key) const {
  return typed(path_, key, [&] { return get(key).as_string(); });
}
std::string File::get_string(std::string_view key, std::string fallback) const {
  return has(key) ? get_string(key) : fallback;
}
uint64_t File::get_u64(std::string_view key) const {
  return typed(path_, key, [&] { return get(key).as_u64(); });
}
uint64_t File::get_u64(std::string_view key, uint64_t fallback) const { return has(key) ? get_u64(key) : fallback; }
double File::get_f64(std::string_view key) const {
  return typed(path_, key, [&] { return get(key).as_f64(); });
}
double File::get_f64(std::string_view key, double fallback) const { return has(key) ? get_f64(key) : fallback; }
bool File::get_bool(std::string_view key, bool fallback) const {
  return has(key) ? typed(path_, key, [&] { return get(key).as_bool(); }) : fallback;
}

std::vector<std::string> File::get_string_array(std::string_view key) const {
  return typed(path_, key, [&] {
    std::vector<std::string> out;
    const Array& a = get(key).as_array();
    out.reserve(a.items.size());
    for (const Value& v : a.items) out.push_back(v.as_string());
    return out;
  });
}

std::vector<float> File::get_f32_array(std::string_view key) const {
  return typed(path_, key, [&] {
    std::vector<float> out;
    const Array& a = get(key).as_array();
    out.reserve(a.items.size());
    for (const Value& v : a.items) out.push_back(static_cast<float>(v.as_f64()));
    return out;
  });
}

std::vector<int64_t> File::get_int_array(std::string_view key) const {
  return typed(path_, key, [&] {
    std::vector<int64_t> out;
    const Array& a = get(key).as_array();
    out.reserve(a.items.size());
    for (const Value& v : a.items) out.push_back(v.as_i64());
    return out;
  });
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& File::tensor(std::string_view name) const {
  const TensorInfo* t = find_tensor(name);
  if (t == nullptr) fail("{}: missing tensor {}", path_, name);
  return *t;
}

}  // namespace lcte::gguf
