#include "util/http_client.h"

#include <http_parser.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>

#include "util/http_connection.h"
#include "wire/tls.h"
#include "wire/url.h"

#ifndef PELT_VERSION
#define PELT_VERSION "dev"
#endif

namespace pelt {

using http_detail::Clock;
using http_detail::Connection;
using http_detail::Limit;

namespace {

// Collects one response while http_parser runs over the bytes read.
struct ResponseState {
  HttpResponse* response = nullptr;  // where the parts go
  size_t max_body_bytes = 0;         // larger bodies stop the parser
  bool head = false;                 // a HEAD request: the response has no body
  bool in_value = false;             // the last header callback was a value
  bool complete = false;             // on_message_complete ran
  bool too_large = false;            // the body went over max_body_bytes
};

ResponseState& state_of(http_parser* p) {
  return *static_cast<ResponseState*>(p->data);
}

int on_status(http_parser* p, const char* at, size_t len) {
  state_of(p).response->reason.append(at, len);
  return 0;
}

int on_header_field(http_parser* p, const char* at, size_t len) {
  ResponseState& s = state_of(p);
  if (s.in_value || s.response->headers.empty()) s.response->headers.push_back({});
  s.in_value = false;
  s.response->headers.back().name.append(at, len);
  return 0;
}

int on_header_value(http_parser* p, const char* at, size_t len) {
  ResponseState& s = state_of(p);
  s.in_value = true;
  s.response->headers.back().value.append(at, len);
  return 0;
}

int on_headers_complete(http_parser* p) {
  ResponseState& s = state_of(p);
  s.response->status = static_cast<int>(p->status_code);
  return s.head ? 1 : 0;  // 1 tells the parser that no body follows
}

int on_body(http_parser* p, const char* at, size_t len) {
  ResponseState& s = state_of(p);
  if (s.response->body.size() + len > s.max_body_bytes) {
    s.too_large = true;
    return 1;
  }
  s.response->body.append(at, len);
  return 0;
}

int on_message_complete(http_parser* p) {
  state_of(p).complete = true;
  http_parser_pause(p, 1);  // anything after the response is not ours
  return 0;
}

http_parser_settings make_settings() {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_status = on_status;
  s.on_header_field = on_header_field;
  s.on_header_value = on_header_value;
  s.on_headers_complete = on_headers_complete;
  s.on_body = on_body;
  s.on_message_complete = on_message_complete;
  return s;
}

bool is_method_with_body(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

}  // namespace

struct HttpClient::Impl {
  HttpClientOptions options;             // as given
  std::unique_ptr<TlsContext> tls;       // created on the first https request
  std::unique_ptr<Connection> conn;      // kept-alive connection, may be null
  std::string conn_key;                  // scheme://host:port of conn
  int wake_fd = -1;                      // eventfd signalled by interrupt()
  std::atomic<bool> interrupted{false};  // interrupt() was called
  size_t opened = 0;                     // connections opened

