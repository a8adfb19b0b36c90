// The live dashboard's HTTP server: one libuv loop on its own thread, http_parser for requests,
// text/event-stream for the ticks. Everything below Impl's "loop thread only" line runs on that
// thread; the main thread only swaps a pending document under a mutex and wakes the loop.
#include "results/dashboard_server.h"

#include <http_parser.h>
#include <pthread.h>
#include <signal.h>
#include <uv.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <list>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "results/dashboard_events.h"
#include "results/html_report.h"
#include "results/metrics.h"

namespace pelt {
namespace {

constexpr size_t kMaxRequestHeadBytes = 16 * 1024;  // request line + headers
constexpr int kBacklog = 128;                       // pending connections
constexpr uint64_t kSweepIntervalMs = 1000;         // idle check period
constexpr const char* kDefaultListen = "127.0.0.1:5665";
using Text = std::shared_ptr<const std::string>;

struct Client {
  uv_tcp_t tcp{};                           // the connection; tcp.data = this
  http_parser parser{};                     // request parser; parser.data = this
  DashboardServer::Impl* server = nullptr;  // owner
  std::string url;                          // request target of the request being parsed
  size_t head_bytes = 0;                    // bytes of request line and headers so far
  bool events = false;                      // following /events (no more requests are read)
  bool closing = false;                     // uv_close called
  size_t buckets = 0;                       // buckets this /events client has
  uint64_t last_active_ms = 0;              // loop time of the last read or completed write
  std::list<Client*>::iterator self;        // position in Impl::clients
};

struct WriteReq {
  uv_write_t req{};          // libuv request; req.data = this
  std::vector<Text> parts;   // buffers kept alive until the write completes
  bool close_after = false;  // close the connection once written
};

std::string join_host_port(const std::string& host, uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::string response_head(const char* status, const char* type, size_t length, bool keep_alive,
                          const char* extra = "") {
  std::string h = std::string("HTTP/1.1 ") + status + "\r\nContent-Type: " + type +
                  "\r\nContent-Length: " + std::to_string(length) +
                  "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                  "Referrer-Policy: no-referrer\r\nConnection: " +
                  (keep_alive ? "keep-alive" : "close") + "\r\n" + extra + "\r\n";
  return h;
}

Text text(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

}  // namespace

struct DashboardServer::Impl {
  DashboardOptions options;              // limits
  uv_loop_t loop{};                      // the server's own loop
  uv_tcp_t listener{};                   // listening socket
  uv_async_t wake{};                     // main thread -> loop: a document or stop is pending
  uv_timer_t sweep{};                    // closes idle connections
  std::thread thread;                    // runs the loop
  std::string address;                   // "host:port" actually bound
  std::atomic<bool> running{false};      // between a successful start() and stop()
  std::atomic<size_t> event_clients{0};  // /events clients, for event_clients()
  std::mutex stop_mu;                    // serializes stop()

  std::mutex mu;                            // guards the four fields below
  std::condition_variable cv;               // linger() waits on it
  std::unique_ptr<nlohmann::json> pending;  // newest document the loop has not taken yet
  bool pending_final = false;               // pending is the final document
  bool finish_called = false;               // finish() was called; publish() is ignored after it
  bool stop_requested = false;              // stop() was called

  // ---- loop thread only ----
  Text page;                   // the live page
  nlohmann::json doc;          // current document (null before the first publish)
  std::string summary_json;    // doc without "timeseries", serialized
  Text api_body;               // doc serialized for /api/summary (null: not built yet)
  bool finished = false;       // the final document was taken
  std::list<Client*> clients;  // every open connection
  char read_buf[64 * 1024];    // shared by all reads (one thread)

  static Impl* of(uv_handle_t* h) { return static_cast<Impl*>(h->data); }
  uint64_t now_ms() { return uv_now(&loop); }

  // ---- writing ----
  static void on_write(uv_write_t* req, int status) {
    auto* w = static_cast<WriteReq*>(req->data);
    auto* c = static_cast<Client*>(req->handle->data);
    if (!c->closing) {
      c->last_active_ms = c->server->now_ms();
      if (status < 0 || w->close_after) c->server->close_client(c);
    }
    delete w;
  }

  void send(Client* c, std::vector<Text> parts, bool close_after) {
    if (c->closing) return;
    auto* w = new WriteReq{};
    w->req.data = w;
    w->parts = std::move(parts);
    w->close_after = close_after;
    std::vector<uv_buf_t> bufs;
    for (const Text& p : w->parts) {
      bufs.push_back(uv_buf_init(const_cast<char*>(p->data()), static_cast<unsigned>(p->size())));
    }
    const int r = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), bufs.data(),
                           static_cast<unsigned>(bufs.size()), on_write);
    if (r != 0) {
      delete w;
      close_client(c);
    }
  }

