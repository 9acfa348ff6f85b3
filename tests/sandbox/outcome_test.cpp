// The rules that turn an observation into one status, checked on
// hand-built observations (no processes involved).
#include <gtest/gtest.h>
#include <signal.h>

#include "sandbox/outcome.h"

namespace lcte::sandbox::detail {
namespace {

using namespace std::string_literals;

const std::string kToken = "0123456789abcdef0123456789abcdef";
const std::string kPass = "P\0"s + kToken + "\0\0\0"s;
const std::string kGone = "G\0the sample process ended\0\0\0"s;

std::string frame(const std::string& payload) {
  std::string out;
  for (int i = 0; i < 4; ++i) out += static_cast<char>((payload.size() >> (8 * i)) & 0xff);
  return out + payload;
}

Ending exit_with(int code) { return Ending{true, code, 0, 0.01, 10u << 20}; }
Ending killed_by(int sig) { return Ending{false, sig, 0, 0.01, 10u << 20}; }

// The judge exited cleanly after sending `frames`; the sample ended as given.
Observation judged(std::vector<std::string> frames, Ending sample = exit_with(0)) {
  Observation o;
  o.frames = std::move(frames);
  o.judge = exit_with(0);
  o.sample = sample;
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
  frames = parse_frames(std::string("\x09\x00\x00\x00"
                                    "abc",
                                    7),
                        &malformed);  // length beyond the data
  EXPECT_TRUE(frames.empty());
  EXPECT_TRUE(malformed);
}

TEST(Outcome, ParsesEndings) {
  auto e = parse_ending("signal 24 1.5 2048 0");
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->exited);
  EXPECT_EQ(e->value, SIGXCPU);
  EXPECT_DOUBLE_EQ(e->cpu_seconds, 1.5);
  EXPECT_EQ(e->peak_bytes, 2048u * 1024);
  auto x = parse_ending("exit 0 0.02 100 19");
  ASSERT_TRUE(x);
  EXPECT_TRUE(x->exited);
  EXPECT_EQ(x->stop_signal, SIGSTOP);
  EXPECT_FALSE(parse_ending("R exit 0"));
  EXPECT_FALSE(parse_ending("exited 0 0 0 0"));
  EXPECT_FALSE(parse_ending(""));
}

TEST(Outcome, PassNeedsTheTokenAndAJudgeThatExitedCleanly) {
  Limits limits;
  EXPECT_EQ(classify(judged({kPass}), limits, kToken).status, Status::Passed);
  // How the sample process ended does not matter once the judge passed it.
  EXPECT_EQ(classify(judged({kPass}, killed_by(SIGKILL)), limits, kToken).status, Status::Passed);

  Result forged = classify(judged({"P\0not-the-token\0\0\0"s}), limits, kToken);
  EXPECT_EQ(forged.status, Status::Error);
  EXPECT_EQ(forged.error_type, "ProtocolViolation");

  // Reported, then the judge died of SIGXCPU: how it ended wins.
  Observation late = judged({kPass});
  late.judge = killed_by(SIGXCPU);
  EXPECT_EQ(classify(late, limits, kToken).status, Status::Timeout);
}

TEST(Outcome, ExactlyOneFrame) {
  Result r = classify(judged({kPass, kPass}), Limits{}, kToken);
  EXPECT_EQ(r.status, Status::Error);
  EXPECT_EQ(r.error_type, "ProtocolViolation");
  Observation stray = judged({kPass});
  stray.frames_malformed = true;
  EXPECT_EQ(classify(stray, Limits{}, kToken).status, Status::Error);
}

TEST(Outcome, JudgeReportsMapToStatuses) {
  auto report = [](const std::string& payload) { return classify(judged({payload}), Limits{}, kToken); };
  Result failed = report("F\0AssertionError\0(tests line 3)\0\0"s);
  EXPECT_EQ(failed.status, Status::Failed);
  EXPECT_EQ(failed.error_type, "AssertionError");
  EXPECT_EQ(failed.error_message, "(tests line 3)");
  EXPECT_EQ(report("E\0NameError\0name 'x' is not defined\0\0"s).status, Status::Error);
  EXPECT_EQ(report("S\0SyntaxError\0invalid syntax (line 1)\0\0"s).status, Status::SyntaxError);
  EXPECT_EQ(report("M\0MemoryError\0\0\0"s).status, Status::OutOfMemory);
  Result slow = report("T\0TimeLimit\0the sample took more than 1 s to answer one call\0\0"s);
  EXPECT_EQ(slow.status, Status::Timeout);
  EXPECT_EQ(slow.error_type, "TimeLimit");
  EXPECT_EQ(report("Q\0?\0\0\0"s).error_type, "ProtocolViolation");
  Result protocol = report("G\0the sample broke the protocol: unexpected answer\0\0\0"s);
  EXPECT_EQ(protocol.status, Status::Error);
  EXPECT_EQ(protocol.error_type, "ProtocolViolation");
  Result exit_call = report("G\0the sample raised SystemExit during a call\0\0\0"s);
  EXPECT_EQ(exit_call.status, Status::Error);
  EXPECT_EQ(exit_call.error_type, "SystemExit");
}

TEST(Outcome, RedefinedHelpersComeFromTheNotes) {
  Result r = classify(judged({"F\0AssertionError\0x\0redefined=poly,encode_cyclic\0"s}), Limits{}, kToken);
  EXPECT_EQ(r.redefined_helpers, (std::vector<std::string>{"poly", "encode_cyclic"}));
  Result p = classify(judged({"P\0"s + kToken + "\0\0redefined=poly\0"s}), Limits{}, kToken);
  EXPECT_EQ(p.status, Status::Passed);
  EXPECT_EQ(p.redefined_helpers, std::vector<std::string>{"poly"});
}

TEST(Outcome, OurKillsComeFirst) {
  Observation o = judged({kPass});
  o.wall_timeout = true;
  EXPECT_EQ(classify(o, Limits{}, kToken).status, Status::Timeout);
  o.wall_timeout = false;
  o.output_overflow = true;
  Result r = classify(o, Limits{}, kToken);
  EXPECT_EQ(r.status, Status::Killed);
  EXPECT_EQ(r.error_type, "OutputLimit");
}

TEST(Outcome, TheSampleEndingBeforeTheTestsIsClassifiedByHowItEnded) {
  Limits limits;
  limits.cpu_seconds = 2;
  limits.memory_bytes = 1000 << 20;

  Result early = classify(judged({kGone}, exit_with(0)), limits, kToken);  // os._exit(0)
  EXPECT_EQ(early.status, Status::Error);
  EXPECT_EQ(early.error_type, "EarlyExit");
  EXPECT_EQ(early.exit_code, 0);

  EXPECT_EQ(classify(judged({kGone}, killed_by(SIGXCPU)), limits, kToken).status, Status::Timeout);
  Ending hard = killed_by(SIGKILL);
  hard.cpu_seconds = 3.0;  // past the soft limit: the kernel's SIGKILL at the hard one
  EXPECT_EQ(classify(judged({kGone}, hard), limits, kToken).status, Status::Timeout);

  Ending crash = killed_by(SIGSEGV);
  crash.peak_bytes = 900u << 20;  // near the address-space limit
  EXPECT_EQ(classify(judged({kGone}, crash), limits, kToken).status, Status::OutOfMemory);
  crash.peak_bytes = 20u << 20;
  Result killed = classify(judged({kGone}, crash), limits, kToken);
  EXPECT_EQ(killed.status, Status::Killed);
  EXPECT_EQ(killed.signal, SIGSEGV);

  Ending stopped = killed_by(SIGKILL);
  stopped.stop_signal = SIGSTOP;
  Result s = classify(judged({kGone}, stopped), limits, kToken);
  EXPECT_EQ(s.status, Status::Killed);
  EXPECT_EQ(s.signal, SIGSTOP);

  // Once mode: the judge reaped the sample and wrote how it ended into the frame.
  Observation once;
  once.frames = {"G\0the sample process ended\0\0\0signal 24 2.1 4096 0"s};
  once.judge = exit_with(0);
  Result cpu = classify(once, limits, kToken);
  EXPECT_EQ(cpu.status, Status::Timeout);
  EXPECT_EQ(cpu.error_type, "CpuLimit");
  EXPECT_EQ(cpu.peak_memory_bytes, 4096u * 1024);
}

TEST(Outcome, AJudgeThatEndsWithoutAReport) {
  Limits limits;
  Observation cpu;
  cpu.judge = killed_by(SIGXCPU);
  EXPECT_EQ(classify(cpu, limits, kToken).status, Status::Timeout);
  Observation crashed;
  crashed.judge = exit_with(125);
  Result r = classify(crashed, limits, kToken);
  EXPECT_EQ(r.status, Status::Error);
  EXPECT_EQ(r.error_type, "JudgeError");
  EXPECT_EQ(classify(Observation{}, limits, kToken).error_type, "NoResult");
}

TEST(Outcome, InfrastructureFailureIsAnError) {
  Observation o = judged({kPass});
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
