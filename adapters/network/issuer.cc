// The issuer simulator. Its books (one ledger per issuer, its own SQLite file):
//   iss/<CUR>/credit_line   asset, unlimited: the credit the issuer extends to cardholders
//   iss/<CUR>/network       liability, unlimited: what the issuer owes the card network
//   card/<hmac>/<CUR>       liability, no overdraft: the cardholder's open-to-buy
// A card is funded with its open-to-buy on first sight (credit_line -> card). An authorization
// is a hold card -> network; a capture posts (part of) it and keeps the rest held unless final;
// a reversal voids what its original message held; a refund moves network -> card.
// Each payment (RRN) has one record; each applied message (RRN/STAN) has one, which makes
// retransmissions answer the same and reversals know what to undo.

#include "adapters/network/issuer.h"

#include <cstdio>

#include "adapters/network/card_messages.h"
#include "core/card.h"
#include "core/crypto.h"
#include "core/encoding.h"
#include "core/limits.h"
#include "core/record_kinds.h"
#include "core/store.h"
#include "ledger/ledger.h"

namespace pay::network {

namespace {

using iso8583::Message;
using ledger::Posting;
using ledger::Side;

constexpr int32_t kPaymentRecord = store::kIssuerPaymentRecord;
constexpr int32_t kMessageRecord = store::kIssuerMessageRecord;
constexpr int32_t kDeferredRecord = store::kIssuerDeferredRecord;
constexpr std::string_view kFingerprintKey = "issuer-simulator-card-key";
constexpr size_t kFieldBytesMax = 256;

struct PaymentRec {
  std::string card_account;
  std::string currency;
  std::string auth_stan;
  int64_t hold_seq = 0;
  int64_t held_minor = 0;
  int64_t captured_minor = 0;
  int64_t refunded_minor = 0;
  int64_t funded_minor = 0;          // AFT: debited from the card, net of reversals
  int64_t credited_minor = 0;        // OCT: credited to the card
  int64_t pending_credit_minor = 0;  // OCT, deferred: not yet credited (a pending entry)
  int64_t credit_seq = 0;            // the deferred credit's pending entry
};

struct MessageRec {
  CardMessageType type = CardMessageType::kAuthorization;
  std::string response_code;
  std::string auth_code;
  int64_t approved_minor = 0;
  int64_t effect_minor = 0;  // what it added to the hold (authorization, increment)
  bool answered = true;      // false: the response is "lost" (test card 0259)
  bool reversed = false;
  bool deferred = false;     // an OCT whose credit is deferred
};

std::string Encode(const PaymentRec& p) {
  Writer w;
  w.U8(1);
  w.Str(p.card_account);
  w.Str(p.currency);
  w.Str(p.auth_stan);
  w.I64(p.hold_seq);
  w.I64(p.held_minor);
  w.I64(p.captured_minor);
  w.I64(p.refunded_minor);
  w.I64(p.funded_minor);
  w.I64(p.credited_minor);
  w.I64(p.pending_credit_minor);
  w.I64(p.credit_seq);
  return w.Take();
}

Result<PaymentRec> DecodePayment(std::string_view bytes) {
  Reader r(bytes);
  PaymentRec p;
  uint8_t v = 0;
  if (!r.U8(&v) || v != 1 || !r.Str(&p.card_account, kFieldBytesMax) ||
      !r.Str(&p.currency, kFieldBytesMax) || !r.Str(&p.auth_stan, kFieldBytesMax) ||
      !r.I64(&p.hold_seq) || !r.I64(&p.held_minor) || !r.I64(&p.captured_minor) ||
      !r.I64(&p.refunded_minor) || !r.I64(&p.funded_minor) || !r.I64(&p.credited_minor) ||
      !r.I64(&p.pending_credit_minor) || !r.I64(&p.credit_seq) || !r.done()) {
    return MakeError(ErrorCode::kCorruptStore, "issuer: undecodable payment record");
  }
  return p;
}

std::string Encode(const MessageRec& m) {
  Writer w;
  w.U8(1);
  w.U8(static_cast<uint8_t>(m.type));
  w.Str(m.response_code);
  w.Str(m.auth_code);
  w.I64(m.approved_minor);
  w.I64(m.effect_minor);
  w.U8(m.answered ? 1 : 0);
  w.U8(m.reversed ? 1 : 0);
  w.U8(m.deferred ? 1 : 0);
  return w.Take();
}

Result<MessageRec> DecodeMessage(std::string_view bytes) {
  Reader r(bytes);
  MessageRec m;
  uint8_t v = 0, type = 0, answered = 0, reversed = 0, deferred = 0;
  if (!r.U8(&v) || v != 1 || !r.U8(&type) || !r.Str(&m.response_code, kFieldBytesMax) ||
      !r.Str(&m.auth_code, kFieldBytesMax) || !r.I64(&m.approved_minor) ||
      !r.I64(&m.effect_minor) || !r.U8(&answered) || !r.U8(&reversed) || !r.U8(&deferred) ||
      !r.done()) {
    return MakeError(ErrorCode::kCorruptStore, "issuer: undecodable message record");
  }
  m.type = static_cast<CardMessageType>(type);
  m.answered = answered != 0;
  m.reversed = reversed != 0;
  m.deferred = deferred != 0;
  return m;
}

// What a test card does to an authorization (issue 4; docs/network-sim.md).
enum class CardBehaviour { kNormal, kDecline05, kDecline51, kDecline54, kDecline96, kPartial, kNoResponse, kLostResponse };

CardBehaviour BehaviourOf(std::string_view pan) {
  if (pan == "4000000000000002") return CardBehaviour::kDecline05;
  if (pan == "4000000000009995") return CardBehaviour::kDecline51;
  if (pan == "4000000000000069") return CardBehaviour::kDecline54;
  if (pan == "4000000000000119") return CardBehaviour::kDecline96;
  if (pan == "4000000000000077") return CardBehaviour::kPartial;
  if (pan == "4000000000000341") return CardBehaviour::kNoResponse;
  if (pan == "4000000000000259") return CardBehaviour::kLostResponse;
  return CardBehaviour::kNormal;
}

// Push test cards (issue 5): OCTs to 0127 are declined 57; 3220 is credited later (not fast
// funds); 0341 never answers; 0259 is credited and the answer lost.
constexpr std::string_view kOctDeclined = "4000000000000127";
constexpr std::string_view kDeferredCard = "4000000000003220";

std::string AuthCode(std::string_view rrn, std::string_view stan) {
  Sha256Digest d = Sha256(rrn, stan);
  uint32_t n = (static_cast<uint32_t>(d[0]) << 16 | static_cast<uint32_t>(d[1]) << 8 | d[2]) % 1000000;
  char buf[8];
  std::snprintf(buf, sizeof buf, "%06u", n);
  return buf;
}

}  // namespace

struct Issuer::Impl {
  IssuerOptions options;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<ledger::Ledger> ledger;
  Stats stats;

