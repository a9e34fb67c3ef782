#include "adapters/server/writer.h"

#include <algorithm>
#include <vector>

namespace pay::server {

Writer::Writer(Engine& engine, MetricsRegistry& metrics, size_t queue_max, size_t batch_max)
    : engine_(engine),
      metrics_(metrics),
      queue_max_(queue_max),
      batch_max_(std::max<size_t>(1, batch_max)) {
  // Two batches in the engine's pipeline at once: while one waits for the card network, the
  // other is claimed and committed (Engine::SubmitBatch holds the writer's lock for neither).
  for (int i = 0; i < kPipelineDepth; ++i) threads_.emplace_back([this] { Loop(); });
}

Writer::~Writer() { Stop(); }

std::optional<HttpResponse> Writer::Submit(Command command, std::string route, Deliver deliver) {
  return Submit(Followup{std::move(command), nullptr}, std::move(route), std::move(deliver));
}

std::optional<HttpResponse> Writer::Submit(Followup followup, std::string route, Deliver deliver) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return ErrorResponse(503, ErrorCode::kStoreBusy, "server: shutting down");
    if (queue_.size() >= queue_max_) {
      ++metrics_.queue_full;
      HttpResponse r = ErrorResponse(503, ErrorCode::kStoreBusy,
                                     "server: the writer's queue is full; retry with the same key");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    queue_.push_back({std::move(followup.command), std::move(followup.then), std::move(route), std::move(deliver)});
  }
  cv_.notify_one();
  return std::nullopt;
}

void Writer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void Writer::Loop() {
  for (;;) {
    std::vector<Job> jobs;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything accepted was answered
      const size_t n = std::min(queue_.size(), batch_max_);
      jobs.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<Command> commands;
    commands.reserve(jobs.size());
    for (Job& j : jobs) commands.push_back(std::move(j.command));
    auto results = engine_.SubmitBatch(commands);  // answered only after its commit
    metrics_.Commit(jobs.size());
    for (size_t i = 0; i < jobs.size(); ++i) {
      const auto& r = results[i];
      metrics_.Answered(OperationOf(commands[i].request), r);
      Answer(std::move(jobs[i]), r);
    }
  }
}

void Writer::Answer(Job job, const Result<Outcome>& outcome) {
  if (!job.then) {
    HttpResponse response = ResponseFromOutcome(outcome);
    response.route = std::move(job.route);
    job.deliver(std::move(response));
    return;
  }
  auto next = job.then(outcome);
  if (auto* response = std::get_if<HttpResponse>(&next)) {
    response->route = std::move(job.route);
    job.deliver(std::move(*response));
    return;
  }
  Followup& more = std::get<Followup>(next);
  {
    std::lock_guard lock(mu_);  // ahead of new requests: its request is already being answered
    queue_.push_front({std::move(more.command), std::move(more.then), std::move(job.route), std::move(job.deliver)});
  }
  cv_.notify_one();
}

}  // namespace pay::server
