#include "api/content_type.h"

#include <algorithm>
#include <cctype>

namespace growhook::api {
namespace {

// "Application/JSON; charset=utf-8" → "application/json".
std::string media_type(std::string_view content_type) {
  std::string_view t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
  std::string out(t);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

bool body_content_type_accepted(std::string_view content_type) {
  const std::string t = media_type(content_type);
  if (t.empty() || t == "application/json" || t == "application/x-www-form-urlencoded") return true;
  return t.rfind("application/", 0) == 0 && ends_with(t, "+json");
}

std::string body_content_type_refusal(std::string_view content_type) {
  return "the body must be JSON, and 'Content-Type: " + std::string(content_type) +
         "' says it is something else; send it as 'Content-Type: application/json' (or with no Content-Type)";
}

}  // namespace growhook::api