  std::string MessageId(const CardRequest& r) const { return r.rrn + "/" + r.stan; }

  Result<std::optional<PaymentRec>> LoadPayment(const std::string& rrn) {
    PAY_ASSIGN_OR_RETURN(auto row, store->FindRecord(kPaymentRecord, rrn));
    if (!row) return std::optional<PaymentRec>();
    PAY_ASSIGN_OR_RETURN(PaymentRec p, DecodePayment(row->body));
    return std::optional<PaymentRec>(std::move(p));
  }
  Result<void> SavePayment(const std::string& rrn, const PaymentRec& p) {
    store::RecordRow row;
    row.kind = kPaymentRecord;
    row.id = rrn;
    row.body = Encode(p);
    return store->PutRecord(row);
  }
  Result<void> SaveMessage(const std::string& id, const MessageRec& m) {
    store::RecordRow row;
    row.kind = kMessageRecord;
    row.id = id;
    row.body = Encode(m);
    return store->PutRecord(row);
  }

  Result<void> EnsureSystemAccounts(const std::string& cur) {
    ledger::AccountSpec line{"iss/" + cur + "/credit_line", cur, ledger::AccountType::kAsset, ledger::OverdraftMode::kUnlimited, 0, {}};
    PAY_TRY(ledger->CreateAccount(line));
    ledger::AccountSpec net{"iss/" + cur + "/network", cur, ledger::AccountType::kLiability, ledger::OverdraftMode::kUnlimited, 0, {}};
    PAY_TRY(ledger->CreateAccount(net));
    return {};
  }

