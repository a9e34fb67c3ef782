#pragma once
// One paymentd connection (Boost.Beast): reads requests with a deadline and header and body
// limits, hands each to the dispatcher as plain data, writes the answers in order (with a write
// deadline too), keeps the connection alive while the client asks for it. A request that cannot
// be read gets its 400/413/431 and the connection closes.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "adapters/server/session_context.h"

namespace pay::server {

// Starts a session on an accepted socket (TLS when `tls` is not null: the handshake first).
// The caller has counted it in context.sessions; the session uncounts itself when it ends.
void StartSession(SessionContext& context, boost::asio::ip::tcp::socket socket,
                  boost::asio::ssl::context* tls);

}  // namespace pay::server
