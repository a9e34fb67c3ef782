#pragma once
// Every product's handler, one line each (the table in table.cc maps request types to them).
// Adding a product: a request type in include/pay/engine.h, a handler (one of the *_handlers.cc
// files or a new one), its line here and in table.cc, its docs and tests.

#include "rails/handlers/handler.h"

namespace pay::handlers {

// Ledger (ledger_handlers.cc).
const Handler& CreateAccount();
const Handler& Transfer();
const Handler& PostPending();
const Handler& VoidPending();
const Handler& Reverse();
// Card pull payments and merchants (pull_handlers.cc).
const Handler& CreateMerchant();
const Handler& Authorize();
const Handler& Increment();
const Handler& Capture();
const Handler& VoidPayment();
const Handler& Refund();
// Push payments (push_handlers.cc).
const Handler& Fund();
const Handler& Push();
const Handler& P2p();

}  // namespace pay::handlers
