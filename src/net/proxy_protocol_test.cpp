#include <gtest/gtest.h>

#include "net/proxy_protocol.hpp"

using namespace smtpsd::net;

TEST(proxy_protocol, v1) {
  auto h = parse_proxy_v1("PROXY TCP4 192.0.2.7 198.51.100.1 40000 465\r\n");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->source->to_string(), "192.0.2.7");
  EXPECT_EQ(h->source_port, 40000);
  EXPECT_EQ(parse_proxy_v1("PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n")->source->to_string(), "2001:db8::1");
  EXPECT_FALSE(parse_proxy_v1("PROXY UNKNOWN\r\n")->source);
  EXPECT_FALSE(parse_proxy_v1("PROXY TCP4 2001:db8::1 192.0.2.1 1 2\r\n"));
  EXPECT_FALSE(parse_proxy_v1("PROXY TCP4 192.0.2.7 198.51.100.1 40000\r\n"));
  EXPECT_FALSE(parse_proxy_v1("EHLO x\r\n"));
}

TEST(proxy_protocol, v2) {
  std::string h(proxy_v2_signature);
  h += '\x21';  // v2, PROXY
  h += '\x11';  // TCP4
  h += std::string("\x00\x0c", 2);
  h += std::string("\xc0\x00\x02\x07\xc6\x33\x64\x01\x9c\x40\x01\xd1", 12);
  EXPECT_EQ(proxy_v2_length(h.substr(0, 16)), 28u);
  auto p = parse_proxy_v2(h);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->source->to_string(), "192.0.2.7");
  EXPECT_EQ(p->source_port, 40000);
  EXPECT_FALSE(parse_proxy_v2(h.substr(0, 20)));
  EXPECT_EQ(proxy_v2_length("GET / HTTP/1.1\r\nHost"), 0u);
}
