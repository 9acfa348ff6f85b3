// model::TokenText backed by lcte's tokenizer: what the Generator streams is
// each token's piece as llama.cpp prints it (control tokens as ""), and it
// stops on the vocabulary's end-of-generation tokens (EOS, EOT, <|im_end|>...).
// Header-only so that lcte_model itself does not depend on the tokenizer.
#pragma once

#include "model/generator.h"
#include "tokenizer/tokenizer.h"

namespace lcte::model {

class TokenizerText : public TokenText {
 public:
  explicit TokenizerText(const tokenizer::Tokenizer& tok) : tok_(tok) {}
  std::string piece(int32_t token) const override { return tok_.token_to_piece(token, /*special=*/false); }
  bool is_eog(int32_t token) const override { return tok_.is_eog(token); }

 private:
  const tokenizer::Tokenizer& tok_;
};

}  // namespace lcte::model
