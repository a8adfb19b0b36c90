// A Connection is what VUs send their requests over: a Transport (socket, TLS, reconnect
// backoff) with a Session on top (the protocol). It serves one or more users (VUs), each known
// by its slot: with HTTP/1.1 and one stream per connection (the default) exactly one; with
// HTTP/2 and -m N, N users whose requests run as concurrent streams. It opens and reopens the
// transport, feeds the session, decides when a connection must close (the server said so, the
// peer closed, a failure) and tells each user in neutral terms: ready, first byte, response,
// requests that ended without one. A failure of the whole connection counts one error, carried
// by one user, however many users lose requests with it.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wire/session.h"
#include "wire/transport.h"

namespace pelt {

class Recorder;

// Requests of one user that ended without a response.
struct RequestFailure {
  ErrorKind kind;             // wrk's error bucket (kTimeout: they timed out)
  const std::string& reason;  // the error breakdown's label, e.g. "premature close"
  const std::string& detail;  // a full message, kept as a sample
  uint64_t unanswered;        // this user's requests that got no response
  bool counts_error;          // this user carries the failure's one error count
};

// A user of the connection: a VU.
class ConnectionUser {
 public:
  virtual ~ConnectionUser() = default;
  // Connected (and the protocol started): a request may be submitted.
  virtual void on_connection_ready() = 0;
  virtual void on_first_byte() = 0;
  virtual void on_response(const ParsedResponse& response) = 0;
  // Every byte of one read was handled (responses reported, closes decided), or a failure
  // was reported: the user may go on (the next request goes out with the read's other writes).
  virtual void on_input_done() = 0;
  // Requests of this user ended without a response (the connection failed, a stream was
  // reset, a pipeline was cut), or a connection attempt failed (unanswered = 0).
  virtual void on_requests_failed(const RequestFailure& failure) = 0;
  // Whether to reopen the connection after it closed.
  virtual bool wants_connection() const = 0;
};

class Connection : private TransportEvents, private SessionEvents {
 public:
  // dst: where to connect (read at every connect); src: local address to bind, or null. The
  // factory's protocol settings pick HTTP/1.1 or HTTP/2 at every connect (ALPN over TLS).
  Connection(TransportFactory& transports, Recorder& recorder, const sockaddr* dst,
             const sockaddr* src);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Adds a user; returns its slot (0, 1, ...). Before the first open().
  uint32_t attach(ConnectionUser& user);
  size_t users() const { return users_.size(); }
  // Requests may be submitted now.
  bool ready() const { return transport_->ready() && session_->accepting(); }
  // Connects when closed and no reconnect backoff is running.
  void open();
  // Connects when closed (a VU opened ahead of need).
  void warm_up();
  void set_capture(bool capture);
  // Takes a batch of serialized requests for the next submit(): returns how many requests it
  // holds, or -1 when the protocol cannot send them (prepare_error() says why). The batch must
  // stay valid until submit().
  int prepare(const RequestBatch& batch) { return session_->prepare(batch); }
  const std::string& prepare_error() const { return session_->error(); }
  // What record_sent() should count as written for `request_bytes` of serialized requests:
  // those bytes for HTTP/1.1, none for HTTP/2 (its session counts its frames itself).
  uint64_t sent_bytes(uint64_t request_bytes) const {
    return session_->counts_written_bytes() ? 0 : request_bytes;
  }
  // Sends the prepared batch for `slot` (ready() must hold). Inside a read the bytes go out
  // with the read's other writes. False when the write failed (reported).
  bool submit(uint32_t slot);
  // Requests sent and not yet answered: in all, and those of one slot.
  uint64_t outstanding() const { return session_->outstanding(); }
  uint64_t outstanding(uint32_t slot) const { return session_->outstanding(slot); }
  // The current read's time inside a read, otherwise the clock's (also SessionEvents').
  uint64_t now_ns() const override { return transport_->now_ns(); }
  // Forgets the requests of `slot` (the caller counted them). HTTP/2 resets their streams;
  // HTTP/1.1 closes without reopening, since their responses could still arrive.
  void abandon(uint32_t slot);
  // The requests of `slot` timed out (the caller counted them). HTTP/2 resets their streams;
  // HTTP/1.1 closes and reopens, and every other request on it times out with them.
  void time_out(uint32_t slot);
  void check_connect_timeout(uint64_t now_ns, uint64_t timeout_ns);
  // End of the run: closes for good, no more callbacks.
  void shutdown();

