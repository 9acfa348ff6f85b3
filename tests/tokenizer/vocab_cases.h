// llama.cpp's tokenizer test vectors (models/ggml-vocab-*.gguf.inp/.out):
// the .inp file holds the inputs separated by "\n__ggml_vocab_test__\n" (it
// ends with a separator); line i of the .out file holds the ids of input i.
#pragma once

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/vocab.h"

namespace lcte::testing {

struct VocabCase {
  std::string text;
  std::vector<tokenizer::Token> ids;
};

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::vector<VocabCase> load_vocab_cases(const std::string& inp_path, const std::string& out_path) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::string inp = read_bytes(inp_path);
  std::vector<std::string> texts;
  for (size_t pos = 0;;) {
    size_t hit = inp.find(sep, pos);
    if (hit == std::string::npos) break;  // the file ends with a separator
    texts.push_back(inp.substr(pos, hit - pos));
    pos = hit + sep.size();
  }
  std::istringstream out(read_bytes(out_path));
  std::vector<VocabCase> cases;
  std::string line;
  for (const std::string& t : texts) {
    VocabCase c;
    c.text = t;
    if (std::getline(out, line)) {
      std::istringstream ids(line);
      for (tokenizer::Token id; ids >> id;) c.ids.push_back(id);
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace lcte::testing
