#pragma once
// The event outbox of the payments core (include/pay/events.h): each change of a payment, a
// settlement or a velocity refusal becomes an event record (store kind kEventRecord) written
// through the same store transaction as the change.
//
// Rows per transaction: one event row per event; one counter row per merchant that got events
// and one for the event sequence, written once by Flush. Counters are read once per transaction
// (answered by the store's hot rows after the first).
//
// Record: id 16 digits (the partition, then the sequence: ids grow with commit order), owner the
// merchant, due the end of its retention (0: kept), body EncodeEvent.

#include <cstdint>
#include <map>
#include <string>

#include "core/store.h"
#include "pay/clock.h"
#include "pay/events.h"
#include "pay/payments.h"
#include "pay/result.h"

namespace pay::payments {

struct Payment;

class EventLog {
 public:
  EventLog(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  void BeginTransaction();
  Result<void> Flush();
  void Rollback() { Forget(); }
  void SetPartition(uint32_t partition) { partition_ = partition; }
  // 0 keeps events forever.
  void SetRetention(int64_t retention_ms) { retention_ms_ = retention_ms; }

  // Numbers, stamps and writes `event` (its id, number and created_at_ms are filled in).
  Result<void> Emit(EventView event);
  // The events of a payment's change since it was last loaded or saved: one per new operation
  // of a card payment, one per new status of a payout, funding or P2P.
  Result<void> PaymentChanged(const Payment& p);

 private:
  void Forget();
  Result<int64_t> Next(const std::string& counter, std::map<std::string, int64_t>::iterator* it);

  store::Store& store_;
  const Clock& clock_;
  uint32_t partition_ = 0;
  int64_t retention_ms_ = 0;
  std::map<std::string, int64_t> counters_;  // loaded this transaction: name -> last value
  bool dirty_ = false;
};

// A network response code that approves (00, or 10 for part of the amount).
bool Approved(std::string_view response_code);

// The record's id of event id "evt_<digits>", and back.
std::string EventRowId(std::string_view event_id);
std::string EncodeEvent(const EventView& e);
Result<EventView> DecodeEvent(const store::RecordRow& row);

}  // namespace pay::payments
