#include "outputs/pusher.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

namespace pelt {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kErrorBodyBytes = 200;  // response text kept in an error message

struct Batch {
  std::string payload;  // encoded points
  size_t points = 0;    // how many
};

// "HTTP 400: unable to parse ...", the body cut to one short line.
std::string status_error(const HttpResponse& r) {
  std::string body = r.body.substr(0, kErrorBodyBytes);
  for (char& c : body) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  while (!body.empty() && body.back() == ' ') body.pop_back();
  std::string text = "HTTP " + std::to_string(r.status);
  if (!body.empty()) text += ": " + body;
  return text;
}

// Retry-After in seconds (the HTTP-date form is ignored); 0 when absent.
std::chrono::milliseconds retry_after(const HttpResponse& r) {
  const std::string v = r.header("Retry-After");
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 6) {
    return std::chrono::milliseconds(0);
  }
  return std::chrono::seconds(std::atol(v.c_str()));
}

}  // namespace

std::chrono::milliseconds backoff_delay(const PusherOptions& options, int attempt, double jitter) {
  const int doublings = std::clamp(attempt - 2, 0, 30);
  const double base = static_cast<double>(options.backoff_initial.count()) *
                      static_cast<double>(uint64_t{1} << doublings);
  const double capped = std::min(base, static_cast<double>(options.backoff_max.count()));
  return std::chrono::milliseconds(static_cast<long long>(capped / 2 + capped / 2 * jitter));
}

struct Pusher::Impl {
  PusherOptions options;       // as given
  RequestBuilder build;        // payload -> request
  HttpClient client;           // the connection, used by the thread only (interrupt() aside)
  mutable std::mutex mutex;    // guards everything below
  std::condition_variable cv;  // wakes the thread (new data, flush) and flush() (thread done)
  std::deque<Batch> queue;     // batches waiting
  size_t queued_bytes = 0;     // payload bytes in queue
  PushStats stats;             // counters
  bool closing = false;        // flush() called: send what is left, then stop
  bool aborting = false;       // the deadline passed (or destruction): stop now
  bool finished = false;       // the thread has left its loop
  Clock::time_point deadline = Clock::time_point::max();  // flush()'s deadline
  std::mt19937_64 random;                                 // jitter source
  int failure_streak = 0;                                 // failed attempts since the last success
  std::thread thread;                                     // the sender

  Impl(PusherOptions o, RequestBuilder b)
      : options(std::move(o)), build(std::move(b)), client(options.http) {
    random.seed(options.jitter_seed != 0 ? options.jitter_seed : std::random_device{}());
  }

  void run();
  // Sends one combined request with retries. Called without the lock. Returns the points'
  // fate through the stats (takes the lock to update them).
  void send_batch(std::string payload, size_t points);
  // Waits `delay` unless aborting (or the flush deadline comes first). True when the wait
  // ran its course and another attempt may be made.
  bool wait_before_retry(std::chrono::milliseconds delay);
  void warn(const std::string& text) {
    if (options.warn) options.warn(options.name + ": " + text);
  }
};

Pusher::Pusher(PusherOptions options, RequestBuilder build)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(build))) {
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

Pusher::~Pusher() {
  flush(Clock::now());
}

const std::string& Pusher::name() const {
  return impl_->options.name;
}

bool Pusher::push(std::string payload, size_t points) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  PushStats& s = impl_->stats;
  if (impl_->closing) {
    s.dropped_unsent += points;
    return false;
  }
  if (impl_->queued_bytes + payload.size() > impl_->options.max_queue_bytes) {
    s.dropped_queue_full += points;
    s.last_error = "queue full (" + std::to_string(impl_->options.max_queue_bytes) +
                   " bytes waiting); points dropped";
    return false;
  }
  s.points_queued += points;
  impl_->queued_bytes += payload.size();
  impl_->queue.push_back(Batch{std::move(payload), points});
  impl_->cv.notify_all();
  return true;
}

