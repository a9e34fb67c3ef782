#pragma once
// paymentd's route table: method + path pattern -> handler. Adding a route is one line in
// routes.cc. Handlers are plain functions of plain data (no Beast, no Asio): they answer at
// once, or give the engine command that the writer commits and answers later.
//
// A pattern is a literal path with at most one "{id}": it matches any run of characters, '/'
// included (account ids such as m/acme/available), percent-decoded for the handler. An empty
// {id} between two slashes may also be written with a single slash ("/v1/payments/capture"
// matches "/v1/payments/{id}/capture" with an empty id), as the first version of the server
// read paths; the handler then refuses the empty id. The first matching route wins.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "adapters/server/api_keys.h"
#include "adapters/server/http_message.h"
#include "adapters/server/writer.h"
#include "pay/engine.h"

namespace pay::server {

class Webhooks;  // adapters/server/webhooks.h

// What a handler gets.
struct Call {
  const HttpRequest& request;
  Engine& engine;
  const ApiKey& key;  // the authenticated caller (empty on public routes)
  const std::map<std::string, std::string>& query;  // percent-decoded
  std::string id;                                   // the pattern's {id}, percent-decoded
  ApiKeys* keys = nullptr;                          // the channel's keys (API routes)
  Webhooks* webhooks = nullptr;                     // webhook endpoints (nullptr: not served)
};

// What a handler gives: an answer now, or a command for the writer (answered from its outcome
// by ResponseFromOutcome, or by the followup's own `then`).
using Reply = std::variant<HttpResponse, Command, Followup>;
using Handler = std::function<Reply(const Call&)>;

struct Route {
  std::string method;  // "GET", "POST"; "*": any method
  std::string pattern;
  Handler handler;
  // The metrics label: "POST /v1/payments/{id}/capture"; the pattern alone for method "*".
  std::string label() const { return method == "*" ? pattern : method + " " + pattern; }
};

class Router {
 public:
  Router& Add(std::string method, std::string pattern, Handler handler);
  // The routes of `other` after this one's.
  Router& Append(const Router& other);

  struct Match {
    const Route* route = nullptr;
    std::string id;  // percent-decoded
  };
  std::optional<Match> Find(std::string_view method, std::string_view path) const;
  // The methods of the routes whose pattern matches `path`, each once, in table order (empty:
  // no route serves the path).
  std::vector<std::string> MethodsFor(std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// Percent-decoding of a path segment or query part; a stray '%' stays as it is.
std::string PercentDecode(std::string_view s);
// "a=1&b=x%2Fy" -> {a: 1, b: x/y}; parts without '=' are skipped; a repeated name keeps the last.
std::map<std::string, std::string> ParseQuery(std::string_view query);

}  // namespace pay::server
