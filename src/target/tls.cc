#include "target/tls.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace pelt::target {
namespace {

// The newest OpenSSL error as text (the queue is cleared).
std::string openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

// ALPN: picks the first protocol of the server's list (wire format, in `arg`) that the client
// offers; without a common protocol the handshake goes on without ALPN.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  const auto* server = static_cast<const std::string*>(arg);
  for (size_t s = 0; s < server->size(); s += 1 + static_cast<unsigned char>((*server)[s])) {
    auto slen = static_cast<unsigned char>((*server)[s]);
    std::string_view want(server->data() + s + 1, slen);
    for (unsigned int c = 0; c < inlen; c += 1 + in[c]) {
      if (c + 1 + in[c] > inlen) break;
      std::string_view offered(reinterpret_cast<const char*>(in + c + 1), in[c]);
      if (offered == want) {
        *out = in + c + 1;
        *outlen = in[c];
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

bool write_cert(X509* cert, const std::string& path, std::string& error) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    error = fmt::format("cannot write --tls-cert-out {}: {}", path, std::strerror(errno));
    return false;
  }
  bool ok = PEM_write_X509(f, cert) == 1;
  ok = std::fclose(f) == 0 && ok;
  if (!ok) error = fmt::format("cannot write --tls-cert-out {}", path);
  return ok;
}

bool load_files(SSL_CTX* ctx, const ServeOptions& o, std::string& error) {
  if (SSL_CTX_use_certificate_chain_file(ctx, o.tls_cert_path.c_str()) != 1) {
    error = fmt::format("cannot load --tls-cert {}: {}", o.tls_cert_path, openssl_error());
    return false;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, o.tls_key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = fmt::format("cannot load --tls-key {}: {}", o.tls_key_path, openssl_error());
    return false;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    error =
        fmt::format("--tls-key {} does not match --tls-cert {}", o.tls_key_path, o.tls_cert_path);
    return false;
  }
  return true;
}

bool use_generated(SSL_CTX* ctx, const ServeOptions& o, std::string& error) {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  if (!make_self_signed(key, cert, error)) return false;
  bool ok = SSL_CTX_use_certificate(ctx, cert) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;
  if (!ok) error = "cannot use the generated certificate: " + openssl_error();
  if (ok && !o.tls_cert_out_path.empty()) ok = write_cert(cert, o.tls_cert_out_path, error);
  X509_free(cert);
  EVP_PKEY_free(key);
  return ok;
}

}  // namespace

SSL_CTX* make_tls_context(const ServeOptions& o, std::string& error) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    error = "cannot create a TLS context: " + openssl_error();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (o.tls_max_version != 0) SSL_CTX_set_max_proto_version(ctx, o.tls_max_version);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
  // Idle connections give their record buffers back; writes may resume from a moved buffer.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  bool ok = o.tls_cert_path.empty() ? use_generated(ctx, o, error) : load_files(ctx, o, error);
  if (!ok) {
    SSL_CTX_free(ctx);
    return nullptr;
  }
  // The wire-format ALPN list lives as long as the context, i.e. the whole process.
  auto* wire = new std::string;
  for (const std::string& p : o.alpn) {
    wire->push_back(static_cast<char>(p.size()));
    wire->append(p);
  }
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, wire);
  return ctx;
}

TlsLink::TlsLink(SSL_CTX* ctx) {
  ssl_ = SSL_new(ctx);
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (ssl_ == nullptr || in_ == nullptr || out_ == nullptr) {
    BIO_free(in_);
    BIO_free(out_);
    SSL_free(ssl_);
    ssl_ = nullptr;
    ERR_clear_error();
    return;
  }
  BIO_set_mem_eof_return(in_, -1);  // an empty input BIO means "more later", not EOF
  BIO_set_mem_eof_return(out_, -1);
  SSL_set_bio(ssl_, in_, out_);
  SSL_set_accept_state(ssl_);
}

TlsLink::~TlsLink() {
  SSL_free(ssl_);  // frees both BIOs
}

void TlsLink::feed(const char* data, size_t len) {
  if (!failed_) BIO_write(in_, data, static_cast<int>(len));
}

TlsLink::Read TlsLink::read(char* buf, size_t cap, size_t& n) {
  n = 0;
  if (failed_) return Read::kFailed;
  int r = SSL_read(ssl_, buf, static_cast<int>(cap));
  if (r > 0) {
    n = static_cast<size_t>(r);
    return Read::kData;
  }
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return Read::kMore;
    case SSL_ERROR_ZERO_RETURN:
      return Read::kCloseNotify;
    default:
      failed_ = true;
      ERR_clear_error();
      return Read::kFailed;
  }
}

std::string_view TlsLink::alpn() const {
  const unsigned char* p = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_, &p, &len);
  return p == nullptr ? std::string_view{}
                      : std::string_view(reinterpret_cast<const char*>(p), len);
}

bool TlsLink::seal(std::string& plain) {
  if (failed_) return false;
  if (plain.empty()) return true;
  int r = SSL_write(ssl_, plain.data(), static_cast<int>(plain.size()));
  if (r > 0) {
    plain.erase(0, static_cast<size_t>(r));
    return true;
  }
  int err = SSL_get_error(ssl_, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
  failed_ = true;
  ERR_clear_error();
  return false;
}

void TlsLink::drain(std::string& wire) {
  size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return;
  size_t old = wire.size();
  wire.resize(old + pending);
  int r = BIO_read(out_, wire.data() + old, static_cast<int>(pending));
  wire.resize(old + (r > 0 ? static_cast<size_t>(r) : 0));
}

void TlsLink::close_notify() {
  if (failed_ || !established()) return;
  if (SSL_shutdown(ssl_) < 0) ERR_clear_error();
}

bool TlsLink::request_renegotiation() {
  if (failed_ || !established() || version() != TLS1_2_VERSION) return false;
  if (SSL_renegotiate(ssl_) != 1) {
    ERR_clear_error();
    return false;
  }
  int r = SSL_do_handshake(ssl_);  // writes the HelloRequest
  if (r <= 0) {
    int err = SSL_get_error(ssl_, r);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      failed_ = true;
      ERR_clear_error();
      return false;
    }
  }
  return true;
}

}  // namespace pelt::target
