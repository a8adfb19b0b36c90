#include "wire/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include <algorithm>

namespace pelt {
namespace {

// ALPN offers in wire format: length-prefixed protocol names, preferred first.
constexpr unsigned char kAlpnHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char kAlpnH2Http11[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
// Largest slice of socket bytes pushed into the input BIO at once, so it stays small (bytes).
constexpr size_t kFeedChunkBytes = 32 * 1024;
// Plaintext bytes requested per SSL_read: one full TLS record (bytes).
constexpr size_t kReadChunkBytes = 16 * 1024;
// Largest slice of plaintext encrypted before the output BIO is drained (bytes).
constexpr size_t kWriteChunkBytes = 64 * 1024;

// Strips the brackets of an IPv6 literal as written in URLs ("[::1]" -> "::1").
std::string strip_brackets(const std::string& host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Text of the oldest queued OpenSSL error ("" when the queue is empty); clears the queue.
std::string take_openssl_error() {
  unsigned long code = ERR_get_error();
  std::string text;
  if (code != 0) {
    const char* reason = ERR_reason_error_string(code);
    if (reason != nullptr) {
      text = reason;
    } else {
      char buf[256];
      ERR_error_string_n(code, buf, sizeof(buf));
      text = buf;
    }
  }
  ERR_clear_error();
  return text;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// TlsContext

std::unique_ptr<TlsContext> TlsContext::create(const TlsOptions& options, std::string& error) {
  ERR_clear_error();
  std::unique_ptr<TlsContext> context(new TlsContext());
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    error = "cannot create TLS context: " + take_openssl_error();
    return nullptr;
  }
  context->ctx_ = ctx;
  SSL_CTX_set_app_data(ctx, context.get());
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    error = "cannot set minimum TLS version: " + take_openssl_error();
    return nullptr;
  }
  if (options.verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      error = "cannot load system CA certificates: " + take_openssl_error();
      return nullptr;
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!options.ca_file.empty() &&
      SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
    error = "cannot load CA file " + options.ca_file + ": " + take_openssl_error();
    return nullptr;
  }
  // Client-side cache only, kept by pelt per host:port key instead of OpenSSL's internal store.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, &TlsContext::on_new_session);
  return context;
}

TlsContext::~TlsContext() {
  for (auto& entry : sessions_) SSL_SESSION_free(entry.second);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

SSL_CTX* TlsContext::native() const {
  return ctx_;
}
uint64_t TlsContext::resumed() const {
  return resumed_;
}
uint64_t TlsContext::full() const {
  return full_;
}

void TlsContext::store_session(const std::string& key, SSL_SESSION* session) {
  auto [it, inserted] = sessions_.try_emplace(key, session);
  if (!inserted) {
    SSL_SESSION_free(it->second);
    it->second = session;
  }
}

SSL_SESSION* TlsContext::find_session(const std::string& key) const {
  auto it = sessions_.find(key);
  return it == sessions_.end() ? nullptr : it->second;
}

int TlsContext::on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* context = static_cast<TlsContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  auto* owner = static_cast<TlsSession*>(SSL_get_app_data(ssl));
  if (context == nullptr || owner == nullptr || SSL_SESSION_is_resumable(session) != 1) return 0;
  context->store_session(owner->session_key_, session);
  return 1;  // the cache now holds the reference OpenSSL handed over
}

// ---------------------------------------------------------------------------------------------
// TlsSession

TlsSession::TlsSession(TlsContext& context, const std::string& host, const std::string& session_key,
                       bool offer_h2)
    : context_(context), session_key_(session_key) {
  ERR_clear_error();
  ssl_ = SSL_new(context.native());
  net_in_ = BIO_new(BIO_s_mem());
  net_out_ = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || net_in_ == nullptr || net_out_ == nullptr) {
    failed_ = true;
    error_ = "cannot create TLS session: " + take_openssl_error();
    if (net_in_ != nullptr) BIO_free(net_in_);
    if (net_out_ != nullptr) BIO_free(net_out_);
    net_in_ = net_out_ = nullptr;
    return;
  }
  // An empty memory BIO means "no data yet", not end of file.
  BIO_set_mem_eof_return(net_in_, -1);
  BIO_set_mem_eof_return(net_out_, -1);
  SSL_set_bio(ssl_, net_in_, net_out_);
  SSL_set_app_data(ssl_, this);
  SSL_set_connect_state(ssl_);

  const std::string name = strip_brackets(host);
  bool ok = offer_h2 ? SSL_set_alpn_protos(ssl_, kAlpnH2Http11, sizeof(kAlpnH2Http11)) == 0
                     : SSL_set_alpn_protos(ssl_, kAlpnHttp11, sizeof(kAlpnHttp11)) == 0;
  if (is_ip_literal(name)) {
    ok = ok && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), name.c_str()) == 1;
  } else if (!name.empty()) {
    ok = ok && SSL_set_tlsext_host_name(ssl_, name.c_str()) == 1;
    ok = ok && SSL_set1_host(ssl_, name.c_str()) == 1;
  }
  if (!ok) {
    failed_ = true;
    error_ = "cannot configure TLS session for host '" + host + "': " + take_openssl_error();
    return;
  }
  if (SSL_SESSION* cached = context.find_session(session_key_)) {
    SSL_set_session(ssl_, cached);  // takes its own reference; a failure means a full handshake
  }
}

