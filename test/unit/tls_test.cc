// TlsSession against an in-process OpenSSL server; bytes move through memory BIOs only.
#include "wire/tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

using pelt::TlsContext;
using pelt::TlsOptions;
using pelt::TlsSession;
using Status = TlsSession::Status;

struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};

// Self-signed certificate for "localhost" and 127.0.0.1, generated once per test run.
struct TestCert {
  EVP_PKEY* key = nullptr;  // EC P-256 private key
  X509* cert = nullptr;     // self-signed certificate
  std::string ca_path;      // PEM of cert written to a temporary file
  ~TestCert() {
    X509_free(cert);
    EVP_PKEY_free(key);
    if (!ca_path.empty()) std::remove(ca_path.c_str());
  }
};

const TestCert& test_cert() {
  static TestCert tc = [] {
    TestCert c;
    c.key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    c.cert = X509_new();
    X509_set_version(c.cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c.cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(c.cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c.cert), 24 * 3600);
    X509_NAME* name = X509_get_subject_name(c.cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(c.cert, name);
    X509_set_pubkey(c.cert, c.key);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, c.cert, c.cert, nullptr, nullptr, 0);
    X509_EXTENSION* san =
        X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    X509_add_ext(c.cert, san, -1);
    X509_EXTENSION_free(san);
    X509_sign(c.cert, c.key, EVP_sha256());

    char path[] = "/tmp/pelt_tls_test_ca_XXXXXX";
    int fd = mkstemp(path);
    FILE* f = fdopen(fd, "w");
    PEM_write_X509(f, c.cert);
    fclose(f);
    c.ca_path = path;
    return c;
  }();
  return tc;
}

int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                  unsigned int inlen, void*) {
  static const unsigned char kOffer[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kOffer, sizeof(kOffer), in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// Server SSL_CTX; shared by several connections so session tickets stay valid across them.
std::unique_ptr<SSL_CTX, SslCtxFree> make_server_ctx(int max_version, bool alpn = true) {
  const TestCert& c = test_cert();
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_server_method()));
  REQUIRE(ctx);
  REQUIRE(SSL_CTX_use_certificate(ctx.get(), c.cert) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey(ctx.get(), c.key) == 1);
  SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  static const unsigned char kSid[] = "pelt-test";
  SSL_CTX_set_session_id_context(ctx.get(), kSid, sizeof(kSid) - 1);
  SSL_CTX_set_num_tickets(ctx.get(), 2);
  if (alpn) SSL_CTX_set_alpn_select_cb(ctx.get(), select_http11, nullptr);
  return ctx;
}

// One server connection over a pair of memory BIOs.
struct TestServer {
  std::unique_ptr<SSL, SslFree> ssl;  // server side of the connection
  BIO* in = nullptr;                  // ciphertext from the client (owned by ssl)
  BIO* out = nullptr;                 // ciphertext to the client (owned by ssl)

  explicit TestServer(SSL_CTX* ctx) : ssl(SSL_new(ctx)) {
    in = BIO_new(BIO_s_mem());
    out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in, -1);
    BIO_set_mem_eof_return(out, -1);
    SSL_set_bio(ssl.get(), in, out);
    SSL_set_accept_state(ssl.get());
  }
  void feed(const std::string& bytes) {
    if (!bytes.empty()) BIO_write(in, bytes.data(), static_cast<int>(bytes.size()));
  }
  std::string drain() {
    std::string bytes;
    char buf[16384];
    int n;
    while ((n = BIO_read(out, buf, sizeof(buf))) > 0) bytes.append(buf, static_cast<size_t>(n));
    return bytes;
  }
  // Decrypts everything buffered so far.
  std::string read_all() {
    std::string plain;
    char buf[16384];
    size_t n = 0;
    while (SSL_read_ex(ssl.get(), buf, sizeof(buf), &n) == 1) plain.append(buf, n);
    return plain;
  }
  void write(const std::string& plain) {
    size_t n = 0;
    REQUIRE(SSL_write_ex(ssl.get(), plain.data(), plain.size(), &n) == 1);
    REQUIRE(n == plain.size());
  }
};

