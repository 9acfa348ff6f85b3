#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "gguf/gguf.h"

namespace lcte::gguf {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8: return "u8";
    case ValueType::INT8: return "i8";
    case ValueType::UINT16: return "u16";
    case ValueType::INT16: return "i16";
    case ValueType::UINT32: return "u32";
    case ValueType::INT32: return "i32";
    case ValueType::FLOAT32: return "f32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "u64";
    case ValueType::INT64: return "i64";
    case ValueType::FLOAT64: return "f64";
  }
  return "unknown";
}

bool Array::operator==(const Array& o) const { return element_type == o.element_type && items == o.items; }

Value Value::string_array(const std::vector<std::string>& xs) {
  Array a{ValueType::STRING, {}};
  a.items.reserve(xs.size());
  for (const auto& s : xs) a.items.push_back(Value::string(s));
  return Value::array(std::move(a));
}

Value Value::f32_array(const std::vector<float>& xs) {
  Array a{ValueType::FLOAT32, {}};
  a.items.reserve(xs.size());
  for (float x : xs) a.items.push_back(Value::f32(x));
  return Value::array(std::move(a));
}

Value Value::i32_array(const std::vector<int32_t>& xs) {
  Array a{ValueType::INT32, {}};
  a.items.reserve(xs.size());
  for (int32_t x : xs) a.items.push_back(Value::i32(x));
  return Value::array(std::move(a));
}

bool Value::is_integer() const {
  switch (type()) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::UINT16:
    case ValueType::INT16:
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::UINT64:
    case ValueType::INT64: return true;
    default: return false;
  }
}

bool Value::is_number() const { return is_integer() || type() == ValueType::FLOAT32 || type() == ValueType::FLOAT64; }

namespace {

// Integer value widened to a signed 128-bit-safe pair: (negative?, magnitude).
struct Wide {
  bool negative;
  uint64_t magnitude;
};

Wide widen(const Value::Storage& v) {
  return std::visit(
      [](const auto& x) -> Wide {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          if constexpr (std::is_signed_v<T>) {
            if (x < 0) return {true, static_cast<uint64_t>(-(static_cast<int64_t>(x) + 1)) + 1};
          }
          return {false, static_cast<uint64_t>(x)};
        } else {
          return {false, 0};
        }
      },
      v);
}

}  // namespace

uint64_t Value::as_u64() const {
  if (!is_integer()) fail("expected an integer, found {}", value_type_name(type()));
  Wide w = widen(v_);
  if (w.negative) fail("expected a non-negative integer, found -{}", w.magnitude);
  return w.magnitude;
}

int64_t Value::as_i64() const {
  if (!is_integer()) fail("expected an integer, found {}", value_type_name(type()));
  Wide w = widen(v_);
  if (!w.negative) {
    if (w.magnitude > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail("integer {} does not fit in i64", w.magnitude);
    return static_cast<int64_t>(w.magnitude);
  }
  return -static_cast<int64_t>(w.magnitude - 1) - 1;
}

double Value::as_f64() const {
  if (type() == ValueType::FLOAT32) return std::get<float>(v_);
  if (type() == ValueType::FLOAT64) return std::get<double>(v_);
  if (is_integer()) {
    Wide w = widen(v_);
    double m = static_cast<double>(w.magnitude);
    return w.negative ? -m : m;
  }
  fail("expected a number, found {}", value_type_name(type()));
}

bool Value::as_bool() const {
  if (type() != ValueType::BOOL) fail("expected bool, found {}", value_type_name(type()));
  return std::get<bool>(v_);
}

const std::string& Value::as_string() const {
  if (type() != ValueType::STRING) fail("expected string, found {}", value_type_name(type()));
  return std::get<std::string>(v_);
}

const Array& Value::as_array() const {
  if (type() != ValueType::ARRAY) fail("expected array, found {}", value_type_name(type()));
  return *std::get<std::shared_ptr<Array>>(v_);
}

namespace {

std::string quote(const std::string& s, size_t max_chars) {
  std::string out = "\"";
  size_t n = 0;
  for (char c : s) {
    if (n++ >= max_chars) {
      out += "...";
      break;
    }
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\x{:02x}", c);
        else
          out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::string Value::to_string(size_t max_items) const {
  switch (type()) {
    case ValueType::STRING: return quote(as_string(), 200);
    case ValueType::BOOL: return as_bool() ? "true" : "false";
    case ValueType::FLOAT32: return fmt::format("{}", std::get<float>(v_));
    case ValueType::FLOAT64: return fmt::format("{}", std::get<double>(v_));
    case ValueType::ARRAY: {
      const Array& a = as_array();
      std::string out = fmt::format("[{} x {}]: [", a.items.size(), value_type_name(a.element_type));
      for (size_t i = 0; i < a.items.size() && i < max_items; ++i) {
        if (i) out += ", ";
        out += a.items[i].to_string(max_items);
      }
      if (a.items.size() > max_items) out += ", ...";
      return out + "]";
    }
    default: return is_integer() && widen(v_).negative ? fmt::format("{}", as_i64()) : fmt::format("{}", as_u64());
  }
}

bool Value::operator==(const Value& o) const {
  if (type() != o.type()) return false;
  if (type() == ValueType::ARRAY) return as_array() == o.as_array();
  if (type() == ValueType::FLOAT32) {  // bitwise, so NaN round-trips compare equal
    float a = std::get<float>(v_), b = std::get<float>(o.v_);
    return std::memcmp(&a, &b, sizeof a) == 0;
  }
  if (type() == ValueType::FLOAT64) {
    double a = std::get<double>(v_), b = std::get<double>(o.v_);
    return std::memcmp(&a, &b, sizeof a) == 0;
  }
  return v_ == o.v_;
}

}  // namespace lcte::gguf
