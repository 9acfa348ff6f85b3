// The .imatrix file format (llama.cpp's legacy binary layout) and the
// activation collector.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "common/error_of.h"
#include "common/test_data.h"
#include "core/error.h"
#include "quant/imatrix.h"

namespace lcte {
namespace {

// Little-endian byte builder for hand-made files.
struct Bytes {
  std::vector<char> b;
  Bytes& i32(int32_t v) {
    const char* p = reinterpret_cast<const char*>(&v);
    b.insert(b.end(), p, p + 4);
    return *this;
  }
  Bytes& f32(float v) {
    const char* p = reinterpret_cast<const char*>(&v);
    b.insert(b.end(), p, p + 4);
    return *this;
  }
  Bytes& str(const std::string& s) {
    i32(static_cast<int32_t>(s.size()));
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  std::string write(const std::string& path) const {
    std::ofstream(path, std::ios::binary).write(b.data(), static_cast<std::streamsize>(b.size()));
    return path;
  }
};

std::string error_of(const std::string& path) {
  return testing::error_of([&] { quant::read_imatrix(path); });
}

TEST(ImatrixFile, ReadsHandMadeFileAndDividesByNcall) {
  // Two entries as llama-imatrix writes them: values = mean * ncall.
  Bytes f;
  f.i32(2);
  f.str("blk.0.attn_q.weight").i32(2).i32(3).f32(2).f32(4).f32(6);
  f.str("blk.0.ffn_down.weight").i32(4).i32(2).f32(1).f32(0);
  f.i32(4).str("calib.txt");
  const auto m = quant::read_imatrix(f.write(testing::temp_dir() + "/a.imatrix"));
  ASSERT_EQ(m.entries.size(), 2u);
  const auto* q = m.find("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(*q, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(m.entries.at("blk.0.attn_q.weight").ncall, 2);
  EXPECT_EQ(*m.find("blk.0.ffn_down.weight"), (std::vector<float>{0.25f, 0}));
  EXPECT_EQ(m.last_call, 4);
  EXPECT_EQ(m.dataset, "calib.txt");
  EXPECT_EQ(m.find("output.weight"), nullptr);
}

TEST(ImatrixFile, TrailerIsOptional) {
  Bytes f;
  f.i32(1).str("x").i32(1).i32(1).f32(5);
  const auto m = quant::read_imatrix(f.write(testing::temp_dir() + "/old.imatrix"));
  EXPECT_EQ(*m.find("x"), (std::vector<float>{5}));
  EXPECT_EQ(m.last_call, 0);
  EXPECT_EQ(m.dataset, "");
}

TEST(ImatrixFile, WriteReadRoundTrip) {
  quant::Imatrix m;
  m.entries["blk.3.ffn_up.weight"] = {7, {0.5f, 1.25f, 3.0f, 0.0f}};
  m.entries["blk.0.attn_k.weight"] = {1, {2.0f}};
  m.last_call = 7;
  m.dataset = "some text.txt";
  const std::string path = testing::temp_dir() + "/rt.imatrix";
  quant::write_imatrix(m, path);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  const auto r = quant::read_imatrix(path);
  ASSERT_EQ(r.entries.size(), 2u);
  for (const auto& [name, e] : m.entries) {
    EXPECT_EQ(r.entries.at(name).ncall, e.ncall);
    ASSERT_EQ(r.entries.at(name).mean.size(), e.mean.size());
    for (size_t i = 0; i < e.mean.size(); ++i) EXPECT_FLOAT_EQ(r.entries.at(name).mean[i], e.mean[i]) << name;
  }
  EXPECT_EQ(r.last_call, 7);
  EXPECT_EQ(r.dataset, "some text.txt");
  // The stored values are mean * ncall (llama.cpp's convention).
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // First entry in name order: blk.0.attn_k.weight, ncall 1, value 2.0.
  float stored;
  std::memcpy(&stored, bytes.data() + 4 + 4 + 19 + 4 + 4, 4);
  EXPECT_EQ(stored, 2.0f);
  std::memcpy(&stored, bytes.data() + 4 + 4 + 19 + 4 + 4 + 4 + 4 + 19 + 4 + 4 + 4, 4);
  EXPECT_EQ(stored, 1.25f * 7);
}

TEST(ImatrixFile, EveryTruncationIsAnError) {
  Bytes f;
  f.i32(2).str("blk.0.attn_q.weight").i32(2).i32(3).f32(2).f32(4).f32(6);
  f.str("b").i32(1).i32(1).f32(1);
  const std::string dir = testing::temp_dir();
  // Cutting anywhere inside the entries must fail; cutting inside the
  // optional trailer is not possible here (there is none).
  for (size_t cut = 0; cut < f.b.size(); ++cut) {
    Bytes t;
    t.b.assign(f.b.begin(), f.b.begin() + static_cast<long>(cut));
    EXPECT_NE(error_of(t.write(dir + "/t.imatrix")), testing::kNoError) << "cut at " << cut;
  }
}

TEST(ImatrixFile, CorruptFieldsNameTheEntry) {
  const std::string dir = testing::temp_dir();
  Bytes neg_count;
  neg_count.i32(-1);
  EXPECT_NE(error_of(neg_count.write(dir + "/a")).find("entry count"), std::string::npos);
  Bytes huge_count;
  huge_count.i32(1 << 30).str("x").i32(1).i32(1).f32(1);
  EXPECT_NE(error_of(huge_count.write(dir + "/b")).find("does not fit"), std::string::npos);
  Bytes huge_nval;
  huge_nval.i32(1).str("blk.0.attn_v.weight").i32(1).i32(1 << 29).f32(1);
  EXPECT_NE(error_of(huge_nval.write(dir + "/c")).find("blk.0.attn_v.weight"), std::string::npos);
  Bytes zero_nval;
  zero_nval.i32(1).str("w").i32(1).i32(0).f32(1);
  EXPECT_NE(error_of(zero_nval.write(dir + "/d")).find("'w'"), std::string::npos);
  Bytes nan;
  nan.i32(1).str("w").i32(1).i32(2).f32(1).f32(std::numeric_limits<float>::quiet_NaN());
  EXPECT_NE(error_of(nan.write(dir + "/e")).find("value 1"), std::string::npos);
  Bytes name_too_long;
  name_too_long.i32(1).i32(1000).i32(0).i32(0).i32(0).i32(0);
  EXPECT_NE(error_of(name_too_long.write(dir + "/f")).find("entry 0 name"), std::string::npos);
  Bytes trailing;
  trailing.i32(1).str("w").i32(1).i32(1).f32(1).i32(1).str("d");
  trailing.b.push_back('x');
  EXPECT_NE(error_of(trailing.write(dir + "/g")).find("unexpected bytes"), std::string::npos);
  EXPECT_NE(error_of(dir + "/absent.imatrix").find("absent.imatrix"), std::string::npos);
  EXPECT_NE(error_of(dir).find("directory"), std::string::npos);
}

TEST(ImatrixCollector, MeanSquaredActivationPerColumn) {
  quant::ImatrixCollector c;
  // Chunk 1: two tokens of three columns; chunk 2: one token.
  const float a[] = {1, 2, 3, -1, 0, 1};
  const float b[] = {2, 2, 2};
  c.observe("blk.0.attn_q.weight", a, 2, 3);
  c.end_chunk();
  c.observe("blk.0.attn_q.weight", b, 1, 3);
  c.observe("blk.0.ffn_up.weight", b, 1, 3);
  c.end_chunk();
  const auto m = c.result("calib.txt");
  EXPECT_EQ(m.last_call, 2);
  EXPECT_EQ(m.dataset, "calib.txt");
  // Column j: mean over the three tokens of x_j^2, by hand.
  const std::vector<float> want = {(1 + 1 + 4) / 3.0f, (4 + 0 + 4) / 3.0f, (9 + 1 + 4) / 3.0f};
  const auto& q = m.entries.at("blk.0.attn_q.weight");
  EXPECT_EQ(q.ncall, 2);
  for (int j = 0; j < 3; ++j) EXPECT_FLOAT_EQ(q.mean[j], want[j]);
  EXPECT_EQ(m.entries.at("blk.0.ffn_up.weight").ncall, 1);
  EXPECT_FLOAT_EQ(m.entries.at("blk.0.ffn_up.weight").mean[0], 4.0f);
  EXPECT_THROW(c.observe("blk.0.attn_q.weight", a, 1, 6), Error);
}

}  // namespace
}  // namespace lcte