// Runs the handshake to completion on both sides (including TLS 1.3 tickets reaching the
// client). Returns the client's last status.
Status pump_handshake(TlsSession& client, TestServer& server) {
  std::string to_server;
  std::string plain;
  Status status = client.handshake(to_server);
  for (int round = 0; round < 20 && status != Status::kError; ++round) {
    server.feed(to_server);
    to_server.clear();
    if (!SSL_is_init_finished(server.ssl.get())) {
      SSL_do_handshake(server.ssl.get());
    } else {
      server.read_all();
    }
    ERR_clear_error();
    std::string to_client = server.drain();
    if (to_client.empty()) {
      if (client.handshake_done() && SSL_is_init_finished(server.ssl.get())) break;
      continue;
    }
    status = client.on_read(to_client.data(), to_client.size(), plain, to_server);
  }
  CHECK(plain.empty());
  return status;
}

std::unique_ptr<TlsContext> make_context(bool verify, bool with_ca) {
  TlsOptions options;
  options.verify = verify;
  if (with_ca) options.ca_file = test_cert().ca_path;
  std::string error;
  auto context = TlsContext::create(options, error);
  REQUIRE(context);
  CHECK(error.empty());
  return context;
}

std::string make_payload(size_t size) {
  std::string payload(size, '\0');
  uint32_t x = 12345;
  for (auto& ch : payload) {
    x = x * 1103515245u + 12345u;
    ch = static_cast<char>(x >> 24);
  }
  return payload;
}

}  // namespace

TEST_CASE("tls: verification needs the CA", "[tls]") {
  auto server_ctx = make_server_ctx(TLS1_3_VERSION);

  SECTION("verify without the CA fails") {
    auto context = make_context(true, false);
    TestServer server(server_ctx.get());
    TlsSession client(*context, "localhost", "localhost:443");
    REQUIRE(pump_handshake(client, server) == Status::kError);
    CHECK_THAT(client.error(), Catch::Contains("certificate verify failed"));
    CHECK_THAT(client.error(), Catch::Contains("self-signed"));
    CHECK_FALSE(client.handshake_done());
    std::string out;
    CHECK(client.handshake(out) == Status::kError);
    CHECK(context->full() == 0);
  }
  SECTION("verify with the CA file succeeds and sends SNI") {
    auto context = make_context(true, true);
    TestServer server(server_ctx.get());
    TlsSession client(*context, "localhost", "localhost:443");
    REQUIRE(pump_handshake(client, server) == Status::kOk);
    CHECK(client.handshake_done());
    CHECK(client.error().empty());
    const char* sni = SSL_get_servername(server.ssl.get(), TLSEXT_NAMETYPE_host_name);
    REQUIRE(sni != nullptr);
    CHECK(std::string(sni) == "localhost");
    CHECK(context->full() == 1);
    CHECK(context->resumed() == 0);
    CHECK_FALSE(client.resumed());
  }
  SECTION("verify disabled succeeds without the CA") {
    auto context = make_context(false, false);
    TestServer server(server_ctx.get());
    TlsSession client(*context, "localhost", "localhost:443");
    REQUIRE(pump_handshake(client, server) == Status::kOk);
  }
  SECTION("a wrong host name fails verification") {
    auto context = make_context(true, true);
    TestServer server(server_ctx.get());
    TlsSession client(*context, "example.com", "example.com:443");
    REQUIRE(pump_handshake(client, server) == Status::kError);
    CHECK_THAT(client.error(), Catch::Contains("certificate verify failed"));
    CHECK_THAT(client.error(), Catch::Contains("hostname mismatch"));
  }
  SECTION("an IP literal is checked against IP SANs and sends no SNI") {
    auto context = make_context(true, true);
    TestServer server(server_ctx.get());
    TlsSession client(*context, "127.0.0.1", "127.0.0.1:443");
    REQUIRE(pump_handshake(client, server) == Status::kOk);
    CHECK(SSL_get_servername(server.ssl.get(), TLSEXT_NAMETYPE_host_name) == nullptr);

    TestServer server2(server_ctx.get());
    TlsSession wrong(*context, "127.0.0.2", "127.0.0.2:443");
    REQUIRE(pump_handshake(wrong, server2) == Status::kError);
    CHECK_THAT(wrong.error(), Catch::Contains("certificate verify failed"));
    CHECK_THAT(wrong.error(), Catch::Contains("IP address mismatch"));
  }
}

TEST_CASE("tls: a missing CA file is reported", "[tls]") {
  TlsOptions options;
  options.ca_file = "/nonexistent/pelt-ca.pem";
  std::string error;
  CHECK(TlsContext::create(options, error) == nullptr);
  CHECK_THAT(error, Catch::Contains("/nonexistent/pelt-ca.pem"));
}

