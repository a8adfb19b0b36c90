// HTTP/1.1 misbehaviour of /fault/NAME: broken framing written byte by byte, abrupt closes and
// TLS-level faults. The table is in docs/TARGET.md.
#include <fmt/format.h>

#include <iterator>

#include "target/peer.h"
#include "target/tls.h"

namespace pelt::target {
namespace {

constexpr std::string_view kJson = "application/json";

void huge_headers(Peer& c) {
  std::string& s = c.loop().scratch;
  s.assign("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n");
  std::string_view value(
      "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789");
  for (int i = 0; i < 1024; ++i) {
    fmt::format_to(std::back_inserter(s), "X-Filler-{:04}: ", i);
    for (int k = 0; k < 12; ++k) s.append(value);
    s.append("\r\n");
  }
  s.append("Content-Length: 3\r\n\r\nok\n");
  c.write_raw(s);
}

}  // namespace

bool Peer::misbehave(std::string_view name) {
  if (name == "reset") {
    write_raw("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\npartial");
    reset_after_flush();
  } else if (name == "close-before-headers") {
    shut_after_flush();
  } else if (name == "garbage") {
    write_raw("HTXP/1.x two-hundred OKAY\r\n\x01\x02\x03 garbage \xff\r\n\r\n");
    shut_after_flush();
  } else if (name == "huge-headers") {
    huge_headers(*this);
  } else if (name == "bad-chunk") {
    write_raw(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\nZZ-not-hex\r\nbad chunk\r\n");
    shut_after_flush();
  } else if (name == "long-body") {
    write_raw(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n"
        "hello, and many more bytes than Content-Length announced\n");
    shut_after_flush();
  } else if (name == "short-body") {
    write_raw(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n"
        "only 20 bytes here\r\n");
    shut_after_flush();
  } else if (name == "two-lengths") {
    write_raw(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
        "Content-Length: 9\r\n\r\nhello1234");
    shut_after_flush();
  } else if (name == "http10") {
    // Close-delimited: the end of the body is the close (close_notify first over TLS).
    write_raw("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nclose-delimited body\n");
    shut_after_flush();
  } else if (name == "close-notify") {
    // A keep-alive response, then the server ends the connection anyway.
    reply(200, "text/plain", "connection recycled\n");
    shut_after_flush();
  } else if (name == "renegotiate") {
    if (!tls_ || !tls_->request_renegotiation()) {
      reply(400, kJson, "{\"error\":\"renegotiation needs TLS 1.2 (--tls --tls-max 1.2)\"}\n");
    } else {
      renegotiating_ = true;  // the response follows the new handshake (take_cipher)
      busy_ = true;
    }
  } else if (name == "goaway" || name == "rst-stream") {
    std::string& s = loop().scratch;
    s.clear();
    fmt::format_to(std::back_inserter(s), "{{\"error\":\"/fault/{} needs HTTP/2\"}}\n", name);
    reply(400, kJson, s);
  } else {
    return false;
  }
  return true;
}

}  // namespace pelt::target
