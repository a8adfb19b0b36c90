// A batch of serialized HTTP/1.1 requests (one, or several pipelined) as a VU sends it: the
// bytes stay where they are — in a buffer shared by every connection that sends them, kept
// alive by `owner` until the last connection has written them — so a large body is never
// copied per connection, and a partial write only moves an offset.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pelt {

struct RequestBatch {
  std::shared_ptr<const void> owner;  // keeps `bytes` alive
  std::string_view bytes;             // the requests, back to back
  std::vector<bool> heads;            // one entry per request, true for HEAD
};

// A batch over its own copy of `bytes`.
inline std::shared_ptr<RequestBatch> make_owned_batch(std::string bytes, std::vector<bool> heads) {
  auto text = std::make_shared<const std::string>(std::move(bytes));
  auto batch = std::make_shared<RequestBatch>();
  batch->owner = text;
  batch->bytes = *text;
  batch->heads = std::move(heads);
  return batch;
}

}  // namespace pelt