 private:
  // TransportEvents
  void on_transport_ready() override;
  void on_transport_bytes(const char* data, size_t len) override;
  void on_transport_eof() override;
  void on_transport_error(ErrorKind kind, const std::string& reason,
                          const std::string& detail) override;
  void on_transport_closed() override;
  void on_transport_backoff_done() override;
  // HTTP/2 with several streams: every response a wake-up brings is answered in one write.
  bool wants_read_bursts() const override {
    return http2_ && session_ == http2_.get() && users_.size() > 1;
  }
  void on_read_burst(bool begin) override {
    in_read_burst_ = begin;
    if (begin) {
      ++batch_depth_;
    } else if (--batch_depth_ == 0) {
      flush_session();
    }
  }
  // SessionEvents
  void on_first_byte(uint32_t slot) override { users_[slot]->on_first_byte(); }
  void on_response(uint32_t slot, const ParsedResponse& response) override;
  void on_request_failed(uint32_t slot, ErrorKind kind, const std::string& reason,
                         const std::string& detail) override;
  bool write(const std::shared_ptr<const void>& owner, std::string_view bytes) override {
    return transport_->send(owner, bytes);
  }

  // Input handling: users touched by a read hear on_input_done() at its end, and what they
  // submitted meanwhile goes out in one write.
  void begin_input() { ++batch_depth_; }
  void end_input();
  void touch(uint32_t slot);
  // Tells the users the connection is ready, once per connection.
  void announce_ready();
  // Sends what the session queued; fails the connection when the protocol gave up on it.
  void flush_session();
  // Picks the session for the connection that just became ready (HTTP/2 by ALPN or prior
  // knowledge, else HTTP/1.1). False when it failed the connection instead.
  bool choose_protocol();
  // A connection-level failure: closes (and later reopens); every user with requests on it
  // learns how many lost their answer, and one of them carries the error.
  void fail(ErrorKind kind, const std::string& reason, const std::string& detail);
  // Tells every user with lost requests (by slot) how many; the first of them carries the
  // error, or the first user when none lost any and always_count is set.
  void report_lost(const std::vector<uint64_t>& lost, ErrorKind kind, const std::string& reason,
                   const std::string& detail, bool always_count);
  // Outstanding requests by slot, 0 for `slot`.
  std::vector<uint64_t> others_outstanding(uint32_t slot) const;
  void close_and_reopen();

  Recorder& recorder_;                    // reconnects
  const ProtocolSettings& protocol_;      // HTTP/1.1, HTTP/2 or auto (the factory's)
  std::unique_ptr<Session> http1_;        // HTTP/1.1, made at once
  std::unique_ptr<Session> http2_;        // HTTP/2, made when the settings allow it
  Session* session_;                      // the one the current connection speaks
  std::unique_ptr<Transport> transport_;  // the socket
  std::vector<ConnectionUser*> users_;    // by slot
  std::vector<uint32_t> touched_;         // slots to tell on_input_done() (several users only)
  std::vector<uint8_t> is_touched_;       // by slot: in touched_ already
  const sockaddr* dst_;                   // target address
  const sockaddr* src_;                   // local address to bind, or null
  uint64_t ready_ns_ = 0;                 // when the transport became ready (HTTP/2 waits
                                          // for the server's SETTINGS after that), ns
  uint64_t responses_ = 0;                // responses on the current connection
  int batch_depth_ = 0;                   // inside input handling: writes wait for its end
  bool in_read_burst_ = false;            // between on_read_burst(true) and (false)
  uint64_t events_ = 0;                   // responses and failures reported to users so far
  bool capture_ = false;                  // sessions keep headers and bodies
  bool announced_ = false;                // users were told this connection is ready
  bool reopen_ = false;                   // reconnect once the transport has closed
  bool close_after_response_ = false;     // the server asked to close after its response
  bool shutting_down_ = false;            // shutdown() was called
};

}  // namespace pelt