TlsSession::~TlsSession() {
  if (ssl_ == nullptr) return;
  // Connections usually end with a plain TCP close. Without this OpenSSL would treat that as
  // an unclean shutdown and mark the cached session unusable for resumption.
  if (done_ && !failed_) SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(ssl_);  // also frees both BIOs
}

TlsSession::Status TlsSession::handshake(std::string& net_out) {
  if (failed_) return Status::kError;
  if (done_) return Status::kOk;
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl_);
  drain_output(net_out);
  if (rc == 1) {
    on_handshake_complete();
    return Status::kOk;
  }
  int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ) return Status::kWantRead;
  return fail(err, "handshake");
}

bool TlsSession::handshake_done() const {
  return done_;
}

TlsSession::Status TlsSession::on_read(const char* data, size_t len, std::string& plain_out,
                                       std::string& net_out) {
  if (failed_) return Status::kError;
  if (closed_) return Status::kClosed;
  size_t offset = 0;
  do {
    size_t chunk = std::min(len - offset, kFeedChunkBytes);
    if (chunk > 0) {
      if (BIO_write(net_in_, data + offset, static_cast<int>(chunk)) != static_cast<int>(chunk)) {
        failed_ = true;
        error_ = "cannot buffer TLS input: " + take_openssl_error();
        return Status::kError;
      }
      offset += chunk;
    }
    if (!done_) {
      Status status = handshake(net_out);
      if (status == Status::kError) return status;
      if (status == Status::kWantRead) continue;
    }
    Status status = read_plain(plain_out, net_out);
    if (status != Status::kOk) return status;
  } while (offset < len);
  return done_ ? Status::kOk : Status::kWantRead;
}

TlsSession::Status TlsSession::write(const char* data, size_t len, std::string& net_out) {
  if (failed_) return Status::kError;
  if (!done_) {
    error_ = "TLS write before the handshake completed";
    return Status::kError;
  }
  // The error queue is empty here: every failure path empties it (take_openssl_error, fail()),
  // so the I/O calls of an established session skip ERR_clear_error, which costs a
  // thread-local lookup each time.
  size_t offset = 0;
  while (offset < len) {
    size_t chunk = std::min(len - offset, kWriteChunkBytes);
    size_t written = 0;
    int rc = SSL_write_ex(ssl_, data + offset, chunk, &written);
    drain_output(net_out);
    if (rc != 1) return fail(SSL_get_error(ssl_, rc), "write");
    offset += written;
  }
  return Status::kOk;
}

const std::string& TlsSession::error() const {
  return error_;
}

bool TlsSession::resumed() const {
  return ssl_ != nullptr && SSL_session_reused(ssl_) == 1;
}

std::string TlsSession::alpn() const {
  if (ssl_ == nullptr) return {};
  const unsigned char* proto = nullptr;
  unsigned int proto_len = 0;
  SSL_get0_alpn_selected(ssl_, &proto, &proto_len);
  if (proto == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(proto), proto_len);
}

void TlsSession::drain_output(std::string& net_out) {
  size_t pending = BIO_ctrl_pending(net_out_);
  while (pending > 0) {
    size_t old_size = net_out.size();
    net_out.resize(old_size + pending);
    int got = BIO_read(net_out_, net_out.data() + old_size, static_cast<int>(pending));
    net_out.resize(old_size + static_cast<size_t>(std::max(got, 0)));
    if (got <= 0) break;
    pending = BIO_ctrl_pending(net_out_);
  }
}

TlsSession::Status TlsSession::read_plain(std::string& plain_out, std::string& net_out) {
  // Records are decrypted into a scratch buffer allocated once (growing plain_out by a whole
  // record per call would zero-fill 16 KiB for every few hundred bytes of response), then
  // appended. Bounded: every turn either consumes input (at most one record) or leaves.
  if (!scratch_) scratch_ = std::make_unique<char[]>(kReadChunkBytes);
  for (;;) {
    size_t got = 0;
    int rc = SSL_read_ex(ssl_, scratch_.get(), kReadChunkBytes, &got);  // (queue empty: write())
    if (rc == 1) plain_out.append(scratch_.get(), got);
    if (BIO_ctrl_pending(net_out_) > 0) drain_output(net_out);  // key updates, alerts
    if (rc == 1) continue;
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ) return Status::kOk;
    return fail(err, "read");
  }
}

void TlsSession::on_handshake_complete() {
  done_ = true;
  if (SSL_session_reused(ssl_) == 1) {
    ++context_.resumed_;
  } else {
    ++context_.full_;
  }
}

TlsSession::Status TlsSession::fail(int ssl_error, const char* what) {
  if (ssl_error == SSL_ERROR_ZERO_RETURN) {
    closed_ = true;
    ERR_clear_error();
    return Status::kClosed;
  }
  failed_ = true;
  unsigned long code = ERR_peek_error();
  long verify_result = SSL_get_verify_result(ssl_);
  if (ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED &&
      verify_result != X509_V_OK) {
    ERR_clear_error();
    error_ =
        std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify_result);
    return Status::kError;
  }
  std::string detail = take_openssl_error();
  if (detail.empty()) {
    detail = ssl_error == SSL_ERROR_SYSCALL ? "unexpected end of TLS stream"
                                            : "SSL error " + std::to_string(ssl_error);
  }
  error_ = std::string("TLS ") + what + " failed: " + detail;
  return Status::kError;
}

}  // namespace pelt
