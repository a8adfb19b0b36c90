// HTTP/2 misbehaviour of /fault/NAME: the HTTP/1.1 faults in their HTTP/2 form (wrong lengths,
// cut bodies, abrupt closes) and the HTTP/2-only ones (GOAWAY, RST_STREAM). The table is in
// docs/TARGET.md.
#include <fmt/format.h>

#include <iterator>

#include "target/h2_exchange.h"
#include "target/h2_mux.h"
#include "target/peer.h"
#include "target/text.h"

namespace pelt::target {
namespace {

constexpr std::string_view kText = "text/plain";
constexpr std::string_view kJson = "application/json";

}  // namespace

bool H2Exchange::misbehave(std::string_view name) {
  if (name == "reset") {
    send(200, kText, 1000, "partial", {}, After::kResetConnection);
  } else if (name == "close-before-headers") {
    mux_->end_with({});
  } else if (name == "garbage") {
    mux_->end_with("HTXP/1.x two-hundred OKAY\r\n\x01\x02\x03 garbage \xff\r\n\r\n");
  } else if (name == "huge-headers") {
    std::string& s = loop().scratch;
    s.clear();
    std::string_view value(
        "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789");
    for (int i = 0; i < 1024; ++i) {
      fmt::format_to(std::back_inserter(s), "x-filler-{:04}: ", i);
      for (int k = 0; k < 12; ++k) s.append(value);
      s.append("\r\n");
    }
    send(200, kText, 3, "ok\n", s, After::kEnd);
  } else if (name == "bad-chunk") {
    send(200, kText, -1, "hello", {}, After::kResetStream);
  } else if (name == "long-body") {
    send(200, kText, 5, "hello, and many more bytes than Content-Length announced\n", {},
         After::kEnd);
  } else if (name == "short-body") {
    send(200, kText, 100, "only 20 bytes here\r\n", {}, After::kEnd);
  } else if (name == "two-lengths") {
    send(200, kText, -1, "hello1234", "content-length: 5\r\ncontent-length: 9\r\n", After::kEnd);
  } else if (name == "http10") {
    send(200, kText, -1, "close-delimited body\n", {}, After::kEnd);
  } else if (name == "close-notify") {
    reply(200, kText, "connection recycled\n");
    close_after_flush();
  } else if (name == "renegotiate") {
    reply(400, kJson, "{\"error\":\"HTTP/2 forbids TLS renegotiation\"}\n");
  } else if (name == "goaway") {
    std::string_view error = query_param(query(), "error").value_or("protocol");
    if (error != "protocol" && error != "internal") {
      reply(400, kJson, "{\"error\":\"error must be protocol or internal\"}\n");
      return true;
    }
    // GOAWAY naming the last stream begun (this one included), then the connection closes.
    nghttp2_session_terminate_session(
        mux_->session(), error == "internal" ? NGHTTP2_INTERNAL_ERROR : NGHTTP2_PROTOCOL_ERROR);
  } else if (name == "rst-stream") {
    nghttp2_submit_rst_stream(mux_->session(), NGHTTP2_FLAG_NONE, stream_id_,
                              NGHTTP2_REFUSED_STREAM);
  } else {
    return false;
  }
  return true;
}

}  // namespace pelt::target
