// The server's request path reads bytes from the network: Beast's HTTP parser with the server's
// limits, then the body as the protobuf JSON mapping of a pay.v1 message. Any bytes give a
// request or an error, never a crash.
#include <utility>

#include <google/protobuf/util/json_util.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>

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
  const std::string& body = parser.get().body();
  google::protobuf::util::JsonParseOptions opts;
  opts.ignore_unknown_fields = false;
  pay::v1::Authorize authorize;
  (void)google::protobuf::util::JsonStringToMessage(body, &authorize, opts);
  pay::v1::Push push;
  (void)google::protobuf::util::JsonStringToMessage(body, &push, opts);
  pay::v1::Capture capture;
  if (capture.ParseFromString(body)) {
    std::string again;
    if (!capture.SerializeToString(&again)) __builtin_trap();
  }
  return 0;
}
