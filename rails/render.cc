// The canonical JSON of engine results. Stored under idempotency keys and replayed byte for
// byte, so field order and formatting here are part of the contract: change them only with a
// new response version.

#include "core/json_writer.h"
#include "core/time_format.h"
#include "pay/engine.h"

namespace pay {

namespace {

std::string Decimal(int64_t minor, const Currency* c) {
  return FormatMinor(minor, c != nullptr ? c->exponent : 0);
}

}  // namespace

std::string AccountJson(const ledger::Account& a) {
  JsonWriter w;
  w.BeginObject();
  w.Field("id", a.id).Field("currency", a.currency->code);
  w.Field("type", ledger::AccountTypeName(a.type));
  w.Field("normal_side", ledger::SideName(a.normal_side()));
  w.Field("overdraft", ledger::OverdraftModeName(a.overdraft));
  if (a.overdraft == ledger::OverdraftMode::kLimit) w.Field("overdraft_limit_minor", a.overdraft_limit_minor);
  w.Field("debits_posted_minor", a.debits_posted_minor);
  w.Field("credits_posted_minor", a.credits_posted_minor);
  w.Field("debits_pending_minor", a.debits_pending_minor);
  w.Field("credits_pending_minor", a.credits_pending_minor);
  w.Field("balance_minor", a.balance_minor());
  w.Field("available_minor", a.available_minor());
  w.Field("balance", Decimal(a.balance_minor(), a.currency));
  w.Field("available", Decimal(a.available_minor(), a.currency));
  w.Field("last_entry", a.last_seq);
  w.Field("created_at", FormatRfc3339Ms(a.created_at_ms));
  w.Key("metadata").BeginObject();
  for (const auto& [k, v] : a.metadata) w.Field(k, v);
  w.EndObject();
  if (a.replayed) w.Field("already_existed", true);  // created earlier, not by this command
  w.EndObject();
  return w.str();
}

std::string EntryJson(const ledger::Entry& e) {
  JsonWriter w;
  w.BeginObject();
  w.Field("id", e.seq);
  if (!e.ref.empty()) w.Field("ref", e.ref);
  w.Field("kind", ledger::EntryKindName(e.kind));
  if (e.state != ledger::EntryState::kNone) w.Field("state", ledger::EntryStateName(e.state));
  if (e.resolved_by_seq != 0) w.Field("resolved_by", e.resolved_by_seq);
  w.Field("created_at", FormatRfc3339Ms(e.created_at_ms));
  w.Field("description", e.description);
  if (e.reverses_seq != 0) w.Field("reverses", e.reverses_seq);
  if (e.resolves_seq != 0) w.Field("resolves", e.resolves_seq);
  if (e.expires_at_ms != 0) w.Field("expires_at", FormatRfc3339Ms(e.expires_at_ms));
  w.Key("postings").BeginArray();
  for (const auto& l : e.legs) {
    w.BeginObject();
    w.Field("account", l.account).Field("side", ledger::SideName(l.side));
    w.Field("phase", ledger::PhaseName(l.phase));
    w.Field("amount_minor", l.amount_minor).Field("currency", l.currency);
    w.EndObject();
  }
  w.EndArray();
  w.Field("hash", e.hash_hex());
  if (e.replayed) w.Field("already_recorded", true);  // its ref was recorded earlier; nothing moved
  w.EndObject();
  return w.str();
}

}  // namespace pay