  size_t unsent_bytes(Client* c) {
    return uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(&c->tcp));
  }

  static void on_client_closed(uv_handle_t* h) { delete static_cast<Client*>(h->data); }

  void close_client(Client* c) {
    if (c->closing) return;
    c->closing = true;
    if (c->events) event_clients.fetch_sub(1);
    clients.erase(c->self);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_client_closed);
  }

  // ---- requests ----
  void respond(Client* c, const char* status, const char* type, Text body, bool head_only,
               bool keep_alive, const char* extra = "") {
    std::vector<Text> parts{text(response_head(status, type, body->size(), keep_alive, extra))};
    if (!head_only) parts.push_back(std::move(body));
    send(c, std::move(parts), !keep_alive);
  }

  void refuse(Client* c, const char* status, const char* message, const char* extra = "") {
    respond(c, status, "text/plain; charset=utf-8", text(std::string(message) + "\n"), false, false,
            extra);
    // Stop reading requests on this connection (pausing is only allowed in a healthy state).
    if (HTTP_PARSER_ERRNO(&c->parser) == HPE_OK) http_parser_pause(&c->parser, 1);
  }

  Text current_summary() {
    if (!api_body) {
      api_body = text(doc.is_null() ? R"({"live":true,"state":"starting"})" : dump_json(doc));
    }
    return api_body;
  }

  void start_events(Client* c, bool head_only) {
    std::vector<Text> parts{
        text("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
             "X-Content-Type-Options: nosniff\r\nConnection: keep-alive\r\n\r\n")};
    http_parser_pause(&c->parser, 1);
    if (head_only) {
      send(c, std::move(parts), true);
      return;
    }
    c->events = true;
    event_clients.fetch_add(1);
    parts.push_back(text("retry: 3000\n\n"));
    if (!doc.is_null()) {
      parts.push_back(text(tick_event(summary_json, doc, 0)));
      if (finished) parts.push_back(text(end_event()));
    }
    c->buckets = bucket_count(doc);
    send(c, std::move(parts), false);
  }

  void handle_request(Client* c) {
    const auto method = static_cast<http_method>(c->parser.method);
    if (method != HTTP_GET && method != HTTP_HEAD) {
      refuse(c, "405 Method Not Allowed", "only GET and HEAD are served", "Allow: GET, HEAD\r\n");
      return;
    }
    const bool head = method == HTTP_HEAD;
    const bool keep_alive = http_should_keep_alive(&c->parser) != 0;
    const std::string path = c->url.substr(0, c->url.find('?'));
    if (path == "/") {
      respond(c, "200 OK", "text/html; charset=utf-8", page, head, keep_alive);
    } else if (path == "/api/summary") {
      respond(c, "200 OK", "application/json", current_summary(), head, keep_alive);
    } else if (path == "/events") {
      start_events(c, head);
    } else {
      respond(c, "404 Not Found", "text/plain; charset=utf-8", text("not found\n"), head,
              keep_alive);
    }
  }

  static Client* client_of(http_parser* p) { return static_cast<Client*>(p->data); }

  static int on_message_begin(http_parser* p) {
    client_of(p)->url.clear();
    client_of(p)->head_bytes = 0;
    return 0;
  }

  static int count_head(http_parser* p, size_t n) {
    Client* c = client_of(p);
    c->head_bytes += n;
    if (c->head_bytes > kMaxRequestHeadBytes) {
      c->server->refuse(c, "431 Request Header Fields Too Large", "request head too large");
    }
    return 0;
  }

  static int on_url(http_parser* p, const char* at, size_t n) {
    client_of(p)->url.append(at, n);
    return count_head(p, n);
  }

  static int on_header_part(http_parser* p, const char*, size_t n) { return count_head(p, n); }

  static int on_headers_complete(http_parser* p) {
    Client* c = client_of(p);
    const auto method = static_cast<http_method>(p->method);
    // Anything but GET and HEAD is refused before its body is read.
    if (method != HTTP_GET && method != HTTP_HEAD) c->server->handle_request(c);
    return 0;
  }

  static int on_message_complete(http_parser* p) {
    Client* c = client_of(p);
    if (HTTP_PARSER_ERRNO(p) == HPE_OK) c->server->handle_request(c);
    return 0;
  }

  static const http_parser_settings& settings() {
    static const http_parser_settings s = [] {
      http_parser_settings v;
      http_parser_settings_init(&v);
      v.on_message_begin = on_message_begin;
      v.on_url = on_url;
      v.on_header_field = on_header_part;
      v.on_header_value = on_header_part;
      v.on_headers_complete = on_headers_complete;
      v.on_message_complete = on_message_complete;
      return v;
    }();
    return s;
  }

  // ---- reading and accepting ----
  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    Impl* s = static_cast<Client*>(h->data)->server;
    *buf = uv_buf_init(s->read_buf, sizeof s->read_buf);
  }

  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<Client*>(stream->data);
    if (c->closing) return;
    if (nread < 0) {
      c->server->close_client(c);
      return;
    }
    c->last_active_ms = c->server->now_ms();
    if (nread == 0 || c->events || HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) return;
    http_parser_execute(&c->parser, &settings(), buf->base, static_cast<size_t>(nread));
    const http_errno err = HTTP_PARSER_ERRNO(&c->parser);
    if (err != HPE_OK && err != HPE_PAUSED && !c->closing) {
      c->server->refuse(c, "400 Bad Request", http_errno_description(err));
    }
  }

  static void on_connection(uv_stream_t* listener, int status) {
    Impl* s = of(reinterpret_cast<uv_handle_t*>(listener));
    if (status < 0) return;
    auto* c = new Client{};
    c->server = s;
    c->tcp.data = c;
    c->parser.data = c;
    uv_tcp_init(&s->loop, &c->tcp);
    c->self = s->clients.insert(s->clients.end(), c);
    if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
      s->close_client(c);
      return;
    }
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->last_active_ms = s->now_ms();
    if (s->clients.size() > s->options.max_clients) {
      s->send(c, {text(response_head("503 Service Unavailable", "text/plain", 0, false))}, true);
      return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
  }

  static void on_sweep(uv_timer_t* t) {
    Impl* s = of(reinterpret_cast<uv_handle_t*>(t));
    const uint64_t now = s->now_ms();
    const uint64_t idle = static_cast<uint64_t>(s->options.idle_timeout.count());
    std::vector<Client*> stale;
    for (Client* c : s->clients) {
      if (!c->events && s->unsent_bytes(c) == 0 && now - c->last_active_ms >= idle)
        stale.push_back(c);
    }
    for (Client* c : stale) s->close_client(c);
  }

  // ---- documents from the main thread ----
  void take(nlohmann::json next, bool final) {
    next["live"] = true;
    next["state"] = final ? "finished" : "running";
    const size_t stable = stable_bucket_prefix(doc, next);
    const size_t n = bucket_count(next);
    const auto ts = next.find("timeseries");
    if (ts != next.end()) {
      nlohmann::json series = std::move(*ts);
      next.erase("timeseries");
      summary_json = dump_json(next);
      next["timeseries"] = std::move(series);
    } else {
      summary_json = dump_json(next);
    }
    doc = std::move(next);
    api_body.reset();
    finished = final;
    std::map<size_t, Text> ticks;  // by `from`: clients that had the same buckets share one
    const Text end = text(end_event());
    std::vector<Client*> targets;
    for (Client* c : clients) {
      if (c->events) targets.push_back(c);
    }
    for (Client* c : targets) {
      if (unsent_bytes(c) > options.client_buffer_limit_bytes) {
        close_client(c);  // it stopped reading
        continue;
      }
      const size_t from = c->buckets == 0 ? 0 : std::min(c->buckets - 1, stable);
      Text& tick = ticks[from];
      if (!tick) tick = text(tick_event(summary_json, doc, from));
      std::vector<Text> parts{tick};
      if (final) parts.push_back(end);
      c->buckets = n;
      send(c, std::move(parts), false);
    }
  }

  void shut_down() {
    std::vector<Client*> all(clients.begin(), clients.end());
    for (Client* c : all) close_client(c);
    uv_close(reinterpret_cast<uv_handle_t*>(&listener), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sweep), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&wake), nullptr);
  }

  static void on_wake(uv_async_t* a) {
    Impl* s = of(reinterpret_cast<uv_handle_t*>(a));
    std::unique_ptr<nlohmann::json> next;
    bool final = false;
    bool stop = false;
    {
      std::lock_guard<std::mutex> lock(s->mu);
      next = std::move(s->pending);
      final = s->pending_final;
      stop = s->stop_requested;
    }
    if (stop) {
      s->shut_down();
      return;
    }
    if (next && !s->finished) s->take(std::move(*next), final);
  }
};

