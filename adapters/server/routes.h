#pragma once
// paymentd's routes (docs/api.md): the public ones (health, metrics) and the API under /v1/,
// which the dispatcher reaches only with an authenticated key within its request rate.

#include "adapters/server/metrics.h"
#include "adapters/server/router.h"

namespace pay::server {

// GET (any method) /healthz and /metrics. `metrics` must outlive the router.
Router PublicRoutes(const MetricsRegistry& metrics);
// Reads and writes under /v1/. Writes give a command built from the same pay.v1 messages as the
// transaction files (adapters/requests).
Router ApiRoutes();
Router EventRoutes();  // event_routes.cc: /v1/events, /v1/webhook_endpoints
// Every route paymentd serves, "METHOD PATTERN" ("*" for any method), in table order: what
// docs/openapi.yaml must describe (tests/docs/openapi_test.py checks both ways).
std::vector<std::string> RouteTable();

}  // namespace pay::server
