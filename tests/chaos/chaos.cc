// The fault campaign (docs/reliability.md): paymentd (`paymentctl serve`, a child process) under
// mixed card load from several client threads (authorize, capture, void, refund, disbursement,
// P2P; a hot merchant, repeated keys, a velocity rule, network faults), killed with SIGKILL at
// random moments and restarted, then every key ever sent is sent again and both ledgers are
// checked: every answered operation answers the same again, no key executed twice, no payment
// left unresolved after the grace, `verify` green on the acquirer and the issuer, and both
// sides agreeing payment by payment. Prints its figures; exits 1 on any loss.
//
// Usage: chaos --paymentctl PATH [--kills 3] [--ops-per-kill 300] [--threads 4] [--seed 1]
//              [--faults SPEC] [--dir PATH] [--keep] [--tcp] [--postgres CONNINFO|env]
//              [--nodes N --cluster-script scripts/cluster.sh]
// Between kills paymentd runs plainly, with a database quota it soon fills (a full disk), or
// with its clock two hours ahead (and then back); --tcp puts the network simulator in a process
// of its own and kills it too. --postgres keeps the books in a fresh schema on that PostgreSQL
// server ("env": the one PAY_TEST_POSTGRES names; exit 77, skipped, without it); there is no
// full-disk phase then (the quota is SQLite's). --nodes N (N > 1) runs a cluster: N paymentd
// nodes on the one database, the network simulator over TCP shared by all, HAProxy in front
// (configured by the cluster script); each kill takes one node down (SIGKILL) while the load goes
// on through HAProxy, and restarts it at the next kill (skipped, exit 77, without haproxy).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/random.h"
#include "tests/chaos/campaign.h"

int main(int argc, char** argv) {
  pay::chaos::Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "chaos: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--paymentctl") o.paymentctl = next();
    else if (a == "--kills") o.kills = std::atoi(next().c_str());
    else if (a == "--ops-per-kill") o.ops_per_kill = std::atoi(next().c_str());
    else if (a == "--threads") o.threads = std::max(1, std::atoi(next().c_str()));
    else if (a == "--seed") o.seed = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--faults") o.faults = next();
    else if (a == "--dir") o.parent = next();
    else if (a == "--keep") o.keep = true;
    else if (a == "--tcp") o.tcp = true;
    else if (a == "--postgres") o.postgres = next();
    else if (a == "--nodes") o.nodes = std::max(1, std::atoi(next().c_str()));
    else if (a == "--cluster-script") o.cluster_script = next();
    else {
      std::fprintf(stderr,
                   "chaos: unknown option %s (--paymentctl --kills --ops-per-kill --threads --seed "
                   "--faults --dir --keep --tcp --postgres --nodes --cluster-script)\n",
                   a.c_str());
      return 2;
    }
  }
  if (o.postgres == "env") {  // the test server CI starts; skipped (exit 77) without one
    const char* server = std::getenv("PAY_TEST_POSTGRES");
    if (server == nullptr || *server == '\0') {
      std::printf("chaos: skipped: PAY_TEST_POSTGRES is not set\n");
      return 77;
    }
    o.postgres = server;
  }
  if (o.nodes > 1) {
    if (o.cluster_script.empty()) {
      std::fprintf(stderr, "chaos: --nodes needs --cluster-script PATH (scripts/cluster.sh)\n");
      return 2;
    }
    if (std::system("haproxy -v >/dev/null 2>&1") != 0) {
      std::printf("chaos: skipped: haproxy is not installed (scripts/install-deps.sh installs it)\n");
      return 77;
    }
  }
  if (o.paymentctl.empty()) {
    std::fprintf(stderr, "chaos: --paymentctl PATH is required\n");
    return 2;
  }
  pay::chaos::Campaign campaign(o);
  return campaign.Run() ? 0 : 1;
}
