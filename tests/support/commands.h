#pragma once
// Engine commands as the ledger tests write them: a keyed command of a merchant, and a transfer
// of one amount from one account to another.

#include <cstdint>
#include <string>

#include "pay/engine.h"

namespace pay::testing {

inline Command Cmd(std::string key, Request r, std::string merchant = "shop") {
  Command c;
  c.merchant = std::move(merchant);
  c.idempotency_key = std::move(key);
  c.request = std::move(r);
  return c;
}

inline TransferRequest Xfer(const std::string& from, const std::string& to, int64_t amount) {
  TransferRequest t;
  t.entry.postings = {{from, ledger::Side::kDebit, amount}, {to, ledger::Side::kCredit, amount}};
  return t;
}

}  // namespace pay::testing
