#include "wire/session.h"

namespace pelt {

Http1Session::Http1Session(SessionEvents& events)
    : events_(events), parser_(&Http1Session::on_response, this) {
  parser_.set_on_first_byte(&Http1Session::on_first_byte);
}

bool Http1Session::submit(const RequestBatch& batch) {
  if (batch.heads.size() == 1) {
    parser_.push_request(batch.heads[0]);  // the common case: one request
  } else {
    for (bool head : batch.heads) parser_.push_request(head);
  }
  return events_.write(batch.owner, batch.bytes);
}

void Http1Session::on_response(void* ctx, const ParsedResponse& response) {
  static_cast<Http1Session*>(ctx)->events_.on_response(response);
}

void Http1Session::on_first_byte(void* ctx) {
  static_cast<Http1Session*>(ctx)->events_.on_first_byte();
}

}  // namespace pelt