  // The cardholder's account in `cur`, funded with the open-to-buy on first sight.
  Result<std::string> CardAccount(std::string_view pan, const std::string& cur) {
    std::string id = "card/" + ToHex(HmacSha256(kFingerprintKey, pan)).substr(0, 32) + "/" + cur;
    auto existing = ledger->GetAccount(id);
    if (existing) return id;
    if (existing.error().code != ErrorCode::kUnknownAccount) return existing.error();
    PAY_TRY(EnsureSystemAccounts(cur));
    const Currency* c = FindCurrency(cur);
    int64_t open_to_buy = options.open_to_buy_major;
    for (int i = 0; i < c->exponent; ++i) open_to_buy *= 10;
    ledger::AccountSpec spec{id, cur, ledger::AccountType::kLiability, ledger::OverdraftMode::kNone, 0, {}};
    PAY_TRY(ledger->CreateAccount(spec));
    ledger::EntrySpec fund;
    fund.ref = "fund/" + id;
    fund.description = "open-to-buy";
    fund.postings = {{"iss/" + cur + "/credit_line", Side::kDebit, open_to_buy},
                     {id, Side::kCredit, open_to_buy}};
    PAY_TRY(ledger->CreateEntry(fund));
    return id;
  }

  Result<int64_t> Hold(const std::string& card_account, const std::string& cur, int64_t amount,
                       const std::string& ref) {
    ledger::EntrySpec hold;
    hold.ref = ref;
    hold.pending = true;
    hold.postings = {{card_account, Side::kDebit, amount},
                     {"iss/" + cur + "/network", Side::kCredit, amount}};
    PAY_ASSIGN_OR_RETURN(ledger::Entry e, ledger->CreateEntry(hold));
    return e.seq;
  }

  // Replaces the payment's hold by one of `amount` (0: none).
  Result<void> Rehold(PaymentRec& p, int64_t amount, const std::string& ref) {
    if (p.hold_seq != 0) PAY_TRY(ledger->VoidPending(p.hold_seq, ref + "/void"));
    p.hold_seq = 0;
    p.held_minor = 0;
    if (amount > 0) {
      PAY_ASSIGN_OR_RETURN(p.hold_seq, Hold(p.card_account, p.currency, amount, ref));
      p.held_minor = amount;
    }
    return {};
  }

  Result<int64_t> Available(const std::string& account) {
    PAY_ASSIGN_OR_RETURN(ledger::Account a, ledger->GetAccount(account));
    return a.available_minor();
  }

  // The checks of a card being charged (authorization, AFT): "00" or the decline code.
  std::string CardCheck(const CardRequest& r, CardBehaviour b) const {
    auto expiry = card::ParseExpiry(r.expiry_yymm.size() == 4
                                        ? r.expiry_yymm.substr(2, 2) + "/" + r.expiry_yymm.substr(0, 2)
                                        : r.expiry_yymm);
    if (!card::LuhnValid(r.pan)) return "14";
    if (!expiry || card::Expired(*expiry, options.clock->NowMs())) return "54";
    if (r.cvv == "000") return "05";
    switch (b) {
      case CardBehaviour::kDecline05: return "05";
      case CardBehaviour::kDecline51: return "51";
      case CardBehaviour::kDecline54: return "54";
      case CardBehaviour::kDecline96: return "96";
      default: return "00";
    }
  }

