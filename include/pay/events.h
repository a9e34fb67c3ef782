#pragma once
// Events: what happened to a merchant's payments, payouts, settlements and velocity limits, as
// the engine records it (Engine::ListEvents). Each event is written in the same store
// transaction as the change it describes (an outbox: no event without its change, no change
// without its event). Every merchant's events are numbered 1, 2, 3, ... in commit order with no
// gaps, so a reader that saw number N and then N+2 knows it missed one. Event ids ("evt_" and 16
// digits) grow with commit order across merchants and are the listing cursor.
//
// Retention is bounded: an event is kept EngineOptions::event_retention_ms after it was written
// and removed by Engine::PurgeEvents.

#include <cstdint>
#include <string>
#include <string_view>

namespace pay {

struct EventView {
  std::string id;        // evt_0000000000000042
  int64_t number = 0;    // per merchant, from 1, gap-free in commit order
  std::string type;      // payment.authorized, payout.completed, velocity.hit, ...
  std::string merchant;  // "default" for commands without a merchant
  int64_t created_at_ms = 0;
  // What the event is about.
  std::string object;     // payment, payout, funding, p2p, settlement, velocity_rule
  std::string object_id;  // the payment id, the settlement's id, or the rule's name
  std::string status;     // the payment's status after the change ("" for others)
  int64_t amount_minor = 0;  // the operation's amount (a settlement: its net)
  std::string currency;
  std::string response_code;  // the network's, when the change was a network answer
  int64_t count = 0;          // settlement: payments settled
  int64_t fee_minor = 0;      // settlement: fees taken
  std::string detail;         // velocity: the refusal's message
};

// {"id":..,"object":"event","number":..,"type":..,"merchant":..,"created":..,"data":{"object":{..}}}
std::string EventJson(const EventView& event);

// Which events a listing returns.
struct EventFilter {
  std::string type;  // exact type ("payment.captured") or a prefix ending in '*' ("payment.*")
  bool Matches(std::string_view type) const;
};

}  // namespace pay
