// The one rule for request bodies, on every route of the API.
//
// Every body growhook takes is JSON, so the Content-Type only has to not
// say otherwise. Accepted: none, application/json, any application/…+json
// type, and application/x-www-form-urlencoded, which is what `curl -d` and
// most HTTP libraries send when told nothing: growhook takes no form, so a
// body labelled that way is read as the JSON it almost always is (a real
// form then fails as invalid JSON, with a 400 that says so). Refused with
// 415: a type that declares another format (text/plain, multipart/form-data,
// application/xml, text/json, …), because that caller is sending something
// else than JSON and "send JSON" is the clearer answer than a parse error.
//
// Safe only while every credential travels in the Authorization header: a
// browser may send the accepted form type cross-site without a preflight,
// but cannot add that header. A cookie-authenticated route would need its
// own CSRF defence.
#pragma once

#include <string>
#include <string_view>

namespace growhook::api {

// Whether a request body with this Content-Type (the raw header value,
// parameters and case as sent) is read as JSON.
bool body_content_type_accepted(std::string_view content_type);

// The 415 detail for a refused Content-Type.
std::string body_content_type_refusal(std::string_view content_type);

}  // namespace growhook::api
