// The Stripe-compatible routes (adapters/server/stripe.h, docs/stripe-compat.md): each reads
// Stripe's form parameters, refuses what it does not know by name, and hands the engine the same
// commands the native routes do. Reads answer at once; writes go to the writer, and their answer
// is rendered from the committed outcome (an automatic capture is a second command, chained).
//
// Idempotency: the request's Idempotency-Key (Stripe's clients send one on every POST), or a
// fresh random key when there is none (Stripe's own behaviour: a POST without a key is not
// deduplicated). An automatic capture runs under the key + "/capture", so a retried create
// replays both steps and a create cut off between them completes on its retry.

#include <cctype>
#include <cstdio>

#include "adapters/requests/requests.h"
#include "adapters/server/stripe.h"
#include "core/crypto.h"
#include "core/json_writer.h"

namespace pay::server::stripe {

namespace {

constexpr size_t kListLimitDefault = 10;
constexpr size_t kListLimitMax = 100;
constexpr int kListScanRoundsMax = 10;  // filtered pages of kFilterScanRowsMax rows each
constexpr size_t kKeyBytesMax = 247;    // 255 less the "/capture" of an automatic capture
constexpr size_t kRefundScanPage = 100;
constexpr std::string_view kTestExpiry = "12/34";
constexpr std::string_view kCaptureSuffix = "/capture";

// ---- parameters -------------------------------------------------------------------------------

HttpResponse Missing(std::string_view param) {
  return ErrorAnswer(400, "invalid_request_error", "parameter_missing",
                     "Missing required param: " + std::string(param) + ".", param);
}

HttpResponse Invalid(std::string_view param, const std::string& message) {
  return ErrorAnswer(400, "invalid_request_error", "parameter_invalid", std::string(param) + ": " + message, param);
}

HttpResponse NoSuch(std::string_view noun, std::string_view id, std::string_view param = "id") {
  return ErrorAnswer(404, "invalid_request_error", "resource_missing",
                     "No such " + std::string(noun) + ": '" + std::string(id.substr(0, 64)) + "'", param);
}

// The names a route takes: exact names, and "name[" prefixes for nested ones.
bool Known(const std::string& name, std::initializer_list<std::string_view> known) {
  for (std::string_view k : known) {
    if (k.ends_with('[') ? name.starts_with(k) && name.ends_with(']') : name == k) return true;
  }
  return false;
}

// The form of a POST body or a GET query, every name one the route takes.
Result<Form> Params(const Call& c, std::initializer_list<std::string_view> known, HttpResponse* refused) {
  std::string_view encoded = c.request.body;
  if (c.request.method == "GET") {
    const size_t q = c.request.target.find('?');
    encoded = q == std::string::npos ? std::string_view() : std::string_view(c.request.target).substr(q + 1);
  } else if (!c.request.content_type.empty() &&
             !c.request.content_type.starts_with("application/x-www-form-urlencoded")) {
    *refused = ErrorAnswer(400, "invalid_request_error", "invalid_content_type",
                           "Content-Type: the Stripe-compatible routes take application/x-www-form-urlencoded "
                           "bodies (as Stripe's clients send them), not " + c.request.content_type.substr(0, 64));
    return MakeError(ErrorCode::kInvalidArgument, "content type");
  }
  auto form = Form::Parse(encoded);
  if (!form) {
    *refused = ErrorAnswer(400, "invalid_request_error", "parameter_invalid", form.error().message);
    return form.error();
  }
  for (const std::string& name : form->Names()) {
    if (Known(name, known)) continue;
    *refused = ErrorAnswer(400, "invalid_request_error", "parameter_unknown",
                           "Received unknown parameter: " + name.substr(0, 200), name.substr(0, 200));
    return MakeError(ErrorCode::kInvalidArgument, "unknown parameter");
  }
  return form;
}

// An amount in minor units, > 0; nullopt with `*refused` set when it is absent (and required) or
// malformed.
std::optional<std::optional<int64_t>> Amount(const Form& f, std::string_view name, bool required, HttpResponse* refused) {
  auto v = f.Int(name);
  if (!v) {
    *refused = ErrorAnswer(400, "invalid_request_error", "parameter_invalid_integer", v.error().message, name);
    return std::nullopt;
  }
  if (!*v && required) {
    *refused = Missing(name);
    return std::nullopt;
  }
  if (*v && **v <= 0) {
    *refused = Invalid(name, "must be a positive integer in the currency's smallest unit");
    return std::nullopt;
  }
  return *v;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

PaymentNotes NotesOf(const Form& f) {
  PaymentNotes notes;
  notes.description = f.Get("description").value_or("");
  for (auto& [k, v] : f.Under("metadata")) {
    if (!v.empty()) notes.metadata.emplace_back(k, v);  // Stripe: an empty value unsets the key
  }
  return notes;
}

// Stripe's test PaymentMethods, as the simulator's test cards.
std::optional<std::string_view> TestCard(std::string_view pm) {
  static constexpr std::pair<std::string_view, std::string_view> kCards[] = {
      {"pm_card_visa", "4242424242424242"},
      {"pm_card_visa_debit", "4000056655665556"},
      {"pm_card_mastercard", "5555555555554444"},
      {"pm_card_mastercard_debit", "5200828282828210"},
      {"pm_card_chargeDeclined", "4000000000000002"},
      {"pm_card_chargeDeclinedInsufficientFunds", "4000000000009995"},
      {"pm_card_chargeDeclinedExpiredCard", "4000000000000069"},
      {"pm_card_chargeDeclinedProcessingError", "4000000000000119"},
  };
  for (auto [id, pan] : kCards) {
    if (id == pm) return pan;
  }
  return std::nullopt;
}

// payment_method (a test id) or payment_method_data[card][...] as the card to charge.
std::optional<CardInput> CardOf(const Form& f, HttpResponse* refused) {
  if (auto pm = f.Get("payment_method")) {
    if (auto pan = TestCard(*pm)) return CardInput{std::string(*pan), std::string(kTestExpiry), ""};
    *refused = ErrorAnswer(400, "invalid_request_error", "resource_missing",
                           "No such PaymentMethod: '" + pm->substr(0, 64) + "' (the test ids of docs/stripe-compat.md are known)",
                           "payment_method");
    return std::nullopt;
  }
  if (!f.Has("payment_method_data[type]")) {
    *refused = Missing("payment_method");
    return std::nullopt;
  }
  if (f.Get("payment_method_data[type]") != "card") {
    *refused = Invalid("payment_method_data[type]", "only card is supported");
    return std::nullopt;
  }
  auto number = f.Get("payment_method_data[card][number]");
  auto month = f.Int("payment_method_data[card][exp_month]");
  auto year = f.Int("payment_method_data[card][exp_year]");
  if (!number) {
    *refused = Missing("payment_method_data[card][number]");
  } else if (!month || !*month || **month < 1 || **month > 12) {
    *refused = Invalid("payment_method_data[card][exp_month]", "a month from 1 to 12");
  } else if (!year || !*year || **year < 2000 || **year > 2099) {
    *refused = Invalid("payment_method_data[card][exp_year]", "a four-digit year");
  } else {
    char expiry[8];
    std::snprintf(expiry, sizeof expiry, "%02d/%02d", static_cast<int>(**month), static_cast<int>(**year % 100));
    return CardInput{*number, expiry, f.Get("payment_method_data[card][cvc]").value_or("")};
  }
  return std::nullopt;
}

// ---- commands and answers ---------------------------------------------------------------------

bool Livemode(const Call& c) { return c.key.mode == "live"; }

// A merchant's key: the facade acts for one merchant, as a Stripe account's key does.
std::optional<HttpResponse> NeedMerchant(const Call& c) {
  if (!c.key.admin && !c.key.merchant.empty()) return std::nullopt;
  return ErrorAnswer(403, "invalid_request_error", "secret_key_required",
                     "The Stripe-compatible routes act for one merchant: use that merchant's key (sk_test_...), "
                     "not an admin key");
}

Result<std::string> KeyOf(const Call& c) {
  if (!c.request.idempotency_key.empty()) {
    if (c.request.idempotency_key.size() > kKeyBytesMax) {
      return MakeError(ErrorCode::kInvalidIdempotencyKey,
                       "Idempotency-Key: at most " + std::to_string(kKeyBytesMax) + " characters");
    }
    return c.request.idempotency_key;
  }
  PAY_ASSIGN_OR_RETURN(std::string random, RandomBytes(16));
  return "stripe-facade-" + ToHex(random);
}

Command CommandOf(const Call& c, std::string key, Request request) {
  Command command;
  command.merchant = c.key.merchant;
  command.idempotency_key = std::move(key);
  command.channel = Channel::kServer;
  command.client = {c.request.client_ip, c.key.id};
  command.request = std::move(request);
  return command;
}

using Render = std::function<HttpResponse(const PaymentView&)>;

// The object a write names, for its "No such ..." answer (the engine says "no payment pay_X").
struct Named {
  std::string noun, id, param;
};

// The answer to a committed outcome: the error, the decline, or `render` of the payment.
HttpResponse Answer(const Result<Outcome>& outcome, const Context& ctx, const Render& render, const Named& named = {}) {
  if (!outcome && outcome.error().code == ErrorCode::kPaymentNotFound && !named.noun.empty()) {
    return NoSuch(named.noun, named.id, named.param);
  }
  if (!outcome) return ErrorAnswer(outcome.error());
  HttpResponse r;
  if (outcome->declined) {
    r = ErrorAnswer(outcome->decline);
  } else if (auto p = PaymentFromBody(outcome->body); !p) {
    r = ErrorAnswer(p.error());
  } else {
    r = p->status == PaymentStatus::kDeclined ? DeclineAnswer(*p, ctx) : render(*p);
  }
  if (outcome->replayed) r.headers.emplace_back("Idempotent-Replayed", "true");
  return r;
}

Followup Write(Command command, Context ctx, Render render, Named named = {}) {
  return {std::move(command),
          [ctx = std::move(ctx), render = std::move(render), named = std::move(named)](
              const Result<Outcome>& o) -> std::variant<HttpResponse, Followup> {
            return Answer(o, ctx, render, named);
          }};
}

Render IntentRender(Context ctx) {
  return [ctx = std::move(ctx)](const PaymentView& p) { return JsonResponse(PaymentIntentJson(p, ctx)); };
}

// A payment of the caller's merchant named by `object_id`, of the rail `pull` says; nullopt with
// `*refused` (404) otherwise.
std::optional<PaymentView> Own(const Call& c, std::string_view object_id, std::string_view prefix, bool pull,
                               std::string_view noun, HttpResponse* refused) {
  auto id = PaymentIdOf(object_id, prefix, "id");
  auto p = id ? c.engine.GetPayment(*id) : Result<PaymentView>(id.error());
  if (p && p->merchant == c.key.merchant && p->kind == (pull ? PaymentKind::kPull : PaymentKind::kPush)) {
    return std::move(*p);
  }
  if (!p && p.error().code != ErrorCode::kPaymentNotFound && p.error().code != ErrorCode::kInvalidArgument) {
    *refused = ErrorAnswer(p.error());
  } else {
    *refused = NoSuch(noun, object_id);
  }
  return std::nullopt;
}

// ---- PaymentIntents ---------------------------------------------------------------------------

Reply CreateIntent(const Call& c) {
  HttpResponse refused;
  auto f = Params(c, {"amount", "currency", "confirm", "capture_method", "payment_method", "payment_method_data[",
                      "payment_method_types[", "description", "metadata[", "expand[", "return_url"},
                  &refused);
  if (!f) return refused;
  auto amount = Amount(*f, "amount", true, &refused);
  if (!amount) return refused;
  if (!f->Has("currency")) return Missing("currency");
  auto confirm = f->Bool("confirm");
  if (!confirm || *confirm != true) {
    return Invalid("confirm", "must be true: a PaymentIntent is created and confirmed in one call here "
                              "(docs/stripe-compat.md)");
  }
  const std::string method = f->Get("capture_method").value_or("automatic");
  if (method != "manual" && method != "automatic" && method != "automatic_async") {
    return Invalid("capture_method", "one of manual, automatic, automatic_async");
  }
  auto card = CardOf(*f, &refused);
  if (!card) return refused;
  auto key = KeyOf(c);
  if (!key) return ErrorAnswer(key.error());
  Command auth = CommandOf(c, *key, AuthorizeRequest{*card, **amount, Upper(*f->Get("currency")), NotesOf(*f)});
  const Context ctx{Livemode(c), method, ""};
  if (method == "manual") return Write(std::move(auth), ctx, IntentRender(ctx));
  // Automatic: the authorization, then its capture in full under the key + "/capture".
  Command capture = CommandOf(c, *key + std::string(kCaptureSuffix), CaptureRequest{});
  return Followup{std::move(auth), [ctx, capture](const Result<Outcome>& o) -> std::variant<HttpResponse, Followup> {
                    if (!o || o->declined || o->payment_status != "authorized") return Answer(o, ctx, IntentRender(ctx));
                    Command next = capture;
                    next.request = CaptureRequest{o->payment_id, std::nullopt, true};
                    return Write(std::move(next), ctx, IntentRender(ctx));
                  }};
}

Reply RetrieveIntent(const Call& c) {
  HttpResponse refused;
  if (!Params(c, {"expand[", "client_secret"}, &refused)) return refused;
  auto p = Own(c, c.id, "pi_", true, "payment_intent", &refused);
  if (!p) return refused;
  return JsonResponse(PaymentIntentJson(*p, {Livemode(c), "", ""}));
}

Reply CaptureIntent(const Call& c) {
  HttpResponse refused;
  auto f = Params(c, {"amount_to_capture", "expand["}, &refused);
  if (!f) return refused;
  auto amount = Amount(*f, "amount_to_capture", false, &refused);
  if (!amount) return refused;
  auto id = PaymentIdOf(c.id, "pi_", "intent");
  if (!id) return NoSuch("payment_intent", c.id, "intent");
  auto key = KeyOf(c);
  if (!key) return ErrorAnswer(key.error());
  const Context ctx{Livemode(c), "manual", ""};
  return Write(CommandOf(c, *key, CaptureRequest{*id, *amount, true}), ctx, IntentRender(ctx),
               {"payment_intent", c.id, "intent"});
}

Reply CancelIntent(const Call& c) {
  HttpResponse refused;
  auto f = Params(c, {"cancellation_reason", "expand["}, &refused);
  if (!f) return refused;
  const std::string reason = f->Get("cancellation_reason").value_or("");
  if (!reason.empty() && reason != "duplicate" && reason != "fraudulent" && reason != "requested_by_customer" &&
      reason != "abandoned") {
    return Invalid("cancellation_reason", "one of duplicate, fraudulent, requested_by_customer, abandoned");
  }
  auto id = PaymentIdOf(c.id, "pi_", "intent");
  if (!id) return NoSuch("payment_intent", c.id, "intent");
  auto key = KeyOf(c);
  if (!key) return ErrorAnswer(key.error());
  const Context ctx{Livemode(c), "", reason};
  return Write(CommandOf(c, *key, VoidPaymentRequest{*id}), ctx, IntentRender(ctx), {"payment_intent", c.id, "intent"});
}

// Every PaymentIntent here was confirmed by its create call.
Reply ConfirmIntent(const Call& c) {
  HttpResponse refused;
  auto p = Own(c, c.id, "pi_", true, "payment_intent", &refused);
  if (!p) return refused;
  HttpResponse r = ErrorAnswer(400, "invalid_request_error", "payment_intent_unexpected_state",
                               "This PaymentIntent was confirmed when it was created (confirm=true); its status is " +
                                   std::string(IntentStatus(*p)) + ".");
  return r;
}

Reply UpdateIntent(const Call& c) {
  HttpResponse refused;
  if (!Own(c, c.id, "pi_", true, "payment_intent", &refused)) return refused;
  return ErrorAnswer(400, "invalid_request_error", "parameter_unknown",
                     "Updating a PaymentIntent is not supported here: its description and metadata are set "
                     "when it is created (docs/stripe-compat.md)");
}

// ---- lists -------------------------------------------------------------------------------------

// limit (1-100, default 10) and the cursor starting_after (an id of this list's kind).
struct ListParams {
  size_t limit = kListLimitDefault;
  std::string starting_after;
};

std::optional<ListParams> ListParamsOf(const Form& f, HttpResponse* refused) {
  ListParams out;
  auto limit = f.Int("limit");
  if (!limit || (*limit && (**limit < 1 || **limit > static_cast<int64_t>(kListLimitMax)))) {
    *refused = ErrorAnswer(400, "invalid_request_error", "parameter_invalid_integer",
                           "limit: an integer from 1 to " + std::to_string(kListLimitMax), "limit");
    return std::nullopt;
  }
  if (*limit) out.limit = static_cast<size_t>(**limit);
  if (f.Has("ending_before")) {
    *refused = Invalid("ending_before", "not supported: lists run oldest first, page on with starting_after");
    return std::nullopt;
  }
  out.starting_after = f.Get("starting_after").value_or("");
  return out;
}

// created=T or created[gt|gte|lt|lte]=T (unix seconds) as the filter's bounds.
bool CreatedRange(const Form& f, requests::PaymentFilter& filter, HttpResponse* refused) {
  const std::pair<const char*, int64_t> bounds[] = {{"created[gte]", 0}, {"created[gt]", 1}, {"created", 0},
                                                    {"created[lt]", 0}, {"created[lte]", 1}};
  for (auto [name, shift] : bounds) {
    auto v = f.Int(name);
    if (!v || (*v && (**v < 0 || **v > INT64_MAX / 1000 - 1))) {
      *refused = ErrorAnswer(400, "invalid_request_error", "parameter_invalid_integer",
                             std::string(name) + ": unix seconds", name);
      return false;
    }
    if (!*v) continue;
    const int64_t ms = (**v + shift) * 1000;
    const std::string_view n = name;
    if (n == "created") {
      filter.created_gte_ms = std::max(filter.created_gte_ms, ms);
      filter.created_lt_ms = std::min(filter.created_lt_ms, ms + 1000);
    } else if (n.starts_with("created[g")) {
      filter.created_gte_ms = std::max(filter.created_gte_ms, ms);
    } else {
      filter.created_lt_ms = std::min(filter.created_lt_ms, ms);
    }
  }
  return true;
}

// A page of the merchant's payments of one kind, in id order (oldest first). A filtered scan
// that found nothing on a page goes on, up to kListScanRoundsMax pages.
Result<requests::PaymentPage> PageOf(const Call& c, std::string after, size_t limit, const requests::PaymentFilter& filter) {
  for (int round = 1;; ++round) {
    PAY_ASSIGN_OR_RETURN(auto page, requests::ListPayments(c.engine, c.key.merchant, after, limit, filter));
    if (!page.items.empty() || !page.has_more || round == kListScanRoundsMax) return page;
    after = page.next_cursor;
  }
}

Reply ListOfKind(const Call& c, PaymentKind kind) {
  const bool pull = kind == PaymentKind::kPull;
  HttpResponse refused;
  auto f = Params(c, {"limit", "starting_after", "ending_before", "created", "created[", "expand["}, &refused);
  if (!f) return refused;
  auto list = ListParamsOf(*f, &refused);
  if (!list) return refused;
  requests::PaymentFilter filter;
  filter.kind = kind;
  if (!CreatedRange(*f, filter, &refused)) return refused;
  std::string after;
  if (!list->starting_after.empty()) {
    auto id = PaymentIdOf(list->starting_after, pull ? "pi_" : "po_", "starting_after");
    if (!id) return NoSuch(pull ? "payment_intent" : "payout", list->starting_after, "starting_after");
    after = *id;
  }
  auto page = PageOf(c, after, list->limit, filter);
  if (!page) return ErrorAnswer(page.error());
  std::vector<std::string> items;
  const Context ctx{Livemode(c), "", ""};
  for (const auto& p : page->items) items.push_back(pull ? PaymentIntentJson(p, ctx) : PayoutJson(p, ctx.livemode));
  return JsonResponse(ListJson(items, page->has_more, pull ? "/v1/payment_intents" : "/v1/payouts"));
}

// ---- Refunds ------------------------------------------------------------------------------------

Reply CreateRefund(const Call& c) {
  HttpResponse refused;
  auto f = Params(c, {"payment_intent", "amount", "reason", "expand["}, &refused);
  if (!f) return refused;
  auto pi = f->Get("payment_intent");
  if (!pi) return Missing("payment_intent");
  auto amount = Amount(*f, "amount", false, &refused);
  if (!amount) return refused;
  const std::string reason = f->Get("reason").value_or("");
  if (!reason.empty() && reason != "duplicate" && reason != "fraudulent" && reason != "requested_by_customer") {
    return Invalid("reason", "one of duplicate, fraudulent, requested_by_customer");
  }
  auto id = PaymentIdOf(*pi, "pi_", "payment_intent");
  if (!id) return NoSuch("payment_intent", *pi, "payment_intent");
  auto key = KeyOf(c);
  if (!key) return ErrorAnswer(key.error());
  const bool live = Livemode(c);
  auto render = [live](const PaymentView& p) {
    auto json = RefundJson(p, RefundCount(p), live);  // this refund is the payment's latest
    return json ? JsonResponse(*json) : ErrorAnswer(MakeError(ErrorCode::kInternal, "refund: not in the payment"));
  };
  return Write(CommandOf(c, *key, RefundRequest{*id, *amount}), {live, "", ""}, render,
               {"payment_intent", *pi, "payment_intent"});
}

Reply RetrieveRefund(const Call& c) {
  HttpResponse refused;
  if (!Params(c, {"expand["}, &refused)) return refused;
  auto ref = RefundRefOf(c.id);
  if (!ref) return NoSuch("refund", c.id);
  auto p = Own(c, ObjectId("pi_", ref->payment_id), "pi_", true, "refund", &refused);
  auto json = p ? RefundJson(*p, ref->n, Livemode(c)) : std::nullopt;
  if (!json) return p ? NoSuch("refund", c.id) : refused;
  return JsonResponse(*json);
}

// Refunds of one PaymentIntent, or of all the merchant's, oldest first; the cursor is a refund id.
Reply ListRefunds(const Call& c) {
  HttpResponse refused;
  auto f = Params(c, {"payment_intent", "limit", "starting_after", "ending_before", "expand["}, &refused);
  if (!f) return refused;
  auto list = ListParamsOf(*f, &refused);
  if (!list) return refused;
  std::vector<std::string> items;
  bool more = false;
  const bool live = Livemode(c);
  // The refunds of `p` after the first `skip`, while the page has room.
  auto take = [&](const PaymentView& p, size_t skip) {
    for (size_t n = skip + 1; n <= RefundCount(p); ++n) {
      if (items.size() == list->limit) return void(more = true);
      items.push_back(*RefundJson(p, n, live));
    }
  };
  RefundRef from;
  if (!list->starting_after.empty()) {
    auto ref = RefundRefOf(list->starting_after);
    if (!ref) return NoSuch("refund", list->starting_after, "starting_after");
    from = *ref;
  }
  if (auto pi = f->Get("payment_intent")) {
    auto p = Own(c, *pi, "pi_", true, "payment_intent", &refused);
    if (!p) return refused;
    take(*p, from.payment_id == p->id ? from.n : 0);
    return JsonResponse(ListJson(items, more, "/v1/refunds"));
  }
  std::string after = from.payment_id;
  if (!from.payment_id.empty()) {
    auto p = Own(c, ObjectId("pi_", from.payment_id), "pi_", true, "refund", &refused);
    if (!p) return refused;
    take(*p, from.n);
  }
  // The merchant's payments in order, a page at a time, reading at most kFilterScanRowsMax.
  for (size_t scanned = 0; !more;) {
    auto page = c.engine.ListPayments(c.key.merchant, after, kRefundScanPage);
    if (!page) return ErrorAnswer(page.error());
    for (const auto& p : page->items) {
      if (p.kind == PaymentKind::kPull) take(p, 0);
      if (more) break;
      after = p.id;
    }
    scanned += page->items.size();
    if (page->next_after.empty()) break;
    more = more || scanned >= requests::kFilterScanRowsMax;
  }
  return JsonResponse(ListJson(items, more, "/v1/refunds"));
}

// ---- Payouts: the push rail, out of the merchant's prefunded balance to a debit card ------------

Reply CreatePayout(const Call& c) {
  HttpResponse refused;
  auto f = Params(c, {"amount", "currency", "method", "destination", "description", "metadata[",
                      "statement_descriptor", "expand["},
                  &refused);
  if (!f) return refused;
  auto amount = Amount(*f, "amount", true, &refused);
  if (!amount) return refused;
  if (!f->Has("currency")) return Missing("currency");
  if (f->Get("method") != "instant") {
    return Invalid("method", "must be instant: payouts go to a debit card over the card network's push rail");
  }
  auto destination = f->Get("destination");
  if (!destination) return Missing("destination");
  auto pan = TestCard(*destination);
  PushRequest push;
  push.recipient_card = {pan ? std::string(*pan) : *destination, "", ""};
  push.amount_minor = **amount;
  push.currency = Upper(*f->Get("currency"));
  push.purpose = "MD";  // merchant disbursement: to the merchant's own card
  push.recipient_name = c.key.merchant.substr(0, 30);
  push.sender_reference = f->Get("statement_descriptor").value_or("").substr(0, 30);
  push.notes = NotesOf(*f);
  auto key = KeyOf(c);
  if (!key) return ErrorAnswer(key.error());
  const bool live = Livemode(c);
  return Write(CommandOf(c, *key, std::move(push)), {live, "", ""},
               [live](const PaymentView& p) { return JsonResponse(PayoutJson(p, live)); });
}

Reply RetrievePayout(const Call& c) {
  HttpResponse refused;
  if (!Params(c, {"expand["}, &refused)) return refused;
  auto p = Own(c, c.id, "po_", false, "payout", &refused);
  if (!p) return refused;
  return JsonResponse(PayoutJson(*p, Livemode(c)));
}

// ---- Balance --------------------------------------------------------------------------------------

Reply Balance(const Call& c) {
  HttpResponse refused;
  if (!Params(c, {"expand["}, &refused)) return refused;
  JsonWriter w;
  w.BeginObject().Field("object", "balance");
  for (auto [side, account] : {std::pair{"available", "available"}, {"pending", "pending"},
                               {"instant_available", "disbursement"}}) {
    auto a = c.engine.GetAccount("m/" + c.key.merchant + "/" + account);
    if (!a) return ErrorAnswer(a.error());
    const std::string currency = StripeCurrency(a->currency ? a->currency->code : "");
    const int64_t amount = std::string_view(side) == "pending" ? a->balance_minor() : a->available_minor();
    w.Key(side).BeginArray().BeginObject().Field("amount", amount).Field("currency", currency);
    w.Key("source_types").BeginObject().Field("card", amount).EndObject().EndObject().EndArray();
  }
  w.Field("livemode", Livemode(c)).EndObject();
  return JsonResponse(w.str());
}

// Every route for a merchant's key only.
Handler ForMerchant(Reply (*handler)(const Call&)) {
  return [handler](const Call& c) -> Reply {
    if (auto no = NeedMerchant(c)) return *no;
    return handler(c);
  };
}

}  // namespace

Router Routes() {
  Router r;
  // {id} matches slashes: the routes with a suffix come before the bare {id}.
  r.Add("GET", "/v1/payment_intents", ForMerchant([](const Call& c) { return ListOfKind(c, PaymentKind::kPull); }));
  r.Add("POST", "/v1/payment_intents", ForMerchant(CreateIntent));
  r.Add("POST", "/v1/payment_intents/{id}/capture", ForMerchant(CaptureIntent));
  r.Add("POST", "/v1/payment_intents/{id}/cancel", ForMerchant(CancelIntent));
  r.Add("POST", "/v1/payment_intents/{id}/confirm", ForMerchant(ConfirmIntent));
  r.Add("GET", "/v1/payment_intents/{id}", ForMerchant(RetrieveIntent));
  r.Add("POST", "/v1/payment_intents/{id}", ForMerchant(UpdateIntent));
  r.Add("GET", "/v1/refunds", ForMerchant(ListRefunds));
  r.Add("POST", "/v1/refunds", ForMerchant(CreateRefund));
  r.Add("GET", "/v1/refunds/{id}", ForMerchant(RetrieveRefund));
  r.Add("GET", "/v1/payouts", ForMerchant([](const Call& c) { return ListOfKind(c, PaymentKind::kPush); }));
  r.Add("POST", "/v1/payouts", ForMerchant(CreatePayout));
  r.Add("GET", "/v1/payouts/{id}", ForMerchant(RetrievePayout));
  r.Add("GET", "/v1/balance", ForMerchant(Balance));
  return r;
}

}  // namespace pay::server::stripe
