#include <gtest/gtest.h>

#include "smtp/address.hpp"

using namespace smtpsd::smtp;

TEST(address, plain_and_quoted) {
  auto r = parse_path("<alice@example.com>", false);
  ASSERT_EQ(r.error, path_error::none);
  EXPECT_EQ(r.box.local, "alice");
  EXPECT_EQ(r.box.domain, "example.com");
  EXPECT_EQ(r.consumed, 19u);
  auto q = parse_path("<\"a b>c\"@example.com> SIZE=1", false);
  ASSERT_EQ(q.error, path_error::none);
  EXPECT_EQ(q.box.local, "\"a b>c\"");
  EXPECT_EQ(q.consumed, 21u);
}

TEST(address, null_path_only_when_allowed) {
  EXPECT_EQ(parse_path("<>", true).error, path_error::none);
  EXPECT_TRUE(parse_path("<>", true).box.is_null());
  EXPECT_EQ(parse_path("<>", false).error, path_error::syntax);
}

TEST(address, rejects_bad_syntax) {
  for (auto s : {"alice@example.com", "<alice@example.com", "<a..b@example.com>", "<.a@example.com>",
                 "<a@@b>", "<@>", "<a@-bad.com>", "<a@exa mple.com>", "<a b@example.com>", "<a@[1.2.3]>",
                 "<a@>", "<@example.com>"})
    EXPECT_NE(parse_path(s, true).error, path_error::none) << s;
}

TEST(address, literals_source_routes_utf8) {
  EXPECT_EQ(parse_path("<a@[127.0.0.1]>", false).error, path_error::none);
  EXPECT_EQ(parse_path("<a@[IPv6:::1]>", false).error, path_error::none);
  auto sr = parse_path("<@relay.example,@b.example:a@example.com>", false);
  ASSERT_EQ(sr.error, path_error::none);
  EXPECT_EQ(sr.box.str(), "a@example.com");
  auto u = parse_path("<j\xC3\xB6rg@b\xC3\xBC" "cher.example>", false);
  ASSERT_EQ(u.error, path_error::none);
  EXPECT_FALSE(u.box.is_ascii());
  EXPECT_EQ(parse_path("<j\xC3@example.com>", false).error, path_error::not_utf8);
  EXPECT_EQ(parse_path("<postmaster>", false).error, path_error::no_domain);
}

TEST(address, length_limits) {
  std::string local(65, 'a');
  EXPECT_NE(parse_path("<" + local + "@example.com>", false).error, path_error::none);
  std::string longpath = "<a@" + std::string(300, 'b') + ".com>";
  EXPECT_EQ(parse_path(longpath, false).error, path_error::too_long);
}

TEST(address, ascii_domain_for_dns) {
  EXPECT_EQ(ascii_domain("Example.COM"), "example.com");
  EXPECT_EQ(ascii_domain("B\xC3\xBC" "cher.Example"), "xn--bcher-kva.example");  // Bücher: A-label, lower case
  EXPECT_EQ(ascii_domain("[IPv6:::1]"), "[ipv6:::1]");
  EXPECT_EQ(ascii_domain("a..b"), std::nullopt);
  EXPECT_EQ(ascii_domain(""), std::nullopt);
}

TEST(address, literal_address) {
  EXPECT_EQ(literal_address("[192.0.2.1]"), "192.0.2.1");
  EXPECT_EQ(literal_address("[IPv6:2001:db8::1]"), "2001:db8::1");
  EXPECT_EQ(literal_address("[ipv6:::1]"), "::1");
  EXPECT_EQ(literal_address("example.com"), std::nullopt);
  EXPECT_EQ(literal_address("[example.com]"), std::nullopt);
  EXPECT_EQ(literal_address("[1.2.3]"), std::nullopt);
}
