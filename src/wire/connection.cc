#include "wire/connection.h"

#include "results/recorder.h"

namespace pelt {
namespace {

// A connection the server closes this soon after it opened, before any response, is refused
// work rather than an idle connection timed out.
constexpr uint64_t kQuickCloseNs = 1'000'000'000;

}  // namespace

Connection::Connection(ConnectionUser& user, TransportFactory& transports, Recorder& recorder,
                       const sockaddr* dst, const sockaddr* src)
    : user_(user), recorder_(recorder), session_(*this), transport_(transports.make(*this)),
      dst_(dst), src_(src) {}

Connection::~Connection() = default;

void Connection::open() {
  if (shutting_down_) return;
  if (transport_->state() == Transport::State::kClosed && !transport_->backoff_pending()) {
    transport_->connect(dst_, src_);
  }
}

void Connection::warm_up() {
  if (shutting_down_) return;
  if (transport_->state() == Transport::State::kClosed) transport_->connect(dst_, src_);
}

bool Connection::submit(const RequestBatch& batch) {
  close_after_response_ = false;
  return session_.submit(batch);
}

void Connection::on_transport_ready() {
  session_.reset();
  responses_ = 0;
  ready_ns_ = transport_->now_ns();
  user_.on_connection_ready();
}

void Connection::on_response(const ParsedResponse& response) {
  if (!response.keep_alive) close_after_response_ = true;
  if (responses_++ == 0) transport_->note_response();
  user_.on_response(response);
}

void Connection::on_transport_bytes(const char* data, size_t len) {
  if (!session_.feed(data, len)) {
    user_.on_input_done();
    if (transport_->ready()) fail(ErrorKind::kRead, "parse error", "parse: " + session_.error());
    return;
  }
  if (close_after_response_ && session_.outstanding() == 0 && transport_->ready()) {
    // The server asked to close after its response: reconnect for the next request.
    close_after_response_ = false;
    recorder_.record_reconnect();
    close_and_reopen();
  }
  user_.on_input_done();
}

void Connection::on_transport_eof() {
  // A connection that ends before its first response backs off before the next one, so a
  // server (or a load balancer without backends) that closes every connection cannot make
  // pelt spin through connections.
  if (!session_.finish()) {
    if (responses_ == 0) transport_->note_failure();
    fail(ErrorKind::kRead, "premature close", "read: " + session_.error());
    return;
  }
  if (session_.outstanding() > 0) {
    if (responses_ == 0) transport_->note_failure();
    fail(ErrorKind::kRead, "premature close",
         "read: the server closed the connection before responding");
    return;
  }
  // Closed at once after the connect, without a response: a server refusing work (a load
  // balancer without backends). An unused connection closed later is an idle timeout.
  if (responses_ == 0 && transport_->now_ns() - ready_ns_ < kQuickCloseNs) {
    transport_->note_failure();
    fail(ErrorKind::kRead, "connection closed before response",
         "read: the server closed the connection before sending any response");
    return;
  }
  // Closed after the last response, or while idle (the server's keep-alive timeout):
  // reconnect quietly.
  close_after_response_ = false;
  recorder_.record_reconnect();
  close_and_reopen();
  user_.on_input_done();
}

void Connection::on_transport_error(ErrorKind kind, const std::string& reason,
                                    const std::string& detail) {
  // A connection that breaks before its first response backs off before the next one (failed
  // connects are counted by the transport itself).
  if (kind != ErrorKind::kConnect && responses_ == 0 && transport_->ready()) transport_->note_failure();
  fail(kind, reason, detail);
}

void Connection::fail(ErrorKind kind, const std::string& reason, const std::string& detail) {
  const uint64_t unanswered = session_.outstanding();
  const bool connecting = transport_->connecting() ||
                          transport_->state() == Transport::State::kClosed;
  session_.reset();
  close_and_reopen();
  user_.on_connection_failed(kind, reason, detail, unanswered, connecting);
}

void Connection::close_and_reopen() {
  reopen_ = true;
  transport_->close();
}

void Connection::on_transport_closed() {
  if (shutting_down_) return;
  const bool reopen = reopen_;
  reopen_ = false;
  // Reconnect at once after a clean close; back off after failed connects so a refusing
  // server does not spin the loop. A close that did not ask to reopen (abandon()) reopens only
  // when the user wants a connection again by now.
  if (reopen && transport_->failures() > 0) {  // (failed connects or closes without a response)
    transport_->connect_after_backoff();
    return;
  }
  if (user_.wants_connection()) transport_->connect(dst_, src_);
}

void Connection::on_transport_backoff_done() {
  if (shutting_down_) return;
  if (transport_->state() == Transport::State::kClosed) transport_->connect(dst_, src_);
}

void Connection::abandon() {
  const bool unanswered = session_.outstanding() > 0;
  session_.reset();
  if (unanswered) {
    reopen_ = false;
    transport_->close();
  }
}

void Connection::drop_and_reopen() {
  session_.reset();
  close_and_reopen();
}

void Connection::check_connect_timeout(uint64_t now_ns, uint64_t timeout_ns) {
  transport_->check_connect_timeout(now_ns, timeout_ns);
}

void Connection::shutdown() {
  shutting_down_ = true;
  // The caller has counted what was outstanding as in flight; nothing may count it again.
  session_.reset();
  transport_->shutdown();
}

}  // namespace pelt