DashboardServer::DashboardServer(DashboardOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
}

DashboardServer::~DashboardServer() {
  stop();
}

bool DashboardServer::start(const std::string& listen_addr, std::string& error) {
  Impl& s = *impl_;
  if (s.running) {
    error = "the dashboard is already running on " + s.address;
    return false;
  }
  const std::string wanted = listen_addr.empty() ? kDefaultListen : listen_addr;
  std::string host;
  uint16_t port = 0;
  if (!parse_listen_address(wanted, host, port, error)) {
    const std::string from = "bad metrics address";
    if (error.rfind(from, 0) == 0) error.replace(0, from.size(), "bad dashboard address");
    return false;
  }
  sockaddr_storage sa{};
  int r = host.find(':') != std::string::npos
              ? uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&sa))
              : uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&sa));
  uv_loop_init(&s.loop);
  s.loop.data = &s;
  uv_tcp_init(&s.loop, &s.listener);
  s.listener.data = &s;
  if (r == 0) r = uv_tcp_bind(&s.listener, reinterpret_cast<const sockaddr*>(&sa), 0);
  if (r == 0)
    r = uv_listen(reinterpret_cast<uv_stream_t*>(&s.listener), kBacklog, Impl::on_connection);
  if (r != 0) {
    error =
        "cannot listen on " + join_host_port(host, port) + " for the dashboard: " + uv_strerror(r);
    uv_close(reinterpret_cast<uv_handle_t*>(&s.listener), nullptr);
    uv_run(&s.loop, UV_RUN_DEFAULT);
    uv_loop_close(&s.loop);
    return false;
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&s.listener, reinterpret_cast<sockaddr*>(&bound), &len);
  const uint16_t real_port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  s.address = join_host_port(host, real_port);
  uv_async_init(&s.loop, &s.wake, Impl::on_wake);
  s.wake.data = &s;
  uv_timer_init(&s.loop, &s.sweep);
  s.sweep.data = &s;
  uv_timer_start(&s.sweep, Impl::on_sweep, kSweepIntervalMs, kSweepIntervalMs);
  s.page = std::make_shared<const std::string>(render_dashboard_html());
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.stop_requested = false;
  }
  s.running = true;
  s.thread = std::thread([&s] {
    // Signals stay with the main thread; a write to a closed socket must not raise SIGPIPE.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    uv_run(&s.loop, UV_RUN_DEFAULT);
  });
  return true;
}

