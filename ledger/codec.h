#pragma once
// Stored encodings of the ledger: postings (legs) and metadata blobs, and the canonical bytes of
// an entry that the audit chain hashes. Decoders treat their input as untrusted (it may be a
// tampered file): they never read out of bounds and report kCorruptStore.

#include <string>
#include <string_view>
#include <vector>

#include "core/encoding.h"
#include "core/store.h"
#include "pay/types.h"

namespace pay::ledger {

std::string EncodeLegs(const std::vector<Leg>& legs);
Result<std::vector<Leg>> DecodeLegs(std::string_view bytes);

std::string EncodeMetadata(const Metadata& metadata);
Result<Metadata> DecodeMetadata(std::string_view bytes);

// The canonical bytes of an entry request: every field in a fixed order with lengths. The
// ledger's request digest and the engine's idempotency fingerprint both hash these.
void EncodeEntrySpec(Writer& w, const EntrySpec& spec);
// The same with `ref` in place of spec.ref.
void EncodeEntrySpec(Writer& w, const EntrySpec& spec, std::string_view ref);

// The audit chain: SHA-256(prev_hash || canonical bytes of the row), 32 raw bytes. The canonical
// bytes are every field of the row except its hash, in a fixed order with a version tag. The
// first entry chains from 32 zero bytes.
std::string ChainHash(std::string_view prev_hash, const store::EntryRow& row);
inline const std::string& GenesisHash() {
  static const std::string kZero(32, '\0');
  return kZero;
}

}  // namespace pay::ledger