  // One attempt on `conn` (opening it when null). `fresh` is false when conn was reused;
  // `retryable` is set when the failure happened on a reused connection before any response
  // byte arrived (the server had closed it), so a new connection may try again.
  bool attempt(const Url& url, const HttpRequest& request, const std::string& wire,
               HttpResponse& response, std::string& error, bool& retryable);
};

HttpClient::HttpClient(HttpClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  if (impl_->options.user_agent.empty()) impl_->options.user_agent = "pelt/" PELT_VERSION;
  impl_->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

HttpClient::~HttpClient() {
  impl_->conn.reset();
  if (impl_->wake_fd >= 0) ::close(impl_->wake_fd);
}

void HttpClient::interrupt() {
  impl_->interrupted = true;
  const uint64_t one = 1;
  if (impl_->wake_fd >= 0) (void)!write(impl_->wake_fd, &one, sizeof(one));
}

void HttpClient::close() {
  impl_->conn.reset();
}

size_t HttpClient::connections_opened() const {
  return impl_->opened;
}

bool HttpClient::get(const std::string& url, const HttpHeaders& headers, HttpResponse& response,
                     std::string& error) {
  HttpRequest r;
  r.method = "GET";
  r.url = url;
  r.headers = headers;
  return send(r, response, error);
}

bool HttpClient::post(const std::string& url, const HttpHeaders& headers, std::string body,
                      HttpResponse& response, std::string& error) {
  HttpRequest r;
  r.method = "POST";
  r.url = url;
  r.headers = headers;
  r.body = std::move(body);
  return send(r, response, error);
}

bool HttpClient::send(const HttpRequest& request, HttpResponse& response, std::string& error) {
  response = HttpResponse{};
  if (impl_->interrupted) {
    error = "interrupted";
    return false;
  }
  Url url;
  if (!parse_url(request.url, url, error)) return false;
  if (!url.userinfo.empty()) {
    error = "user:password in the URL is not sent; use an Authorization header";
    return false;
  }
  std::string wire = request.method + " " + url.path_query + " HTTP/1.1\r\n";
  wire += "Host: " + url.host_header() + "\r\n";
  wire += "User-Agent: " + impl_->options.user_agent + "\r\n";
  for (const HttpHeader& h : request.headers) {
    if (h.name.find_first_of("\r\n:") != std::string::npos ||
        h.value.find_first_of("\r\n") != std::string::npos) {
      error = "header \"" + h.name + "\" contains a line break or a colon in its name";
      return false;
    }
    wire += h.name + ": " + h.value + "\r\n";
  }
  if (!request.body.empty() || is_method_with_body(request.method)) {
    wire += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  }
  if (!impl_->options.keep_alive) wire += "Connection: close\r\n";
  wire += "\r\n";
  wire += request.body;

  const std::string key = url.scheme + "://" + url.host_header() + ":" + url.effective_port();
  if (impl_->conn && (impl_->conn_key != key || !impl_->conn->idle_usable())) impl_->conn.reset();
  bool retryable = false;
  if (impl_->attempt(url, request, wire, response, error, retryable)) return true;
  if (!retryable) return false;
  response = HttpResponse{};
  return impl_->attempt(url, request, wire, response, error, retryable);
}

bool HttpClient::Impl::attempt(const Url& url, const HttpRequest& request, const std::string& wire,
                               HttpResponse& response, std::string& error, bool& retryable) {
  retryable = false;
  const bool reused = conn != nullptr;
  if (!conn) {
    TlsContext* tls_context = nullptr;
    if (url.tls()) {
      if (!tls) {
        tls = TlsContext::create(TlsOptions{options.tls_verify, options.ca_file}, error);
        if (!tls) return false;
      }
      tls_context = tls.get();
    }
    const Limit limit = http_detail::make_limit(options.connect_timeout, request.deadline);
    conn = Connection::open(url.host, url.effective_port(), tls_context, wake_fd, limit, error);
    if (!conn) return false;
    conn_key = url.scheme + "://" + url.host_header() + ":" + url.effective_port();
    ++opened;
  }
  const Limit limit = http_detail::make_limit(options.read_timeout, request.deadline);
  if (!conn->write_all(wire, limit, error)) {
    retryable = reused && !interrupted;
    conn.reset();
    return false;
  }

  static const http_parser_settings kSettings = make_settings();
  http_parser parser;
  http_parser_init(&parser, HTTP_RESPONSE);
  ResponseState state;
  state.response = &response;
  state.max_body_bytes = options.max_response_bytes;
  state.head = request.method == "HEAD";
  parser.data = &state;
  size_t received = 0;
  bool stray = false;  // bytes followed the response: the connection is not reused
  std::string chunk;
  while (!state.complete) {
    chunk.clear();
    const long n = conn->read_some(chunk, limit, error);
    if (n < 0) {
      retryable = reused && received == 0 && !interrupted && Clock::now() < limit.at;
      conn.reset();
      return false;
    }
    received += static_cast<size_t>(n);
    // n == 0 is end of file: the parser completes a body delimited by the connection close.
    const size_t used = http_parser_execute(&parser, &kSettings, chunk.data(), chunk.size());
    const auto err = HTTP_PARSER_ERRNO(&parser);
    if (state.too_large) {
      error = "read from " + conn->peer() + ": response body larger than " +
              std::to_string(options.max_response_bytes) + " bytes";
      conn.reset();
      return false;
    }
    if (n == 0 && !state.complete) {
      retryable = reused && received == 0 && !interrupted;
      error = "read from " + conn->peer() +
              (received == 0 ? ": connection closed by the server before a response"
                             : ": connection closed before the response was complete");
      conn.reset();
      return false;
    }
    if (err != HPE_OK && err != HPE_PAUSED) {
      error = "read from " + conn->peer() + ": bad HTTP response: " + http_errno_description(err);
      conn.reset();
      return false;
    }
    stray = state.complete && used < chunk.size();
  }
  for (HttpHeader& h : response.headers) {
    while (!h.value.empty() && (h.value.back() == ' ' || h.value.back() == '\t'))
      h.value.pop_back();
  }
  if (!options.keep_alive || stray || !http_should_keep_alive(&parser)) conn.reset();
  return true;
}

std::string HttpResponse::header(std::string_view name) const {
  for (const HttpHeader& h : headers) {
    if (h.name.size() == name.size() && strncasecmp(h.name.data(), name.data(), name.size()) == 0) {
      return h.value;
    }
  }
  return "";
}

std::string url_query_escape(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string format_timeout(std::chrono::milliseconds timeout) {
  const long long ms = timeout.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::string s = std::to_string(ms / 1000) + "." + std::to_string(1000 + ms % 1000).substr(1);
  while (s.back() == '0') s.pop_back();
  return s + "s";
}

}  // namespace pelt
