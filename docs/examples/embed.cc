// A merchant backend embedding the engine: open it on a SQLite file with the simulated card
// network, authorize a card, capture and refund part of it, prefund and push a payout, read
// balances, and retry with the same idempotency key to see that nothing moves twice.
// Built and run by CI (docs/embedding.md): ./embed [DIRECTORY]

#include <pay/engine.h>
#include <pay/simulator.h>

#include <cstdio>
#include <string>

namespace {

int Fail(const char* what, const pay::Error& e) {
  std::fprintf(stderr, "%s: %s [%s %d]\n", what, e.message.c_str(), std::string(e.name()).c_str(), e.number());
  return 1;
}

pay::Command Cmd(const std::string& key, pay::Request request) {
  pay::Command c;
  c.merchant = "acme";
  c.idempotency_key = key;
  c.request = std::move(request);
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";

  pay::SimulatorOptions sim;
  sim.issuer_db_path = dir + "/embed-issuer.db";
  auto network = pay::CardNetworkSimulator::Open(sim);
  if (!network) return Fail("network", network.error());

  pay::EngineOptions options;
  options.db_path = dir + "/embed.db";
  options.create_if_missing = true;
  options.card_network = network->get();
  options.card_fingerprint_key = "keep this key in a secret store!";
  auto opened = pay::Engine::Open(options);
  if (!opened) return Fail("open", opened.error());
  pay::Engine& engine = **opened;

  // The merchant and its accounts (idempotent: the same attributes again is not an error).
  if (auto r = engine.Submit(Cmd("merchant/acme", pay::CreateMerchantRequest{"acme", "USD", 250, 30})); !r) {
    return Fail("merchant", r.error());
  }

  // Authorize 100.00; a decline would be a result (payment_status "declined"), not an error.
  pay::AuthorizeRequest auth{{"4242424242424242", "12/30", "123"}, 10000, "USD"};
  auto authorized = engine.Submit(Cmd("order-1001", auth));
  if (!authorized) return Fail("authorize", authorized.error());
  std::printf("authorize: %s %s (response %s)\n", authorized->payment_id.c_str(),
              authorized->payment_status.c_str(), authorized->response_code.c_str());
  const std::string payment = authorized->payment_id;

  // A retry with the same key answers the stored result; the card is not charged twice.
  auto again = engine.Submit(Cmd("order-1001", auth));
  if (!again) return Fail("retry", again.error());
  std::printf("retry:     replayed=%s, same payment: %s\n", again->replayed ? "true" : "false",
              again->payment_id == payment ? "yes" : "NO");

  auto captured = engine.Submit(Cmd("ship-1001", pay::CaptureRequest{payment, 8000, true}));
  if (!captured) return Fail("capture", captured.error());
  std::printf("capture:   %s\n", captured->payment_status.c_str());
  auto refunded = engine.Submit(Cmd("return-1001", pay::RefundRequest{payment, 1500}));
  if (!refunded) return Fail("refund", refunded.error());
  std::printf("refund:    %s\n", refunded->payment_status.c_str());
  // Reads are typed views; pay::PaymentJson renders one as the operations answer.
  auto view = engine.GetPayment(payment);
  if (!view) return Fail("read", view.error());
  std::printf("payment:   %s captured %lld, refunded %lld, card ...%s\n",
              std::string(pay::PaymentStatusName(view->status)).c_str(),
              static_cast<long long>(view->captured_minor),
              static_cast<long long>(view->refunded_minor), view->card.last4.c_str());

  // Payouts come out of a prefunded balance.
  if (auto f = engine.Submit(Cmd("topup-1", pay::FundRequest{50000, "USD", std::nullopt})); !f) {
    return Fail("fund", f.error());
  }
  pay::PushRequest payout{{"5555555555554444", "", ""}, 2500, "USD", "FD", "Acme Inc", "INV-7", "Ada Lovelace"};
  auto pushed = engine.Submit(Cmd("payout-7", payout));
  if (!pushed) return Fail("push", pushed.error());
  std::printf("push:      %s %s\n", pushed->payment_id.c_str(), pushed->payment_status.c_str());

  auto settled = engine.Settle();
  if (!settled) return Fail("settle", settled.error());
  for (const char* id : {"m/acme/available", "m/acme/disbursement"}) {
    auto a = engine.GetAccount(id);
    if (!a) return Fail("balance", a.error());
    std::printf("balance:   %-20s %lld (minor units)\n", id, static_cast<long long>(a->balance_minor()));
  }
  auto verify = engine.Verify();
  if (!verify) return Fail("verify", verify.error());
  auto issuer = (*network)->IssuerVerifies();
  if (!issuer) return Fail("issuer", issuer.error());
  std::printf("books:     acquirer %s, issuer %s\n", verify->ok() ? "verified" : "FAILED",
              *issuer ? "verified" : "FAILED");
  return verify->ok() && *issuer && again->replayed ? 0 : 1;
}
