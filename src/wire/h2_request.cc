// HTTP/1.1 requests to HTTP/2 requests on libhttp-parser, which frames the requests (request
// line, headers, Content-Length and chunked bodies) and checks their syntax; this file only
// decides what each field becomes.
#include "wire/h2_request.h"

#include <http_parser.h>

#include <algorithm>
#include <cstring>

namespace pelt {
namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view lower_b) {
  if (a.size() != lower_b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower_b[i]) return false;
  }
  return true;
}

// RFC 9110 tchar: what a field name may hold (http_parser also lets a space through).
bool token(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// Fields HTTP/2 forbids (RFC 9113 §8.2.2), lower case; "te" is handled apart.
bool connection_specific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade";
}

// The state of one conversion while http_parser runs over the bytes.
struct Conversion {
  std::vector<H2Request>* out = nullptr;                 // converted requests
  H2Request current;                                     // the request being parsed
  std::string url;                                       // its request target, gathered from pieces
  std::string field;                                     // the header name being gathered
  std::string value;                                     // the header value being gathered
  std::vector<std::pair<std::string, std::string>> raw;  // its headers as sent (name lower-cased)
  bool in_value = false;                                 // the last header piece was a value
  bool headers_done = false;  // the headers are complete (later fields: trailers)
  bool chunked = false;       // the body came chunked
  bool in_message = false;    // between message begin and message complete
  std::string problem;        // why the request cannot go over HTTP/2, "" if it can
};

void end_field(Conversion& c) {
  if (!c.field.empty() || c.in_value) {
    c.raw.emplace_back(lowered(c.field), std::string(trim(c.value)));
  }
  c.field.clear();
  c.value.clear();
  c.in_value = false;
}

int on_begin(http_parser* p) {
  auto& c = *static_cast<Conversion*>(p->data);
  c.current = H2Request{};
  c.url.clear();
  c.field.clear();
  c.value.clear();
  c.raw.clear();
  c.in_value = false;
  c.headers_done = false;
  c.chunked = false;
  c.in_message = true;
  c.problem.clear();
  return 0;
}

int on_url(http_parser* p, const char* at, size_t len) {
  static_cast<Conversion*>(p->data)->url.append(at, len);
  return 0;
}

int on_field(http_parser* p, const char* at, size_t len) {
  auto& c = *static_cast<Conversion*>(p->data);
  if (c.headers_done) return 0;  // trailers are not sent
  if (c.in_value) end_field(c);
  c.field.append(at, len);
  return 0;
}

int on_value(http_parser* p, const char* at, size_t len) {
  auto& c = *static_cast<Conversion*>(p->data);
  if (c.headers_done) return 0;
  c.in_value = true;
  c.value.append(at, len);
  return 0;
}

// Splits an absolute-form target ("http://host:port/x?y") into authority and path.
void split_absolute(std::string_view url, std::string& authority, std::string& path) {
  url.remove_prefix(url.find("://") + 3);
  const size_t end = std::min(url.find_first_of("/?#"), url.size());
  authority.assign(url.substr(0, end));
  std::string_view rest = url.substr(end);
  const size_t hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  path.assign(rest.empty() || rest.front() != '/' ? "/" : "");
  path.append(rest);
}