  // Applies one request; the message record says what to answer. Store failures propagate.
  // Every message type has its own step below; each starts from `m` as prepared here (approved
  // in full, "00") and returns the record to store and answer.
  Result<MessageRec> Apply(const CardRequest& r) {
    MessageRec m;
    m.type = r.type;
    m.response_code = "00";
    m.approved_minor = r.amount_minor;
    const std::string ref = "iss/" + MessageId(r);
    PAY_ASSIGN_OR_RETURN(auto payment, LoadPayment(r.rrn));
    const bool opens_payment = r.type == CardMessageType::kFunding ||
                               r.type == CardMessageType::kDisbursement ||
                               r.type == CardMessageType::kAuthorization;
    if (opens_payment && payment) {
      m.response_code = "94";  // a second message that opens a payment under one RRN
      return m;
    }
    switch (r.type) {
      case CardMessageType::kFunding:
        return ApplyFunding(r, payment, ref, std::move(m));
      case CardMessageType::kDisbursement:
        return ApplyDisbursement(r, payment, ref, std::move(m));
      case CardMessageType::kStatusInquiry:
        return ApplyStatusInquiry(r, std::move(m));
      case CardMessageType::kAuthorization:
        return ApplyAuthorization(r, payment, ref, std::move(m));
      case CardMessageType::kIncrement:
        return ApplyIncrement(r, payment, ref, std::move(m));
      case CardMessageType::kCapture:
        return ApplyCapture(r, payment, ref, std::move(m));
      case CardMessageType::kReversal:
        return ApplyReversal(r, payment, ref, std::move(m));
      case CardMessageType::kRefund:
        return ApplyRefund(r, payment, ref, std::move(m));
    }
    m.response_code = "12";
    return m;
  }

  // An AFT (0200, processing code 10): debits the sender's card, with an authorization's checks.
  Result<MessageRec> ApplyFunding(const CardRequest& r, const std::optional<PaymentRec>& payment,
                                  const std::string& ref, MessageRec m) {
    CardBehaviour b = BehaviourOf(r.pan);
    std::string code = CardCheck(r, b);
    if (b == CardBehaviour::kNoResponse) {
      m.answered = false;
      m.response_code = "";
      return m;
    }
    if (code != "00" || b == CardBehaviour::kPartial) {  // no partial funding
      m.response_code = code != "00" ? code : "05";
      m.approved_minor = 0;
      return m;
    }
    PaymentRec p;
    p.currency = r.currency;
    p.auth_stan = r.stan;
    PAY_ASSIGN_OR_RETURN(p.card_account, CardAccount(r.pan, r.currency));
    PAY_ASSIGN_OR_RETURN(int64_t available, Available(p.card_account));
    if (available < r.amount_minor) {
      m.response_code = "51";
      m.approved_minor = 0;
      return m;
    }
    ledger::EntrySpec aft;
    aft.ref = ref;
    aft.description = "account funding";
    aft.postings = {{p.card_account, Side::kDebit, r.amount_minor},
                    {"iss/" + p.currency + "/network", Side::kCredit, r.amount_minor}};
    PAY_TRY(ledger->CreateEntry(aft));
    p.funded_minor = r.amount_minor;
    PAY_TRY(SavePayment(r.rrn, p));
    m.effect_minor = r.amount_minor;
    m.auth_code = AuthCode(r.rrn, r.stan);
    m.answered = b != CardBehaviour::kLostResponse;
    return m;
  }

  // An OCT (0200, processing code 26): credits the recipient's card, now or deferred.
  Result<MessageRec> ApplyDisbursement(const CardRequest& r,
                                       const std::optional<PaymentRec>& payment,
                                       const std::string& ref, MessageRec m) {
    if (!card::LuhnValid(r.pan)) {
      m.response_code = "14";
      m.approved_minor = 0;
      return m;
    }
    CardBehaviour b = BehaviourOf(r.pan);
    if (b == CardBehaviour::kNoResponse) {
      m.answered = false;
      m.response_code = "";
      return m;
    }
    if (r.pan == kOctDeclined) {
      m.response_code = "57";
      m.approved_minor = 0;
      return m;
    }
    PaymentRec p;
    p.currency = r.currency;
    p.auth_stan = r.stan;
    PAY_ASSIGN_OR_RETURN(p.card_account, CardAccount(r.pan, r.currency));
    const bool deferred = options.deferred_credits || r.pan == kDeferredCard;
    ledger::EntrySpec credit;
    credit.ref = ref;
    credit.description = deferred ? "original credit (deferred)" : "original credit";
    credit.pending = deferred;
    credit.postings = {{"iss/" + p.currency + "/network", Side::kDebit, r.amount_minor},
                       {p.card_account, Side::kCredit, r.amount_minor}};
    PAY_ASSIGN_OR_RETURN(ledger::Entry e, ledger->CreateEntry(credit));
    if (deferred) {
      p.pending_credit_minor = r.amount_minor;
      p.credit_seq = e.seq;
      store::RecordRow due{kDeferredRecord, r.rrn, "",
                           options.clock->NowMs() + options.deferred_credit_delay_ms, ""};
      PAY_TRY(store->PutRecord(due));
    } else {
      p.credited_minor = r.amount_minor;
    }
    PAY_TRY(SavePayment(r.rrn, p));
    m.effect_minor = r.amount_minor;
    m.deferred = deferred;
    m.auth_code = AuthCode(r.rrn, r.stan);
    m.answered = b != CardBehaviour::kLostResponse;
    return m;
  }

