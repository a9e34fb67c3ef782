#pragma once
// The fault campaign's parts (tests/chaos/chaos.cc runs them): set-up through paymentctl, the
// server's life (start, SIGKILL, restart), the client threads' load, the resend of every key,
// and the checks of both ledgers.

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/random.h"
#include "tests/chaos/http.h"
#include "tests/support/pg_schema.h"

namespace pay::chaos {

struct Options {
  std::string paymentctl;
  int kills = 3;
  int ops_per_kill = 300;
  int threads = 4;
  uint64_t seed = 1;
  std::string faults = "drop_response=1,late=1,latency=0-2";
  std::string parent;  // where the working directory is made (default: the temporary directory)
  bool keep = false;   // keep the working directory
  bool tcp = false;    // the network simulator in a process of its own, killed now and then too
  std::string postgres;  // a PostgreSQL server (libpq string): the books there, a fresh schema
  // More than 1: a cluster. That many paymentd nodes on the one database (PostgreSQL), the
  // network simulator over TCP shared by all, HAProxy in front (its configuration from
  // `cluster_script haproxy-config`); a kill takes one node down until the next kill.
  int nodes = 1;
  std::string cluster_script;
};

// How paymentd runs until the next kill: with a database quota it soon reaches (a full disk),
// with its clock moved, or plainly.
struct Phase {
  const char* name = "plain";
  int64_t max_pages = 0;
  std::string clock_offset;  // PAYMENTCTL_CLOCK_OFFSET
};

// One request as sent, and its first answer.
struct Record {
  std::string kind;  // authorize, capture, void, refund, disbursement, p2p, fund
  std::string path, api_key, key, body;
  Reply first;
  Reply last;  // after the resend phase
};

// An answer a retry need not wait for: not "no answer", "in flight", "busy" or "slow down", nor
// the load balancer's "no node answered" (502, 504).
inline bool Answered(const Reply& r) {
  return r.status != 0 && r.status != 409 && r.status != 429 && r.status != 502 &&
         r.status != 503 && r.status != 504;
}
// An answer a retry must repeat. A velocity refusal is an answer but not stored under the key
// (once the window passes, the same key executes).
inline bool Stored(const Reply& r) {
  return Answered(r) && !(r.status == 402 && r.body.find("\"velocity_limited\"") != std::string::npos);
}

// Counts the campaign prints.
struct Figures {
  int64_t sent = 0, answered = 0, unanswered = 0, kills = 0;
  int64_t changed = 0;      // a final answer that did not come back the same
  int64_t doubled = 0;      // payments no key's answer names (executed twice), or a key named twice
  int64_t lost = 0;         // payments an answer names that the books do not have
  int64_t unresolved = 0;   // keys still in flight, payments still unknown or pending
  int64_t disagreeing = 0;  // payments the issuer sees otherwise
  int64_t payments = 0;
  int64_t full_disk_runs = 0, clock_jumps = 0, network_kills = 0, node_restarts = 0;
  double resolve_s_max = 0;  // the longest wait for an in-flight key to answer
  bool verify_acquirer = false, verify_issuer = false;
};

class Campaign {
 public:
  explicit Campaign(Options options);
  bool Run();

 private:
  struct Client {
    Random rnd;
    // Payments open to follow-ups: the path prefix /v1/payments/{id} and their merchant's key.
    std::vector<std::pair<std::string, std::string>> authorized, captured;
    std::vector<Record> records;
  };

  struct Node {
    pid_t pid = -1;
    int port = 0;  // kept across restarts (the load balancer knows it)
  };

  bool SetUp();
  bool StartServer(const Phase& phase = {}, size_t node = 0);
  bool StartNetwork();
  bool StartBalancer();
  void KillServer(size_t node = 0);
  bool KillRound(int k, Random& rnd);
  void Stop(pid_t pid);
  bool cluster() const { return o_.nodes > 1; }
  Phase NextPhase(int n);
  int64_t PageCount() const;
  void Load(Client& c);
  Record NextOp(Client& c);
  Reply Submit(Record& r);
  void Resend(Record& r);
  bool Check();
  void CheckAnswers(std::map<std::string, std::string>* key_of_payment);
  void CheckBooks(const std::map<std::string, std::string>& key_of_payment);
  void Print() const;
  std::string Card(Random& rnd) const;
  std::string Db() const { return pg_ ? pg_->conninfo() : dir_ + "/pay.db"; }
  std::string IssuerDb() const { return dir_ + "/issuer.db"; }
  std::string CardKey() const { return dir_ + "/card.key"; }
  // The options every paymentctl command of the campaign takes.
  std::vector<std::string> Ctl(std::initializer_list<std::string> args) const;
  std::string Log() const { return dir_ + "/paymentd.log"; }

  Options o_;
  std::string dir_;
  std::unique_ptr<testing::PgSchema> pg_;
  std::string admin_key_;
  std::map<std::string, std::string> merchant_keys_;  // merchant -> API key
  std::vector<std::string> cards_;

  std::vector<Node> nodes_;
  int down_ = -1;         // the cluster's node killed last, down until the next kill
  pid_t balancer_ = -1;   // cluster: HAProxy
  pid_t network_ = -1;    // --tcp: the network simulator
  int network_port_ = 0;  // kept across its restarts
  std::mutex mu_;
  std::condition_variable changed_;
  int port_ = 0;  // where requests go: the one node, or the load balancer
  int64_t generation_ = 0;  // server starts
  bool up_ = false;
  bool stop_ = false;
  bool plain_ = true;  // the running paymentd has no fault of its own (quota, clock)
  int64_t answered_ = 0;
  std::vector<Client> clients_;
  Figures f_;
};

}  // namespace pay::chaos
