// HTTP/2 over one connection, on nghttp2 (framing, HPACK, flow control, stream states): one
// nghttp2 session per connection, each request a stream. Requests arrive as serialized
// HTTP/1.1 (what Lua's request() returns) and are converted once per distinct batch
// (wire/h2_request.h); a batch of several requests becomes several streams. submit() only
// queues; flush() serializes everything queued with nghttp2_session_mem_send and hands it to
// the transport in one write, so a read that completes many streams answers them in one send.
//
// What happens to a stream that gets no response:
//  - RST_STREAM from the server: the request failed, "stream reset CODE";
//  - reset by nghttp2 for a protocol error on the stream: "stream error CODE";
//  - above the last_stream_id of a GOAWAY (never processed by the server): kept and sent again
//    on the next connection (the most refused first, at most kMaxRetries times), still
//    outstanding meanwhile; a graceful GOAWAY lets the open streams finish, then
//    wants_close() asks for a new connection; a GOAWAY with an error code fails the
//    connection ("goaway PROTOCOL_ERROR").
// Requests go out only once the server's SETTINGS arrived (accepting()), so a first flight
// never exceeds its SETTINGS_MAX_CONCURRENT_STREAMS; beyond that limit nghttp2 holds the
// requests until streams close (counted in Http2Stats::queued).
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wire/h2_request.h"
#include "wire/session.h"
#include "wire/transport.h"

namespace pelt {

class Recorder;

// A converted batch of requests, shared by the streams sending it (their header arrays point
// into it) and counted by hand: one worker thread only, so no atomic reference counts.
struct H2Batch {
  std::string raw;                           // the HTTP/1.1 bytes it was converted from
  std::vector<H2Request> requests;           // one per stream
  std::vector<std::vector<nghttp2_nv>> nva;  // header fields of each, pointing into requests
  std::vector<uint64_t> field_bytes;         // name + value bytes of each header block
  uint32_t refs = 0;                         // H2BatchRefs holding it
};

// A counted reference to an H2Batch; the last one deletes it.
class H2BatchRef {
 public:
  H2BatchRef() = default;
  explicit H2BatchRef(H2Batch* batch) : batch_(batch) { ++batch_->refs; }
  H2BatchRef(const H2BatchRef& o) : batch_(o.batch_) {
    if (batch_ != nullptr) ++batch_->refs;
  }
  H2BatchRef(H2BatchRef&& o) noexcept : batch_(o.batch_) { o.batch_ = nullptr; }
  H2BatchRef& operator=(const H2BatchRef& o) {
    H2BatchRef copy(o);
    std::swap(batch_, copy.batch_);
    return *this;
  }
  H2BatchRef& operator=(H2BatchRef&& o) noexcept {
    std::swap(batch_, o.batch_);
    return *this;
  }
  ~H2BatchRef() { reset(); }
  void reset() {
    if (batch_ != nullptr && --batch_->refs == 0) delete batch_;
    batch_ = nullptr;
  }
  const H2Batch* operator->() const { return batch_; }
  explicit operator bool() const { return batch_ != nullptr; }

 private:
  H2Batch* batch_ = nullptr;  // the batch, or null
};

class Http2Session : public Session {
 public:
  // Times a request left unprocessed by a GOAWAY is sent again before it counts as failed.
  static constexpr uint8_t kMaxRetries = 10;

  Http2Session(SessionEvents& events, Recorder& recorder, const ProtocolSettings& protocol);
  ~Http2Session() override;

  void add_slot() override { per_slot_.push_back(0); }
  bool start() override;
  bool accepting() const override;
  void reset() override;
  void set_capture(bool capture) override { capture_ = capture; }
  int prepare(const RequestBatch& batch) override;
  bool submit(uint32_t slot) override;
  bool flush() override;
  bool feed(const char* data, size_t len) override;
  bool finish() override;
  size_t outstanding() const override { return outstanding_; }
  size_t outstanding(uint32_t slot) const override { return per_slot_[slot]; }
  bool cancel(uint32_t slot) override;
  bool wants_close() const override;
  bool broken() const override { return broken_; }
  bool counts_written_bytes() const override { return true; }
  const std::string& failure_reason() const override { return failure_reason_; }
  const std::string& error() const override { return error_; }

  // One request in flight.
  struct Stream;

 private:
  // nghttp2 callbacks (user_data is the session).
  static int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user_data);
  static int on_error(nghttp2_session*, int lib_error_code, const char* msg, size_t len,
                      void* user_data);
  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                       size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                       void* user_data);
  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static int on_data_chunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data,
                           size_t len, void* user_data);
  static int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code,
                             void* user_data);
  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data);
  static ssize_t read_body(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length,
                           uint32_t* data_flags, nghttp2_data_source* source, void* user_data);

  // Opens a stream for request `index` of `batch` on behalf of `slot` (already counted as
  // outstanding). When the connection has no stream id left, the request waits for the next.
  void open_stream(uint32_t slot, const H2BatchRef& batch, size_t index, uint8_t retries);
  Stream* take_stream();
  void release(Stream* stream);
  // The stream's response is complete: it leaves the outstanding count and is reported.
  void complete(Stream& stream);
  // The stream ended without a response: reported as a failure of its slot.
  void fail_stream(Stream& stream, const std::string& reason, const std::string& detail);
  void settings_received();
  void drop_session();

  SessionEvents& events_;                           // the connection
  Recorder& recorder_;                              // HTTP/2 counters, bytes written
  ProtocolSettings protocol_;                       // :scheme and the default :authority
  nghttp2_session_callbacks* callbacks_ = nullptr;  // made once, used by every session
  nghttp2_session* session_ = nullptr;              // the current connection's session, or null
  H2BatchRef prepared_;                             // the batch prepare() took last (reused while
                                                    // the same bytes come again)
  std::vector<std::unique_ptr<Stream>> pool_;       // every Stream ever made (in use or free)
  std::vector<Stream*> free_;                       // Streams ready for reuse
  std::vector<Stream*> open_;                       // Streams in use on this connection (until
                                                    // nghttp2 closes them)
  // Requests a GOAWAY left unprocessed, waiting for the next connection: (slot, batch, index,
  // retries so far).
  struct Retry {
    uint32_t slot;     // its user
    H2BatchRef batch;  // its batch
    size_t index;      // its request within the batch
    uint8_t retries;   // times it was sent again already
  };
  std::vector<Retry> retry_;
  std::vector<uint32_t> per_slot_;     // outstanding requests by slot
  size_t outstanding_ = 0;             // outstanding requests in all
  size_t live_ = 0;                    // streams of open_ still outstanding
  std::string out_;                    // frames gathered for one write
  std::string error_;                  // why the last call failed
  std::string failure_reason_;         // the error breakdown's label for a failure
  std::string nghttp2_error_message_;  // nghttp2's last error text (for details)
  bool capture_ = false;               // keep headers and bodies (Lua response())
  bool settings_seen_ = false;         // the server's first SETTINGS arrived
  bool goaway_ = false;                // a GOAWAY arrived on this connection
  bool goaway_error_ = false;          // ... with an error code
  bool ids_exhausted_ = false;         // no stream id left: a new connection is due
  bool broken_ = false;                // pelt sent GOAWAY for a protocol error
};

}  // namespace pelt
