#include "ledger/codec.h"

#include "core/crypto.h"
#include "core/encoding.h"
#include "core/limits.h"

namespace pay::ledger {
namespace {

constexpr uint8_t kLegsVersion = 1;
constexpr uint8_t kMetadataVersion = 1;
constexpr uint8_t kEntryVersion = 1;

Error Corrupt(const std::string& what) {
  return MakeError(ErrorCode::kCorruptStore, "store: " + what);
}

}  // namespace

std::string EncodeLegs(const std::vector<Leg>& legs) {
  Writer w;
  w.Reserve(8 + legs.size() * 64);
  w.U8(kLegsVersion);
  w.U32(static_cast<uint32_t>(legs.size()));
  for (const Leg& l : legs) {
    w.I64(l.account_num);
    w.Str(l.account);
    w.Str(l.currency);
    w.U8(static_cast<uint8_t>(l.side));
    w.U8(static_cast<uint8_t>(l.phase));
    w.I64(l.amount_minor);
    w.I64(l.prev_seq);
  }
  return w.Take();
}

Result<std::vector<Leg>> DecodeLegs(std::string_view bytes) {
  Reader r(bytes);
  uint8_t version;
  uint32_t count;
  if (!r.U8(&version) || version != kLegsVersion) return Corrupt("postings: unknown encoding");
  // Each leg takes at least 34 bytes, so `count` cannot ask for more than the input holds.
  if (!r.U32(&count) || count > 2 * limits::kPostingsPerEntryMax) {
    return Corrupt("postings: bad count");
  }
  std::vector<Leg> legs(count);
  for (Leg& l : legs) {
    uint8_t side, phase;
    if (!r.I64(&l.account_num) || !r.Str(&l.account, limits::kAccountIdBytesMax) ||
        !r.Str(&l.currency, 3) || !r.U8(&side) || !r.U8(&phase) || !r.I64(&l.amount_minor) ||
        !r.I64(&l.prev_seq)) {
      return Corrupt("postings: truncated");
    }
    if (side != 1 && side != 2) return Corrupt("postings: bad side");
    if (phase > 2) return Corrupt("postings: bad phase");
    if (l.amount_minor <= 0) return Corrupt("postings: amount not positive");
    l.side = static_cast<Side>(side);
    l.phase = static_cast<Phase>(phase);
  }
  if (!r.done()) return Corrupt("postings: trailing bytes");
  return legs;
}

std::string EncodeMetadata(const Metadata& metadata) {
  Writer w;
  w.U8(kMetadataVersion);
  w.U32(static_cast<uint32_t>(metadata.size()));
  for (const auto& [k, v] : metadata) {
    w.Str(k);
    w.Str(v);
  }
  return w.Take();
}

Result<Metadata> DecodeMetadata(std::string_view bytes) {
  Reader r(bytes);
  uint8_t version;
  uint32_t count;
  if (!r.U8(&version) || version != kMetadataVersion || !r.U32(&count) ||
      count > limits::kMetadataPairsMax) {
    return Corrupt("metadata: bad header");
  }
  Metadata m(count);
  for (auto& [k, v] : m) {
    if (!r.Str(&k, limits::kMetadataKeyBytesMax) || !r.Str(&v, limits::kMetadataValueBytesMax)) {
      return Corrupt("metadata: truncated");
    }
  }
  if (!r.done()) return Corrupt("metadata: trailing bytes");
  return m;
}

void EncodeEntrySpec(Writer& w, const EntrySpec& spec) { EncodeEntrySpec(w, spec, spec.ref); }

void EncodeEntrySpec(Writer& w, const EntrySpec& spec, std::string_view ref) {
  w.Str(ref);
  w.Str(spec.description);
  w.U8(spec.pending ? 1 : 0);
  w.I64(spec.expires_at_ms);
  w.I64(spec.expires_in_ms);
  w.U32(static_cast<uint32_t>(spec.postings.size()));
  for (const Posting& p : spec.postings) {
    w.Str(p.account);
    w.U8(static_cast<uint8_t>(p.side));
    w.I64(p.amount_minor);
  }
}

namespace {

void WriteCanonical(Writer& w, const store::EntryRow& row) {
  w.U8(kEntryVersion);
  w.I64(row.seq);
  w.Str(row.ref);
  w.U32(static_cast<uint32_t>(row.kind));
  w.I64(row.created_at_ms);
  w.Str(row.description);
  w.I64(row.reverses_seq);
  w.I64(row.resolves_seq);
  w.I64(row.expires_at_ms);
  w.Str(row.legs);
  w.Str(row.digest);
}

}  // namespace

std::string ChainHash(std::string_view prev_hash, const store::EntryRow& row) {
  // A buffer per thread that keeps its capacity: no allocation per entry on the hot path.
  thread_local Writer w;
  w.Clear();
  WriteCanonical(w, row);
  return DigestBytes(Sha256(prev_hash, w.bytes()));
}

}  // namespace pay::ledger
