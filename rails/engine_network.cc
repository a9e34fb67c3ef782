// The engine's network phases: the exchanges a batch's online operations wait for, the
// delivery of queued advices, and recovery at start-up (docs/engine.md).

#include <algorithm>
#include <chrono>

#include "core/limits.h"
#include "rails/engine_impl.h"

namespace pay::engine_internal {

// ---- the network phases ---------------------------------------------------------------------

// Phase two of a batch: the network's answers to its online card operations, applied in one
// more transaction per round (a P2P whose AFT is approved sends its OCT in the next round). If a
// round's transaction fails, its payments stay pending and the next batch (or start-up) resolves
// them as unknown, with reversals.
void EngineImpl::ExchangePending(Batch& b) {
  std::vector<Pending> round = std::move(b.pending);
  b.pending.clear();
  std::vector<std::string> ids;
  ids.reserve(round.size());
  for (const Pending& p : round) ids.push_back(p.exchange.payment_id);
  while (!round.empty()) {
    std::vector<CardRequest> requests;
    requests.reserve(round.size());
    for (const Pending& p : round) requests.push_back(p.exchange.request);
    auto responses = Exchange(requests);  // off the writer's lock
    std::lock_guard lock(mu_);
    std::vector<Pending> next;
    if (!CompleteRound(b, round, responses, &next) || next.empty()) {
      for (const std::string& id : ids) exchanging_.erase(id);
      return;
    }
    round = std::move(next);
  }
}

// One exchange with the network, which serves one caller at a time (CardNetwork's contract).
// Never called with the writer's lock held.
std::vector<Result<CardResponse>> EngineImpl::Exchange(std::span<const CardRequest> requests) {
  std::lock_guard lock(net_mu_);
  return options_.card_network->Exchange(requests);
}

// Applies one round's answers; false when its transaction failed (every command of the round
// then answers with that error).
bool EngineImpl::CompleteRound(Batch& b, std::vector<Pending>& round,
                               const std::vector<Result<CardResponse>>& responses,
                               std::vector<Pending>* next) {
  auto fail_round = [&](const Error& e) {
    for (const Pending& p : round) {
      orphaned_.insert(p.exchange.payment_id);
      b.out[p.index] = e;
    }
    clock_->Set(0);
    return false;
  };
  if (auto r = Begin(); !r) return fail_round(r.error());
  std::vector<std::pair<size_t, Outcome>> answers;
  for (size_t i = 0; i < round.size(); ++i) {
    Pending& pe = round[i];
    clock_->Set(pe.event_time_ms);
    Result<CardResponse> response =
        i < responses.size() ? responses[i]
                             : Result<CardResponse>(MakeError(ErrorCode::kNetworkTimeout, "no response"));
    bool follow_up = false;
    auto payment = CompleteExchange(pe.exchange.push, pe.exchange.payment_id,
                                    pe.exchange.request.stan, response, &follow_up);
    if (!payment) {
      RollbackAll();
      return fail_round(payment.error());
    }
    Outcome o = handlers::PaymentStep(*payment, pe.operation).outcome;
    if (follow_up && pe.exchange.follow_up) {
      Pending nx = std::move(pe);
      nx.exchange.request = std::move(*nx.exchange.follow_up);
      nx.exchange.follow_up.reset();
      nx.exchange.request.stan = payment->stan;
      nx.exchange.request.rrn = payment->rrn;
      nx.exchange.request.transmitted_at_ms = clock_->NowMs();
      next->push_back(std::move(nx));
      continue;
    }
    if (payment->in_doubt()) {
      b.in_doubt.push_back(pe.index);  // answered as it stands; the claim stays open
    } else if (pe.guarded) {
      if (auto s = keys_->CompleteClaim(KeyOf(pe.claim), o.body, o.entry_id); !s) {
        RollbackAll();
        return fail_round(s.error());
      }
    }
    answers.emplace_back(pe.index, std::move(o));
  }
  clock_->Set(0);
  if (auto c = Commit(); !c) {
    for (const Pending& p : *next) b.out[p.index] = c.error();
    return fail_round(c.error());
  }
  for (auto& [index, o] : answers) b.out[index] = std::move(o);
  return true;
}

// The answer to one exchange, applied by the rail of the payment's kind.
Result<payments::Payment> EngineImpl::CompleteExchange(bool push, const std::string& payment_id,
                                                       const std::string& stan,
                                                       const Result<CardResponse>& response,
                                                       bool* follow_up) {
  if (!push) return pull_->Complete(payment_id, stan, response);
  PAY_ASSIGN_OR_RETURN(push::Completion c, push_->Complete(payment_id, stan, response));
  *follow_up = c.send_follow_up;
  return std::move(c.payment);
}

// Delivers queued advices, oldest first and one per payment at a time, for up to
// network_rounds_max rounds. Acknowledged reversals resolve payments in doubt and complete the
// claims that waited on them (and, for a batch, the answers it gave). Returns how many advices
// remain queued (0, or 1 standing for "some").
Result<size_t> EngineImpl::DeliverAdvices(Batch* b) {
  // One deliverer at a time, so that no advice is sent twice by two batches; the writer's lock
  // is taken for the outbox reads and the acknowledgements, not across the exchange.
  std::lock_guard delivering(advice_mu_);
  auto next_advices = [&] {
    std::lock_guard lock(mu_);
    return book_->NextAdvices(limits::kAdvicesPerRoundMax);
  };
  if (options_.card_network != nullptr) {
    for (int round = 0; round < options_.network_rounds_max; ++round) {
      PAY_ASSIGN_OR_RETURN(auto advices, next_advices());
      if (advices.empty()) return 0;
      std::vector<CardRequest> requests;
      requests.reserve(advices.size());
      for (const auto& a : advices) requests.push_back(a.request);
      auto responses = Exchange(requests);
      std::lock_guard lock(mu_);
      PAY_TRY(InTransaction([&]() -> Result<void> {
        for (size_t i = 0; i < advices.size(); ++i) {
          if (i >= responses.size() || !responses[i]) continue;  // stays queued
          PAY_TRY(AcknowledgeAdvice(b, advices[i], *responses[i]));
        }
        return {};
      }));
    }
  }
  std::lock_guard lock(mu_);
  PAY_ASSIGN_OR_RETURN(bool any, book_->HasAdvices());
  return any ? 1 : 0;
}

void EngineImpl::Wake() {
  {
    std::lock_guard lock(wake_mu_);
    wake_pending_ = true;
  }
  wake_.notify_one();
}

// The background deliverer: delivers what batches queued as soon as they say so, retries what
// the network did not acknowledge every advice_retry_ms, and at that pace also gives up
// exchanges left open past the grace (a crashed process's, or this one's whose second phase
// failed), so that their keys answer again without a restart or `payment resolve`.
void EngineImpl::DeliverInBackground() {
  const auto retry = std::chrono::milliseconds(std::max<int64_t>(1, options_.advice_retry_ms));
  auto next_sweep = std::chrono::steady_clock::now() + retry;
  for (;;) {
    {
      std::unique_lock lock(wake_mu_);
      wake_.wait_for(lock, retry, [&] { return stopping_ || wake_pending_; });
      if (stopping_) return;
      wake_pending_ = false;
    }
    if (std::chrono::steady_clock::now() >= next_sweep) {
      next_sweep = std::chrono::steady_clock::now() + retry;
      std::lock_guard lock(mu_);
      (void)RecoverPayments();
    }
    (void)DeliverAdvices(nullptr);
  }
}

Result<void> EngineImpl::AcknowledgeAdvice(Batch* b, const payments::Advice& advice,
                                           const CardResponse& response) {
  PAY_ASSIGN_OR_RETURN(auto resolved, advice.request.type == CardMessageType::kStatusInquiry
                                          ? push_->Acknowledge(advice, response)
                                          : pull_->Acknowledge(advice));
  if (!resolved || resolved->claim.empty()) return {};
  const payments::Payment& p = *resolved;
  Outcome o = handlers::PaymentStep(p, static_cast<Operation>(p.claim.operation)).outcome;
  PAY_TRY(keys_->CompleteClaim(KeyOf(p.claim), o.body, o.entry_id));
  if (b == nullptr) return {};
  for (size_t index : b->in_doubt) {
    if (index < b->out.size() && b->out[index] && b->out[index]->payment_id == p.id) {
      b->out[index] = o;
    }
  }
  return {};
}

// ---- recovery -------------------------------------------------------------------------------

// Start-up: a record left in flight belongs to a command whose outcome was never stored (see
// guards::Keys::Recover).
Result<void> EngineImpl::RecoverInFlight() {
  for (;;) {
    PAY_ASSIGN_OR_RETURN(auto rows, keys_->InFlight(256));
    if (rows.empty()) return {};
    PAY_ASSIGN_OR_RETURN(auto r, InTransaction([&] { return keys_->Recover(*ledger_, rows); }));
    recovery_.completed += r.completed;
    recovery_.released += r.released;
    if (r.skipped == rows.size()) return {};
  }
}

// Payments left pending by a crash (open for at least the grace) or by this process's failed
// second phase (at once) become unknown, reversal queued. Exchanges another batch of this
// process has on the network are not stale, whatever their age; nor are another live node's
// younger than the grace. Under the writer's lock.
Result<void> EngineImpl::RecoverPayments() {
  PAY_ASSIGN_OR_RETURN(bool open, book_->HasOpenExchanges());
  if (open) {
    PAY_ASSIGN_OR_RETURN(size_t n, InTransaction([&]() -> Result<size_t> {
      PAY_ASSIGN_OR_RETURN(auto stale, book_->StaleExchanges(options_.exchange_grace_ms, exchanging_, orphaned_));
      for (const auto& x : stale) {
        bool follow_up = false;
        PAY_TRY(CompleteExchange(x.payment.kind != payments::PaymentKind::kPull, x.payment.id,
                                 x.stan,
                                 MakeError(ErrorCode::kNetworkTimeout,
                                           "no answer recorded before a restart"),
                                 &follow_up));
      }
      return stale.size();
    }));
    recovery_.payments_in_doubt += n;
  }
  orphaned_.clear();
  return {};
}

}  // namespace pay::engine_internal
