#pragma once
// The writer of paymentd: a bounded queue of engine commands drained in group commits
// (Engine::SubmitBatch: up to `batch_max` commands, one durable commit) by two threads, so that
// one batch is claimed while the other waits for the card network. Each command is answered
// only after its commit.
//
// Threading: Submit may be called from any thread; answers are handed to their Deliver callback
// on a writer thread (the callback must not block: a session posts it to its own executor).

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "adapters/server/http_message.h"
#include "adapters/server/metrics.h"
#include "pay/engine.h"

namespace pay::server {

// What to make of a committed command's outcome: the answer, or a further command to commit
// first (answered in turn by its own `then`). Runs on a writer thread: it must not block.
struct Followup;
using Then = std::function<std::variant<HttpResponse, Followup>(const Result<Outcome>&)>;
struct Followup {
  Command command;
  Then then;  // empty: ResponseFromOutcome
};

class Writer {
 public:
  using Deliver = std::function<void(HttpResponse)>;

  // Starts the writer thread. `engine` and `metrics` must outlive the writer.
  Writer(Engine& engine, MetricsRegistry& metrics, size_t queue_max, size_t batch_max);
  ~Writer();  // Stop()

  // Queues `command`; `deliver` gets the answer (labelled `route`) after the command's commit.
  // Returns a 503 instead when the queue is full or the writer is stopping (nothing queued).
  std::optional<HttpResponse> Submit(Command command, std::string route, Deliver deliver);
  // The same, answered by `then` (which may chain a further command: it is queued ahead of
  // new requests, never refused).
  std::optional<HttpResponse> Submit(Followup followup, std::string route, Deliver deliver);
  // Commits and answers everything queued, then ends the thread. Idempotent.
  void Stop();

 private:
  struct Job {
    Command command;
    Then then;
    std::string route;
    Deliver deliver;
  };
  void Loop();
  void Answer(Job job, const Result<Outcome>& outcome);

  static constexpr int kPipelineDepth = 2;

  Engine& engine_;
  MetricsRegistry& metrics_;
  const size_t queue_max_;
  const size_t batch_max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace pay::server
