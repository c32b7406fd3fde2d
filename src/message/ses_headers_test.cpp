#include "message/ses_headers.hpp"

#include <gtest/gtest.h>

using namespace smtpsd::message;

TEST(ses_headers, tags_as_name_value_pairs) {
  auto t = parse_message_tags("campaign=fall-2026, team=growth_1,");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, (tags{{"campaign", "fall-2026"}, {"team", "growth_1"}}));
  EXPECT_TRUE(parse_message_tags("")->empty());
}

TEST(ses_headers, bad_tags_are_refused) {
  EXPECT_FALSE(parse_message_tags("no-equals"));
  EXPECT_FALSE(parse_message_tags("a=b c"));
  EXPECT_FALSE(parse_message_tags("=v"));
  EXPECT_FALSE(parse_message_tags("k="));
  EXPECT_FALSE(parse_message_tags("k=" + std::string(257, 'x')));
  std::string many;
  for (int i = 0; i < 51; ++i) many += "k" + std::to_string(i) + "=v,";
  EXPECT_FALSE(parse_message_tags(many));
}
