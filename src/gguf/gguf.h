// GGUF, the model file format of llama.cpp, Ollama and LM Studio.
// Layout (v2 and v3, little-endian):
//   magic "GGUF", u32 version, u64 tensor_count, u64 kv_count,
//   kv_count x (string key, u32 value_type, value),
//   tensor_count x (string name, u32 n_dims, n_dims x u64 ne, u32 type, u64 offset),
//   padding to general.alignment (default 32), tensor data.
// A string is u64 length + bytes; an array is u32 element type + u64 count +
// elements (arrays may nest). v1 (u32 counts) is refused with a clear message.
//
// The reader checks every count, length and offset against the bytes that are
// actually there before it allocates or reads, so a corrupt file produces an
// lcte::Error naming the file and the field, never a crash or a huge allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/mapped_file.h"
#include "kernels/ggml_type.h"

namespace lcte::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};
std::string_view value_type_name(ValueType t);

class Value;
struct Array {
  ValueType element_type = ValueType::UINT8;
  std::vector<Value> items;
  bool operator==(const Array&) const;
};

// One metadata value: a scalar, a string, or an array of values of one type.
class Value {
 public:
  using Storage = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool, std::string,
                               std::shared_ptr<Array>, uint64_t, int64_t, double>;

  Value() : v_(uint8_t{0}) {}
  static Value u8(uint8_t x) { return Value(Storage(std::in_place_index<0>, x)); }
  static Value i8(int8_t x) { return Value(Storage(std::in_place_index<1>, x)); }
  static Value u16(uint16_t x) { return Value(Storage(std::in_place_index<2>, x)); }
  static Value i16(int16_t x) { return Value(Storage(std::in_place_index<3>, x)); }
  static Value u32(uint32_t x) { return Value(Storage(std::in_place_index<4>, x)); }
  static Value i32(int32_t x) { return Value(Storage(std::in_place_index<5>, x)); }
  static Value f32(float x) { return Value(Storage(std::in_place_index<6>, x)); }
  static Value boolean(bool x) { return Value(Storage(std::in_place_index<7>, x)); }
  static Value string(std::string x) { return Value(Storage(std::in_place_index<8>, std::move(x))); }
  static Value array(Array a) { return Value(Storage(std::in_place_index<9>, std::make_shared<Array>(std::move(a)))); }
  static Value u64(uint64_t x) { return Value(Storage(std::in_place_index<10>, x)); }
  static Value i64(int64_t x) { return Value(Storage(std::in_place_index<11>, x)); }
  static Value f64(double x) { return Value(Storage(std::in_place_index<12>, x)); }
  // Convenience builders for the common array kinds.
  static Value string_array(const std::vector<std::string>& xs);
  static Value f32_array(const std::vector<float>& xs);
  static Value i32_array(const std::vector<int32_t>& xs);

  ValueType type() const { return static_cast<ValueType>(v_.index()); }
  bool is_integer() const;
  bool is_number() const;

  // Typed access; throw lcte::Error (naming the expected and actual types) on
  // a mismatch. Integer accessors accept any integer type whose value fits.
  uint64_t as_u64() const;
  int64_t as_i64() const;
  double as_f64() const;  // any number
  bool as_bool() const;
  const std::string& as_string() const;
  const Array& as_array() const;

  // Human-readable rendering; long arrays are abbreviated after `max_items`.
  std::string to_string(size_t max_items = 8) const;

  bool operator==(const Value& other) const;
  const Storage& storage() const { return v_; }

 private:
  explicit Value(Storage v) : v_(std::move(v)) {}
  Storage v_;
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the row length (contiguous)
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;            // relative to the start of the data section
  uint64_t nbytes = 0;            // computed from type and shape
  const uint8_t* data = nullptr;  // into the mapping (reader) or null (writer)

  int64_t n_elements() const;
  int64_t rows() const { return ne.empty() ? 0 : n_elements() / ne[0]; }
};

struct KeyValue {
  std::string key;
  Value value;
};

constexpr uint32_t kDefaultAlignment = 32;

// A parsed GGUF file. Metadata is copied out; tensor data stays in the
// mapping, which the File owns for its lifetime.
class File {
 public:
  // Maps and parses `path`. Throws lcte::Error "<path>: <what is wrong>".
  static File open(const std::string& path);
  // Parses bytes already in memory (tests, fuzzing). `name` prefixes errors.
  // The bytes must outlive the File.
  static File parse(const uint8_t* data, size_t size, const std::string& name);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  size_t file_size() const { return size_; }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }

  const std::vector<KeyValue>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Required getters throw "<path>: missing metadata key <key>" or a type error.
  const Value& get(std::string_view key) const;
  std::string get_string(std::string_view key) const;
  std::string get_string(std::string_view key, std::string fallback) const;
  uint64_t get_u64(std::string_view key) const;
  uint64_t get_u64(std::string_view key, uint64_t fallback) const;
  double get_f64(std::string_view key) const;
  double get_f64(std::string_view key, double fallback) const;
  bool get_bool(std::string_view key, bool fallback) const;
  std::vector<std::string> get_string_array(std::string_view key) const;
  std::vector<float> get_f32_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;
  // general.architecture, or "" when absent.
  std::string architecture() const { return get_string("general.architecture", ""); }

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  const TensorInfo& tensor(std::string_view name) const;  // throws if absent

 private:
  File() = default;
  void parse_all(const uint8_t* data, size_t size);

  std::string path_;
  std::shared_ptr<MappedFile> mapping_;
  size_t size_ = 0;
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Writes GGUF v3. Metadata keys keep the order they are set in; tensors keep
// the order they are added in. Data is either given up front (add_tensor) or
// streamed in order after the header (declare_tensor + begin + write_tensor),
// so a quantizer never holds more than one tensor. The file is written to
// "<path>.tmp" and renamed on finish(), so a failure leaves no half file.
class Writer {
 public:
  explicit Writer(uint32_t alignment = kDefaultAlignment);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void set(const std::string& key, Value value);  // replaces an existing key
  void remove(const std::string& key);
  // Copies every metadata key of `src` (not its tensors).
  void copy_metadata(const File& src);

  // Declares a tensor whose bytes will be given later with write_tensor.
  void declare_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne);
  // Declares a tensor and keeps a pointer to its bytes (must outlive finish()).
  void add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne, const void* data);

  // Streaming: writes the header; then write_tensor for every declared tensor
  // without data, in declaration order; then finish().
  void begin(const std::string& path);
  void write_tensor(const std::string& name, const void* data, size_t nbytes);
  void finish();
  // All at once, for tensors added with data.
  void write(const std::string& path);

 private:
  struct Pending {
    TensorInfo info;
    const void* data = nullptr;
    bool written = false;
  };
  void write_header();
  void write_padding(uint64_t to_multiple);
  void write_bytes(const void* p, size_t n);
  void abort_file();

  uint32_t alignment_;
  std::vector<KeyValue> kv_;
  std::vector<Pending> tensors_;
  uint64_t data_size_ = 0;
  std::string path_, tmp_path_;
  std::FILE* out_ = nullptr;
  uint64_t written_ = 0;
  size_t next_tensor_ = 0;
};

}  // namespace lcte::gguf
