// From a model's reply to the program the sandbox runs. Chat models wrap code
// in markdown fences, talk before and after it, echo the prompt and re-state
// the signature; base models continue the prompt. Syntax is not checked here:
// the sandbox compiles the program with Python's own parser (syntax_error).
#pragma once

#include <string>
#include <vector>

#include "eval/prompts.h"
#include "eval/suite.h"
#include "sandbox/sandbox.h"

namespace lcte::eval {

// Contents of the ``` blocks tagged python/py/python3 or untagged, in order.
// A final fence left open (a reply cut at max tokens) runs to the end.
std::vector<std::string> fenced_blocks(const std::string& text);

// Keeps the top-level blocks of `text` that make a module: imports, defs,
// classes, decorators, assignments and other statements; drops prose lines
// (and the indented lines under them), asserts, prints and the
// `if __name__ == "__main__":` block, which a model adds as examples and
// which must not decide whether its function passes.
std::string sanitize_code(const std::string& text);

// True when `code` defines `name` at top level (def or async def).
bool defines_function(const std::string& code, const std::string& name);

// The code in an instruct-style reply: the fenced block that defines
// `entry_point` (else the first code block, else the whole reply),
// sanitized.
std::string extract_code(const std::string& reply, const std::string& entry_point);

// The program for one sample. Completion style: prompt + completion, unless
// the completion echoes the prompt (the echo is dropped) or re-states
// `def <entry_point>(` (then only the prompt's context, its imports and
// helpers, goes in front). Instruct style: the extracted code after the
// context; a bare indented body goes after the prompt.
sandbox::Program assemble_program(const Task& task, const Prompt& prompt, const std::string& completion);

}  // namespace lcte::eval
