// Target URL parsing: scheme, host, port and request path.
#pragma once

#include <string>
#include <string_view>

namespace pelt {

struct Url {
  std::string scheme;      // "http" or "https"
  std::string host;        // host name or IP literal, without IPv6 brackets
  std::string port;        // port as given, "" when the URL has none
  std::string path_query;  // path plus "?query", at least "/"
  std::string userinfo;    // "user:password" before '@', "" when absent

  bool tls() const { return scheme == "https"; }
  // The port to connect to: the explicit one or the scheme's default.
  std::string effective_port() const { return port.empty() ? (tls() ? "443" : "80") : port; }
  // Host header value: host[:port], with brackets for IPv6 literals.
  std::string host_header() const;
  // The URL without credentials, for output and metric labels.
  std::string redacted() const;
};

// Parses an absolute http:// or https:// URL. On failure returns false and sets error to a
// message naming the problem.
bool parse_url(std::string_view text, Url& out, std::string& error);

}  // namespace pelt