  // A status inquiry (0600): what became of the message asked about (DE 90): its recorded
  // answer, or 25 (unable to locate: it was never applied).
  Result<MessageRec> ApplyStatusInquiry(const CardRequest& r, MessageRec m) {
    PAY_ASSIGN_OR_RETURN(auto row,
                         store->FindRecord(kMessageRecord, r.rrn + "/" + r.original_stan));
    if (!row) {
      m.response_code = "25";
      m.approved_minor = 0;
      return m;
    }
    PAY_ASSIGN_OR_RETURN(MessageRec original, DecodeMessage(row->body));
    m.response_code = original.response_code;
    m.approved_minor = original.approved_minor;
    m.auth_code = original.auth_code;
    m.deferred = original.deferred;
    return m;
  }

  // An authorization (0100): a hold card -> network, in full or (test card 0077) half.
  Result<MessageRec> ApplyAuthorization(const CardRequest& r,
                                        const std::optional<PaymentRec>& payment,
                                        const std::string& ref, MessageRec m) {
    CardBehaviour b = BehaviourOf(r.pan);
    std::string code = CardCheck(r, b);
    if (b == CardBehaviour::kNoResponse) {
      m.answered = false;
      m.response_code = "";
      return m;
    }
    if (code != "00") {
      m.response_code = code;
      m.approved_minor = 0;
      return m;
    }
    int64_t amount = r.amount_minor;
    if (b == CardBehaviour::kPartial) {
      amount = std::max<int64_t>(1, r.amount_minor / 2);
      m.response_code = "10";
    }
    PaymentRec p;
    p.currency = r.currency;
    p.auth_stan = r.stan;
    PAY_ASSIGN_OR_RETURN(p.card_account, CardAccount(r.pan, r.currency));
    PAY_ASSIGN_OR_RETURN(int64_t available, Available(p.card_account));
    if (available < amount) {
      m.response_code = "51";
      m.approved_minor = 0;
      return m;
    }
    PAY_ASSIGN_OR_RETURN(p.hold_seq, Hold(p.card_account, p.currency, amount, ref));
    p.held_minor = amount;
    PAY_TRY(SavePayment(r.rrn, p));
    m.approved_minor = amount;
    m.effect_minor = amount;
    m.auth_code = AuthCode(r.rrn, r.stan);
    m.answered = b != CardBehaviour::kLostResponse;
    return m;
  }

  // An incremental authorization: the payment's hold grows by the amount.
  Result<MessageRec> ApplyIncrement(const CardRequest& r, std::optional<PaymentRec>& payment,
                                    const std::string& ref, MessageRec m) {
    if (!payment || payment->hold_seq == 0 || payment->currency != r.currency) {
      m.response_code = "12";
      m.approved_minor = 0;
      return m;
    }
    PaymentRec& p = *payment;
    PAY_ASSIGN_OR_RETURN(int64_t available, Available(p.card_account));
    if (available < r.amount_minor) {
      m.response_code = "51";
      m.approved_minor = 0;
      return m;
    }
    PAY_TRY(Rehold(p, p.held_minor + r.amount_minor, ref));
    PAY_TRY(SavePayment(r.rrn, p));
    m.effect_minor = r.amount_minor;
    m.auth_code = AuthCode(r.rrn, r.stan);
    return m;
  }

  // A capture: posts (part of) the hold; the rest stays held unless the capture is final.
  Result<MessageRec> ApplyCapture(const CardRequest& r, std::optional<PaymentRec>& payment,
                                  const std::string& ref, MessageRec m) {
    if (!payment || payment->hold_seq == 0 || r.amount_minor <= 0 ||
        r.amount_minor > payment->held_minor) {
      m.response_code = "12";
      return m;
    }
    PaymentRec& p = *payment;
    const int64_t rest = p.held_minor - r.amount_minor;
    PAY_TRY(ledger->PostPending(p.hold_seq, r.amount_minor, ref + "/post"));
    p.hold_seq = 0;
    p.held_minor = 0;
    p.captured_minor += r.amount_minor;
    if (!r.final_capture && rest > 0) {
      PAY_ASSIGN_OR_RETURN(p.hold_seq, Hold(p.card_account, p.currency, rest, ref));
      p.held_minor = rest;
    }
    PAY_TRY(SavePayment(r.rrn, p));
    return m;
  }

