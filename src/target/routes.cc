#include "target/routes.h"

#include <fmt/format.h>

#include <iterator>

#include "target/exchange.h"
#include "target/serve_loop.h"
#include "target/text.h"

namespace pelt::target {
namespace {

constexpr std::string_view kText = "text/plain";
constexpr std::string_view kJson = "application/json";
constexpr std::string_view kOctets = "application/octet-stream";
constexpr uint64_t kMaxGeneratedBytes = 1ULL << 30;  // largest /bytes and /chunked body
constexpr uint64_t kMaxWaitMs = 600'000;             // longest /delay and /admin/stall

// Replies 405 unless the method is allowed. GET also admits HEAD.
bool allow(Exchange& c, http_method m) {
  http_method got = c.method();
  if (got == m || (m == HTTP_GET && got == HTTP_HEAD)) return true;
  std::string_view allowed = m == HTTP_GET ? "Allow: GET, HEAD\r\n" : "Allow: POST\r\n";
  c.reply(405, kText, "method not allowed\n", allowed);
  return false;
}

void json_error(Exchange& c, int status, std::string_view error) {
  std::string& s = c.loop().scratch;
  s.clear();
  fmt::format_to(std::back_inserter(s), "{{\"error\":\"{}\"}}\n", error);
  c.reply(status, kJson, s);
}

void not_found(Exchange& c) {
  c.reply(404, kText, "not found\n");
}

void echo(Exchange& c) {
  std::string& s = c.loop().scratch;
  s.assign("{\"method\":\"");
  s.append(http_method_str(c.method()));
  s.append("\",\"path\":\"");
  append_json_escaped(s, c.path());
  s.append("\",\"query\":\"");
  append_json_escaped(s, c.query());
  s.append("\",\"headers\":{");
  auto headers = c.headers();
  for (size_t i = 0; i < headers.size(); ++i) {
    bool seen = false;  // a repeated name was already printed, its values joined by ", "
    for (size_t j = 0; j < i && !seen; ++j) seen = iequals(headers[j].name, headers[i].name);
    if (seen) continue;
    s.append(i == 0 ? "\"" : ",\"");
    append_json_escaped(s, headers[i].name);
    s.append("\":\"");
    append_json_escaped(s, headers[i].value);
    for (size_t j = i + 1; j < headers.size(); ++j) {
      if (!iequals(headers[j].name, headers[i].name)) continue;
      s.append(", ");
      append_json_escaped(s, headers[j].value);
    }
    s.append("\"");
  }
  s.append("},\"body\":\"");
  append_json_escaped(s, c.body());
  s.append("\"}\n");
  c.reply(200, kJson, s);
}

void books(Exchange& c) {
  if (!allow(c, HTTP_GET)) return;
  const SharedState& state = *c.loop().state;
  std::string& h = c.loop().scratch;
  h.clear();
  fmt::format_to(std::back_inserter(h), "ETag: {}\r\nCache-Control: max-age=60\r\n",
                 state.books_etag());
  auto inm = c.header("If-None-Match");
  if (inm && (inm->find(state.books_etag()) != std::string_view::npos || *inm == "*")) {
    c.reply(304, kJson, {}, h);
  } else {
    c.reply(200, kJson, state.books_json(), h);
  }
}

void coupons(Exchange& c, std::string_view tail) {
  size_t slash = tail.find('/');
  if (slash == std::string_view::npos || tail.substr(slash + 1) != "issue-async") {
    return not_found(c);
  }
  if (!allow(c, HTTP_POST)) return;
  auto user = parse_uint(tail.substr(0, slash));
  if (!user) return json_error(c, 400, "userId must be a number");
  auto coupon_text = query_param(c.query(), "couponId");
  auto coupon = coupon_text ? parse_uint(*coupon_text) : std::nullopt;
  if (!coupon) return json_error(c, 400, "couponId must be a number");
  if (!c.loop().state->issue_coupon(*user, *coupon)) {
    return c.reply(200, kJson, "{\"status\":\"already_issued\"}\n");
  }
  std::string& s = c.loop().scratch;
  s.clear();
  fmt::format_to(std::back_inserter(s), "{{\"userId\":{},\"couponId\":{},\"status\":\"queued\"}}\n",
                 *user, *coupon);
  c.reply(201, kJson, s);
}

void inventory(Exchange& c, std::string_view tail) {
  if (tail != "decrease") return not_found(c);
  if (!allow(c, HTTP_POST)) return;
  auto product_field = json_member(c.body(), "productId");
  auto quantity_field = json_member(c.body(), "quantity");
  std::optional<uint64_t> product, quantity;
  if (product_field && !product_field->is_string) product = parse_uint(product_field->text);
  if (quantity_field && !quantity_field->is_string) quantity = parse_uint(quantity_field->text);
  if (!product || !quantity || *quantity == 0) {
    return json_error(c, 400, "expected {\\\"productId\\\":N,\\\"quantity\\\":Q} with Q > 0");
  }
  uint64_t remaining = 0;
  bool ok = c.loop().state->decrease_stock(*product, *quantity, remaining);
  std::string& s = c.loop().scratch;
  s.clear();
  fmt::format_to(std::back_inserter(s), "{{{}\"productId\":{},\"remaining\":{}}}\n",
                 ok ? "" : "\"error\":\"out_of_stock\",", *product, remaining);
  c.reply(ok ? 200 : 409, kJson, s);
}

void enqueue(Exchange& c, std::string_view tail) {
  if (tail != "enqueue") return not_found(c);
  if (!allow(c, HTTP_POST)) return;
  auto auth = c.header("Authorization");
  if (!auth || auth->size() <= 7 || !iequals(auth->substr(0, 7), "Bearer ") ||
      auth->find_first_not_of(' ', 7) == std::string_view::npos) {
    std::string& s = c.loop().scratch;
    s.assign("{\"error\":\"unauthorized\"}\n");
    return c.reply(401, kJson, s, "WWW-Authenticate: Bearer\r\n");
  }
  std::optional<JsonScalar> booth;
  if (auto q = query_param(c.query(), "boothId"); q && !q->empty()) {
    booth = JsonScalar{*q, !parse_uint(*q).has_value()};
  } else {
    booth = json_member(c.body(), "boothId");
  }
  std::string& s = c.loop().scratch;
  s.clear();
  fmt::format_to(std::back_inserter(s),
                 "{{\"position\":{},\"boothId\":", c.loop().state->next_queue_position());
  if (!booth) {
    s.append("null");
  } else if (booth->is_string) {
    s.append("\"");
    append_json_escaped(s, booth->text);
    s.append("\"");
  } else {
    s.append(booth->text);
  }
  s.append("}\n");
  c.reply(200, kJson, s);
}

void admin(Exchange& c, std::string_view tail) {
  if (tail != "reset" && tail != "stall") return not_found(c);
  if (!allow(c, HTTP_POST)) return;
  SharedState& state = *c.loop().state;
  if (tail == "reset") {
    state.reset_counters();
    return c.reply(200, kJson, "{\"status\":\"reset\"}\n");
  }
  auto ms_text = query_param(c.query(), "ms");
  auto ms = ms_text ? parse_uint(*ms_text) : std::nullopt;
  if (!ms || *ms > kMaxWaitMs) return json_error(c, 400, "ms must be a number up to 600000");
  state.stall_for_ms(*ms, uv_hrtime());
  std::string& s = c.loop().scratch;
  s.clear();
  fmt::format_to(std::back_inserter(s), "{{\"stall_ms\":{}}}\n", *ms);
  c.reply(200, kJson, s);
}

// /fault/NAME: the faults every protocol has the same way; the rest is the protocol's own.
void fault(Exchange& c, std::string_view name, int phase) {
  if (phase == kPhaseAfterRenegotiate) return c.reply(200, kText, "renegotiated\n");
  if (name == "endless-chunked") {
    return c.reply_stream(200, kOctets, BodyKind::kEndlessChunked, 0, 10);
  }
  if (name == "drip") {
    auto bytes = parse_uint(query_param(c.query(), "bytes").value_or("10"));
    auto ms = parse_uint(query_param(c.query(), "ms").value_or("1000"));
    if (!bytes || *bytes == 0 || *bytes > 100'000 || !ms || *ms == 0 || *ms > 60'000) {
      return json_error(c, 400, "bytes must be 1..100000 and ms 1..60000");
    }
    return c.reply_stream(200, kText, BodyKind::kDrip, *bytes, *ms);
  }
  if (name == "hang") return c.hang();
  if (!c.misbehave(name)) not_found(c);
}

// /status/CODE: any code from 100 to 999; a 1xx is sent as an informational response ahead of
// a final 200 (101 would switch protocols, so it is refused).
void status(Exchange& c, std::string_view tail) {
  auto code = parse_uint(tail);
  if (!code || *code < 100 || *code > 999 || *code == 101) {
    return json_error(c, 400, "status must be from 100 to 999, not 101");
  }
  std::string& s = c.loop().scratch;
  s.clear();
  fmt::format_to(std::back_inserter(s), "status {}\n", *code);
  if (*code >= 200) return c.reply(static_cast<int>(*code), kText, s);
  c.interim(static_cast<int>(*code));
  c.reply(200, kText, s);
}

// Parses the numeric tail of /bytes/N, /delay/MS, ...; replies 400 and returns nullopt if bad.
std::optional<uint64_t> number_tail(Exchange& c, std::string_view tail, uint64_t max) {
  auto n = parse_uint(tail);
  if (!n || *n > max) {
    json_error(c, 400, fmt::format("expected a number from 0 to {}", max));
    return std::nullopt;
  }
  return n;
}

}  // namespace

void handle_request(Exchange& c, int phase) {
  ServeLoop& w = c.loop();
  std::string_view path = c.path();
  if (path.empty() || path[0] != '/') {
    if (phase == kPhaseFresh) w.counters->by_route[size_t(Route::kOther)].fetch_add(1);
    return c.reply(400, kText, "bad request target\n");
  }
  std::string_view rest = path.substr(1);
  size_t slash = rest.find('/');
  std::string_view segment = rest.substr(0, slash);
  bool has_tail = slash != std::string_view::npos;
  std::string_view tail = has_tail ? rest.substr(slash + 1) : std::string_view{};
  Route route = route_for_segment(segment);

  if (phase == kPhaseFresh && route != Route::kStats) {
    w.counters->requests.fetch_add(1, std::memory_order_relaxed);
    w.counters->by_route[static_cast<size_t>(route)].fetch_add(1, std::memory_order_relaxed);
    w.counters->by_protocol[static_cast<size_t>(c.protocol())].fetch_add(1,
                                                                         std::memory_order_relaxed);
  }
  if (phase == kPhaseFresh && w.state->stall_armed() && route != Route::kStats &&
      route != Route::kAdmin) {
    if (uint64_t wait_ns = w.state->stall_remaining_ns(uv_hrtime()); wait_ns > 0) {
      return c.wait_then(wait_ns, kPhaseAfterStall);
    }
  }

  switch (route) {
    case Route::kRoot:
      if (has_tail) return not_found(c);
      return c.reply(200, kText, "Hello from pelt-target\n");
    case Route::kBytes:
      if (!allow(c, HTTP_GET)) return;
      if (auto n = number_tail(c, tail, kMaxGeneratedBytes)) {
        c.reply_stream(200, kOctets, BodyKind::kFixed, *n);
      }
      return;
    case Route::kDelay:
      if (phase == kPhaseAfterDelay) {
        w.scratch.clear();
        fmt::format_to(std::back_inserter(w.scratch), "delayed {} ms\n", tail);
        return c.reply(200, kText, w.scratch);
      }
      if (auto ms = number_tail(c, tail, kMaxWaitMs)) {
        if (*ms == 0) return c.reply(200, kText, "delayed 0 ms\n");
        c.wait_then(*ms * 1'000'000, kPhaseAfterDelay);
      }
      return;
    case Route::kStatus:
      return status(c, tail);
    case Route::kChunked:
      if (!allow(c, HTTP_GET)) return;
      if (auto n = number_tail(c, tail, kMaxGeneratedBytes)) {
        c.reply_stream(200, kOctets, BodyKind::kChunked, *n);
      }
      return;
    case Route::kClose:
      c.close_after_flush();
      return c.reply(200, kText, "closing\n");
    case Route::kEcho:
      return echo(c);
    case Route::kHealth:
      return c.reply(200, kJson, "{\"status\":\"ok\"}\n");
    case Route::kBooks:
      return has_tail ? not_found(c) : books(c);
    case Route::kCoupons:
      return coupons(c, tail);
    case Route::kInventory:
      return inventory(c, tail);
    case Route::kQueue:
      return enqueue(c, tail);
    case Route::kStats:
      if (!allow(c, HTTP_GET)) return;
      w.scratch.clear();
      w.state->stats_json(w.scratch);
      return c.reply(200, kJson, w.scratch);
    case Route::kAdmin:
      return admin(c, tail);
    case Route::kFault:
      return fault(c, tail, phase);
    case Route::kSink:
      if (has_tail) return not_found(c);
      w.scratch.clear();
      fmt::format_to(std::back_inserter(w.scratch), "{{\"bytes\":{}}}\n", c.sunk_bytes());
      return c.reply(200, kJson, w.scratch);
    case Route::kPool:
      if (has_tail || w.state->pool() == nullptr) return not_found(c);
      if (phase != kPhaseAfterPool) return c.take_pool_slot();
      c.release_pool_slot();
      return c.reply(200, kText, "pooled\n");
    default:
      return not_found(c);
  }
}

}  // namespace pelt::target
