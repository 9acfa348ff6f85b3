#include "gguf/gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "common/test_data.h"
#include "core/error.h"
#include "gguf/model_info.h"

namespace lcte::gguf {
namespace {

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A file exercising every value type, nested arrays and several tensor types.
struct Sample {
  std::vector<float> f32 = std::vector<float>(64 * 3);
  std::vector<uint16_t> f16 = std::vector<uint16_t>(32 * 2);
  std::vector<uint8_t> q8 = std::vector<uint8_t>(34 * 4);  // 4 Q8_0 blocks
  Sample() {
    for (size_t i = 0; i < f32.size(); ++i) f32[i] = static_cast<float>(i) * 0.5f - 3.f;
    for (size_t i = 0; i < f16.size(); ++i) f16[i] = static_cast<uint16_t>(0x3c00 + i);
    for (size_t i = 0; i < q8.size(); ++i) q8[i] = static_cast<uint8_t>(i * 7);
  }
  void fill(Writer& w) const {
    w.set("general.architecture", Value::string("llama"));
    w.set("u8", Value::u8(250));
    w.set("i8", Value::i8(-100));
    w.set("u16", Value::u16(65000));
    w.set("i16", Value::i16(-32000));
    w.set("u32", Value::u32(4000000000u));
    w.set("i32", Value::i32(-2000000000));
    w.set("f32", Value::f32(1.5f));
    w.set("bool", Value::boolean(true));
    w.set("string", Value::string(std::string("h\xc3\xa9llo\0x", 8)));
    w.set("u64", Value::u64(1ull << 63));
    w.set("i64", Value::i64(-(1ll << 62)));
    w.set("f64", Value::f64(-2.25));
    w.set("strings", Value::string_array({"a", "", "ccc"}));
    Array inner1{ValueType::INT32, {Value::i32(1), Value::i32(2)}};
    Array inner2{ValueType::INT32, {}};
    w.set("nested", Value::array(Array{ValueType::ARRAY, {Value::array(inner1), Value::array(inner2)}}));
    w.set("empty", Value::array(Array{ValueType::FLOAT32, {}}));
    w.add_tensor("a.f32", GgmlType::F32, {64, 3}, f32.data());
    w.add_tensor("b.f16", GgmlType::F16, {32, 2}, f16.data());
    w.add_tensor("c.q8", GgmlType::Q8_0, {64, 2}, q8.data());
  }
};

std::string write_sample(const std::string& dir, uint32_t alignment = kDefaultAlignment) {
  Sample s;
  Writer w(alignment);
  s.fill(w);
  std::string path = dir + "/sample.gguf";
  w.write(path);
  return path;
}

TEST(GgufRoundTrip, EveryValueTypeAndTensorReadsBackIdentical) {
  std::string dir = testing::temp_dir();
  Sample s;
  Writer w;
  s.fill(w);
  std::string path = dir + "/rt.gguf";
  w.write(path);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  File f = File::open(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.get_u64("u8"), 250u);
  EXPECT_EQ(f.get("i8").as_i64(), -100);
  EXPECT_EQ(f.get_u64("u16"), 65000u);
  EXPECT_EQ(f.get("i16").as_i64(), -32000);
  EXPECT_EQ(f.get_u64("u32"), 4000000000u);
  EXPECT_EQ(f.get("i32").as_i64(), -2000000000);
  EXPECT_EQ(f.get_f64("f32"), 1.5);
  EXPECT_TRUE(f.get_bool("bool", false));
  EXPECT_EQ(f.get_string("string"), std::string("h\xc3\xa9llo\0x", 8));
  EXPECT_EQ(f.get_u64("u64"), 1ull << 63);
  EXPECT_EQ(f.get("i64").as_i64(), -(1ll << 62));
  EXPECT_EQ(f.get_f64("f64"), -2.25);
  EXPECT_EQ(f.get_string_array("strings"), (std::vector<std::string>{"a", "", "ccc"}));
  const Array& nested = f.get("nested").as_array();
  ASSERT_EQ(nested.items.size(), 2u);
  EXPECT_EQ(nested.items[0].as_array().items[1].as_i64(), 2);
  EXPECT_TRUE(nested.items[1].as_array().items.empty());
  EXPECT_TRUE(f.get("empty").as_array().items.empty());

  ASSERT_EQ(f.tensors().size(), 3u);
  const TensorInfo& a = f.tensor("a.f32");
  EXPECT_EQ(a.ne, (std::vector<int64_t>{64, 3}));
  EXPECT_EQ(a.nbytes, 64u * 3 * 4);
  EXPECT_EQ(std::memcmp(a.data, s.f32.data(), a.nbytes), 0);
  EXPECT_EQ(std::memcmp(f.tensor("b.f16").data, s.f16.data(), s.f16.size() * 2), 0);
  const TensorInfo& c = f.tensor("c.q8");
  EXPECT_EQ(c.type, GgmlType::Q8_0);
  EXPECT_EQ(c.nbytes, s.q8.size());
  EXPECT_EQ(std::memcmp(c.data, s.q8.data(), c.nbytes), 0);
  for (const TensorInfo& t : f.tensors()) {
    EXPECT_EQ((f.data_offset() + t.offset) % kDefaultAlignment, 0u) << t.name;
  }

  // Writing what we read gives the same bytes.
  Writer w2;
  w2.copy_metadata(f);
  for (const TensorInfo& t : f.tensors()) w2.add_tensor(t.name, t.type, t.ne, t.data);
  w2.write(dir + "/rt2.gguf");
  EXPECT_EQ(read_bytes(path), read_bytes(dir + "/rt2.gguf"));
}

TEST(GgufRoundTrip, CustomAlignmentIsRecordedAndHonoured) {
  std::string dir = testing::temp_dir();
  File f = File::open(write_sample(dir, 64));
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.get_u64("general.alignment"), 64u);
  for (const TensorInfo& t : f.tensors()) EXPECT_EQ((f.data_offset() + t.offset) % 64, 0u);
}

TEST(GgufWriter, StreamsTensorsInOrderAndRejectsMistakes) {
  std::string dir = testing::temp_dir();
  std::vector<float> x(32, 1.f), y(32, 2.f);
  {
    Writer w;
    w.declare_tensor("x", GgmlType::F32, {32});
    w.declare_tensor("y", GgmlType::F32, {32});
    w.begin(dir + "/s.gguf");
    EXPECT_TRUE(std::filesystem::exists(dir + "/s.gguf.tmp"));
    EXPECT_FALSE(std::filesystem::exists(dir + "/s.gguf"));
    w.write_tensor("x", x.data(), x.size() * 4);
    w.write_tensor("y", y.data(), y.size() * 4);
    w.finish();
  }
  File f = File::open(dir + "/s.gguf");
  EXPECT_EQ(reinterpret_cast<const float*>(f.tensor("y").data)[31], 2.f);

  {
    Writer w;
    w.declare_tensor("x", GgmlType::F32, {32});
    w.declare_tensor("y", GgmlType::F32, {32});
    w.begin(dir + "/bad.gguf");
    EXPECT_THROW(w.write_tensor("y", y.data(), 128), Error);  // out of order
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad.gguf"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad.gguf.tmp"));
  {
    Writer w;
    w.declare_tensor("x", GgmlType::F32, {32});
    w.begin(dir + "/bad2.gguf");
    EXPECT_THROW(w.write_tensor("x", x.data(), 100), Error);  // wrong size
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad2.gguf.tmp"));
  {
    Writer w;
    w.declare_tensor("x", GgmlType::F32, {32});
    w.begin(dir + "/bad3.gguf");
    EXPECT_THROW(w.finish(), Error);  // never written
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad3.gguf"));
  Writer w;
  EXPECT_THROW(w.declare_tensor("q", GgmlType::Q4_0, {48}), Error);  // 48 is not a multiple of 32
  EXPECT_THROW(w.begin("/nonexistent-dir/x.gguf"), Error);
}

TEST(GgufReader, EveryTruncationIsAnErrorNeverACrash) {
  std::string dir = testing::temp_dir();
  std::vector<uint8_t> bytes = read_bytes(write_sample(dir));
  for (size_t len = 0; len < bytes.size(); ++len) {
    // The last tensor's padding is not needed to read it, so prefixes that
    // keep all tensor bytes may legitimately parse.
    try {
      File f = File::parse(bytes.data(), len, "cut");
      for (const TensorInfo& t : f.tensors()) ASSERT_LE(t.data + t.nbytes, bytes.data() + len);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cut: "), std::string::npos) << e.what();
    }
  }
}

TEST(GgufReader, RandomByteFlipsAreErrorsOrValidFiles) {
  std::string dir = testing::temp_dir();
  std::vector<uint8_t> good = read_bytes(write_sample(dir));
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<uint8_t> bytes = good;
    int flips = 1 + trial % 4;
    for (int i = 0; i < flips; ++i) bytes[rng() % 600 % bytes.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    try {
      File f = File::parse(bytes.data(), bytes.size(), "flipped");
      for (const TensorInfo& t : f.tensors()) {
        ASSERT_GE(t.data, bytes.data());
        ASSERT_LE(t.data + t.nbytes, bytes.data() + bytes.size());
      }
    } catch (const Error&) {}
  }
}

// Builds a header by hand so each corrupt field can be set precisely.
struct Raw {
  std::vector<uint8_t> b;
  template <class T>
  Raw& put(T x) {
    auto* p = reinterpret_cast<const uint8_t*>(&x);
    b.insert(b.end(), p, p + sizeof x);
    return *this;
  }
  Raw& str(const std::string& s) {
    put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Raw& header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    return put<uint32_t>(0x46554747).put(version).put(n_tensors).put(n_kv);
  }
};

std::string parse_error(const Raw& r) {
  try {
    File::parse(r.b.data(), r.b.size(), "raw.gguf");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(GgufReader, CorruptFieldsGetMessagesNamingTheProblem) {
  EXPECT_NE(parse_error(Raw().put<uint32_t>(0x12345678).put<uint32_t>(3)).find("bad magic"), std::string::npos);
  EXPECT_NE(parse_error(Raw().header(1, 0, 0)).find("version 1"), std::string::npos);
  EXPECT_NE(parse_error(Raw().header(7, 0, 0)).find("unknown GGUF version 7"), std::string::npos);
  EXPECT_NE(parse_error(Raw().header(3, 0, 1ull << 60)).find("metadata count"), std::string::npos);
  EXPECT_NE(parse_error(Raw().header(3, 1ull << 60, 0)).find("tensor count"), std::string::npos);
  // A string length far beyond the file.
  Raw long_key;
  long_key.header(3, 0, 1).put<uint64_t>(1ull << 62);
  long_key.b.resize(long_key.b.size() + 64);
  EXPECT_NE(parse_error(long_key).find("truncated: metadata key needs"), std::string::npos) << parse_error(long_key);
  // An array claiming 2^60 u32 elements: rejected before any allocation.
  std::string e =
      parse_error(Raw().header(3, 0, 1).str("k").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(1ull << 60));
  EXPECT_NE(e.find("'k'"), std::string::npos) << e;
  EXPECT_NE(e.find("cannot fit"), std::string::npos) << e;
  EXPECT_NE(parse_error(Raw().header(3, 0, 1).str("k").put<uint32_t>(13)).find("unknown value type 13"),
            std::string::npos);
  EXPECT_NE(parse_error(Raw().header(3, 0, 1).str("k").put<uint32_t>(7).put<uint8_t>(2)).find("bool"),
            std::string::npos);
  EXPECT_NE(
      parse_error(
          Raw().header(3, 0, 2).str("k").put<uint32_t>(0).put<uint8_t>(1).str("k").put<uint32_t>(0).put<uint8_t>(1))
          .find("appears twice"),
      std::string::npos);
  // Arrays nested deeper than the limit.
  Raw deep;
  deep.header(3, 0, 1).str("deep").put<uint32_t>(9);
  for (int i = 0; i < 20; ++i) deep.put<uint32_t>(9).put<uint64_t>(1);
  EXPECT_NE(parse_error(deep).find("nested"), std::string::npos);

  auto tensor = [](uint32_t dims, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    Raw r;
    r.header(3, 1, 0).str("t").put(dims);
    for (uint64_t d : ne) r.put(d);
    r.put(type).put(offset);
    return r;
  };
  EXPECT_NE(parse_error(tensor(5, {1, 1, 1, 1, 1}, 0, 0)).find("5 dimensions"), std::string::npos);
  EXPECT_NE(parse_error(tensor(1, {4}, 99, 0)).find("unknown tensor type 99"), std::string::npos);
  EXPECT_NE(parse_error(tensor(1, {33}, 8, 0)).find("block size"), std::string::npos);
  EXPECT_NE(parse_error(tensor(1, {4}, 0, 3)).find("alignment"), std::string::npos);
  EXPECT_NE(parse_error(tensor(2, {1ull << 40, 1ull << 40}, 0, 0)).find("overflow"), std::string::npos);
  Raw short_data = tensor(1, {1024}, 0, 0);
  short_data.b.resize(64 + 100);  // the data section starts at 64 and holds 100 of the 4096 bytes
  EXPECT_NE(parse_error(short_data).find("tensor 't' needs bytes 0..4096 of the data section, which has 100"),
            std::string::npos)
      << parse_error(short_data);
  EXPECT_NE(parse_error(tensor(1, {1024}, 0, 0)).find("tensor data would start at byte 64"), std::string::npos);
}

TEST(GgufReader, OpenNamesTheFileOnError) {
  try {
    File::open("/nonexistent/model.gguf");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.gguf: cannot open"), std::string::npos);
  }
}

TEST(GgufReader, ReadsEveryFileInTheSharedData) {
  LCTE_REQUIRE_DATA("models/stories260K-f32.gguf");
  int n = 0;
  for (const char* sub : {"models", "tokenizer"}) {
    for (const auto& entry : std::filesystem::directory_iterator(testing::data_path(sub))) {
      if (entry.path().extension() != ".gguf") continue;
      File f = File::open(entry.path().string());
      ModelSummary s = summarize(f);
      EXPECT_GT(s.vocab_size, 0u) << entry.path();
      ++n;
    }
  }
  EXPECT_GE(n, 30);
}

TEST(GgufReader, Stories260KHasTheHyperParametersOfTheLlama2cModel) {
  LCTE_REQUIRE_DATA("models/stories260K-f32.gguf");
  File f = File::open(testing::data_path("models/stories260K-f32.gguf"));
  // SOURCES.md: dim=64, hidden_dim=172, n_layers=5, n_heads=8, n_kv_heads=4, vocab 512.
  EXPECT_EQ(f.architecture(), "llama");
  EXPECT_EQ(f.get_u64("llama.embedding_length"), 64u);
  EXPECT_EQ(f.get_u64("llama.feed_forward_length"), 172u);
  EXPECT_EQ(f.get_u64("llama.block_count"), 5u);
  EXPECT_EQ(f.get_u64("llama.attention.head_count"), 8u);
  EXPECT_EQ(f.get_u64("llama.attention.head_count_kv"), 4u);
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens").size(), 512u);
  const TensorInfo& emb = f.tensor("token_embd.weight");
  EXPECT_EQ(emb.ne, (std::vector<int64_t>{64, 512}));
  EXPECT_EQ(emb.type, GgmlType::F32);
  // The same numbers as the llama2.c checkpoint: its token embedding table
  // starts right after the 28-byte header.
  LCTE_REQUIRE_DATA("models/stories260K.bin");
  std::vector<uint8_t> bin = read_bytes(testing::data_path("models/stories260K.bin"));
  EXPECT_EQ(std::memcmp(emb.data, bin.data() + 28, 64 * 512 * 4), 0);
}

TEST(GgufWriter, RewritingALlamaCppFileReproducesItByteForByte) {
  LCTE_REQUIRE_DATA("models/rand-llama-d256-q4_k_m.gguf");
  for (const char* name :
       {"models/rand-llama-d256-q4_k_m.gguf", "models/stories260K-f32.gguf", "tokenizer/ggml-vocab-llama-spm.gguf"}) {
    std::string src = testing::data_path(name);
    File f = File::open(src);
    Writer w(f.alignment());
    w.copy_metadata(f);
    for (const TensorInfo& t : f.tensors()) w.add_tensor(t.name, t.type, t.ne, t.data);
    std::string out = testing::temp_dir() + "/copy.gguf";
    w.write(out);
    std::vector<uint8_t> a = read_bytes(src), b = read_bytes(out);
    EXPECT_EQ(a.size(), b.size()) << name;
    EXPECT_TRUE(a == b) << name << ": rewritten file differs";
  }
}

// Inputs the fuzzer once found crashing (fuzz/regressions/) stay fixed.
TEST(GgufReader, FuzzRegressionsParseOrFailCleanly) {
  std::string dir = std::string(LCTE_SOURCE_DIR) + "/fuzz/regressions";
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::vector<uint8_t> bytes = read_bytes(e.path().string());
    ++n;
    try {
      File f = File::parse(bytes.data(), bytes.size(), "regression");
      std::string json =
          summary_to_json(summarize(f), f).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      EXPECT_FALSE(json.empty());
    } catch (const Error&) {}
  }
  EXPECT_GT(n, 0);
}

}  // namespace
}  // namespace lcte::gguf