  // A reversal (0400): undoes what the original message (DE 90) did, if it did anything;
  // acknowledged either way.
  Result<MessageRec> ApplyReversal(const CardRequest& r, std::optional<PaymentRec>& payment,
                                   const std::string& ref, MessageRec m) {
    const std::string original_id = r.rrn + "/" + r.original_stan;
    PAY_ASSIGN_OR_RETURN(auto row, store->FindRecord(kMessageRecord, original_id));
    if (!row || !payment) return m;
    PAY_ASSIGN_OR_RETURN(MessageRec original, DecodeMessage(row->body));
    if (original.reversed || original.effect_minor == 0) return m;
    PaymentRec& p = *payment;
    if (original.type == CardMessageType::kAuthorization) {
      PAY_TRY(Rehold(p, 0, ref));  // releases what remains held
    } else if (original.type == CardMessageType::kIncrement) {
      PAY_TRY(Rehold(p, std::max<int64_t>(0, p.held_minor - original.effect_minor), ref));
    } else if (original.type == CardMessageType::kFunding) {
      // The sender is given back what the AFT took.
      ledger::EntrySpec back;
      back.ref = ref;
      back.description = "account funding reversed";
      back.postings = {{"iss/" + p.currency + "/network", Side::kDebit, original.effect_minor},
                       {p.card_account, Side::kCredit, original.effect_minor}};
      PAY_TRY(ledger->CreateEntry(back));
      p.funded_minor -= original.effect_minor;
    } else {
      return m;  // an OCT is final: nothing to undo
    }
    original.reversed = true;
    PAY_TRY(SaveMessage(original_id, original));
    PAY_TRY(SavePayment(r.rrn, p));
    return m;
  }

  // A refund: moves network -> card, at most what was captured in total.
  Result<MessageRec> ApplyRefund(const CardRequest& r, std::optional<PaymentRec>& payment,
                                 const std::string& ref, MessageRec m) {
    if (!payment || r.amount_minor <= 0 ||
        payment->refunded_minor + r.amount_minor > payment->captured_minor) {
      m.response_code = "13";
      return m;
    }
    PaymentRec& p = *payment;
    ledger::EntrySpec refund;
    refund.ref = ref;
    refund.description = "refund";
    refund.postings = {{"iss/" + p.currency + "/network", Side::kDebit, r.amount_minor},
                       {p.card_account, Side::kCredit, r.amount_minor}};
    PAY_TRY(ledger->CreateEntry(refund));
    p.refunded_minor += r.amount_minor;
    PAY_TRY(SavePayment(r.rrn, p));
    return m;
  }

  // One message: the stored answer for a retransmission, else apply and record.
  Result<std::optional<Message>> HandleOne(const Message& msg) {
    ++stats.messages;
    auto request = FromMessage(msg);
    if (!request) {
      CardResponse format_error{"30", "", 0};
      return std::optional<Message>(ToResponseMessage(msg, format_error));
    }
    const std::string id = MessageId(*request);
    PAY_ASSIGN_OR_RETURN(auto seen, store->FindRecord(kMessageRecord, id));
    MessageRec m;
    if (seen) {
      ++stats.duplicates;
      PAY_ASSIGN_OR_RETURN(m, DecodeMessage(seen->body));
    } else {
      PAY_ASSIGN_OR_RETURN(m, Apply(*request));
      if (!m.response_code.empty()) PAY_TRY(SaveMessage(id, m));
    }
    if (!m.answered) {
      ++stats.unanswered;
      return std::optional<Message>();
    }
    CardResponse response{m.response_code, m.auth_code, m.approved_minor, m.deferred};
    return std::optional<Message>(ToResponseMessage(msg, response));
  }
};

Issuer::Issuer() : impl_(std::make_unique<Impl>()) {}
Issuer::~Issuer() = default;

Result<std::unique_ptr<Issuer>> Issuer::Open(const IssuerOptions& options) {
  if (options.clock == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "issuer: a clock is required");
  }
  std::unique_ptr<Issuer> issuer(new Issuer());
  Impl& impl = *issuer->impl_;
  impl.options = options;
  store::StoreOptions so;
  so.create_if_missing = options.create_if_missing;
  so.durability = options.durable ? store::Durability::kFull : store::Durability::kNormal;
  so.page_cache_kib = limits::kIssuerPageCacheKib;
  PAY_ASSIGN_OR_RETURN(impl.store, store::OpenSqliteStore(options.db_path, so));
  impl.ledger = std::make_unique<ledger::Ledger>(*impl.store, *options.clock,
                                                 limits::kIssuerCachedAccountsMax);
  return issuer;
}

