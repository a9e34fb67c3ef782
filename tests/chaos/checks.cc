// The campaign's checks, after paymentd stopped: the answers against themselves, then both
// ledgers opened in this process (the acquirer through the engine, the issuer simulator's own
// file) and compared payment by payment.

#include <cstdio>
#include <set>

#include "adapters/network/issuer.h"
#include "core/json_fields.h"
#include "pay/clock.h"
#include "pay/engine.h"
#include "tests/chaos/campaign.h"

namespace pay::chaos {

namespace {

bool Unsettled(const std::string& status) {
  return status == "unknown" || status == "pending" || status == "submitted";
}

void Report(const char* what, const Record& r) {
  std::fprintf(stderr, "chaos: %s: key %s %s\n  first %d %s\n  again %d %s\n", what, r.key.c_str(),
               r.path.c_str(), r.first.status, r.first.body.c_str(), r.last.status,
               r.last.body.c_str());
}

}  // namespace

// Every final answer comes back the same (an answer given while the payment was in doubt comes
// back with its resolution, for the same payment, a 402 when it was declined); every key ends with a final answer; a
// payment is named by one key only.
void Campaign::CheckAnswers(std::map<std::string, std::string>* key_of_payment) {
  for (const Client& c : clients_) {
    for (const Record& r : c.records) {
      if (!Answered(r.last)) {
        ++f_.unresolved;
        Report("no final answer", r);
        continue;
      }
      if (Stored(r.first)) {
        const bool in_doubt = Unsettled(JsonStringField(r.first.body, "status"));
        // In doubt, the resolution may differ (approved: 200; declined: 402 with the payment
        // inside), for the same payment.
        const bool same = in_doubt ? JsonStringField(r.first.body, "payment_id") ==
                                         JsonStringField(r.last.body, "payment_id")
                                   : r.first.status == r.last.status && r.first.body == r.last.body;
        if (!same) {
          ++f_.changed;
          Report("answered otherwise", r);
        }
      }
      const bool creates = r.kind == "authorize" || r.kind == "disbursement" || r.kind == "p2p";
      // A payment is made by an execution (200) or recorded declined (402 card_declined, the
      // payment inside the error).
      const bool declined = r.last.status == 402 && JsonStringField(r.last.body, "code") == "card_declined";
      if (!creates || (r.last.status != 200 && !declined)) continue;
      const std::string id = JsonStringField(r.last.body, "payment_id");
      auto [it, fresh] = key_of_payment->emplace(id, r.key);
      if (!fresh && it->second != r.key) {
        ++f_.doubled;
        Report("payment named by two keys", r);
      }
    }
  }
}

// The books: both verify; every payment is one some key's answer names (else a key executed
// twice), every named payment exists, none is left in doubt, and the issuer agrees.
void Campaign::CheckBooks(const std::map<std::string, std::string>& key_of_payment) {
  EngineOptions eo;
  eo.db_path = Db();
  auto engine = Engine::Open(eo);
  SystemClock clock;
  network::IssuerOptions io;
  io.db_path = IssuerDb();
  io.create_if_missing = false;
  io.clock = &clock;
  auto issuer = network::Issuer::Open(io);
  if (!engine || !issuer) {
    std::fprintf(stderr, "chaos: cannot open the books: %s\n",
                 (!engine ? engine.error() : issuer.error()).message.c_str());
    return;
  }
  auto v = (*engine)->Verify();
  auto iv = (*issuer)->Verify();
  f_.verify_acquirer = v && v->ok();
  f_.verify_issuer = iv && iv->ok();
  std::map<std::string, network::IssuerPaymentView> by_rrn;
  if (auto views = (*issuer)->Payments()) {
    for (auto& p : *views) by_rrn[p.rrn] = p;
  }
  auto view = [&](const std::string& rrn) {
    auto it = by_rrn.find(rrn);
    return it == by_rrn.end() ? network::IssuerPaymentView{} : it->second;
  };
  std::set<std::string> seen;
  std::string after;
  for (;;) {
    auto page = (*engine)->ListPayments("", after, 1000);
    if (!page || page->items.empty()) break;
    for (const PaymentView& pv : page->items) {
      const std::string p = PaymentJson(pv);
      const std::string id = JsonStringField(p, "payment_id");
      const std::string status = JsonStringField(p, "status");
      const std::string type = JsonStringField(p, "type");
      seen.insert(id);
      ++f_.payments;
      if (!key_of_payment.count(id)) {
        ++f_.doubled;
        std::fprintf(stderr, "chaos: a payment no answer names: %s\n", p.c_str());
      }
      if (Unsettled(status)) {
        ++f_.unresolved;
        std::fprintf(stderr, "chaos: left unresolved: %s\n", p.c_str());
      }
      const auto side = view(JsonStringField(p, "rrn"));
      bool agree = true;
      if (type.empty()) {
        agree = JsonIntField(p, "capturable_minor") == side.held_minor &&
                JsonIntField(p, "captured_minor") == side.captured_minor &&
                JsonIntField(p, "refunded_minor") == side.refunded_minor;
      } else {
        const bool delivered = status == "completed" || status == "pending_credit";
        agree = side.credited_minor + side.pending_credit_minor ==
                (delivered ? JsonIntField(p, "amount_minor") : 0);
        if (type == "p2p") {
          agree = agree && view(JsonStringField(p, "funding_rrn")).funded_minor ==
                               JsonIntField(p, "funded_minor");
        }
      }
      if (!agree) {
        ++f_.disagreeing;
        std::fprintf(stderr, "chaos: the issuer sees otherwise: %s\n", p.c_str());
      }
    }
    after = page->items.back().id;
  }
  for (const auto& [id, key] : key_of_payment) {
    if (!seen.count(id)) {
      ++f_.lost;
      std::fprintf(stderr, "chaos: key %s answered payment %s, which the books do not have\n",
                   key.c_str(), id.c_str());
    }
  }
}

bool Campaign::Check() {
  std::map<std::string, std::string> key_of_payment;
  CheckAnswers(&key_of_payment);
  CheckBooks(key_of_payment);
  return f_.changed == 0 && f_.doubled == 0 && f_.lost == 0 && f_.unresolved == 0 &&
         f_.disagreeing == 0 && f_.verify_acquirer && f_.verify_issuer;
}

}  // namespace pay::chaos
