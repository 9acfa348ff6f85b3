#include <gtest/gtest.h>

#include "core/csv.h"

using lcte::csv_field;

TEST(CsvField, PlainTextIsWrittenAsIs) {
  EXPECT_EQ(csv_field("HumanEval/0"), "HumanEval/0");
  EXPECT_EQ(csv_field(""), "");
  EXPECT_EQ(csv_field("a b;c"), "a b;c");
}

TEST(CsvField, CommasQuotesAndNewlinesAreQuotedAsRfc4180Says) {
  EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("line1\nline2"), "\"line1\nline2\"");
  EXPECT_EQ(csv_field("cr\rhere"), "\"cr\rhere\"");
}

TEST(CsvField, TextASpreadsheetWouldRunAsAFormulaIsDisarmed) {
  EXPECT_EQ(csv_field("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
  EXPECT_EQ(csv_field("+1+2"), "\"'+1+2\"");
  EXPECT_EQ(csv_field("-2+3"), "\"'-2+3\"");
  EXPECT_EQ(csv_field("@SUM(A1)"), "\"'@SUM(A1)\"");
  EXPECT_EQ(csv_field("\tx"), "\"'\tx\"");
  EXPECT_EQ(csv_field("\rx"), "\"'\rx\"");
  // Only the first character decides.
  EXPECT_EQ(csv_field("a=b"), "a=b");
}
