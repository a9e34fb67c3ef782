#pragma once
// Stored answers, compact: an idempotency record keeps its outcome's body byte for byte, and most
// of a body is the same field names and shapes as every other answer. PackAnswer compresses it
// with zstd against a fixed dictionary of typical answers (core/answer_dictionary.inc): ~765
// bytes become ~220 on a replayed day. The first byte says how the rest is stored:
//   0x01  a zstd frame packed with dictionary 1 (its content size in the frame header and a
//         checksum of the content, so a damaged answer is refused, never served changed)
//   0x00  the body itself follows (a body too short to gain, or one starting with 0x00/0x01)
//   else  the body itself, as every record written before answers were packed (JSON: '{')
// UnpackAnswer gives the body back byte for byte; a damaged frame is kCorruptStore.
// Thread-safe: each thread compresses with a context of its own.

#include <string>
#include <string_view>

#include "pay/result.h"

namespace pay {

std::string PackAnswer(std::string_view body);
Result<std::string> UnpackAnswer(std::string_view stored);

}  // namespace pay
