// One CSV field writer for every CSV lcte produces (samples, summaries,
// per-task tables, runs lists, quantization reports).
#pragma once

#include <string>
#include <string_view>

namespace lcte {

// RFC 4180: a field holding a comma, quote, CR or LF is quoted and its quotes
// doubled. A text field that a spreadsheet would read as a formula (it starts
// with =, +, -, @, TAB or CR; model output and file names are untrusted text)
// gets a leading apostrophe and is quoted, as OWASP advises against CSV
// injection. Only text goes through here: numbers are written as numbers.
std::string csv_field(std::string_view text);

}  // namespace lcte
