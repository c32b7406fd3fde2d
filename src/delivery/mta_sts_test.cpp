#include "delivery/mta_sts.hpp"

#include <gtest/gtest.h>

namespace smtpsd::delivery {
namespace {

TEST(MtaSts, RecordIdNeedsExactlyOneStsRecord) {
  EXPECT_EQ(sts_record_id({"v=STSv1; id=20160831085700Z;"}), "20160831085700Z");
  EXPECT_EQ(sts_record_id({"v=spf1 -all", "v=STSv1;id=abc"}), "abc");
  EXPECT_FALSE(sts_record_id({}));
  EXPECT_FALSE(sts_record_id({"v=STSv1; id=a", "v=STSv1; id=b"}));  // ambiguous (RFC 8461 §3.1)
  EXPECT_FALSE(sts_record_id({"v=STSv1; id=not-alnum"}));
  EXPECT_FALSE(sts_record_id({"v=STSv1;"}));
}

TEST(MtaSts, PolicyFromRfcExample) {
  std::string why;
  auto p = parse_sts_policy("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
                            "mx: backupmx.example.com\r\nmax_age: 604800\r\n",
                            &why);
  ASSERT_TRUE(p) << why;
  EXPECT_EQ(p->how, sts_policy::mode::enforce);
  EXPECT_EQ(p->max_age, 604800u);
  ASSERT_EQ(p->mx.size(), 3u);
  EXPECT_TRUE(sts_mx_matches(*p, "mail.example.com"));
  EXPECT_TRUE(sts_mx_matches(*p, "MX1.Example.NET."));
  EXPECT_FALSE(sts_mx_matches(*p, "a.b.example.net"));  // one label only
  EXPECT_FALSE(sts_mx_matches(*p, "example.net"));
  EXPECT_FALSE(sts_mx_matches(*p, "evil.example.org"));
}

TEST(MtaSts, PolicyErrors) {
  std::string why;
  EXPECT_FALSE(parse_sts_policy("mode: enforce\nmx: a.example\nmax_age: 1\n", &why));
  EXPECT_EQ(why, "no version");
  EXPECT_FALSE(parse_sts_policy("version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n", &why));
  EXPECT_FALSE(parse_sts_policy("version: STSv1\nmode: enforce\nmax_age: 1\n", &why));
  EXPECT_EQ(why, "no mx");
  EXPECT_FALSE(parse_sts_policy("version: STSv1\nmode: testing\nmx: a.example\nmax_age: -1\n", &why));
  EXPECT_FALSE(parse_sts_policy("<html>not found</html>", &why));
  auto none = parse_sts_policy("version: STSv1\nmode: none\nmax_age: 9999999999\nfuture: x\n", &why);
  ASSERT_TRUE(none) << why;
  EXPECT_EQ(none->max_age, 31557600u);  // capped at a year
}

TEST(MtaSts, TlsRptAddresses) {
  auto rua = tlsrpt_rua({"v=TLSRPTv1; rua=mailto:tls@example.com,https://r.example.com/v1"});
  ASSERT_EQ(rua.size(), 2u);
  EXPECT_EQ(rua[0], "mailto:tls@example.com");
  EXPECT_EQ(rua[1], "https://r.example.com/v1");
  EXPECT_TRUE(tlsrpt_rua({"v=spf1", "rua=mailto:x@y"}).empty());
}

}  // namespace
}  // namespace smtpsd::delivery
