#include "wire/url.h"

#include <cctype>

namespace pelt {

std::string Url::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (!port.empty()) h += ":" + port;
  return h;
}

std::string Url::redacted() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (!port.empty()) h += ":" + port;
  return scheme + "://" + h + path_query;
}

bool parse_url(std::string_view text, Url& out, std::string& error) {
  out = Url{};
  const std::string shown(text);
  const size_t sep = text.find("://");
  if (sep == std::string_view::npos) {
    error = "invalid URL \"" + shown + "\": expected http://host[:port]/path or https://...";
    return false;
  }
  std::string scheme(text.substr(0, sep));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "http" && scheme != "https") {
    error = "unsupported scheme \"" + scheme + "\" in \"" + shown + "\": pelt speaks http and https";
    return false;
  }
  out.scheme = scheme;
  std::string_view rest = text.substr(sep + 3);
  const size_t path_at = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view path = path_at == std::string_view::npos ? std::string_view() : rest.substr(path_at);
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    out.userinfo = std::string(authority.substr(0, at));
    authority = authority.substr(at + 1);
  }
  if (authority.empty()) {
    error = "invalid URL \"" + shown + "\": no host";
    return false;
  }
  std::string_view port;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "invalid URL \"" + shown + "\": unterminated [IPv6] host";
      return false;
    }
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "invalid URL \"" + shown + "\": unexpected characters after ]";
        return false;
      }
      port = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      out.host = std::string(authority.substr(0, colon));
      port = authority.substr(colon + 1);
    } else {
      out.host = std::string(authority);
    }
  }
  if (out.host.empty()) {
    error = "invalid URL \"" + shown + "\": no host";
    return false;
  }
  for (char c : out.host) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '[' || c == ']') {
      error = "invalid URL \"" + shown + "\": bad character in host";
      return false;
    }
  }
  if (!port.empty() || (authority.back() == ':')) {
    unsigned long value = 0;
    bool ok = !port.empty() && port.size() <= 5;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) ok = false;
      else value = value * 10 + static_cast<unsigned long>(c - '0');
    }
    if (!ok || value == 0 || value > 65535) {
      error = "invalid URL \"" + shown + "\": port must be a number from 1 to 65535";
      return false;
    }
    out.port = std::string(port);
  }
  const size_t hash = path.find('#');
  if (hash != std::string_view::npos) path = path.substr(0, hash);
  out.path_query = path.empty() ? "/" : std::string(path);
  if (out.path_query.front() == '?') out.path_query.insert(out.path_query.begin(), '/');
  for (char c : out.path_query) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      error = "invalid URL \"" + shown + "\": spaces and control characters must be percent-encoded";
      return false;
    }
  }
  return true;
}

}  // namespace pelt
