// A Transport owns one client socket: the non-blocking socket and its poll handle, the TLS
// state over memory BIOs when the target is https, and the backoff between failed connects.
// It hands application bytes (plaintext) to its owner and takes application bytes from it, so
// nothing above it knows whether TLS is on: plain or TLS is chosen once per worker, by the
// TransportFactory, as wrk chooses its socket operations once.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/clock.h"
#include "results/stats.h"
#include "wire/http_version.h"

namespace pelt {

class H2Memory;
class Recorder;
class TlsContext;

// How a connection chooses and starts its protocol (per worker, like the transports).
struct ProtocolSettings {
  HttpVersion version = HttpVersion::kHttp11;  // --http
  std::string scheme = "http";                 // :scheme of HTTP/2 requests
  std::string authority;                       // :authority when a request has no Host
  H2Memory* memory = nullptr;                  // the worker's pool for nghttp2, or null
};

// What a transport reports to its owner. Every callback may close the transport; the
// transport checks its state after each one.
class TransportEvents {
 public:
  virtual ~TransportEvents() = default;
  // Connected (and the TLS handshake done): application bytes may be sent.
  virtual void on_transport_ready() = 0;
  // Application bytes arrived (decrypted when TLS is on).
  virtual void on_transport_bytes(const char* data, size_t len) = 0;
  // The peer ended the stream cleanly: a FIN, or a TLS close_notify.
  virtual void on_transport_eof() = 0;
  // The connection failed (connect, TLS, read or write). The owner closes the transport.
  virtual void on_transport_error(ErrorKind kind, const std::string& reason,
                                  const std::string& detail) = 0;
  // The socket is closed (after close(), or a failure before any handle existed).
  virtual void on_transport_closed() = 0;
  // The reconnect backoff ran out: the owner may connect again.
  virtual void on_transport_backoff_done() = 0;
  // True when a readable socket should be read until it would block, with the bytes of all
  // those reads answered by one write (between on_read_burst(true) and on_read_burst(false)).
  virtual bool wants_read_bursts() const { return false; }
  virtual void on_read_burst(bool /*begin*/) {}
};

class Transport {
 public:
  enum class State { kClosed, kConnecting, kHandshaking, kReady, kClosing };

  Transport(TransportEvents& events, Clock& clock) : events_(events), clock_(clock) {}
  virtual ~Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Opens a connection to dst (from src when not null). From kClosed only.
  virtual void connect(const sockaddr* dst, const sockaddr* src) = 0;
  // Sends application bytes that stay valid while `owner` lives (they are not copied: a
  // partial write keeps a reference and an offset). False when the connection failed on the
  // way (already reported).
  virtual bool send(const std::shared_ptr<const void>& owner, std::string_view bytes) = 0;
  // Closes the socket; on_transport_closed() follows once it is closed.
  virtual void close() = 0;
  // End of the run: closes without further callbacks.
  virtual void shutdown() = 0;
  // Connects and TLS handshakes older than timeout_ns fail as connect errors.
  virtual void check_connect_timeout(uint64_t now_ns, uint64_t timeout_ns) = 0;

  State state() const { return state_; }
  bool ready() const { return state_ == State::kReady; }
  bool connecting() const { return state_ == State::kConnecting || state_ == State::kHandshaking; }
  // The time to stamp events with: inside a read, that read's time (a fraction of a
  // microsecond old, and no clock read); otherwise the clock's.
  uint64_t now_ns() const { return in_read_ ? read_ns_ : clock_.now_ns(); }
  // Whether this transport runs TLS, and the protocol its handshake chose by ALPN ("" when
  // none, or before the handshake).
  virtual bool tls() const { return false; }
  const std::string& alpn() const { return alpn_; }

  // Reconnect backoff: connections in a row that failed or closed before any response, and a
  // connect after 1, 2, 4 ... 100 ms (with jitter: 50% to 100% of that).
  uint32_t failures() const { return failures_; }
  // The connection came up but could not be used (the protocol failed to start): counts as a
  // failed connect, so the next one waits for the backoff, which grows until a response.
  void note_unusable() { ++failures_; }
  void connect_after_backoff();
  bool backoff_pending() const { return backoff_ && backoff_->active(); }
  // A connection that ended without a response counts as a failure (backoff grows).
  void note_failure() { ++failures_; }
  // A response arrived: the server works, reconnects are immediate again.
  void note_response() { failures_ = 0; }

 protected:
  void note_connect_failure() { ++failures_; }
  void note_connected() {}
  void stop_backoff() {
    if (backoff_) backoff_->stop();
  }

  TransportEvents& events_;  // the owner
  Clock& clock_;             // time and timers
  State state_ = State::kClosed;
  bool in_read_ = false;     // inside the handling of a read: read_ns_ is the current time
  uint64_t read_ns_ = 0;     // time of the read being handled, ns
  std::string alpn_;         // protocol chosen by ALPN on the current connection, "" if none

 private:
  static void on_backoff(void* ctx);

  uint32_t failures_ = 0;           // connections in a row that failed or got no response
  uint64_t jitter_state_ = 0;       // xorshift state for the backoff's jitter
  std::unique_ptr<Timer> backoff_;  // reconnect backoff (made on the first failure)
};

// Per-worker settings for the transports of its connections.
struct TransportSettings {
  uv_loop_t* loop = nullptr;         // the worker's loop
  Clock* clock = nullptr;            // the worker's clock
  Recorder* recorder = nullptr;      // connect, TLS and byte counts go here
  char* read_buffer = nullptr;       // shared by every socket of the loop
  size_t read_buffer_bytes = 0;      // its size
  TlsContext* tls = nullptr;         // per-thread TLS context; null = plain TCP
  std::string tls_host;              // SNI and certificate name
  std::string tls_session_key;       // "host:port" for session resumption
  ProtocolSettings protocol;         // HTTP/1.1, HTTP/2 or either (ALPN offers h2 unless 1.1)
};

// Makes the transports of one worker: TLS or plain, decided once from the settings.
class TransportFactory {
 public:
  explicit TransportFactory(TransportSettings settings) : settings_(std::move(settings)) {}
  virtual ~TransportFactory() = default;
  virtual std::unique_ptr<Transport> make(TransportEvents& events);
  const ProtocolSettings& protocol() const { return settings_.protocol; }

 protected:
  TransportFactory() = default;

 private:
  TransportSettings settings_;  // shared by every transport made
};

}  // namespace pelt
