#include "api/problem.h"

#include <spdlog/spdlog.h>

namespace growhook::api {
namespace {

const char* title_for(int status) {
  switch (status) {
    case 400: return "Invalid request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not found";
    case 405: return "Method not allowed";
    case 409: return "Conflict";
    case 413: return "Request too large";
    case 415: return "Unsupported media type";
    case 503: return "Service unavailable";
    default: return status >= 500 ? "Internal error" : "Request failed";
  }
}

}  // namespace

Response problem(int status, std::string_view detail, const nlohmann::json& errors) {
  nlohmann::json body = {{"type", "about:blank"}, {"title", title_for(status)}, {"status", status},
                         {"detail", detail}};
  if (!errors.is_null()) body["errors"] = errors;
  Response r;
  r.status = status;
  r.content_type = "application/problem+json";
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response problem_from(const Error& e) {
  switch (e.code) {
    case ErrorCode::kInvalid: return problem(400, e.message);
    case ErrorCode::kNotFound: return problem(404, e.message);
    case ErrorCode::kConflict: return problem(409, e.message);
    case ErrorCode::kTooLarge: return problem(413, e.message);
    case ErrorCode::kUnavailable: {
      auto r = problem(503, e.message);
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    case ErrorCode::kInternal: break;
  }
  spdlog::error("msg=\"internal error\" error=\"{}\"", e.message);
  return problem(500, "internal error; the operator's log has the details");
}

Response json_response(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

}  // namespace growhook::api
