// Request scanning (for pipelined batches a Lua request() returns), on top of libhttp-parser.
// Runs once per distinct request buffer, never per response.
#include <http_parser.h>

#include <cstring>

#include "wire/http1.h"

namespace pelt {
namespace {

std::string errno_text(const http_parser& parser) {
  const auto err = static_cast<http_errno>(HTTP_PARSER_ERRNO(&parser));
  std::string text = http_errno_name(err);
  text += ": ";
  text += http_errno_description(err);
  return text;
}

// Collects one entry per complete request while scan_requests() runs http_parser over them.
struct RequestScan {
  std::vector<bool>* is_head;  // output: true for each HEAD request, in order
  bool in_message = false;     // between message begin and message complete
  bool began = false;          // a message began; the parser paused so its offset is known
  bool bad_version = false;    // a request line named a version other than HTTP/1.x
};

int scan_begin(http_parser* parser) {
  auto* scan = static_cast<RequestScan*>(parser->data);
  scan->in_message = true;
  scan->began = true;
  http_parser_pause(parser, 1);
  return 0;
}

int scan_headers_complete(http_parser* parser) {
  auto* scan = static_cast<RequestScan*>(parser->data);
  if (parser->http_major != 1) {
    scan->bad_version = true;
    return -1;
  }
  return 0;
}

int scan_complete(http_parser* parser) {
  auto* scan = static_cast<RequestScan*>(parser->data);
  scan->is_head->push_back(parser->method == HTTP_HEAD);
  scan->in_message = false;
  return 0;
}

}  // namespace

bool scan_requests(std::string_view raw, std::vector<bool>& is_head, std::string& error) {
  is_head.clear();
  error.clear();
  if (raw.empty()) {
    error = "empty request: no bytes to send";
    return false;
  }
  http_parser_settings settings;
  std::memset(&settings, 0, sizeof(settings));
  settings.on_message_begin = scan_begin;
  settings.on_headers_complete = scan_headers_complete;
  settings.on_message_complete = scan_complete;
  RequestScan scan{&is_head};
  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  parser.data = &scan;
  size_t pos = 0;
  size_t request_start = 0;  // offset of the request being parsed
  while (pos < raw.size()) {
    const size_t n = http_parser_execute(&parser, &settings, raw.data() + pos, raw.size() - pos);
    pos += n;
    const auto err = HTTP_PARSER_ERRNO(&parser);
    if (err == HPE_PAUSED && scan.began) {
      scan.began = false;
      request_start = pos - 1;  // paused on the first byte of the method
      http_parser_pause(&parser, 0);
      continue;
    }
    const std::string where = "request at byte " + std::to_string(request_start);
    if (scan.bad_version) {
      error = "invalid " + where + ": not HTTP/1.x";
      return false;
    }
    if (err != HPE_OK) {
      error = "invalid " + where + " (error at byte " + std::to_string(pos) +
              "): " + errno_text(parser);
      return false;
    }
    if (pos != raw.size()) {
      // An upgrade or CONNECT request hands the rest of the stream to another protocol.
      error = "invalid " + where + ": bytes follow a request that switches protocols";
      return false;
    }
  }
  if (scan.in_message) {
    error = "incomplete request at byte " + std::to_string(request_start) +
            ": the buffer ends inside it";
    return false;
  }
  if (is_head.empty()) {
    error = "no request found: buffer holds only blank lines";
    return false;
  }
  return true;
}

}  // namespace pelt
