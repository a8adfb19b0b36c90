// The socket transports: PlainTransport (TCP) and TlsTransport (TCP + OpenSSL over memory
// BIOs). The socket is ours, non-blocking, watched by a uv_poll handle on the worker's loop,
// and read and written with raw send()/recv() system calls.
#pragma once

#include <deque>
#include <memory>
#include <string>

#include "wire/tls.h"
#include "wire/transport.h"

namespace pelt {

class PlainTransport : public Transport {
 public:
  PlainTransport(TransportEvents& events, const TransportSettings& settings);
  ~PlainTransport() override;

  void connect(const sockaddr* dst, const sockaddr* src) override;
  bool send(const std::shared_ptr<const void>& owner, std::string_view bytes) override;
  void close() override;
  void shutdown() override;
  void check_connect_timeout(uint64_t now_ns, uint64_t timeout_ns) override;

 protected:
  // TCP is up. Plain: ready at once.
  virtual void on_connected(uint64_t now_ns);
  // Bytes read from the socket. Plain: handed to the owner as they are.
  virtual void on_socket_bytes(const char* data, size_t len);
  // The peer sent FIN.
  virtual void on_socket_eof();
  // Writes bytes to the socket, queueing what it does not take: shared bytes by reference,
  // others (write_copy) as a copy. False when the write failed.
  bool write_shared(const std::shared_ptr<const void>& owner, std::string_view bytes);
  bool write_copy(const char* data, size_t len);
  // Everything queued has gone to the socket.
  bool drained() const { return out_.empty(); }
  // The socket took the last queued bytes (TLS encrypts more then).
  virtual void on_drained() {}
  // Reports a failure to the owner (counting a failed connect first).
  void report_error(ErrorKind kind, const std::string& reason, const std::string& detail);
  void report_ready();
  bool open() const { return state_ == State::kReady || state_ == State::kHandshaking; }

  const TransportSettings& settings_;  // the worker's transport settings
  uint64_t connect_start_ns_ = 0;      // when the connect (or the TLS handshake) began, ns

 private:
  static void on_poll(uv_poll_t* handle, int status, int events);
  static void on_closed(uv_handle_t* handle);

  // A socket that could not be created, bound or connected at once: no poll handle exists.
  void fail_unopened(const char* what, int err);
  void handle_connected(int status);
  // Reads what the socket holds: until a short read, or with until_would_block until EAGAIN.
  // False when the connection ended or failed on the way.
  bool read_socket(bool until_would_block);
  void poll_failed(int status);  // the poll reported an error: drain, then fail
  void handle_read_error(int err);
  void flush_out();              // the socket is writable: sends what out_ holds
  void watch(bool writable);     // polls for readable, and writable when asked
  void close_handle(bool notify);

  int fd_ = -1;                     // the socket (non-blocking), -1 when none
  uv_poll_t poll_;                  // readiness of fd_ (re-initialised per connection)
  bool watching_writable_ = false;  // poll_ includes UV_WRITABLE
  bool notify_close_ = true;        // on_transport_closed() once the handle is closed
  // Bytes the socket did not take yet, in order, each segment from its offset on.
  struct Pending {
    std::shared_ptr<const void> owner;  // keeps `bytes` alive
    std::string_view bytes;             // the segment
    size_t offset = 0;                  // bytes of it already sent
  };
  bool queue(std::shared_ptr<const void> owner, std::string_view bytes, size_t sent, bool copy);
  std::deque<Pending> out_;         // sent when the socket is writable
};

class TlsTransport : public PlainTransport {
 public:
  TlsTransport(TransportEvents& events, const TransportSettings& settings);
  ~TlsTransport() override;

  bool send(const std::shared_ptr<const void>& owner, std::string_view bytes) override;
  void close() override;
  void shutdown() override;
  bool tls() const override { return true; }

 protected:
  void on_connected(uint64_t now_ns) override;
  void on_drained() override { pump(); }
  void on_socket_bytes(const char* data, size_t len) override;
  void on_socket_eof() override;

 private:
  // Encrypts queued plaintext while the socket takes the ciphertext, a record's worth at a
  // time, so a large body is never held encrypted in memory whole. False on a failure.
  bool pump();

  std::unique_ptr<TlsSession> tls_;  // TLS state of the current connection
  struct Plain {
    std::shared_ptr<const void> owner;  // keeps `bytes` alive
    std::string_view bytes;             // plaintext to encrypt
    size_t offset = 0;                  // bytes of it already encrypted
  };
  std::deque<Plain> plain_out_;      // plaintext waiting to be encrypted
  std::string tls_out_;              // scratch: ciphertext produced by TLS
  std::string tls_plain_;            // scratch: plaintext produced by TLS
};

}  // namespace pelt
