// Events and webhooks: events list|tail|purge, webhook create|list|enable|disable|delete|
// deliveries|redeliver (docs/events.md). Endpoints are kept by the server channel
// (adapters/server/webhooks.h); paymentd delivers to them.

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "adapters/requests/requests.h"
#include "adapters/server/webhooks.h"
#include "cli/commands.h"
#include "cli/print.h"
#include "core/time_format.h"
#include "pay/money.h"

namespace pay::cli {

namespace {

constexpr int64_t kTailPollMs = 500;

struct EventsOptions {
  std::string after, type;
  size_t limit = 100;
  bool follow = false;
};

void PrintEvent(const Context& ctx, const EventView& e) {
  if (ctx.json) {
    std::cout << EventJson(e) << "\n";
    return;
  }
  std::cout << e.id << "  " << e.merchant << " #" << e.number << "  " << FormatRfc3339Ms(e.created_at_ms)
            << "  " << e.type;
  if (!e.object_id.empty()) std::cout << "  " << e.object_id;
  if (const Currency* c = FindCurrency(e.currency)) {
    std::cout << "  " << FormatMinor(e.amount_minor, c->exponent) << " " << e.currency;
  }
  if (!e.response_code.empty()) std::cout << "  code " << e.response_code;
  std::cout << "\n";
}

int RunEventsList(Context& ctx, const EventsOptions& o) {
  auto page = ctx.engine->ListEvents(ctx.merchant, o.after, EventFilter{o.type}, o.limit);
  if (!page) return PrintError(ctx, page.error());
  if (ctx.json) {
    std::vector<std::string> items;
    for (const auto& e : page->items) items.push_back(EventJson(e));
    std::cout << requests::ListJson(items, !page->next_after.empty(), page->next_after) << "\n";
    return 0;
  }
  for (const auto& e : page->items) PrintEvent(ctx, e);
  if (!page->next_after.empty()) std::cout << "(more: --after " << page->next_after << ")\n";
  return 0;
}

// Prints events as they are committed (one line each; JSON lines with --json), from --after or
// from now on with --follow, until interrupted; without --follow, what is there and stops.
int RunEventsTail(Context& ctx, const EventsOptions& o) {
  std::string after = o.after;
  if (after.empty() && o.follow) {  // from now on: skip to the newest event
    for (;;) {
      auto page = ctx.engine->ListEvents(ctx.merchant, after, {}, limits::kListRowsMax);
      if (!page) return PrintError(ctx, page.error());
      if (!page->items.empty()) after = page->items.back().id;
      if (page->next_after.empty()) break;
      after = page->next_after;
    }
  }
  for (;;) {
    auto page = ctx.engine->ListEvents(ctx.merchant, after, EventFilter{o.type}, o.limit);
    if (!page) return PrintError(ctx, page.error());
    for (const auto& e : page->items) PrintEvent(ctx, e);
    std::cout.flush();
    if (!page->items.empty()) after = page->items.back().id;
    if (!page->next_after.empty()) {
      after = page->next_after;
      continue;
    }
    if (!o.follow) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(kTailPollMs));
  }
}

int RunEventsPurge(Context& ctx) {
  auto n = ctx.engine->PurgeEvents();
  if (!n) return PrintError(ctx, n.error());
  if (ctx.json) std::cout << R"({"purged":)" << *n << "}\n";
  else std::cout << "purged " << *n << " events past their retention\n";
  return 0;
}

void AddEvents(CLI::App& app, Context& ctx) {
  auto* events = app.add_subcommand("events", "The event log: what happened to payments, payouts, settlements and velocity limits");
  events->require_subcommand(1);
  auto o = std::make_shared<EventsOptions>();
  for (const char* name : {"list", "tail"}) {
    const bool tail = std::string(name) == "tail";
    auto* sub = events->add_subcommand(name, tail ? "Print events as they are committed (with --follow, until interrupted)"
                                                  : "List events in commit order (of --merchant, or every merchant's)");
    sub->add_option("--after", o->after, "Only events after this event id (evt_...)");
    sub->add_option("--type", o->type, "An event type (payment.captured) or a prefix with * (payment.*)");
    sub->add_option("--limit", o->limit, "Events per page")->check(CLI::Range(1, 10000));
    if (tail) sub->add_flag("--follow,-f", o->follow, "Keep waiting for new events (from now on unless --after)");
    Help(sub, {tail ? "paymentctl --merchant acme events tail --follow --json" : "paymentctl --merchant acme events list --type 'payment.*'"},
         {"--db --json --merchant"});
    OnRun(sub, ctx, Needs::kEngine, [o, tail](Context& c) { return tail ? RunEventsTail(c, *o) : RunEventsList(c, *o); });
  }
  auto* purge = events->add_subcommand("purge", "Remove events past their retention (30 days)");
  Help(purge, {"paymentctl events purge"}, {"--db --json"});
  OnRun(purge, ctx, Needs::kEngine, [](Context& c) { return RunEventsPurge(c); });
}

// ---- webhook --------------------------------------------------------------------------------

struct WebhookOptions {
  std::string url, id, event;
  std::vector<std::string> events;
  size_t limit = 20;
};

Result<std::unique_ptr<server::Webhooks>> OpenHooks(Context& ctx) {
  return server::Webhooks::Open(ctx.db_path, *ctx.clock);  // the channel's own connection
}

int PrintEndpoint(const Context& ctx, const server::WebhookEndpoint& e, bool with_secret) {
  if (ctx.json) {
    std::cout << server::WebhookEndpointJson(e, with_secret) << "\n";
    return 0;
  }
  std::cout << e.id << "  " << e.merchant << "  " << e.url << "  " << (e.enabled ? "enabled" : "disabled");
  if (!e.disabled_reason.empty()) std::cout << " (" << e.disabled_reason << ")";
  std::cout << "\n";
  if (with_secret) std::cout << "signing secret: " << e.secret << "\n(verify the Pay-Signature header with it; docs/events.md)\n";
  return 0;
}

int RunWebhookCreate(Context& ctx, const WebhookOptions& o) {
  if (ctx.merchant.empty()) return PrintError(ctx, MakeError(ErrorCode::kInvalidArgument, "--merchant: required"));
  auto m = ctx.engine->GetMerchant(ctx.merchant);
  if (!m) return PrintError(ctx, m.error());
  auto hooks = OpenHooks(ctx);
  if (!hooks) return PrintError(ctx, hooks.error());
  auto e = (*hooks)->Create(ctx.merchant, o.url, o.events);
  if (!e) return PrintError(ctx, e.error());
  return PrintEndpoint(ctx, *e, true);
}

int RunWebhookList(Context& ctx) {
  auto hooks = OpenHooks(ctx);
  if (!hooks) return PrintError(ctx, hooks.error());
  auto list = (*hooks)->List(ctx.merchant);
  if (!list) return PrintError(ctx, list.error());
  if (ctx.json) {
    std::vector<std::string> items;
    for (const auto& e : *list) items.push_back(server::WebhookEndpointJson(e, false));
    std::cout << requests::ListJson(items, false, "") << "\n";
    return 0;
  }
  for (const auto& e : *list) PrintEndpoint(ctx, e, false);
  return 0;
}

int RunWebhookChange(Context& ctx, const WebhookOptions& o, const std::string& what) {
  auto hooks = OpenHooks(ctx);
  if (!hooks) return PrintError(ctx, hooks.error());
  if (what == "delete") {
    if (auto r = (*hooks)->Delete(o.id); !r) return PrintError(ctx, r.error());
    std::cout << (ctx.json ? R"({"id":")" + o.id + R"(","deleted":true})" : "deleted " + o.id) << "\n";
    return 0;
  }
  auto e = (*hooks)->SetEnabled(o.id, what == "enable");
  if (!e) return PrintError(ctx, e.error());
  return PrintEndpoint(ctx, *e, false);
}

int RunWebhookDeliveries(Context& ctx, const WebhookOptions& o) {
  auto hooks = OpenHooks(ctx);
  if (!hooks) return PrintError(ctx, hooks.error());
  auto list = (*hooks)->Deliveries(o.id, o.limit);
  if (!list) return PrintError(ctx, list.error());
  for (const auto& a : *list) {
    if (ctx.json) {
      std::cout << server::DeliveryAttemptJson(a) << "\n";
      continue;
    }
    std::cout << FormatRfc3339Ms(a.at_ms) << "  " << a.event_id << "  " << a.event_type << "  attempt " << a.attempt
              << "  " << a.outcome << "  status " << a.status << "  " << a.latency_ms << " ms";
    if (!a.error.empty()) std::cout << "  (" << a.error << ")";
    std::cout << "\n";
  }
  return 0;
}

int RunWebhookRedeliver(Context& ctx, const WebhookOptions& o) {
  auto hooks = OpenHooks(ctx);
  if (!hooks) return PrintError(ctx, hooks.error());
  auto e = (*hooks)->Find(o.id);
  if (!e) return PrintError(ctx, e.error());
  auto event = server::FindEvent(*ctx.engine, e->merchant, o.event);
  if (!event) return PrintError(ctx, event.error());
  if (auto r = (*hooks)->Redeliver(*e, *event); !r) return PrintError(ctx, r.error());
  std::cout << (ctx.json ? R"({"queued":true})" : "queued " + o.event + " for " + o.id + " (paymentd sends it)") << "\n";
  return 0;
}

void AddWebhook(CLI::App& app, Context& ctx) {
  auto* hook = app.add_subcommand("webhook", "Webhook endpoints of a merchant; paymentd delivers its events to them, signed");
  hook->require_subcommand(1);
  auto o = std::make_shared<WebhookOptions>();
  auto* create = hook->add_subcommand("create", "Add an endpoint: events from now on are POSTed to it");
  create->add_option("--url", o->url, "http:// or https:// URL")->required();
  create->add_option("--events", o->events, "Event types or prefixes with * (default: every event)")->delimiter(',');
  Help(create, {"paymentctl --merchant acme webhook create --url https://example.com/hooks --events 'payment.*,payout.*'"},
       {"--db --json --merchant"}, "The signing secret is printed once.");
  OnRun(create, ctx, Needs::kEngine, [o](Context& c) { return RunWebhookCreate(c, *o); });
  auto* list = hook->add_subcommand("list", "List endpoints (of --merchant, or every merchant's)");
  Help(list, {"paymentctl --merchant acme webhook list"}, {"--db --json --merchant"});
  OnRun(list, ctx, Needs::kEngine, [](Context& c) { return RunWebhookList(c); });
  for (const char* what : {"enable", "disable", "delete"}) {
    auto* sub = hook->add_subcommand(what, std::string(what) + " an endpoint (enabling resets its failure count)");
    sub->add_option("id", o->id, "Endpoint id (we_...)")->required();
    Help(sub, {std::string("paymentctl webhook ") + what + " we_0123456789abcdef"}, {"--db --json"});
    OnRun(sub, ctx, Needs::kEngine, [o, w = std::string(what)](Context& c) { return RunWebhookChange(c, *o, w); });
  }
  auto* log = hook->add_subcommand("deliveries", "The endpoint's delivery log, newest first");
  log->add_option("id", o->id, "Endpoint id (we_...)")->required();
  log->add_option("--limit", o->limit, "Attempts shown")->check(CLI::Range(1, 1000));
  Help(log, {"paymentctl webhook deliveries we_0123456789abcdef"}, {"--db --json"});
  OnRun(log, ctx, Needs::kEngine, [o](Context& c) { return RunWebhookDeliveries(c, *o); });
  auto* again = hook->add_subcommand("redeliver", "Send an event to the endpoint again");
  again->add_option("id", o->id, "Endpoint id (we_...)")->required();
  again->add_option("--event", o->event, "Event id (evt_...)")->required();
  Help(again, {"paymentctl webhook redeliver we_0123456789abcdef --event evt_0000000000000042"}, {"--db --json"});
  OnRun(again, ctx, Needs::kEngine, [o](Context& c) { return RunWebhookRedeliver(c, *o); });
}

}  // namespace

void AddEventCommands(CLI::App& app, Context& ctx) {
  AddEvents(app, ctx);
  AddWebhook(app, ctx);
}

}  // namespace pay::cli
