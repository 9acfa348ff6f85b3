// lcte tokenize -m MODEL (--text T | --file F) [--ids-only] [--json] [--no-bos] [--parse-special]
// Tokenizes text as llama.cpp's llama-tokenize does, or as OpenAI's tiktoken
// does. MODEL is a GGUF file, a llama2.c tokenizer.bin, a tiktoken encoding's
// name (cl100k_base, o200k_base, p50k_base, r50k_base) or a .tiktoken file.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "cli/commands.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace lcte::cli {

namespace {

// A piece for a terminal: valid UTF-8 is kept, control characters, the
// backslash and bytes that are not UTF-8 (halves of a character split over
// byte tokens) are escaped.
std::string escape_piece(std::string_view s) {
  std::string out;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = p[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool valid = n > 0 && i + n <= s.size();
    for (size_t k = 1; valid && k < n; ++k) valid = (p[i + k] & 0xC0) == 0x80;
    if (!valid || (n == 1 && (c < 0x20 || c == 0x7F || c == '\\'))) {
      switch (c) {
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        case '\\': out += "\\\\"; break;
        default: out += fmt::format("\\x{:02x}", c);
      }
      ++i;
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  struct Options {
    std::string model, text, file;
    bool ids_only = false, json = false, no_bos = false, parse_special = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("tokenize",
                                 "Tokenize text with a model's tokenizer (as llama-tokenize) or a tiktoken encoding");
  cmd->add_option("-m,--model", o->model,
                  "GGUF model, llama2.c tokenizer .bin, tiktoken encoding (cl100k_base, o200k_base, p50k_base, "
                  "r50k_base) or .tiktoken file")
      ->required();
  auto* text = cmd->add_option("--text", o->text, "Text to tokenize");
  auto* file = cmd->add_option("--file", o->file, "File whose bytes to tokenize");
  text->excludes(file);
  cmd->add_flag("--ids-only", o->ids_only, "Print only the ids, on one line");
  cmd->add_flag("--json", o->json, "Print {\"ids\": [...], \"pieces\": [...]}");
  cmd->add_flag("--no-bos", o->no_bos, "Do not add BOS/EOS (add_special = false)");
  cmd->add_flag("--parse-special", o->parse_special, "Turn control tokens written in the text into their ids");
  cmd->callback([o, text, file] {
    if (text->count() == 0 && file->count() == 0) fail("tokenize: give --text or --file");
    const std::string input = file->count() > 0 ? read_file(o->file) : o->text;
    const tokenizer::Tokenizer tok = tokenizer::load_tokenizer(o->model);
    const std::vector<tokenizer::Token> ids = tok.tokenize(input, !o->no_bos, o->parse_special);

    if (o->json) {
      nlohmann::json j;
      j["ids"] = ids;
      j["pieces"] = nlohmann::json::array();
      for (auto id : ids) j["pieces"].push_back(tok.token_to_piece(id));
      // Pieces that are part of a UTF-8 character print as U+FFFD here.
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else if (o->ids_only) {
      std::string line;
      for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
      std::printf("%s\n", line.c_str());
    } else {
      for (auto id : ids) std::printf("%d\t'%s'\n", id, escape_piece(tok.token_to_piece(id)).c_str());
    }
  });
}

}  // namespace lcte::cli