TEST_CASE("tls: ALPN", "[tls]") {
  auto context = make_context(true, true);
  SECTION("server selects http/1.1") {
    auto server_ctx = make_server_ctx(TLS1_3_VERSION, true);
    TestServer server(server_ctx.get());
    TlsSession client(*context, "localhost", "localhost:443");
    REQUIRE(pump_handshake(client, server) == Status::kOk);
    CHECK(client.alpn() == "http/1.1");
  }
  SECTION("server without ALPN") {
    auto server_ctx = make_server_ctx(TLS1_3_VERSION, false);
    TestServer server(server_ctx.get());
    TlsSession client(*context, "localhost", "localhost:443");
    REQUIRE(pump_handshake(client, server) == Status::kOk);
    CHECK(client.alpn().empty());
  }
}

TEST_CASE("tls: data round trip both ways", "[tls]") {
  int version = GENERATE(TLS1_2_VERSION, TLS1_3_VERSION);
  CAPTURE(version);
  auto server_ctx = make_server_ctx(version);
  auto context = make_context(true, true);
  TestServer server(server_ctx.get());
  TlsSession client(*context, "localhost", "localhost:8443");
  REQUIRE(pump_handshake(client, server) == Status::kOk);
  CHECK(SSL_version(server.ssl.get()) == version);

  // A small request and response.
  std::string net;
  std::string plain;
  const std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  REQUIRE(client.write(request.data(), request.size(), net) == Status::kOk);
  CHECK(net.size() > request.size());
  server.feed(net);
  CHECK(server.read_all() == request);
  server.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  std::string back = server.drain();
  net.clear();
  REQUIRE(client.on_read(back.data(), back.size(), plain, net) == Status::kOk);
  CHECK(plain == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");

  const std::string payload = make_payload(1 << 20);
  const size_t kChunks[] = {1, 7, 333, 4099, 16411, 65537, 12};

  SECTION("1 MB from client to server in odd chunks") {
    net.clear();
    REQUIRE(client.write(payload.data(), payload.size(), net) == Status::kOk);
    std::string received;
    size_t offset = 0;
    for (size_t i = 0; offset < net.size(); ++i) {
      size_t n = std::min(kChunks[i % 7], net.size() - offset);
      server.feed(net.substr(offset, n));
      offset += n;
      received += server.read_all();
    }
    CHECK(received.size() == payload.size());
    CHECK(received == payload);
  }
  SECTION("1 MB from server to client, byte by byte then odd chunks") {
    server.write(payload);
    std::string cipher = server.drain();
    std::string received;
    std::string to_server;
    size_t offset = 0;
    for (; offset < 6000; ++offset) {
      REQUIRE(client.on_read(cipher.data() + offset, 1, received, to_server) == Status::kOk);
    }
    for (size_t i = 0; offset < cipher.size(); ++i) {
      size_t n = std::min(kChunks[i % 7], cipher.size() - offset);
      REQUIRE(client.on_read(cipher.data() + offset, n, received, to_server) == Status::kOk);
      offset += n;
    }
    CHECK(received.size() == payload.size());
    CHECK(received == payload);
    CHECK(to_server.empty());
  }
}

TEST_CASE("tls: key update from the server is answered", "[tls]") {
  auto server_ctx = make_server_ctx(TLS1_3_VERSION);
  auto context = make_context(true, true);
  TestServer server(server_ctx.get());
  TlsSession client(*context, "localhost", "localhost:443");
  REQUIRE(pump_handshake(client, server) == Status::kOk);
  REQUIRE(SSL_key_update(server.ssl.get(), SSL_KEY_UPDATE_REQUESTED) == 1);
  server.write("after update");
  std::string cipher = server.drain();
  std::string plain;
  std::string net;
  REQUIRE(client.on_read(cipher.data(), cipher.size(), plain, net) == Status::kOk);
  CHECK(plain == "after update");
  // The client answers with its own KeyUpdate ahead of its next record.
  const std::string more = "next request";
  REQUIRE(client.write(more.data(), more.size(), net) == Status::kOk);
  server.feed(net);
  CHECK(server.read_all() == more);
  CHECK(SSL_get_key_update_type(server.ssl.get()) == SSL_KEY_UPDATE_NONE);
  // Data encrypted under the server's new keys still decrypts.
  server.write("second reply");
  cipher = server.drain();
  plain.clear();
  net.clear();
  REQUIRE(client.on_read(cipher.data(), cipher.size(), plain, net) == Status::kOk);
  CHECK(plain == "second reply");
}

TEST_CASE("tls: a second session with the same key resumes", "[tls]") {
  int version = GENERATE(TLS1_2_VERSION, TLS1_3_VERSION);
  CAPTURE(version);
  auto server_ctx = make_server_ctx(version);
  auto context = make_context(true, true);
  {
    TestServer server(server_ctx.get());
    TlsSession first(*context, "localhost", "localhost:8443");
    REQUIRE(pump_handshake(first, server) == Status::kOk);
    CHECK_FALSE(first.resumed());
  }
  CHECK(context->full() == 1);
  CHECK(context->resumed() == 0);
  {
    TestServer server(server_ctx.get());
    TlsSession second(*context, "localhost", "localhost:8443");
    REQUIRE(pump_handshake(second, server) == Status::kOk);
    CHECK(second.resumed());
    CHECK(SSL_session_reused(server.ssl.get()) == 1);
    CHECK(second.alpn() == "http/1.1");
  }
  CHECK(context->full() == 1);
  CHECK(context->resumed() == 1);
  {
    // The newest session was stored again: a third connection resumes too.
    TestServer server(server_ctx.get());
    TlsSession third(*context, "localhost", "localhost:8443");
    REQUIRE(pump_handshake(third, server) == Status::kOk);
    CHECK(third.resumed());
  }
  CHECK(context->resumed() == 2);
  {
    // Another key has no session to offer.
    TestServer server(server_ctx.get());
    TlsSession other(*context, "localhost", "localhost:9443");
    REQUIRE(pump_handshake(other, server) == Status::kOk);
    CHECK_FALSE(other.resumed());
  }
  CHECK(context->full() == 2);
  CHECK(context->resumed() == 2);
}

TEST_CASE("tls: close_notify yields kClosed", "[tls]") {
  int version = GENERATE(TLS1_2_VERSION, TLS1_3_VERSION);
  auto server_ctx = make_server_ctx(version);
  auto context = make_context(true, true);
  TestServer server(server_ctx.get());
  TlsSession client(*context, "localhost", "localhost:443");
  REQUIRE(pump_handshake(client, server) == Status::kOk);
  server.write("last words");
  SSL_shutdown(server.ssl.get());
  std::string cipher = server.drain();
  std::string plain;
  std::string net;
  CHECK(client.on_read(cipher.data(), cipher.size(), plain, net) == Status::kClosed);
  CHECK(plain == "last words");
  CHECK(client.on_read("x", 1, plain, net) == Status::kClosed);
}

TEST_CASE("tls: garbage bytes yield kError", "[tls]") {
  auto context = make_context(true, true);
  std::string net;
  std::string plain;
  const std::string garbage = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";

  SECTION("instead of a ServerHello") {
    TlsSession client(*context, "localhost", "localhost:443");
    REQUIRE(client.handshake(net) == Status::kWantRead);
    CHECK_FALSE(net.empty());  // the ClientHello
    CHECK(client.on_read(garbage.data(), garbage.size(), plain, net) == Status::kError);
    CHECK_THAT(client.error(), Catch::StartsWith("TLS handshake failed: "));
    CHECK(client.error().size() > 22);
    CHECK(client.error().find("certificate verify failed") == std::string::npos);
    CHECK(client.on_read("x", 1, plain, net) == Status::kError);
  }
  SECTION("after the handshake") {
    auto server_ctx = make_server_ctx(TLS1_3_VERSION);
    TestServer server(server_ctx.get());
    TlsSession client(*context, "localhost", "localhost:443");
    REQUIRE(pump_handshake(client, server) == Status::kOk);
    // A well-formed application data record header whose contents fail authentication.
    std::string record = std::string("\x17\x03\x03\x00\x20", 5) + std::string(32, 'z');
    CHECK(client.on_read(record.data(), record.size(), plain, net) == Status::kError);
    CHECK_THAT(client.error(), Catch::StartsWith("TLS read failed: "));
    CHECK(plain.empty());
    CHECK(client.write("a", 1, net) == Status::kError);
  }
  SECTION("write before the handshake is refused") {
    TlsSession client(*context, "localhost", "localhost:443");
    CHECK(client.write("a", 1, net) == Status::kError);
    CHECK_FALSE(client.error().empty());
  }
}
