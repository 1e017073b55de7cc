#include "domain/timestamp.h"

#include <gtest/gtest.h>

namespace growhook {
namespace {

constexpr int64_t kSampleMs = 1727309298161;  // 2024-09-26T00:08:18.161Z

TEST(ParseTimestamp, CanonicalForm) {
  EXPECT_EQ(parse_timestamp("2024-09-26T00:08:18.161Z"), kSampleMs);
  EXPECT_EQ(parse_timestamp("1970-01-01T00:00:00.000Z"), 0);
  EXPECT_EQ(parse_timestamp("2022-11-24T09:59:41.163Z"), 1669283981163);
}

TEST(ParseTimestamp, WithoutFraction) {
  EXPECT_EQ(parse_timestamp("2024-09-26T00:08:18Z"), kSampleMs - 161);
}

TEST(ParseTimestamp, FractionOfOneToNineDigitsIsCutToMilliseconds) {
  const int64_t base = kSampleMs - 161;
  EXPECT_EQ(parse_timestamp("2024-09-26T00:08:18.1Z"), base + 100);
  EXPECT_EQ(parse_timestamp("2024-09-26T00:08:18.16Z"), base + 160);
  EXPECT_EQ(parse_timestamp("2024-09-26T00:08:18.1619Z"), base + 161);
  EXPECT_EQ(parse_timestamp("2024-09-26T00:08:18.161999999Z"), base + 161);  // truncated, not rounded
  EXPECT_EQ(parse_timestamp("2024-09-26T00:08:18.000000001Z"), base);
  EXPECT_EQ(parse_timestamp("2024-09-26T00:08:18.1619999999Z"), std::nullopt);  // 10 digits
  EXPECT_EQ(parse_timestamp("2024-09-26T00:08:18.Z"), std::nullopt);
}

TEST(ParseTimestamp, LowercaseSeparatorAndZone) {
  EXPECT_EQ(parse_timestamp("2024-09-26t00:08:18.161z"), kSampleMs);
}

TEST(ParseTimestamp, OffsetsAreNormalisedToUtc) {
  EXPECT_EQ(parse_timestamp("2024-09-25T21:08:18.161-03:00"), kSampleMs);
  EXPECT_EQ(parse_timestamp("2024-09-26T05:38:18.161+05:30"), kSampleMs);
  EXPECT_EQ(parse_timestamp("2024-09-26T00:08:18.161+00:00"), kSampleMs);
  EXPECT_EQ(parse_timestamp("2024-09-26T00:08:18.161-00:00"), kSampleMs);
  // Across a day, month and year boundary.
  EXPECT_EQ(parse_timestamp("2023-12-31T23:30:00-01:00"), parse_timestamp("2024-01-01T00:30:00Z"));
  EXPECT_EQ(parse_timestamp("2024-03-01T01:00:00+02:00"), parse_timestamp("2024-02-29T23:00:00Z"));
}

TEST(ParseTimestamp, MalformedOffsets) {
  EXPECT_EQ(parse_timestamp("2024-09-26T00:08:18+0300"), std::nullopt);
  EXPECT_EQ(parse_timestamp("2024-09-26T00:08:18+03"), std::nullopt);
  EXPECT_EQ(parse_timestamp("2024-09-26T00:08:18+24:00"), std::nullopt);
  EXPECT_EQ(parse_timestamp("2024-09-26T00:08:18+03:60"), std::nullopt);
  EXPECT_EQ(parse_timestamp("2024-09-26T00:08:18+03:00Z"), std::nullopt);
  EXPECT_EQ(parse_timestamp("2024-09-26T00:08:18"), std::nullopt);  // no zone: local time is ambiguous
}

TEST(ParseTimestamp, LeapYears) {
  EXPECT_TRUE(parse_timestamp("2024-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_timestamp("2023-02-29T00:00:00Z"));
  EXPECT_TRUE(parse_timestamp("2000-02-29T00:00:00Z"));   // divisible by 400
  EXPECT_FALSE(parse_timestamp("2100-02-29T00:00:00Z"));  // divisible by 100 only
  EXPECT_TRUE(parse_timestamp("2023-02-28T23:59:59.999Z"));
  EXPECT_EQ(*parse_timestamp("2024-03-01T00:00:00Z") - *parse_timestamp("2024-02-28T00:00:00Z"),
            2 * 86400000);
}

TEST(ParseTimestamp, CalendarIsChecked) {
  EXPECT_FALSE(parse_timestamp("2024-04-31T00:00:00Z"));
  EXPECT_TRUE(parse_timestamp("2024-12-31T00:00:00Z"));
  EXPECT_FALSE(parse_timestamp("2024-13-01T00:00:00Z"));
  EXPECT_FALSE(parse_timestamp("2024-00-10T00:00:00Z"));
  EXPECT_FALSE(parse_timestamp("2024-01-00T00:00:00Z"));
  EXPECT_FALSE(parse_timestamp("2024-01-32T00:00:00Z"));
  EXPECT_FALSE(parse_timestamp("2024-01-01T24:00:00Z"));
  EXPECT_FALSE(parse_timestamp("2024-01-01T23:60:00Z"));
  EXPECT_FALSE(parse_timestamp("2024-01-01T23:59:60Z"));  // no leap seconds
}

TEST(ParseTimestamp, YearRange) {
  EXPECT_FALSE(parse_timestamp("1969-12-31T23:59:59.999Z"));
  EXPECT_FALSE(parse_timestamp("0000-01-01T00:00:00Z"));
  EXPECT_EQ(parse_timestamp("9999-12-31T23:59:59.999Z"), 253402300799999);
  // An offset may not carry the value out of the range.
  EXPECT_FALSE(parse_timestamp("1970-01-01T00:30:00+01:00"));
  EXPECT_FALSE(parse_timestamp("9999-12-31T23:30:00-01:00"));
}

TEST(ParseTimestamp, RefusesOtherShapes) {
  for (const char* text : {"", "2024", "2024-09-26", "2024-09-26 00:08:18Z", "2024-9-26T00:08:18Z",
                           "24-09-26T00:08:18Z", "2024-09-26T0:08:18Z", "2024/09/26T00:08:18Z",
                           "2024-09-26T00-08-18Z", " 2024-09-26T00:08:18Z", "2024-09-26T00:08:18Z ",
                           "2024-09-26T00:08:18.161Zjunk", "+2024-09-26T00:08:18Z",
                           "2024-09-26T00:08:18,161Z", "２０２４-09-26T00:08:18Z", "1727309298161"}) {
    EXPECT_EQ(parse_timestamp(text), std::nullopt) << text;
  }
}

TEST(FormatTimestamp, CanonicalTwentyFourCharacters) {
  EXPECT_EQ(format_timestamp(kSampleMs), "2024-09-26T00:08:18.161Z");
  EXPECT_EQ(format_timestamp(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_timestamp(951782400000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(format_timestamp(253402300799999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(format_timestamp(1), "1970-01-01T00:00:00.001Z");
}

TEST(FormatTimestamp, ClampsOutsideTheParsableRange) {
  EXPECT_EQ(format_timestamp(-1), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_timestamp(INT64_MAX), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(format_timestamp(INT64_MIN).size(), 24u);
}

TEST(FormatTimestamp, RoundTripsEveryDayAcrossFourCenturies) {
  // One instant a day (with a moving time of day) from 1970 to 2400.
  for (int64_t ms = 0; ms < 13569465600000; ms += 86400000 + 3601001) {
    const std::string text = format_timestamp(ms);
    ASSERT_EQ(text.size(), 24u);
    ASSERT_EQ(parse_timestamp(text), ms) << text;
  }
}

TEST(FormatTimestamp, NormalisesOffsetInput) {
  EXPECT_EQ(format_timestamp(*parse_timestamp("2024-09-25T21:08:18.161999-03:00")),
            "2024-09-26T00:08:18.161Z");
}

}  // namespace
}  // namespace growhook
