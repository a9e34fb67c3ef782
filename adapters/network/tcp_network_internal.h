#pragma once
// Internal to the card network over TCP (tcp_network.h); included only by its two source files,
// the only translation units that include Asio (each costs ~10 s to compile):
//   tcp_network_server.cc  the simulator's side: TcpNetworkServer, RunNetworkSimulator,
//                          ParseHostPort
//   tcp_network_client.cc  the engine's side: TcpCardNetwork
// What both sides share: the frame format (a 2-byte big-endian length, then the message) and the
// parsing of an address.

#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "adapters/network/iso8583.h"
#include "pay/result.h"

namespace pay::network::tcp_internal {

inline constexpr size_t kReadChunkBytes = 64 * 1024;

inline std::string Frame(const std::string& bytes) {
  std::string f;
  f.reserve(bytes.size() + 2);
  f.push_back(static_cast<char>((bytes.size() >> 8) & 0xff));
  f.push_back(static_cast<char>(bytes.size() & 0xff));
  f += bytes;
  return f;
}

// Takes one complete frame off the front of `buf`. 0: need more bytes; -1: malformed length.
inline int TakeFrame(std::string& buf, std::string* out) {
  if (buf.size() < 2) return 0;
  const size_t len =
      (static_cast<size_t>(static_cast<uint8_t>(buf[0])) << 8) | static_cast<uint8_t>(buf[1]);
  if (len == 0 || len > iso8583::kMessageBytesMax) return -1;
  if (buf.size() < 2 + len) return 0;
  out->assign(buf, 2, len);
  buf.erase(0, 2 + len);
  return 1;
}

// An IP address (or localhost); errors (kInvalidArgument) name `field`.
inline Result<boost::asio::ip::address> Address(const std::string& host, std::string_view field) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(field) + ": '" + host.substr(0, 64) + "' is not an IP address");
  }
  return a;
}

}  // namespace pay::network::tcp_internal
