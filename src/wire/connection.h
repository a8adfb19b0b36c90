// A Connection is what a VU sends its requests over: a Transport (socket, TLS, reconnect
// backoff) with a Session on top (the protocol). It opens and reopens the transport, feeds the
// session, decides when a connection must close (the server said so, the peer closed, a
// failure) and tells its user in neutral terms: ready, first byte, response, failure.
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

// The connection's user: a VU.
class ConnectionUser {
 public:
  virtual ~ConnectionUser() = default;
  // Connected: a request may be submitted.
  virtual void on_connection_ready() = 0;
  virtual void on_first_byte() = 0;
  virtual void on_response(const ParsedResponse& response) = 0;
  // Every byte of one read was handled (responses reported, closes decided).
  virtual void on_input_done() = 0;
  // The connection failed and closed. `unanswered` requests got no response;
  // `while_connecting`: it failed before it was ready (connect or TLS handshake).
  virtual void on_connection_failed(ErrorKind kind, const std::string& reason,
                                    const std::string& detail, uint64_t unanswered,
                                    bool while_connecting) = 0;
  // Whether to reopen the connection after it closed.
  virtual bool wants_connection() const = 0;
};

class Connection : private TransportEvents, private SessionEvents {
 public:
  // dst: where to connect (read at every connect); src: local address to bind, or null.
  Connection(ConnectionUser& user, TransportFactory& transports, Recorder& recorder,
             const sockaddr* dst, const sockaddr* src);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool ready() const { return transport_->ready(); }
  // Connects when closed and no reconnect backoff is running.
  void open();
  // Connects when closed (a VU opened ahead of need).
  void warm_up();
  void set_capture(bool capture) { session_.set_capture(capture); }
  // Sends a batch of requests (ready() must hold). False when the write failed (reported).
  bool submit(const RequestBatch& batch);
  // Requests sent and not yet answered.
  uint64_t outstanding() const { return session_.outstanding(); }
  // The current read's time inside a read, otherwise the clock's.
  uint64_t now_ns() const { return transport_->now_ns(); }
  // Forgets the waiting requests (the caller counted them); closes without reopening when
  // there were any, since their responses could still arrive.
  void abandon();
  // The waiting requests timed out (the caller counted them): closes and reopens.
  void drop_and_reopen();
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
  // SessionEvents
  void on_first_byte() override { user_.on_first_byte(); }
  void on_response(const ParsedResponse& response) override;
  bool write(const std::shared_ptr<const void>& owner, std::string_view bytes) override {
    return transport_->send(owner, bytes);
  }

  // A connection-level failure: closes (and later reopens) and tells the user how many
  // requests lost their answer.
  void fail(ErrorKind kind, const std::string& reason, const std::string& detail);
  void close_and_reopen();

  ConnectionUser& user_;                   // the VU
  Recorder& recorder_;                     // reconnects
  Http1Session session_;                   // the protocol
  std::unique_ptr<Transport> transport_;   // the socket
  const sockaddr* dst_;                    // target address
  const sockaddr* src_;                    // local address to bind, or null
  bool reopen_ = false;                    // reconnect once the transport has closed
  bool close_after_response_ = false;      // the server asked to close after its response
  uint64_t responses_ = 0;                 // responses on the current connection
  uint64_t ready_ns_ = 0;                  // when the current connection became ready
  bool shutting_down_ = false;             // shutdown() was called
};

}  // namespace pelt