bool Pusher::flush(Clock::time_point deadline) {
  Impl& m = *impl_;
  std::unique_lock<std::mutex> lock(m.mutex);
  if (!m.closing) {
    m.closing = true;
    m.deadline = deadline;
    m.cv.notify_all();
  }
  if (!m.cv.wait_until(lock, deadline, [&] { return m.finished; })) {
    m.aborting = true;
    m.cv.notify_all();
    m.client.interrupt();  // ends a request in progress at once
  }
  lock.unlock();
  if (m.thread.joinable()) m.thread.join();
  lock.lock();
  for (const Batch& b : m.queue) m.stats.dropped_unsent += b.points;
  m.queue.clear();
  m.queued_bytes = 0;
  return m.stats.points_sent == m.stats.points_queued;
}

PushStats Pusher::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->stats;
}

void Pusher::Impl::run() {
  std::unique_lock<std::mutex> lock(mutex);
  Clock::time_point next_send = Clock::now();
  for (;;) {
    // Wait for data and for the interval to pass, unless closing (then send at once).
    cv.wait(lock, [&] { return aborting || closing || !queue.empty(); });
    if (!closing && !aborting) {
      cv.wait_until(lock, next_send, [&] {
        return aborting || closing || queued_bytes >= options.max_request_bytes;
      });
    }
    if (aborting || queue.empty()) break;  // closing with nothing left also ends here
    std::string payload;
    size_t points = 0;
    while (!queue.empty() && (payload.empty() || payload.size() + queue.front().payload.size() <=
                                                     options.max_request_bytes)) {
      payload += queue.front().payload;
      points += queue.front().points;
      queued_bytes -= queue.front().payload.size();
      queue.pop_front();
    }
    next_send = Clock::now() + options.flush_interval;
    lock.unlock();
    send_batch(std::move(payload), points);
    lock.lock();
  }
  finished = true;
  cv.notify_all();
}

void Pusher::Impl::send_batch(std::string payload, size_t points) {
  for (int attempt = 1;; ++attempt) {
    HttpRequest request = build(payload);
    {
      std::lock_guard<std::mutex> lock(mutex);
      request.deadline = deadline;  // max() until flush() sets one
    }
    HttpResponse response;
    std::string error;
    const bool answered = client.send(request, response, error);
    const bool ok = answered && response.status >= 200 && response.status < 300;
    const bool may_pass =
        !answered || response.status == 429 || (response.status >= 500 && response.status < 600);
    if (answered && !ok) error = status_error(response);

    std::unique_lock<std::mutex> lock(mutex);
    if (ok) {
      stats.points_sent += points;
      ++stats.requests_sent;
      const bool recovered = failure_streak > 0;
      failure_streak = 0;
      lock.unlock();
      if (recovered) warn("sending again");
      return;
    }
    // An attempt that only our own flush deadline cut short ("interrupted", "deadline
    // reached") says nothing about the store: it keeps the failure seen before it, if any.
    const bool cut_short = !answered && (aborting || (closing && Clock::now() >= deadline));
    if (!cut_short || stats.last_error.empty()) stats.last_error = error;
    const bool first_failure = ++failure_streak == 1;
    if (!may_pass) {
      stats.dropped_rejected += points;
      lock.unlock();
      warn(error + "; " + std::to_string(points) + " points rejected");
      return;
    }
    if (aborting || (closing && Clock::now() >= deadline)) {
      stats.dropped_unsent += points;
      return;
    }
    if (attempt >= options.max_attempts) {
      stats.dropped_retries += points;
      stats.last_error = error + " (gave up after " + std::to_string(attempt) + " attempts)";
      return;
    }
    ++stats.retries;
    const double jitter = std::uniform_real_distribution<double>(0.0, 1.0)(random);
    std::chrono::milliseconds delay = backoff_delay(options, attempt + 1, jitter);
    if (answered) delay = std::max(delay, std::min(retry_after(response), options.backoff_max));
    lock.unlock();
    if (first_failure) warn(error + "; retrying");
    if (!wait_before_retry(delay)) {
      std::lock_guard<std::mutex> relock(mutex);
      stats.dropped_unsent += points;
      return;
    }
  }
}

bool Pusher::Impl::wait_before_retry(std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock(mutex);
  const Clock::time_point until = Clock::now() + delay;
  // Wake early only to abort, or when flush() sets a deadline that comes before the retry.
  const auto give_up = [&] { return aborting || (closing && until >= deadline); };
  cv.wait_until(lock, until, give_up);
  return !give_up();
}

}  // namespace pelt
