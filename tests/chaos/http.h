#pragma once
// A blocking HTTP/1.1 client for the fault campaign: one connection per request (a server killed
// mid-request costs that request only), a receive bound so that a hung server fails the run
// instead of stalling it. Status 0: no answer (refused, reset, closed).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <string>

namespace pay::chaos {

struct Reply {
  int status = 0;
  std::string body;
  bool replayed = false;  // Idempotent-Replayed: true
};

inline Reply Send(int port, const std::string& method, const std::string& path,
                  const std::string& api_key, const std::string& idempotency_key,
                  const std::string& body) {
  Reply r;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return r;
  timeval bound{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
  if (!api_key.empty()) req += "Authorization: Bearer " + api_key + "\r\n";
  if (!idempotency_key.empty()) req += "Idempotency-Key: " + idempotency_key + "\r\n";
  req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
  std::string in;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
    char buf[8192];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) in.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const size_t head_end = in.find("\r\n\r\n");
  if (in.size() < 12 || head_end == std::string::npos) return r;
  std::string head = in.substr(0, head_end);  // names compared in lower case (HAProxy's)
  for (char& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const size_t len_at = head.find("content-length: ");
  const size_t len = len_at == std::string::npos ? 0 : std::strtoul(head.c_str() + len_at + 16, nullptr, 10);
  if (in.size() < head_end + 4 + len) return r;  // cut off mid-answer: no answer
  r.status = std::atoi(in.c_str() + 9);
  r.body = in.substr(head_end + 4, len);
  r.replayed = head.find("idempotent-replayed: true") != std::string::npos;
  return r;
}

}  // namespace pay::chaos