std::vector<std::optional<Message>> Issuer::Handle(std::span<const Message> messages) {
  std::vector<std::optional<Message>> out;
  out.reserve(messages.size());
  Impl& impl = *impl_;
  if (!impl.ledger->Begin()) {
    out.resize(messages.size());
    return out;
  }
  for (const Message& m : messages) {
    auto r = impl.HandleOne(m);
    if (!r) {
      // The issuer's own store failed: it answers nothing (the acquirer times out and reverses).
      impl.ledger->Rollback();
      out.assign(messages.size(), std::nullopt);
      return out;
    }
    out.push_back(std::move(*r));
  }
  if (!impl.ledger->Commit()) out.assign(messages.size(), std::nullopt);
  return out;
}

Result<std::optional<IssuerPaymentView>> Issuer::Payment(const std::string& rrn) {
  PAY_ASSIGN_OR_RETURN(auto p, impl_->LoadPayment(rrn));
  if (!p) return std::optional<IssuerPaymentView>();
  return std::optional<IssuerPaymentView>(IssuerPaymentView{
      rrn, p->currency, p->held_minor, p->captured_minor, p->refunded_minor, p->funded_minor,
      p->credited_minor, p->pending_credit_minor});
}

Result<std::vector<IssuerPaymentView>> Issuer::Payments() {
  std::vector<IssuerPaymentView> out;
  std::string after;
  for (;;) {
    PAY_ASSIGN_OR_RETURN(auto rows, impl_->store->ListRecords(kPaymentRecord, "", after, 1000));
    for (const auto& row : rows) {
      PAY_ASSIGN_OR_RETURN(PaymentRec p, DecodePayment(row.body));
      out.push_back({row.id, p.currency, p.held_minor, p.captured_minor, p.refunded_minor,
                     p.funded_minor, p.credited_minor, p.pending_credit_minor});
    }
    if (rows.size() < 1000) return out;
    after = rows.back().id;
  }
}

Result<size_t> Issuer::ReleaseDeferred() {
  Impl& impl = *impl_;
  PAY_TRY(impl.ledger->Begin());
  auto fail = [&](const Error& e) -> Result<size_t> {
    impl.ledger->Rollback();
    return e;
  };
  auto due = impl.store->DueRecords(kDeferredRecord, impl.options.clock->NowMs(), 1000);
  if (!due) return fail(due.error());
  size_t n = 0;
  for (const auto& row : *due) {
    auto p = impl.LoadPayment(row.id);
    if (!p) return fail(p.error());
    if (*p && (*p)->credit_seq != 0) {
      PaymentRec rec = **p;
      if (auto e = impl.ledger->PostPending(rec.credit_seq, std::nullopt, "iss/" + row.id + "/credit"); !e) {
        return fail(e.error());
      }
      rec.credited_minor += rec.pending_credit_minor;
      rec.pending_credit_minor = 0;
      rec.credit_seq = 0;
      if (auto s = impl.SavePayment(row.id, rec); !s) return fail(s.error());
      ++n;
    }
    if (auto d = impl.store->DeleteRecord(kDeferredRecord, row.id); !d) return fail(d.error());
  }
  PAY_TRY(impl.ledger->Commit());
  return n;
}

Result<ledger::VerifyReport> Issuer::Verify() { return impl_->ledger->Verify(); }

Issuer::Stats Issuer::stats() const { return impl_->stats; }

}  // namespace pay::network