int on_headers_complete(http_parser* p) {
  auto& c = *static_cast<Conversion*>(p->data);
  end_field(c);
  c.headers_done = true;
  if (p->http_major != 1) {
    c.problem = "not HTTP/1.x";
    return -1;
  }
  H2Request& r = c.current;
  r.method = http_method_str(static_cast<http_method>(p->method));
  if (p->method == HTTP_CONNECT) {
    c.problem = "CONNECT cannot be converted to HTTP/2";
    return -1;
  }
  r.head = p->method == HTTP_HEAD;
  if (c.url.size() > 7 && (iequals(c.url.substr(0, 7), "http://") ||
                           (c.url.size() > 8 && iequals(c.url.substr(0, 8), "https://")))) {
    split_absolute(c.url, r.authority, r.path);
  } else {
    r.path = c.url;
  }
  // Connection names more fields that belong to this hop only.
  std::vector<std::string> hop;
  for (const auto& [name, value] : c.raw) {
    if (name != "connection") continue;
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      if (comma == std::string::npos) comma = value.size();
      std::string_view token = trim(std::string_view(value).substr(start, comma - start));
      if (!token.empty()) hop.push_back(lowered(token));
      start = comma + 1;
    }
  }
  bool have_host = false;
  for (auto& [name, value] : c.raw) {
    if (!token(name)) {
      c.problem = "header name \"" + name + "\" is not a token";
      return -1;
    }
    for (char ch : value) {
      if (ch == '\0' || ch == '\r' || ch == '\n') {
        c.problem = "header " + name + " has a NUL, CR or LF in its value";
        return -1;
      }
    }
    if (name == "host") {
      if (!have_host && r.authority.empty()) r.authority = value;
      have_host = true;
      continue;
    }
    if (name == "transfer-encoding") {
      // http_parser already took the body apart; remember to give it a length.
      c.chunked = true;
      continue;
    }
    if (connection_specific(name)) continue;
    if (name == "te" && !iequals(trim(value), "trailers")) continue;
    if (std::find(hop.begin(), hop.end(), name) != hop.end()) continue;
    r.headers.emplace_back(std::move(name), std::move(value));
  }
  return 0;
}

int on_body(http_parser* p, const char* at, size_t len) {
  static_cast<Conversion*>(p->data)->current.body.append(at, len);
  return 0;
}

int on_complete(http_parser* p) {
  auto& c = *static_cast<Conversion*>(p->data);
  c.in_message = false;
  if (c.chunked) {
    // The length is known now: HTTP/2 carries it as a field rather than chunking.
    auto& headers = c.current.headers;
    headers.erase(std::remove_if(headers.begin(), headers.end(),
                                 [](const auto& h) { return h.first == "content-length"; }),
                  headers.end());
    headers.emplace_back("content-length", std::to_string(c.current.body.size()));
  }
  c.out->push_back(std::move(c.current));
  c.current = H2Request{};
  return 0;
}

}  // namespace

bool http1_to_h2(std::string_view raw, std::string_view scheme, std::string_view default_authority,
                 std::vector<H2Request>& out, std::string& error) {
  out.clear();
  error.clear();
  if (raw.empty()) {
    error = "empty request: no bytes to send";
    return false;
  }
  http_parser_settings settings;
  std::memset(&settings, 0, sizeof(settings));
  settings.on_message_begin = on_begin;
  settings.on_url = on_url;
  settings.on_header_field = on_field;
  settings.on_header_value = on_value;
  settings.on_headers_complete = on_headers_complete;
  settings.on_body = on_body;
  settings.on_message_complete = on_complete;
  Conversion conversion;
  conversion.out = &out;
  http_parser parser;
  size_t pos = 0;
  while (pos < raw.size()) {
    // A fresh parser for every run of requests: after a request with Upgrade, http_parser
    // stops, as HTTP/1.1 would switch protocols there; over HTTP/2 nothing switches.
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = &conversion;
    const size_t start_count = out.size();
    // Offset of the request at fault, for messages: where the failing run of requests began,
    // advanced by nothing finer (http_parser reports the byte it stopped at).
    const size_t n = http_parser_execute(&parser, &settings, raw.data() + pos, raw.size() - pos);
    const auto err = HTTP_PARSER_ERRNO(&parser);
    if (err != HPE_OK) {
      const std::string where = "byte " + std::to_string(pos + n);
      if (!conversion.problem.empty()) {
        error = "request " + std::to_string(out.size() + 1) + " (near " + where +
                ") cannot go over HTTP/2: " + conversion.problem;
      } else {
        error = "invalid request " + std::to_string(out.size() + 1) + " (error at " + where +
                "): " + http_errno_name(err) + ": " + http_errno_description(err);
      }
      return false;
    }
    if (n == 0 || (n < raw.size() - pos && out.size() == start_count)) {
      error = "invalid request at byte " + std::to_string(pos) + ": the parser made no progress";
      return false;
    }
    pos += n;
  }
  if (conversion.in_message) {
    error = "incomplete request " + std::to_string(out.size() + 1) + ": the buffer ends inside it";
    return false;
  }
  if (out.empty()) {
    error = "no request found: the buffer holds only blank lines";
    return false;
  }
  for (H2Request& r : out) {
    r.scheme.assign(scheme);
    if (r.authority.empty()) r.authority.assign(default_authority);
  }
  return true;
}

}  // namespace pelt
