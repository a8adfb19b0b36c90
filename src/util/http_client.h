// A small blocking HTTP/1.1 client for background threads (result outputs, API queries), never
// for the load path. One request at a time per client; the connection is kept open and reused
// for the next request to the same scheme, host and port when the server allows it.
//
// Supports http and https (OpenSSL 3; the certificate chain and host name are verified unless
// turned off), IPv4 and IPv6 (getaddrinfo, every address tried in order), request bodies with
// Content-Length, and responses delimited by Content-Length, chunked encoding or connection
// close. Every wait is bounded: connect_timeout covers TCP connect plus the TLS handshake,
// read_timeout the rest of the exchange (writing the request and reading the whole response),
// and a request can carry an absolute deadline that cuts both shorter. interrupt(), callable
// from any thread, makes the current and every later request fail at once (used at shutdown).
//
// Errors come back as one line naming the step and the peer:
//   "connect 127.0.0.1:8086: ECONNREFUSED", "read from 127.0.0.1:8086: timeout after 2s",
//   "resolve influx.example:8086: Name or service not known",
//   "TLS handshake with 127.0.0.1:8443: certificate verify failed: self-signed certificate".
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pelt {

// One header line.
struct HttpHeader {
  std::string name;   // header name as sent or received
  std::string value;  // header value without surrounding whitespace
};
using HttpHeaders = std::vector<HttpHeader>;

// What to send.
struct HttpRequest {
  std::string method = "GET";  // request method
  std::string url;             // absolute http:// or https:// URL (path and query included)
  HttpHeaders headers;         // extra headers; Host, Content-Length and User-Agent are added
  std::string body;            // request body; sent with Content-Length unless empty for GET/HEAD
  // Absolute limit for the whole request (connect included); time_point::max() = none.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

// What came back.
struct HttpResponse {
  int status = 0;       // status code, e.g. 204
  std::string reason;   // reason phrase, e.g. "No Content"
  HttpHeaders headers;  // response headers in order
  std::string body;     // the body, chunked encoding removed

  // Value of the first header with this name (case-insensitive), "" when absent.
  std::string header(std::string_view name) const;
};

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{2000};  // TCP connect plus TLS handshake, ms
  std::chrono::milliseconds read_timeout{10000};    // writing the request + reading the response
  bool tls_verify = true;                           // verify the server certificate and name
  std::string ca_file;                              // extra CA bundle (PEM); "" = system store only
  size_t max_response_bytes = 64 * 1024 * 1024;     // larger response bodies are an error, bytes
  std::string user_agent;                           // User-Agent header; "" = "pelt/<version>"
  bool keep_alive = true;                           // reuse the connection between requests
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends the request and reads the whole response. Returns true when a complete response
  // arrived (whatever its status); false with `error` set otherwise. Not thread-safe: one
  // request at a time.
  bool send(const HttpRequest& request, HttpResponse& response, std::string& error);

  // Shortcuts for send().
  bool get(const std::string& url, const HttpHeaders& headers, HttpResponse& response,
           std::string& error);
  bool post(const std::string& url, const HttpHeaders& headers, std::string body,
            HttpResponse& response, std::string& error);

  // Thread-safe. The request in progress (if any) and every later one fail at once with
  // "interrupted". Used to honour a shutdown deadline.
  void interrupt();

  // Closes the kept-alive connection, if any.
  void close();

  // Connections opened so far (a kept-alive connection serves several requests).
  size_t connections_opened() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes a query-string component (RFC 3986 unreserved characters stay as they are).
std::string url_query_escape(std::string_view text);

// "2s", "500ms", "1.5s": a timeout as it appears in error messages.
std::string format_timeout(std::chrono::milliseconds timeout);

}  // namespace pelt
