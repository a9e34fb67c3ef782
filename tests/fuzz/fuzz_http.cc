// The server's request path reads bytes from the network: Beast's HTTP parser with the server's
// limits, then the body decoded as paymentd decodes it
// (adapters/requests: JSON or protobuf by Content-Type). Any bytes give a request or an error,
// never a crash.
#include <utility>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>

#include "adapters/requests/requests.h"
#include "pay/v1/records.pb.h"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(8 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_done()) return 0;
  const auto& req = parser.get();
  const auto type = req[http::field::content_type];
  const std::string_view content_type(type.data(), type.size());
  const std::string& body = req.body();
  pay::v1::Authorize authorize;
  (void)pay::requests::MessageFromBody(content_type, body, &authorize);
  pay::v1::Push push;
  (void)pay::requests::MessageFromBody(content_type, body, &push);
  pay::v1::Capture capture;
  if (capture.ParseFromString(body)) {
    std::string again;
    if (!capture.SerializeToString(&again)) __builtin_trap();
  }
  return 0;
}
