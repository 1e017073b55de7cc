// Responses in the API's two shapes: JSON values and RFC 9457 problems.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "api/http.h"
#include "common/result.h"

namespace growhook::api {

// application/problem+json with a detail that says what to fix. errors, when
// given, lists the problems one by one ([{"field","message"},…]).
Response problem(int status, std::string_view detail, const nlohmann::json& errors = nullptr);

// Maps a store or domain Error to its problem (404, 409, 503, 500, ...).
Response problem_from(const Error& e);

Response json_response(int status, const nlohmann::json& body);

}  // namespace growhook::api
