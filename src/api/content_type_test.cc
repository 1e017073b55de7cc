#include "api/content_type.h"

#include <gtest/gtest.h>

namespace growhook::api {
namespace {

TEST(BodyContentType, JsonNoneAndCurlsDefaultAreRead) {
  for (const char* t : {"", "application/json", "application/json; charset=utf-8", "Application/JSON",
                        " application/json ;charset=UTF-8", "application/problem+json", "application/merge-patch+json",
                        // curl -d's default, when the caller says nothing
                        "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8"}) {
    EXPECT_TRUE(body_content_type_accepted(t)) << t;
  }
}

TEST(BodyContentType, OtherFormatsAreRefused) {
  for (const char* t : {"text/plain", "multipart/form-data; boundary=x", "application/xml", "text/json",
                        "text/plain+json", "application/octet-stream", "json"}) {
    EXPECT_FALSE(body_content_type_accepted(t)) << t;
  }
}

TEST(BodyContentType, TheRefusalNamesTheTypeAndTheFix) {
  std::string d = body_content_type_refusal("text/plain");
  EXPECT_NE(d.find("text/plain"), std::string::npos);
  EXPECT_NE(d.find("Content-Type: application/json"), std::string::npos);
}

}  // namespace
}  // namespace growhook::api
