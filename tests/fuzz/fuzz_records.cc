// Transaction-file record decoders read whatever a file holds: any bytes give records or errors,
// never a crash, through both formats; what reads re-encodes and reads back the same.
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <unistd.h>

#include "adapters/files/transaction_files.h"

namespace {

std::string TempPath(const char* suffix) {
  return "/tmp/fuzz_records_" + std::to_string(::getpid()) + suffix;
}

void ReadAll(const std::string& path, pay::files::Format format) {
  auto reader = pay::files::RecordReader::Open(path, format);
  if (!reader) return;
  pay::v1::Record r;
  for (int i = 0; i < 1000; ++i) {
    auto next = (*reader)->Next(&r);
    if (next && !*next) break;
    if (!next) {
      if ((*reader)->broken()) break;
      continue;
    }
    const std::string bytes = r.SerializeAsString();
    pay::v1::Record back;
    if (!back.ParseFromString(bytes) || back.SerializeAsString() != bytes) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string jsonl = TempPath(".jsonl");
  static const std::string bin = TempPath(".pb");
  for (const auto& [path, format] : {std::pair{jsonl, pay::files::Format::kJsonLines},
                                     std::pair{bin, pay::files::Format::kBinary}}) {
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    ReadAll(path, format);
  }
  return 0;
}
