#include "http1.h"

#include <cstring>

namespace pelt {
namespace {

// What a notification callback paused the parser for; handled by the feed loop, outside
// http_parser_execute(), so user callbacks may safely push requests or reset the parser.
enum Pending : uint8_t { kNone = 0, kBegin, kHeaders, kComplete };

// Capture buffers above this size are released at the start of the next response, in bytes.
constexpr size_t kKeptBodyCapacityBytes = 64 * 1024;

std::string errno_text(const http_parser& parser) {
  const auto err = static_cast<http_errno>(HTTP_PARSER_ERRNO(&parser));
  std::string text = http_errno_name(err);
  text += ": ";
  text += http_errno_description(err);
  return text;
}

bool no_body_status(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

}  // namespace

ResponseParser::ResponseParser(OnResponse on_response, void* ctx)
    : on_response_(on_response), ctx_(ctx) {
  reset();
}

void ResponseParser::set_on_first_byte(OnFirstByte on_first_byte) {
  on_first_byte_ = on_first_byte;
}

void ResponseParser::set_capture(bool capture) {
  capture_ = capture;
}

void ResponseParser::reset() {
  http_parser_init(&parser_, HTTP_RESPONSE);
  parser_.data = this;
  head_start_ = 0;
  outstanding_ = 0;
  error_.clear();
  stream_offset_ = 0;
  message_start_ = 0;
  header_capture_bytes_ = 0;
  pending_ = kNone;
  capturing_ = false;
  in_message_ = false;
  interim_seen_ = false;
  first_byte_sent_ = false;
  last_was_value_ = true;
  upgraded_ = false;
  failed_ = false;
  ++generation_;
}

void ResponseParser::push_request(bool is_head) {
  if (outstanding_ == head_ring_.size()) {
    // Grow the ring, unrolling it so the oldest request sits at index 0.
    std::vector<bool> grown(head_ring_.empty() ? 16 : head_ring_.size() * 2);
    for (size_t i = 0; i < outstanding_; ++i) {
      grown[i] = head_ring_[(head_start_ + i) % head_ring_.size()];
    }
    head_ring_.swap(grown);
    head_start_ = 0;
  }
  head_ring_[(head_start_ + outstanding_) % head_ring_.size()] = is_head;
  ++outstanding_;
}

size_t ResponseParser::outstanding() const {
  return outstanding_;
}

bool ResponseParser::in_response() const {
  return in_message_ || interim_seen_;
}

const std::string& ResponseParser::error() const {
  return error_;
}

bool ResponseParser::head_front() const {
  return outstanding_ > 0 && head_ring_[head_start_];
}

bool ResponseParser::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
  failed_ = true;
  return false;
}

bool ResponseParser::parser_failed() {
  // Errors raised by our own callbacks already carry a better message.
  if (error_.empty()) error_ = errno_text(parser_);
  failed_ = true;
  return false;
}

const http_parser_settings& ResponseParser::settings() const {
  static const http_parser_settings kPlain = [] {
    http_parser_settings s;
    std::memset(&s, 0, sizeof(s));
    s.on_message_begin = &ResponseParser::on_message_begin;
    s.on_headers_complete = &ResponseParser::on_headers_complete;
    s.on_body = &ResponseParser::on_body;
    s.on_message_complete = &ResponseParser::on_message_complete;
    return s;
  }();
  static const http_parser_settings kCapture = [] {
    http_parser_settings s = kPlain;
    s.on_header_field = &ResponseParser::on_header_field;
    s.on_header_value = &ResponseParser::on_header_value;
    return s;
  }();
  return capturing_ ? kCapture : kPlain;
}

int ResponseParser::on_message_begin(http_parser* parser) {
  auto* self = static_cast<ResponseParser*>(parser->data);
  if (self->outstanding_ == 0) {
    self->fail("unexpected response: no request outstanding (byte " +
               std::to_string(self->stream_offset_) + ")");
    return -1;
  }
  ParsedResponse& r = self->response_;
  r.status = 0;
  r.keep_alive = true;
  r.body_bytes = 0;
  r.header_bytes = 0;
  self->capturing_ = self->capture_;
  if (self->capturing_) {
    // Keep the strings (and their heap buffers) for the next headers: no allocation per
    // response once the buffers are large enough.
    for (auto& h : r.headers) self->spare_headers_.push_back(std::move(h));
    r.headers.clear();
    r.body.clear();
    if (r.body.capacity() > kKeptBodyCapacityBytes) std::string().swap(r.body);
    self->header_capture_bytes_ = 0;
    self->last_was_value_ = true;
  }
  self->in_message_ = true;
  self->pending_ = kBegin;
  http_parser_pause(parser, 1);
  return 0;
}

int ResponseParser::on_header_field(http_parser* parser, const char* at, size_t len) {
  auto* self = static_cast<ResponseParser*>(parser->data);
  if (!self->capturing_) return 0;
  self->header_capture_bytes_ += len;
  if (self->header_capture_bytes_ > kMaxCapturedHeaderBytes) {
    self->fail("response too large: headers over 1 MiB");
    return -1;
  }
  auto& headers = self->response_.headers;
  if (self->last_was_value_ || headers.empty()) {
    if (self->spare_headers_.empty()) {
      headers.emplace_back(std::string(at, len), std::string());
    } else {
      headers.push_back(std::move(self->spare_headers_.back()));
      self->spare_headers_.pop_back();
      headers.back().first.assign(at, len);
      headers.back().second.clear();
    }
  } else {
    headers.back().first.append(at, len);
  }
  self->last_was_value_ = false;
  return 0;
}

int ResponseParser::on_header_value(http_parser* parser, const char* at, size_t len) {
  auto* self = static_cast<ResponseParser*>(parser->data);
  if (!self->capturing_) return 0;
  self->header_capture_bytes_ += len;
  if (self->header_capture_bytes_ > kMaxCapturedHeaderBytes) {
    self->fail("response too large: headers over 1 MiB");
    return -1;
  }
  auto& headers = self->response_.headers;
  if (headers.empty()) headers.emplace_back();  // value without a name: keep it, nameless
  headers.back().second.append(at, len);
  self->last_was_value_ = true;
  return 0;
}

int ResponseParser::on_headers_complete(http_parser* parser) {
  auto* self = static_cast<ResponseParser*>(parser->data);
  if (parser->status_code < 100) {  // http_parser takes 1 to 3 digits; HTTP wants 100..999
    self->fail("HPE_INVALID_STATUS: invalid HTTP status code " +
               std::to_string(parser->status_code));
    return -1;
  }
  self->response_.status = parser->status_code;
  self->pending_ = kHeaders;
  http_parser_pause(parser, 1);
  // 1: no body follows, whatever Content-Length or Transfer-Encoding say.
  return (self->head_front() || no_body_status(parser->status_code)) ? 1 : 0;
}

int ResponseParser::on_body(http_parser* parser, const char* at, size_t len) {
  auto* self = static_cast<ResponseParser*>(parser->data);
  self->response_.body_bytes += len;
  if (self->capturing_) {
    if (self->response_.body.size() + len > kMaxCapturedBodyBytes) {
      self->fail("response too large: body over 8 MiB");
      return -1;
    }
    self->response_.body.append(at, len);
  }
  return 0;
}

int ResponseParser::on_message_complete(http_parser* parser) {
  auto* self = static_cast<ResponseParser*>(parser->data);
  self->response_.keep_alive = http_should_keep_alive(parser) != 0;
  self->in_message_ = false;
  self->pending_ = kComplete;
  http_parser_pause(parser, 1);
  return 0;
}

bool ResponseParser::handle_pending(uint64_t generation) {
  const uint8_t pending = pending_;
  pending_ = kNone;
  switch (pending) {
    case kBegin:
      // Paused on the first byte of the status line, which counts as consumed.
      message_start_ = stream_offset_ - 1;
      if (!first_byte_sent_) {
        first_byte_sent_ = true;
        if (on_first_byte_ != nullptr) on_first_byte_(ctx_);
      }
      break;
    case kHeaders:
      // Paused on the final LF of the header block, which is not consumed yet.
      response_.header_bytes = stream_offset_ + 1 - message_start_;
      break;
    case kComplete: {
      const int status = response_.status;
      if (status >= 100 && status < 200 && status != 101) {
        interim_seen_ = true;  // the final response is still to come
        break;
      }
      head_start_ = (head_start_ + 1) % head_ring_.size();
      --outstanding_;
      interim_seen_ = false;
      first_byte_sent_ = false;
      if (status == 101) {
        upgraded_ = true;
        response_.keep_alive = false;
      }
      on_response_(ctx_, response_);
      break;
    }
    default:
      break;
  }
  return generation == generation_;
}

bool ResponseParser::feed(const char* data, size_t len) {
  if (failed_) return false;
  if (upgraded_ || len == 0) return true;  // len 0 would mean EOF to http_parser
  const uint64_t generation = generation_;
  size_t pos = 0;
  while (pos < len) {
    const size_t n = http_parser_execute(&parser_, &settings(), data + pos, len - pos);
    pos += n;
    stream_offset_ += n;
    const auto err = HTTP_PARSER_ERRNO(&parser_);
    if (err == HPE_PAUSED) {
      http_parser_pause(&parser_, 0);
      // A callback that reset() the parser owns the connection now: drop the rest.
      if (!handle_pending(generation)) return true;
      if (failed_) return false;
      if (upgraded_) return true;  // the rest of the bytes belong to another protocol
      continue;
    }
    if (err != HPE_OK) return parser_failed();
    if (n == 0) break;  // no progress without an error; cannot happen, stay bounded
  }
  return true;
}

bool ResponseParser::finish() {
  if (failed_) return false;
  if (upgraded_) return true;
  const uint64_t generation = generation_;
  http_parser_execute(&parser_, &settings(), nullptr, 0);
  const auto err = HTTP_PARSER_ERRNO(&parser_);
  if (err == HPE_PAUSED) {  // a read-until-close body ended here
    http_parser_pause(&parser_, 0);
    handle_pending(generation);
    return true;
  }
  if (err != HPE_OK) {
    return fail("premature close: response cut short (" + errno_text(parser_) + ")");
  }
  if (interim_seen_) return fail("premature close: only an interim 1xx response arrived");
  return true;
}

}  // namespace pelt

namespace pelt {
namespace {

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