std::string DashboardServer::address() const {
  return impl_->address;
}

void DashboardServer::publish(nlohmann::json summary) {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.running || s.stop_requested || s.finish_called) return;
  s.pending = std::make_unique<nlohmann::json>(std::move(summary));
  s.pending_final = false;
  uv_async_send(&s.wake);
}

void DashboardServer::finish(nlohmann::json summary) {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.mu);
  if (!s.running || s.stop_requested || s.finish_called) return;
  s.pending = std::make_unique<nlohmann::json>(std::move(summary));
  s.pending_final = true;
  s.finish_called = true;
  uv_async_send(&s.wake);
}

void DashboardServer::linger(std::chrono::milliseconds duration) {
  Impl& s = *impl_;
  std::unique_lock<std::mutex> lock(s.mu);
  if (!s.running) return;
  s.cv.wait_for(lock, duration, [&s] { return s.stop_requested; });
}

void DashboardServer::stop() {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> stop_lock(s.stop_mu);
  if (!s.running) return;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.stop_requested = true;
    uv_async_send(&s.wake);
  }
  s.cv.notify_all();
  s.thread.join();
  uv_loop_close(&s.loop);
  s.running = false;
}

size_t DashboardServer::event_clients() const {
  return impl_->event_clients.load();
}

}  // namespace pelt
