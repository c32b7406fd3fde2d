#include "delivery/next_hop.hpp"

#include <gtest/gtest.h>

using namespace smtpsd;
using namespace smtpsd::delivery;

namespace {

route_settings settings() {
  route_settings s;
  s.mx_port = 2525;
  s.routes["example.test"] = *base::host_port::parse("127.0.0.1:2600", false);
  s.routes["bücher.example"] = *base::host_port::parse("127.0.0.1:2601", false);
  return s;
}

}  // namespace

TEST(next_hop, mx_of_the_domain_in_a_labels_and_lower_case) {
  router r(settings());
  auto h = r.route("Mail.Example.ORG");
  EXPECT_EQ(h.key, "mx:mail.example.org");
  EXPECT_EQ(h.how, next_hop::kind::mx);
  EXPECT_EQ(h.name, "mail.example.org");
  EXPECT_EQ(h.port, 2525);
  EXPECT_EQ(r.route("bücher.de").name, "xn--bcher-kva.de");
}

TEST(next_hop, a_route_wins_over_mx_in_either_idn_form) {
  router r(settings());
  auto h = r.route("EXAMPLE.test");
  EXPECT_EQ(h.key, "route:127.0.0.1:2600");
  EXPECT_EQ(h.how, next_hop::kind::host);
  EXPECT_EQ(h.port, 2600);
  EXPECT_EQ(r.route("xn--bcher-kva.example").key, "route:127.0.0.1:2601");
  EXPECT_EQ(r.route("BÜCHER.example").key, "route:127.0.0.1:2601");
}

TEST(next_hop, star_route_catches_everything_else) {
  auto s = settings();
  s.routes["*"] = *base::host_port::parse("127.0.0.1:2700", false);
  router r(s);
  EXPECT_EQ(r.route("other.example").key, "route:127.0.0.1:2700");
  EXPECT_EQ(r.route("example.test").key, "route:127.0.0.1:2600");
}

TEST(next_hop, address_literal_is_its_own_host) {
  router r(settings());
  auto h = r.route("[192.0.2.1]");
  EXPECT_EQ(h.key, "literal:192.0.2.1");
  EXPECT_EQ(h.how, next_hop::kind::host);
  EXPECT_EQ(h.name, "192.0.2.1");
  EXPECT_EQ(h.port, 2525);
  EXPECT_EQ(r.route("[IPv6:2001:db8::1]").name, "2001:db8::1");
}

TEST(next_hop, smarthost_takes_every_domain) {
  auto s = settings();
  s.smarthost = *base::host_port::parse("relay.example:2465", true);
  router r(s);
  for (auto d : {"example.test", "other.example", "[192.0.2.1]"}) {
    auto h = r.route(d);
    EXPECT_EQ(h.key, "smarthost");
    EXPECT_TRUE(h.smarthost());
    EXPECT_EQ(h.name, "relay.example");
    EXPECT_EQ(h.port, 2465);
  }
}

TEST(next_hop, domain_of_an_address) {
  EXPECT_EQ(delivery::domain_of("Bob@Example.ORG"), "example.org");
  EXPECT_EQ(delivery::domain_of("\"a@b\"@c.example"), "c.example");
  EXPECT_EQ(delivery::domain_of("postmaster"), "");
}
