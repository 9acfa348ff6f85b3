// The rules that turn an observation into one status, checked on
// hand-built observations (no processes involved).
#include <gtest/gtest.h>
#include <signal.h>

#include "sandbox/outcome.h"

namespace lcte::sandbox::detail {
namespace {

const std::string kToken = "0123456789abcdef0123456789abcdef";
const std::string kPass = std::string("P\0", 2) + kToken;

std::string frame(const std::string& payload) {
  std::string out;
  for (int i = 0; i < 4; ++i) out += static_cast<char>((payload.size() >> (8 * i)) & 0xff);
  return out + payload;
}

Observation exited(int code, std::vector<std::string> frames = {}) {
  Observation o;
  o.ended = o.exited = true;
  o.value = code;
  o.frames = std::move(frames);
  return o;
}

Observation signaled(int sig) {
  Observation o;
  o.ended = true;
  o.value = sig;
  return o;
}

TEST(Outcome, ParsesFramesAndFlagsLeftovers) {
  bool malformed = true;
  auto frames = parse_frames(frame("P") + frame(std::string("F\0AssertionError\0x", 18)), &malformed);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_FALSE(malformed);
  EXPECT_EQ(frames[0], "P");
  EXPECT_EQ(frames[1].size(), 18u);
  frames = parse_frames(frame("P") + std::string("\x05\x00\x00", 3), &malformed);
  EXPECT_EQ(frames.size(), 1u);
  EXPECT_TRUE(malformed);
  frames = parse_frames(std::string("\x09\x00\x00\x00" "abc", 7), &malformed);  // length beyond the data
  EXPECT_TRUE(frames.empty());
  EXPECT_TRUE(malformed);
}

TEST(Outcome, PassNeedsTheTokenAndACleanExit) {
  Limits limits;
  EXPECT_EQ(classify(exited(0, {kPass}), limits, kToken).status, Status::Passed);

  Result forged = classify(exited(0, {std::string("P\0", 2) + "not-the-token"}), limits, kToken);
  EXPECT_EQ(forged.status, Status::Error);
  EXPECT_EQ(forged.error_type, "ProtocolViolation");

  // Reported, then died of SIGXCPU: how it ended wins.
  Observation late = signaled(SIGXCPU);
  late.frames = {kPass};
  EXPECT_EQ(classify(late, limits, kToken).status, Status::Timeout);
}

TEST(Outcome, ExactlyOneFrame) {
  Result r = classify(exited(0, {kPass, kPass}), Limits{}, kToken);
  EXPECT_EQ(r.status, Status::Error);
  EXPECT_EQ(r.error_type, "ProtocolViolation");
  Observation stray = exited(0, {kPass});
  stray.frames_malformed = true;
  EXPECT_EQ(classify(stray, Limits{}, kToken).status, Status::Error);
}

TEST(Outcome, DriverReportsMapToStatuses) {
  auto report = [](const std::string& payload) { return classify(exited(0, {payload}), Limits{}, kToken); };
  using namespace std::string_literals;
  Result failed = report("F\0AssertionError\0(tests line 3)"s);
  EXPECT_EQ(failed.status, Status::Failed);
  EXPECT_EQ(failed.error_type, "AssertionError");
  EXPECT_EQ(failed.error_message, "(tests line 3)");
  EXPECT_EQ(report("E\0NameError\0name 'x' is not defined"s).status, Status::Error);
  EXPECT_EQ(report("S\0SyntaxError\0invalid syntax (line 1)"s).status, Status::SyntaxError);
  EXPECT_EQ(report("M\0MemoryError\0"s).status, Status::OutOfMemory);
  EXPECT_EQ(report("Q\0?\0"s).error_type, "ProtocolViolation");
}

TEST(Outcome, OurKillsComeFirst) {
  Observation o = exited(0, {kPass});
  o.wall_timeout = true;
  EXPECT_EQ(classify(o, Limits{}, kToken).status, Status::Timeout);
  o.wall_timeout = false;
  o.output_overflow = true;
  Result r = classify(o, Limits{}, kToken);
  EXPECT_EQ(r.status, Status::Killed);
  EXPECT_EQ(r.error_type, "OutputLimit");
}

TEST(Outcome, UnreportedEndings) {
  Limits limits;
  limits.cpu_seconds = 2;
  limits.memory_bytes = 1000 << 20;

  Result early = classify(exited(0), limits, kToken);  // os._exit(0) before the tests
  EXPECT_EQ(early.status, Status::Error);
  EXPECT_EQ(early.error_type, "EarlyExit");
  EXPECT_EQ(early.exit_code, 0);

  EXPECT_EQ(classify(signaled(SIGXCPU), limits, kToken).status, Status::Timeout);
  Observation hard = signaled(SIGKILL);
  hard.cpu_seconds = 3.0;  // past the soft limit: the kernel's SIGKILL at the hard one
  EXPECT_EQ(classify(hard, limits, kToken).status, Status::Timeout);

  Observation crash = signaled(SIGSEGV);
  crash.peak_bytes = 900u << 20;  // near the address-space limit
  EXPECT_EQ(classify(crash, limits, kToken).status, Status::OutOfMemory);
  crash.peak_bytes = 20u << 20;
  Result killed = classify(crash, limits, kToken);
  EXPECT_EQ(killed.status, Status::Killed);
  EXPECT_EQ(killed.signal, SIGSEGV);

  Observation stopped = signaled(SIGKILL);
  stopped.stop_signal = SIGSTOP;
  Result s = classify(stopped, limits, kToken);
  EXPECT_EQ(s.status, Status::Killed);
  EXPECT_EQ(s.signal, SIGSTOP);
}

TEST(Outcome, InfrastructureFailureIsAnError) {
  Observation o = exited(0, {kPass});
  o.infrastructure_error = "the sandbox worker died";
  Result r = classify(o, Limits{}, kToken);
  EXPECT_EQ(r.status, Status::Error);
  EXPECT_EQ(r.error_type, "SandboxError");
}

TEST(Outcome, StatusNames) {
  EXPECT_EQ(status_name(Status::Passed), "passed");
  EXPECT_EQ(status_name(Status::SyntaxError), "syntax_error");
  EXPECT_EQ(status_name(Status::OutOfMemory), "out_of_memory");
  EXPECT_EQ(status_name(Status::Killed), "killed");
}

}  // namespace
}  // namespace lcte::sandbox::detail
