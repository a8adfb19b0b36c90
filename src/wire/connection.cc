#include "wire/connection.h"

#include "results/recorder.h"
#include "wire/http2_session.h"

namespace pelt {
namespace {

// A connection the server closes this soon after it opened, before any response, is refused
// work rather than an idle connection timed out.
constexpr uint64_t kQuickCloseNs = 1'000'000'000;

}  // namespace

Connection::Connection(TransportFactory& transports, Recorder& recorder, const sockaddr* dst,
                       const sockaddr* src)
    : recorder_(recorder),
      protocol_(transports.protocol()),
      http1_(std::make_unique<Http1Session>(static_cast<SessionEvents&>(*this))),
      session_(http1_.get()),
      transport_(transports.make(*this)),
      dst_(dst),
      src_(src) {
  if (protocol_.version != HttpVersion::kHttp11) {
    http2_ =
        std::make_unique<Http2Session>(static_cast<SessionEvents&>(*this), recorder_, protocol_);
    // HTTP/2 unless ALPN says otherwise (auto over cleartext is HTTP/1.1).
    const bool h2 = protocol_.version == HttpVersion::kHttp2;
    if (h2) session_ = http2_.get();
  }
}

Connection::~Connection() = default;

uint32_t Connection::attach(ConnectionUser& user) {
  users_.push_back(&user);
  is_touched_.push_back(0);
  http1_->add_slot();
  if (http2_) http2_->add_slot();
  return static_cast<uint32_t>(users_.size() - 1);
}

void Connection::set_capture(bool capture) {
  capture_ = capture;
  http1_->set_capture(capture);
  if (http2_) http2_->set_capture(capture);
}

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

bool Connection::submit(uint32_t slot) {
  close_after_response_ = false;
  if (!session_->submit(slot)) return false;
  if (batch_depth_ == 0) flush_session();
  return true;
}

void Connection::flush_session() {
  if (!transport_->ready()) return;
  // nghttp2 closes a stream it resets for a protocol error while it sends the RST_STREAM:
  // the users that hear of it then get on_input_done, and what they submit goes out too.
  const uint64_t events = events_;
  ++batch_depth_;
  const bool ok = session_->flush();
  --batch_depth_;
  if (ok && events_ != events && transport_->ready()) {
    begin_input();
    end_input();  // flushes again
    return;
  }
  if (!ok || session_->broken()) {
    if (transport_->ready()) fail(ErrorKind::kRead, session_->failure_reason(), session_->error());
    return;
  }
  if (session_->wants_close()) {
    // HTTP/2 after a graceful GOAWAY: every stream it allowed is done; what it left
    // unprocessed goes out on the next connection.
    recorder_.record_reconnect();
    close_and_reopen();
  }
}

void Connection::touch(uint32_t slot) {
  ++events_;
  if (users_.size() == 1 || is_touched_[slot]) return;
  is_touched_[slot] = 1;
  touched_.push_back(slot);
}

void Connection::end_input() {
  if (users_.size() == 1) {
    users_[0]->on_input_done();
  } else {
    // A user may be touched again while the list is walked (a failure it causes): take the
    // list first.
    for (size_t i = 0; i < touched_.size(); ++i) {
      const uint32_t slot = touched_[i];
      is_touched_[slot] = 0;
      users_[slot]->on_input_done();
    }
    touched_.clear();
  }
  if (--batch_depth_ == 0) flush_session();
}

void Connection::announce_ready() {
  if (announced_ || !ready()) return;
  announced_ = true;
  begin_input();
  for (ConnectionUser* user : users_) user->on_connection_ready();
  if (--batch_depth_ == 0) flush_session();
}

bool Connection::choose_protocol() {
  if (!http2_) return true;  // HTTP/1.1 only
  bool h2 = protocol_.version == HttpVersion::kHttp2;
  if (transport_->tls()) {
    const std::string& alpn = transport_->alpn();
    h2 = alpn == "h2";
    if (!h2 && protocol_.version == HttpVersion::kHttp2) {
      static const std::string kReason = "http2: ALPN did not choose h2";
      const std::string chosen = alpn.empty() ? "no protocol" : alpn;
      transport_->note_unusable();
      fail(ErrorKind::kConnect, kReason,
           "the server does not speak HTTP/2 (ALPN chose " + chosen +
               "); --http auto falls back to HTTP/1.1");
      return false;
    }
    if (!h2) ++recorder_.http2().alpn_fallbacks;
  }
  Session* chosen = h2 ? http2_.get() : http1_.get();
  if (chosen != session_ && session_->outstanding() > 0) {
    // Requests an HTTP/2 GOAWAY left for this connection cannot go over HTTP/1.1.
    std::vector<uint64_t> lost(users_.size());
    for (size_t slot = 0; slot < users_.size(); ++slot) {
      lost[slot] = session_->outstanding(static_cast<uint32_t>(slot));
    }
    session_->reset();
    session_ = chosen;
    static const std::string kReason = "protocol changed";
    static const std::string kDetail = "read: the server no longer speaks HTTP/2 (ALPN)";
    report_lost(lost, ErrorKind::kRead, kReason, kDetail, /*always_count=*/false);
    return transport_->ready();
  }
  session_ = chosen;
  return true;
}

void Connection::on_transport_ready() {
  if (!choose_protocol()) return;
  announced_ = false;
  responses_ = 0;
  ready_ns_ = transport_->now_ns();
  if (!session_->start()) {
    transport_->note_unusable();
    fail(ErrorKind::kConnect, session_->error(), session_->error());
    return;
  }
  announce_ready();
}

void Connection::on_response(uint32_t slot, const ParsedResponse& response) {
  if (!response.keep_alive) close_after_response_ = true;
  if (responses_++ == 0) transport_->note_response();
  touch(slot);
  users_[slot]->on_response(response);
}

void Connection::on_request_failed(uint32_t slot, ErrorKind kind, const std::string& reason,
                                   const std::string& detail) {
  touch(slot);
  users_[slot]->on_requests_failed({kind, reason, detail, 1, true});
}

void Connection::on_transport_bytes(const char* data, size_t len) {
  begin_input();
  if (!session_->feed(data, len)) {
    end_input();
    if (transport_->ready()) {
      const std::string& reason = session_->failure_reason();
      fail(ErrorKind::kRead, reason,
           reason == "parse error" ? "parse: " + session_->error() : session_->error());
    }
    return;
  }
  if (close_after_response_ && session_->outstanding() == 0 && transport_->ready()) {
    // The server asked to close after its response: reconnect for the next request.
    close_after_response_ = false;
    recorder_.record_reconnect();
    close_and_reopen();
  }
  end_input();
  announce_ready();
}

void Connection::on_transport_eof() {
  // A connection that ends before its first response backs off before the next one, so a
  // server (or a load balancer without backends) that closes every connection cannot make
  // pelt spin through connections.
  if (in_read_burst_ && batch_depth_ == 1) {
    // The end came in the same wake-up as bytes not yet answered: answer them first, as a
    // wake-up that stopped before the end would have (a graceful GOAWAY is acted on there).
    flush_session();
    if (!transport_->ready()) return;
  }
  begin_input();
  const bool clean = session_->finish();
  if (!clean) {
    end_input();
    if (responses_ == 0) transport_->note_failure();
    fail(ErrorKind::kRead, "premature close", "read: " + session_->error());
    return;
  }
  if (session_->outstanding() > 0 && !session_->wants_close()) {
    end_input();
    if (responses_ == 0) transport_->note_failure();
    fail(ErrorKind::kRead, "premature close",
         "read: the server closed the connection before responding");
    return;
  }
  // Closed at once after the connect, without a response: a server refusing work (a load
  // balancer without backends). An unused connection closed later is an idle timeout.
  if (responses_ == 0 && session_->outstanding() == 0 &&
      transport_->now_ns() - ready_ns_ < kQuickCloseNs) {
    end_input();
    transport_->note_failure();
    fail(ErrorKind::kRead, "connection closed before response",
         "read: the server closed the connection before sending any response");
    return;
  }
  // Closed after the last response, or while idle (the server's keep-alive timeout), or after
  // a graceful GOAWAY: reconnect quietly.
  close_after_response_ = false;
  recorder_.record_reconnect();
  close_and_reopen();
  end_input();
}

void Connection::on_transport_error(ErrorKind kind, const std::string& reason,
                                    const std::string& detail) {
  // A connection that breaks before its first response backs off before the next one (failed
  // connects are counted by the transport itself).
  if (kind != ErrorKind::kConnect && responses_ == 0 && transport_->ready()) transport_->note_failure();
  fail(kind, reason, detail);
}

void Connection::fail(ErrorKind kind, const std::string& reason, const std::string& detail) {
  std::vector<uint64_t> lost(users_.size());
  for (size_t slot = 0; slot < users_.size(); ++slot) {
    lost[slot] = session_->outstanding(static_cast<uint32_t>(slot));
  }
  session_->reset();
  close_and_reopen();
  report_lost(lost, kind, reason, detail, /*always_count=*/true);
}

void Connection::report_lost(const std::vector<uint64_t>& lost, ErrorKind kind,
                             const std::string& reason, const std::string& detail,
                             bool always_count) {
  // The first user that lost requests carries the error; when none did (a failed connect),
  // the first user, if the failure counts anyway.
  size_t carrier = users_.size();
  for (size_t slot = 0; slot < lost.size() && carrier == users_.size(); ++slot) {
    if (lost[slot] > 0) carrier = slot;
  }
  if (carrier == users_.size() && always_count) carrier = 0;
  if (carrier == users_.size()) return;  // nobody lost anything
  begin_input();
  for (size_t slot = 0; slot < lost.size(); ++slot) {
    if (lost[slot] == 0 && slot != carrier) continue;
    touch(static_cast<uint32_t>(slot));
    users_[slot]->on_requests_failed({kind, reason, detail, lost[slot], slot == carrier});
  }
  end_input();
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
  // when a user wants a connection again by now.
  if (reopen && transport_->failures() > 0) {  // (failed connects or closes without a response)
    transport_->connect_after_backoff();
    return;
  }
  for (ConnectionUser* user : users_) {
    if (user->wants_connection()) {
      transport_->connect(dst_, src_);
      return;
    }
  }
}

void Connection::on_transport_backoff_done() {
  if (shutting_down_) return;
  if (transport_->state() == Transport::State::kClosed) transport_->connect(dst_, src_);
}

void Connection::abandon(uint32_t slot) {
  if (session_->outstanding(slot) == 0) return;
  if (session_->cancel(slot)) {
    if (batch_depth_ == 0) flush_session();
    return;
  }
  // Only closing gives the requests up (their responses could still arrive); the other
  // users' requests on the pipeline are lost with them.
  std::vector<uint64_t> lost = others_outstanding(slot);
  session_->reset();
  reopen_ = false;
  transport_->close();
  static const std::string kReason = "pipeline cut";
  static const std::string kDetail = "read: closed with a pipelined request another VU gave up";
  report_lost(lost, ErrorKind::kRead, kReason, kDetail, /*always_count=*/false);
}

void Connection::time_out(uint32_t slot) {
  if (session_->cancel(slot)) {
    if (batch_depth_ == 0) flush_session();
    return;
  }
  // HTTP/1.1: closing is the only way to give a request up. The requests behind it on the
  // pipeline waited as long as it did: they time out too.
  std::vector<uint64_t> lost = others_outstanding(slot);
  session_->reset();
  close_and_reopen();
  static const std::string kReason = "timeout";
  static const std::string kDetail = "timeout: no response within the timeout";
  report_lost(lost, ErrorKind::kTimeout, kReason, kDetail, /*always_count=*/false);
}

std::vector<uint64_t> Connection::others_outstanding(uint32_t slot) const {
  std::vector<uint64_t> lost(users_.size());
  for (size_t s = 0; s < users_.size(); ++s) {
    lost[s] = s == slot ? 0 : session_->outstanding(static_cast<uint32_t>(s));
  }
  return lost;
}

void Connection::check_connect_timeout(uint64_t now_ns, uint64_t timeout_ns) {
  transport_->check_connect_timeout(now_ns, timeout_ns);
  if (transport_->ready() && !announced_ && now_ns - ready_ns_ > timeout_ns) {
    // Connected, but the protocol never started (HTTP/2: no SETTINGS from the server).
    transport_->note_unusable();
    fail(ErrorKind::kConnect, "http2: no SETTINGS",
         "http2: the server sent no SETTINGS within the timeout");
  }
}

void Connection::shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  // The caller has counted what was outstanding as in flight; nothing may count it again.
  session_->reset();
  transport_->shutdown();
}

}  // namespace pelt
