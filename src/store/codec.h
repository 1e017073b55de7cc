// Encodings shared by the store implementations.
#pragma once

#include <string>
#include <string_view>

#include "domain/model.h"

namespace growhook {

// WebhookAuth as stored (secrets included; the API never shows them).
std::string auth_to_storage(const WebhookAuth& auth);
WebhookAuth auth_from_storage(std::string_view json);

// Joins event bodies, already ordered, into a JSON array "[a,b,…]".
class EventsJsonBuilder {
 public:
  void add(std::string_view event_json) {
    out_ += out_.empty() ? "[" : ",";
    out_ += event_json;
  }
  std::string finish() && {
    if (out_.empty()) return "[]";
    out_ += ']';
    return std::move(out_);
  }

 private:
  std::string out_;
};

}  // namespace growhook
