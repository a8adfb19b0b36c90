// Client-side TLS (OpenSSL 3) over memory BIOs: the caller moves bytes to and from the socket,
// this module only turns ciphertext into plaintext and back. Nothing here touches a file
// descriptor, so the connection state machine stays the same with or without TLS.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace pelt {

struct TlsOptions {
  bool verify = true;   // verify the peer certificate chain and host name
  std::string ca_file;  // extra CA bundle (PEM) added to the system store; "" = none
};

// One per worker thread (not shared across threads): SSL_CTX plus a session cache.
class TlsContext {
 public:
  // Returns nullptr and sets error when the context cannot be built (e.g. unreadable ca_file).
  static std::unique_ptr<TlsContext> create(const TlsOptions& options, std::string& error);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* native() const;
  uint64_t resumed() const;  // handshakes that resumed a session
  uint64_t full() const;     // full handshakes

 private:
  friend class TlsSession;
  TlsContext() = default;

  // Stores session as the newest one for key (takes ownership of one reference).
  void store_session(const std::string& key, SSL_SESSION* session);
  // Newest session stored for key, or nullptr; the context keeps its reference.
  SSL_SESSION* find_session(const std::string& key) const;
  // OpenSSL new-session callback; returns 1 when the session reference was kept.
  static int on_new_session(SSL* ssl, SSL_SESSION* session);

  SSL_CTX* ctx_ = nullptr;                        // the OpenSSL context, owned
  std::map<std::string, SSL_SESSION*> sessions_;  // newest session per host:port key, owned
  uint64_t resumed_ = 0;                          // count of handshakes that resumed a session
  uint64_t full_ = 0;                             // count of full handshakes
};

// One per connection.
class TlsSession {
 public:
  enum class Status { kOk, kWantRead, kError, kClosed };

  // host: used for SNI (skipped for IP literals) and host-name verification (IP literals are
  // checked as IP SANs). ALPN offers "http/1.1", or "h2,http/1.1" with offer_h2. Tries to
  // resume the last session the context saved for the same host:port key. The context must
  // outlive the session.
  TlsSession(TlsContext& context, const std::string& host, const std::string& session_key,
             bool offer_h2 = false);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Start or continue the handshake. Appends bytes to send to net_out.
  // kOk: handshake complete; kWantRead: feed more bytes; kError: error() says why.
  Status handshake(std::string& net_out);
  bool handshake_done() const;

  // Bytes read from the socket. Decrypted plaintext is appended to plain_out; bytes to send
  // (handshake, alerts, renegotiation, key updates) appended to net_out. Returns kClosed on
  // close_notify, kError with error() on a failure (verification, bad record...).
  // While the handshake is in progress the bytes continue it: kWantRead means it still needs
  // more input, kOk means it finished (handshake_done() turns true) and all input was used.
  Status on_read(const char* data, size_t len, std::string& plain_out, std::string& net_out);

  // Encrypt plaintext; appends ciphertext to net_out. Requires handshake_done().
  Status write(const char* data, size_t len, std::string& net_out);

  // Human-readable reason for the last kError: the verification result
  // ("certificate verify failed: self-signed certificate") or the OpenSSL error string.
  const std::string& error() const;
  bool resumed() const;
  std::string alpn() const;

 private:
  friend class TlsContext;  // the new-session callback reads session_key_

  // Moves everything OpenSSL queued for the network into net_out.
  void drain_output(std::string& net_out);
  // Turns an SSL_get_error() code from a failed call into a status, filling error_.
  Status fail(int ssl_error, const char* what);
  // Decrypts whatever input is buffered into plain_out.
  Status read_plain(std::string& plain_out, std::string& net_out);
  // Bookkeeping once the handshake has completed (counters on the context).
  void on_handshake_complete();

  TlsContext& context_;      // the per-thread context (counters, session cache)
  std::string session_key_;  // host:port key for the session cache
  SSL* ssl_ = nullptr;       // the OpenSSL connection, owned
  BIO* net_in_ = nullptr;    // memory BIO holding ciphertext read from the socket (owned by ssl_)
  BIO* net_out_ = nullptr;   // memory BIO holding ciphertext to send (owned by ssl_)
  bool done_ = false;        // handshake finished
  bool failed_ = false;      // a fatal error happened; every later call returns kError
  bool closed_ = false;      // close_notify received
  std::string error_;        // reason for the last kError
  std::unique_ptr<char[]> scratch_;  // one record of plaintext, decrypted before appending
};

}  // namespace pelt
