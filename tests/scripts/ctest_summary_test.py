#!/usr/bin/env python3
"""scripts/ctest_summary.py on a hand-made JUnit file (fixtures/), whose
counts and groups are known by construction."""
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "scripts", "ctest_summary.py")
FIXTURE = os.path.join(HERE, "fixtures", "ctest-junit.xml")


def run(*args):
    p = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True)
    return p.returncode, p.stdout.splitlines(), p.stderr


class CtestSummary(unittest.TestCase):
    def test_counts_skips_apart_from_passes_and_notrun_as_failed(self):
        rc, lines, _ = run(FIXTURE, "--data-dir", "/fixture/data")
        # 1 ran and passed; 3 failed (a failure, a timeout, a missing
        # executable); 6 skipped (4 by gtest, 1 by exit 77, 1 disabled).
        self.assertEqual(lines[-1], "1 passed, 3 failed, 6 skipped")
        self.assertEqual(rc, 1)

    def test_groups_skips_by_the_data_file_they_wanted(self):
        _, lines, _ = run(FIXTURE, "--data-dir", "/fixture/data")
        self.assertIn("skipped tests, by what they wanted (6):", lines)
        groups = [l.strip() for l in lines if l.startswith("  ")]
        self.assertEqual(groups[0], "2  data file models/a.gguf")
        self.assertIn("1  data file models/b.gguf", groups)
        self.assertIn("1  this machine has no AVX-512 (F, BW, VL, DQ) kernels (CPU or build): isa_avx512 tests skipped",
                      groups)
        self.assertIn("1  chromium not found (/usr/bin/chromium; or set LCTE_CHROMIUM)", groups)
        self.assertIn("1  disabled in CMake", groups)
        self.assertEqual(len(groups), 5)

    def test_names_the_failed_tests(self):
        _, lines, _ = run(FIXTURE)
        self.assertIn("failed (3): Quant.RoundTrip, Missing.Executable, Slow.TimesOut", lines)

    def test_says_the_data_directory_is_absent_just_before_the_closing_line(self):
        _, lines, _ = run(FIXTURE, "--data-dir", "/fixture/data")
        self.assertIn("/fixture/data is absent", lines[-2])
        with tempfile.TemporaryDirectory() as present:
            _, lines, _ = run(FIXTURE, "--data-dir", present)
            self.assertFalse(any("absent" in l for l in lines if not l.startswith("  ")), lines)

    def test_unreadable_file_is_a_failure_with_the_closing_line(self):
        rc, lines, err = run(os.path.join(HERE, "fixtures", "no-such.xml"))
        self.assertEqual(lines, ["0 passed, 1 failed, 0 skipped"])
        self.assertIn("no-such.xml", err)
        self.assertEqual(rc, 1)

    def test_another_run_counts_under_its_label(self):
        rc, lines, _ = run(FIXTURE, "--also", f"emulated-avx512={FIXTURE}")
        self.assertEqual(lines[-2], "emulated-avx512: 1 passed, 3 failed, 6 skipped")
        self.assertEqual(lines[-1], "2 passed, 6 failed, 12 skipped")
        self.assertIn("failed (6): Quant.RoundTrip, Missing.Executable, Slow.TimesOut, "
                      "emulated-avx512: Quant.RoundTrip, emulated-avx512: Missing.Executable, "
                      "emulated-avx512: Slow.TimesOut", lines)
        groups = [l.strip() for l in lines if l.startswith("  ")]
        self.assertIn("1  emulated-avx512: disabled in CMake", groups)
        self.assertEqual(rc, 1)

    def test_another_run_without_results_is_a_failure(self):
        missing = os.path.join(HERE, "fixtures", "no-such.xml")
        rc, lines, err = run(FIXTURE, "--also", f"emu={missing}")
        self.assertEqual(lines[-2], "emu: 0 passed, 1 failed, 0 skipped")
        self.assertEqual(lines[-1], "1 passed, 4 failed, 6 skipped")
        self.assertIn("no-such.xml", err)
        self.assertEqual(rc, 1)

    def test_another_run_needs_a_label_and_a_file(self):
        rc, _, err = run(FIXTURE, "--also", "no-label-here")
        self.assertIn("expected LABEL=FILE", err)
        self.assertEqual(rc, 2)


if __name__ == "__main__":
    unittest.main()
