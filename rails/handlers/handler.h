#pragma once
// One handler per product. The engine (rails/engine.cc) owns the pipeline
//   validate -> idempotency -> velocity -> execute -> (network exchange -> complete) -> commit
// and asks the command's handler for each product-specific step. The handler of a request type
// is found in one table (rails/handlers/table.cc) by std::visit over the Request variant, so a
// request type without a handler does not compile.
//
// Values, not members: a command's validated state is a CommandContext, built by Validate and
// passed by const reference to every later step; a handler object has no state of its own.
// Handlers run on the engine's writer thread, inside the batch's store transaction.

#include <optional>
#include <string>

#include "ledger/ledger.h"
#include "pay/engine.h"
#include "rails/guards/velocity.h"
#include "rails/payments/book.h"
#include "rails/pull/pull_rail.h"
#include "rails/push/push_rail.h"

namespace pay::handlers {

// What the engine lends a handler: the books, the rails and the options, by reference.
struct Services {
  ledger::Ledger& ledger;
  payments::Book& book;
  pull::PullRail& pull;
  push::PushRail& push;
  guards::VelocityGuard& velocity;
  const Clock& clock;  // the event clock of the command at hand
  const EngineOptions& options;
};

// A command once validated: the value that flows through the pipeline.
struct CommandContext {
  Operation operation = Operation::kTransfer;
  std::string scope;  // the idempotency scope (guards::ScopeOf)
  // The card charged or credited (authorize, card funding, push; P2P: the sender's) with its
  // local decline, and P2P's recipient card.
  payments::ChargedCard card;
  card::CardRef second_card;
  // With guards on: the request fingerprint (guards::Fingerprint).
  std::string fingerprint;
  // A transfer without a ref: keyed by its derived ledger reference instead of a record.
  bool journal_keyed = false;
};

// An online exchange the command waits for: sent once the batch's claims are durable.
struct Exchange {
  CardRequest request;
  std::string payment_id;
  bool push = false;                     // completed by the push rail (else the pull rail)
  std::optional<CardRequest> follow_up;  // P2P: the OCT, sent once the AFT is approved
};

// What executing a command produced: its outcome, or the exchange it waits for (the outcome
// then names the payment, status "pending"), and whether it queued network advices.
struct Step {
  Outcome outcome;
  std::optional<Exchange> exchange;
  bool advices_queued = false;
};

class Handler {
 public:
  virtual ~Handler() = default;
  virtual Operation operation() const = 0;
  // The request's checks that need no database; fills the context's cards. Runs before the
  // idempotency key is looked at, so that invalid input is reported as such under any key.
  virtual Result<void> Validate(const Services& s, const Command& c, CommandContext& x) const = 0;
  // A replay that needs no idempotency record (a journal-keyed transfer); empty: none.
  virtual Result<std::optional<Outcome>> ReplayWithoutRecord(const Services& s, const Command& c,
                                                             const CommandContext& x) const {
    return std::optional<Outcome>();
  }
  // What the velocity rules see of the command (operation, channel, scope and client are
  // filled in by the engine).
  virtual void DescribeVelocity(const Services& s, const Command& c, const CommandContext& x,
                                guards::VelocityEvent& e) const {}
  // Executes inside the batch's transaction. An error is a decline (stored under the key) or a
  // failure (not stored); the engine classifies it.
  virtual Result<Step> Execute(const Services& s, const Command& c,
                               const CommandContext& x) const = 0;
};

// The typed half: a handler of request type R sees its request as R.
template <class R>
class HandlerOf : public Handler {
 public:
  Result<void> Validate(const Services& s, const Command& c, CommandContext& x) const final {
    return Check(s, c, std::get<R>(c.request), x);
  }
  void DescribeVelocity(const Services& s, const Command& c, const CommandContext& x,
                        guards::VelocityEvent& e) const final {
    Describe(s, std::get<R>(c.request), x, e);
  }
  Result<Step> Execute(const Services& s, const Command& c, const CommandContext& x) const final {
    return Run(s, c, std::get<R>(c.request), x);
  }

 protected:
  virtual Result<void> Check(const Services& s, const Command& c, const R& r,
                             CommandContext& x) const {
    return {};
  }
  virtual void Describe(const Services& s, const R& r, const CommandContext& x,
                        guards::VelocityEvent& e) const {}
  virtual Result<Step> Run(const Services& s, const Command& c, const R& r,
                           const CommandContext& x) const = 0;
};

// The handler of a request (rails/handlers/table.cc).
const Handler& HandlerFor(const Request& request);

// Step helpers shared by handlers.
Step PaymentStep(const payments::Payment& payment, Operation op);
// An online operation's step: the payment decided locally, or the exchange it waits for
// (completed by the push rail when `push`, else by the pull rail).
Step OnlineStep(payments::Prepared prepared, Operation op, bool push);
// The claim an online operation's payment records: the command waiting for its exchange.
payments::Claim ClaimOf(const Command& c, const CommandContext& x);
void SetPayment(Outcome* out, const payments::Payment& payment);
// The ledger reference derived from the scope and key when the caller gave none.
std::string DerivedRef(const std::string& scope, std::string_view key);
// A ref a request names itself may not be in the card rails' namespace (payments::kRefPrefix,
// whose refs the store writes without looking them up): kInvalidArgument naming `field`.
Result<void> CheckCallerRef(std::string_view ref, const char* field);

}  // namespace pay::handlers
