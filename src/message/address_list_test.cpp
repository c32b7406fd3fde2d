#include <gtest/gtest.h>

#include "message/address_list.hpp"

using smtpsd::message::parse_address_list;
using v = std::vector<std::string>;

TEST(address_list, common_forms) {
  EXPECT_EQ(parse_address_list("alice@example.com").value(), v{"alice@example.com"});
  EXPECT_EQ(parse_address_list("Alice Example <alice@example.com>").value(), v{"alice@example.com"});
  EXPECT_EQ(parse_address_list("\"Example, Alice\" <alice@example.com>, bob@example.org").value(),
            (v{"alice@example.com", "bob@example.org"}));
  EXPECT_EQ(parse_address_list(" alice@example.com (Alice (the first))").value(), v{"alice@example.com"});
  EXPECT_EQ(parse_address_list("=?UTF-8?B?w4Rsw61jZQ==?= <alice@example.com>").value(), v{"alice@example.com"});
  EXPECT_EQ(parse_address_list("\"quoted local\"@example.com").value(), v{"\"quoted local\"@example.com"});
  EXPECT_EQ(parse_address_list("J\xC3\xB6rg <j\xC3\xB6rg@b\xC3\xBC" "cher.example>").value(),
            v{"j\xC3\xB6rg@b\xC3\xBC" "cher.example"});
  EXPECT_EQ(parse_address_list("a@[192.0.2.1]").value(), v{"a@[192.0.2.1]"});
}

TEST(address_list, groups_and_obsolete_forms) {
  EXPECT_EQ(parse_address_list("undisclosed-recipients:;").value(), v{});
  EXPECT_EQ(parse_address_list("team: a@example.com, B <b@example.com>;, c@example.com").value(),
            (v{"a@example.com", "b@example.com", "c@example.com"}));
  EXPECT_EQ(parse_address_list("<@relay.example:a@example.com>").value(), v{"a@example.com"});
  EXPECT_EQ(parse_address_list(", a@example.com,,").value(), v{"a@example.com"});
  EXPECT_EQ(parse_address_list("Mr. Smith <smith@example.com>").value(), v{"smith@example.com"});
}

TEST(address_list, folded_values) {
  EXPECT_EQ(parse_address_list("Alice\r\n <alice@example.com>,\r\n\tbob@example.org").value(),
            (v{"alice@example.com", "bob@example.org"}));
}

TEST(address_list, rejects_garbage) {
  for (auto bad : {"", "alice", "alice@", "<alice@example.com", "\"unterminated <a@b.c>", "a@b.c <d@e.f>",
                   "(unclosed a@b.c", "a..b@example.com", "@example.com", "<>"})
    EXPECT_FALSE(parse_address_list(bad) && !parse_address_list(bad)->empty()) << bad;
}
