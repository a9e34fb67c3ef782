// The change log's row body (store::Changes): what one write transaction touched, read by the
// other writers at their next BEGIN so that they drop only those rows from their caches.
//
// Layout (core/encoding.h, little endian): version u8 (1), flags u8 (1 entries, 2 velocity,
// 4 everything), then four counted lists: records (kind i64, id str), idempotency records
// (scope str, operation i64, key str), entry states (seq i64), accounts (num i64).

#include "core/encoding.h"
#include "core/limits.h"
#include "core/store.h"

namespace pay::store {

namespace {

constexpr uint8_t kVersion = 1;
constexpr uint8_t kEntries = 1, kVelocity = 2, kEverything = 4;
constexpr size_t kKeyBytesMax = 4096;

}  // namespace

void Changes::Add(const Changes& o) {
  known = known && o.known;
  records.insert(o.records.begin(), o.records.end());
  idempotency.insert(o.idempotency.begin(), o.idempotency.end());
  entry_states.insert(o.entry_states.begin(), o.entry_states.end());
  accounts.insert(o.accounts.begin(), o.accounts.end());
  entries = entries || o.entries;
  velocity = velocity || o.velocity;
  everything = everything || o.everything;
}

const Changes& Store::others_changes() const {
  static const Changes unknown;
  return unknown;
}

std::string EncodeChanges(const Changes& c) {
  Writer w;
  w.U8(kVersion);
  w.U8(static_cast<uint8_t>((c.entries ? kEntries : 0) | (c.velocity ? kVelocity : 0) |
                            (c.everything ? kEverything : 0)));
  w.U32(static_cast<uint32_t>(c.records.size()));
  for (const auto& [kind, id] : c.records) {
    w.I64(kind);
    w.Str(id);
  }
  w.U32(static_cast<uint32_t>(c.idempotency.size()));
  for (const auto& [scope, op, key] : c.idempotency) {
    w.Str(scope);
    w.I64(op);
    w.Str(key);
  }
  for (const std::set<int64_t>* nums : {&c.entry_states, &c.accounts}) {
    w.U32(static_cast<uint32_t>(nums->size()));
    for (int64_t n : *nums) w.I64(n);
  }
  return w.Take();
}

bool DecodeChanges(std::string_view body, Changes* into) {
  Reader r(body);
  uint8_t version = 0, flags = 0;
  uint32_t n = 0;
  if (!r.U8(&version) || version != kVersion || !r.U8(&flags) || flags > 7 || !r.U32(&n)) return false;
  into->entries = into->entries || (flags & kEntries) != 0;
  into->velocity = into->velocity || (flags & kVelocity) != 0;
  into->everything = into->everything || (flags & kEverything) != 0;
  for (uint32_t i = 0; i < n; ++i) {
    int64_t kind = 0;
    std::string id;
    if (!r.I64(&kind) || kind < INT32_MIN || kind > INT32_MAX || !r.Str(&id, kKeyBytesMax)) return false;
    into->records.emplace(static_cast<int32_t>(kind), std::move(id));
  }
  if (!r.U32(&n)) return false;
  for (uint32_t i = 0; i < n; ++i) {
    std::string scope, key;
    int64_t op = 0;
    if (!r.Str(&scope, kKeyBytesMax) || !r.I64(&op) || op < INT32_MIN || op > INT32_MAX ||
        !r.Str(&key, kKeyBytesMax)) {
      return false;
    }
    into->idempotency.emplace(std::move(scope), static_cast<int32_t>(op), std::move(key));
  }
  for (std::set<int64_t>* nums : {&into->entry_states, &into->accounts}) {
    if (!r.U32(&n)) return false;
    for (uint32_t i = 0; i < n; ++i) {
      int64_t v = 0;
      if (!r.I64(&v)) return false;
      nums->insert(v);
    }
  }
  return r.done();
}

}  // namespace pay::store
