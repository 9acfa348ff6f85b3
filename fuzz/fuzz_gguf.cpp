// libFuzzer entry point for the GGUF reader: any byte string must either parse
// into tensors that lie inside the input, or raise lcte::Error. ASan and UBSan
// (on in fuzz builds) turn any out-of-bounds read or overflow into a crash.
#include <cstdint>
#include <cstdlib>

#include "core/error.h"
#include "gguf/gguf.h"
#include "gguf/model_info.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    lcte::gguf::File f = lcte::gguf::File::parse(data, size, "fuzz");
    for (const auto& t : f.tensors()) {
      if (t.data < data || t.data + t.nbytes > data + size) std::abort();
    }
    lcte::gguf::ModelSummary s = lcte::gguf::summarize(f);
    (void)lcte::gguf::summary_to_json(s, f).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    for (const auto& kv : f.metadata()) (void)kv.value.to_string(4);
  } catch (const lcte::Error&) {}
  return 0;
}
