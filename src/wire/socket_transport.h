// The socket transports: PlainTransport (TCP) and TlsTransport (TCP + OpenSSL over memory
// BIOs). The socket is ours, non-blocking, watched by a uv_poll handle on the worker's loop,
// and read and written with raw send()/recv() system calls.
#pragma once

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
  bool send(const char* data, size_t len) override;
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
  // Writes bytes to the socket (queued when it is full). False when the write failed.
  bool write_raw(const char* data, size_t len);
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
  std::string out_;                 // bytes the socket did not take yet (sent when writable)
};

class TlsTransport : public PlainTransport {
 public:
  TlsTransport(TransportEvents& events, const TransportSettings& settings);
  ~TlsTransport() override;

  bool send(const char* data, size_t len) override;
  void close() override;
  void shutdown() override;
  bool tls() const override { return true; }

 protected:
  void on_connected(uint64_t now_ns) override;
  void on_socket_bytes(const char* data, size_t len) override;
  void on_socket_eof() override;

 private:
  std::unique_ptr<TlsSession> tls_;  // TLS state of the current connection
  std::string tls_out_;              // scratch: ciphertext produced by TLS
  std::string tls_plain_;            // scratch: plaintext produced by TLS
};

}  // namespace pelt
