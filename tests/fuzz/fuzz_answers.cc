// Stored answers come back from the database: a damaged or hostile record must give an error,
// never a crash, and whatever is packed must unpack to the same bytes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/answer_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto body = pay::UnpackAnswer(in)) {
    auto again = pay::UnpackAnswer(pay::PackAnswer(*body));
    if (!again || *again != *body) __builtin_trap();
  }
  auto round = pay::UnpackAnswer(pay::PackAnswer(in));
  if (!round || *round != in) __builtin_trap();
  return 0;
}
