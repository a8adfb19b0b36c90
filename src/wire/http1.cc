#include "wire/http1.h"

#include <algorithm>
#include <array>
#include <cstring>

// The response parser works line by line on the bytes as they arrive: a whole line inside one
// read is parsed in place (no copy); only a line split across reads is gathered in line_.
// Bodies are counted (and copied only when captured). The header names the parser acts on
// (Content-Length, Transfer-Encoding, Connection) are told apart by length and first letter
// before any comparison, so the other headers cost one memchr and one colon search each.

namespace pelt {
namespace {

// Capture buffers above this size are released at the start of the next response, in bytes.
constexpr size_t kKeptBodyCapacityBytes = 64 * 1024;
// Status line plus headers (and, separately, the trailers of a chunked body), in bytes.
constexpr int64_t kMaxHeadBytes = 80 * 1024;
// One chunk-size line with its extensions, in bytes.
constexpr int64_t kMaxChunkLineBytes = 4096;
// Largest Content-Length or chunk size accepted, in bytes (2^60: far beyond anything real,
// and no overflow when added up).
constexpr uint64_t kMaxLength = 1ull << 60;

bool no_body_status(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

// Case-insensitive equality with an all-lowercase ASCII literal.
bool iequals(std::string_view text, std::string_view lower_literal) {
  if (text.size() != lower_literal.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (lower(text[i]) != lower_literal[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// RFC 9110 tchar, as a table indexed by byte.
constexpr std::array<bool, 256> kTokenChar = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

// Calls fn(token) for every comma-separated element of a header value, trimmed.
template <typename Fn>
void for_each_token(std::string_view value, Fn&& fn) {
  while (true) {
    const size_t comma = value.find(',');
    fn(trim(value.substr(0, comma)));
    if (comma == std::string_view::npos) return;
    value.remove_prefix(comma + 1);
  }
}

// At most 40 bytes of what the server sent, printable, for error messages.
std::string quote(std::string_view raw) {
  std::string out = "\"";
  for (size_t i = 0; i < raw.size() && i < 40; ++i) {
    const unsigned char c = static_cast<unsigned char>(raw[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '.';
  }
  if (raw.size() > 40) out += "...";
  out += '"';
  return out;
}

bool parse_decimal(std::string_view digits, uint64_t& out) {
  if (digits.empty()) return false;
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > kMaxLength) return false;
  }
  out = v;
  return true;
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
  head_start_ = 0;
  outstanding_ = 0;
  error_.clear();
  line_.clear();
  line_used_ = false;
  stream_offset_ = 0;
  message_start_ = 0;
  body_left_ = 0;
  line_budget_ = 0;
  state_ = State::kIdle;
  capturing_ = false;
  interim_seen_ = false;
  first_byte_sent_ = false;
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
  return (state_ != State::kIdle && state_ != State::kUpgraded) || interim_seen_;
}

const std::string& ResponseParser::error() const {
  return error_;
}

bool ResponseParser::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
  failed_ = true;
  return false;
}

bool ResponseParser::fail_quoted(const char* before, std::string_view raw, const char* after) {
  return fail_response(before + quote(raw) + after);
}

bool ResponseParser::fail_lengths(uint64_t second) {
  return fail_response("two different Content-Length values (" + std::to_string(content_length_) +
                       " and " + std::to_string(second) + ")");
}

bool ResponseParser::fail_response(std::string_view what) {
  return fail(std::string(what) + " (response at byte " + std::to_string(message_start_) + ")");
}

int ResponseParser::take_line(const char* data, size_t len, size_t& pos, std::string_view& line) {
  if (line_used_) {
    line_.clear();
    line_used_ = false;
  }
  const char* start = data + pos;
  const size_t avail = len - pos;
  const void* lf = std::memchr(start, '\n', avail);
  if (lf == nullptr) {
    line_budget_ -= static_cast<int64_t>(avail);
    if (line_budget_ < 0) return -1;
    line_.append(start, avail);
    pos = len;
    return 0;
  }
  const size_t n = static_cast<size_t>(static_cast<const char*>(lf) - start);
  line_budget_ -= static_cast<int64_t>(n + 1);
  if (line_budget_ < 0) return -1;
  pos += n + 1;
  if (line_.empty()) {
    line = std::string_view(start, n);
  } else {
    line_.append(start, n);
    line = line_;
    line_used_ = true;
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return 1;
}

bool ResponseParser::begin_message(size_t pos) {
  message_start_ = stream_offset_ + pos;
  if (outstanding_ == 0) {
    return fail("unexpected response: no request outstanding (byte " +
                std::to_string(message_start_) + ")");
  }
  ParsedResponse& r = response_;
  r.status = 0;
  r.keep_alive = true;
  r.body_bytes = 0;
  r.header_bytes = 0;
  capturing_ = capture_;
  if (capturing_) {
    // Keep the strings (and their heap buffers) for the next headers: no allocation per
    // response once the buffers are large enough.
    for (auto& h : r.headers) spare_headers_.push_back(std::move(h));
    r.headers.clear();
    r.body.clear();
    if (r.body.capacity() > kKeptBodyCapacityBytes) std::string().swap(r.body);
  }
  http10_ = false;
  has_length_ = false;
  content_length_ = 0;
  has_encoding_ = false;
  chunked_ = false;
  conn_close_ = false;
  conn_keep_alive_ = false;
  last_special_ = false;
  line_budget_ = kMaxHeadBytes;
  state_ = State::kStatusLine;
  if (!first_byte_sent_) {
    first_byte_sent_ = true;
    if (on_first_byte_ != nullptr) on_first_byte_(ctx_);
  }
  return true;
}

bool ResponseParser::status_line(std::string_view line) {
  // HTTP/1.x NNN[ reason]
  if (line.size() < 9 || std::memcmp(line.data(), "HTTP/", 5) != 0 || line[6] != '.' ||
      line[5] < '0' || line[5] > '9' || line[7] < '0' || line[7] > '9' || line[8] != ' ') {
    return fail_quoted("invalid status line ", line, ": expected HTTP/1.x NNN");
  }
  if (line[5] != '1') {
    return fail_quoted("unsupported HTTP version in the status line ", line, "");
  }
  int status = 0;
  bool digits = line.size() >= 12 && (line.size() == 12 || line[12] == ' ');
  for (size_t i = 9; digits && i < 12; ++i) {
    const char c = line[i];
    digits = c >= '0' && c <= '9';
    status = status * 10 + (c - '0');
  }
  if (!digits || status < 100) {
    return fail_quoted("invalid status code in the status line ", line, "");
  }
  response_.status = status;
  http10_ = line[7] == '0';
  state_ = State::kHeaders;
  return true;
}

void ResponseParser::capture_header(std::string_view name, std::string_view value) {
  auto& headers = response_.headers;
  if (spare_headers_.empty()) {
    headers.emplace_back(std::string(name), std::string(value));
  } else {
    headers.push_back(std::move(spare_headers_.back()));
    spare_headers_.pop_back();
    headers.back().first.assign(name);
    headers.back().second.assign(value);
  }
}

bool ResponseParser::header_line(std::string_view line, bool trailer) {
  // Kept small: most lines are neither folded, nor one of the three headers acted on, nor
  // captured, and cost the name scan alone.
  const char* p = line.data();
  const size_t n = line.size();
  if (p[0] == ' ' || p[0] == '\t') return folded_line(line);
  // The name runs up to the colon and holds token characters only.
  size_t colon = 0;
  while (colon < n && kTokenChar[static_cast<unsigned char>(p[colon])]) ++colon;
  if (colon == n || p[colon] != ':' || colon == 0) return bad_header_line(line);
  last_special_ = false;
  const char first = static_cast<char>(p[0] | 0x20);
  if (!trailer && ((first == 'c' && (colon == 14 || colon == 10)) ||
                   (first == 't' && colon == 17))) {
    if (!special_header(line.substr(0, colon), trim(line.substr(colon + 1)))) return false;
  }
  if (capturing_) capture_header(line.substr(0, colon), trim(line.substr(colon + 1)));
  return true;
}

bool ResponseParser::folded_line(std::string_view line) {
  // Obsolete line folding: the line continues the previous header's value.
  if (last_special_) {
    return fail_response("invalid header: a folded Content-Length, Transfer-Encoding or "
                         "Connection line");
  }
  if (capturing_ && !response_.headers.empty()) {
    std::string& value = response_.headers.back().second;
    value += ' ';
    value.append(trim(line));
  }
  return true;
}

bool ResponseParser::bad_header_line(std::string_view line) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return fail_quoted("invalid header line ", line, ": expected name: value");
  }
  if (colon == 0) return fail_quoted("invalid header line ", line, ": empty name");
  return fail_quoted("invalid header name ", line.substr(0, colon), "");
}

bool ResponseParser::special_header(std::string_view name, std::string_view value) {
  if (iequals(name, "content-length")) {
    last_special_ = true;
    uint64_t length = 0;
    if (!parse_decimal(value, length)) return fail_quoted("invalid Content-Length ", value, "");
    if (has_length_ && length != content_length_) return fail_lengths(length);
    has_length_ = true;
    content_length_ = length;
  } else if (iequals(name, "transfer-encoding")) {
    last_special_ = true;
    has_encoding_ = true;
    // The last coding decides: chunked ends the body, anything else runs to the close.
    std::string_view last;
    for_each_token(value, [&](std::string_view token) {
      if (!token.empty()) last = token;
    });
    chunked_ = iequals(last, "chunked");
  } else if (iequals(name, "connection")) {
    last_special_ = true;
    for_each_token(value, [&](std::string_view token) {
      if (iequals(token, "close")) conn_close_ = true;
      if (iequals(token, "keep-alive")) conn_keep_alive_ = true;
    });
  }
  return true;
}

bool ResponseParser::headers_done() {
  const int status = response_.status;
  response_.header_bytes = static_cast<uint64_t>(kMaxHeadBytes - line_budget_);
  if (status < 200 && status != 101) {
    interim_seen_ = true;  // the final response is still to come
    state_ = State::kIdle;
    return true;
  }
  response_.keep_alive = http10_ ? conn_keep_alive_ : !conn_close_;
  if (status == 101) {
    response_.keep_alive = false;
    state_ = State::kUpgraded;
    return complete();
  }
  const bool head = head_ring_[head_start_];
  if (head || no_body_status(status)) return complete();
  if (has_encoding_) {
    // A length next to a Transfer-Encoding is ignored; the connection is not reused after it.
    if (has_length_) response_.keep_alive = false;
    if (chunked_) {
      state_ = State::kChunkSize;
      line_budget_ = kMaxChunkLineBytes;
      return true;
    }
    response_.keep_alive = false;
    state_ = State::kUntilClose;
    return true;
  }
  if (has_length_) {
    if (content_length_ == 0) return complete();
    body_left_ = content_length_;
    state_ = State::kBody;
    return true;
  }
  response_.keep_alive = false;
  state_ = State::kUntilClose;
  return true;
}

bool ResponseParser::chunk_size_line(std::string_view line) {
  size_t i = 0;
  uint64_t size = 0;
  for (; i < line.size(); ++i) {
    const char c = line[i];
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
      digit = (c | 0x20) - 'a' + 10;
    } else {
      break;
    }
    size = size * 16 + static_cast<uint64_t>(digit);
    if (size > kMaxLength) return fail_quoted("invalid chunk size ", line, ": too large");
  }
  std::string_view rest = line.substr(i);
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  if (i == 0 || (!rest.empty() && rest.front() != ';')) {
    return fail_quoted("invalid chunk size line ", line, "");
  }
  if (size == 0) {
    state_ = State::kTrailers;
    line_budget_ = kMaxHeadBytes;
    return true;
  }
  body_left_ = size;
  state_ = State::kChunkData;
  return true;
}

bool ResponseParser::add_body(const char* data, size_t n) {
  response_.body_bytes += n;
  if (capturing_) {
    if (response_.body.size() + n > kMaxCapturedBodyBytes) {
      return fail("response too large: body over 8 MiB");
    }
    response_.body.append(data, n);
  }
  return true;
}

bool ResponseParser::complete() {
  const uint64_t generation = generation_;
  if (state_ != State::kUpgraded) state_ = State::kIdle;
  head_start_ = (head_start_ + 1) % head_ring_.size();
  --outstanding_;
  interim_seen_ = false;
  first_byte_sent_ = false;
  on_response_(ctx_, response_);
  return generation == generation_;
}

bool ResponseParser::feed(const char* data, size_t len) {
  if (failed_) return false;
  const uint64_t generation = generation_;
  size_t pos = 0;
  while (pos < len) {
    switch (state_) {
      case State::kIdle: {
        const char c = data[pos];
        if (c == '\r' || c == '\n') {
          ++pos;
          break;
        }
        if (!begin_message(pos)) return false;
        if (generation != generation_) return true;  // a callback owns the connection now
        break;
      }
      case State::kBody:
      case State::kChunkData: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(body_left_, len - pos));
        if (!add_body(data + pos, n)) return false;
        pos += n;
        body_left_ -= n;
        if (body_left_ == 0) {
          if (state_ == State::kChunkData) {
            state_ = State::kChunkEnd;
            line_budget_ = kMaxChunkLineBytes;
          } else if (!complete()) {
            return true;
          }
        }
        break;
      }
      case State::kUntilClose:
        if (!add_body(data + pos, len - pos)) return false;
        pos = len;
        break;
      case State::kUpgraded:
        pos = len;  // another protocol's bytes
        break;
      default: {
        std::string_view line;
        const int got = take_line(data, len, pos, line);
        if (got == 0) {
          // The rest of the line comes with a later feed; a status line that cannot become
          // "HTTP/..." fails now rather than waiting for a line end that may never come.
          if (state_ == State::kStatusLine &&
              std::memcmp(line_.data(), "HTTP/", std::min<size_t>(line_.size(), 5)) != 0) {
            return fail_quoted("invalid status line ", line_, ": expected HTTP/1.x NNN");
          }
          break;
        }
        if (got < 0) {
          switch (state_) {
            case State::kStatusLine:
            case State::kHeaders:
              return fail_response("header section over 80 KiB");
            case State::kTrailers:
              return fail_response("chunked trailers over 80 KiB");
            default:
              return fail_response("invalid chunked body: a chunk-size line over 4 KiB");
          }
        }
        switch (state_) {
          case State::kStatusLine:
            if (!status_line(line)) return false;
            break;
          case State::kHeaders:
            if (line.empty()) {
              if (!headers_done()) return true;  // a callback reset the parser
            } else if (!header_line(line, false)) {
              return false;
            }
            break;
          case State::kChunkSize:
            if (!chunk_size_line(line)) return false;
            line_budget_ = kMaxChunkLineBytes;  // for the next chunk-size line
            if (state_ == State::kTrailers) line_budget_ = kMaxHeadBytes;
            break;
          case State::kChunkEnd:
            if (!line.empty()) {
              return fail_response("invalid chunked body: chunk data longer than its size");
            }
            state_ = State::kChunkSize;
            line_budget_ = kMaxChunkLineBytes;
            break;
          case State::kTrailers:
            if (line.empty()) {
              if (!complete()) return true;
            } else if (!header_line(line, true)) {
              return false;
            }
            break;
          default:
            break;
        }
        break;
      }
    }
  }
  stream_offset_ += len;
  return true;
}

bool ResponseParser::finish() {
  if (failed_) return false;
  switch (state_) {
    case State::kUpgraded:
      return true;
    case State::kUntilClose:
      complete();
      return true;
    case State::kIdle:
      if (interim_seen_) return fail("premature close: only an interim 1xx response arrived");
      return true;
    case State::kStatusLine:
    case State::kHeaders:
      return fail_response("premature close: response cut short in its headers");
    case State::kBody:
      return fail_response("premature close: response cut short after " +
                           std::to_string(content_length_ - body_left_) + " of " +
                           std::to_string(content_length_) + " body bytes");
    default:
      return fail_response("premature close: response cut short in its chunked body");
  }
}

}  // namespace pelt
