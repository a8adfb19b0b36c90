// TLS for pelt-target with OpenSSL 3: the shared server context (certificate, versions, ALPN)
// and TlsLink, one connection's TLS state on memory BIOs, so the serve loop keeps doing all
// socket I/O itself through libuv.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "target/options.h"

namespace pelt::target {

// Builds the server context from the options: loads --tls-cert/--tls-key, or generates a
// self-signed certificate (written to --tls-cert-out when given). Returns null and sets `error`
// to a message naming the file on failure.
SSL_CTX* make_tls_context(const ServeOptions& options, std::string& error);

// A self-signed P-256 certificate for 127.0.0.1, ::1 and localhost, valid from an hour ago for
// 30 days. Returns false and sets `error` on failure.
bool make_self_signed(EVP_PKEY*& key, X509*& cert, std::string& error);

class TlsLink {
 public:
  // What read() produced.
  enum class Read : uint8_t {
    kData,         // `n` plaintext bytes
    kMore,         // nothing more until more ciphertext arrives
    kCloseNotify,  // the client sent close_notify
    kFailed,       // fatal TLS error (an alert may wait in the output)
  };

  explicit TlsLink(SSL_CTX* ctx);
  ~TlsLink();
  TlsLink(const TlsLink&) = delete;
  TlsLink& operator=(const TlsLink&) = delete;

  bool valid() const { return ssl_ != nullptr; }
  // Hands ciphertext received from the client to OpenSSL.
  void feed(const char* data, size_t len);
  // Decrypts the next piece of plaintext into buf (advancing the handshake as needed).
  Read read(char* buf, size_t cap, size_t& n);
  // True once the (first) handshake is complete.
  bool established() const { return ssl_ != nullptr && SSL_is_init_finished(ssl_); }
  // The ALPN protocol agreed on ("h2", "http/1.1"), empty when none.
  std::string_view alpn() const;
  // The negotiated protocol version (TLS1_2_VERSION, TLS1_3_VERSION).
  int version() const { return SSL_version(ssl_); }
  // Encrypts all of `plain` (clearing it). False on a fatal error. During a handshake OpenSSL
  // may not take application data yet: then `plain` stays as it is (retry after input).
  bool seal(std::string& plain);
  // Appends everything OpenSSL has to send (records, alerts, handshake) to `wire`.
  void drain(std::string& wire);
  // Queues close_notify (sent by the next drain). Only after an established handshake.
  void close_notify();
  // TLS 1.2: queues a HelloRequest asking the client to renegotiate. False when impossible.
  bool request_renegotiation();
  // True while a renegotiation asked for has not completed.
  bool renegotiation_pending() const { return SSL_renegotiate_pending(ssl_) == 1; }

 private:
  SSL* ssl_ = nullptr;   // the connection's TLS state
  BIO* in_ = nullptr;    // memory BIO: ciphertext from the client (owned by ssl_)
  BIO* out_ = nullptr;   // memory BIO: ciphertext for the client (owned by ssl_)
  bool failed_ = false;  // a fatal error happened: no more reads, writes or close_notify
};

}  // namespace pelt::target
