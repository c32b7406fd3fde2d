#include "net/ticket_keys.hpp"

#include <gtest/gtest.h>

using namespace smtpsd::net;
using namespace std::chrono_literals;

TEST(ticket_keys, rotate_and_accept_the_previous_key_once) {
  auto t = std::chrono::steady_clock::time_point{};
  ticket_keys keys(12h, [&] { return t; });
  auto k1 = keys.current();
  auto found = keys.find(k1.name.data());
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->second) << "current key: no renewal";
  EXPECT_EQ(found->first.aes, k1.aes);

  t += 12h;
  auto k2 = keys.current();
  EXPECT_NE(k2.name, k1.name) << "rotated";
  found = keys.find(k1.name.data());
  ASSERT_TRUE(found) << "the previous key still decrypts";
  EXPECT_TRUE(found->second) << "and asks for a renewed ticket";

  t += 12h;
  (void)keys.current();
  EXPECT_FALSE(keys.find(k1.name.data())) << "two rotations later it is gone";
  EXPECT_TRUE(keys.find(k2.name.data()));

  t += 48h;  // idle for long: nothing old survives
  (void)keys.current();
  EXPECT_FALSE(keys.find(k2.name.data()));
  std::array<std::uint8_t, 16> unknown{};
  EXPECT_FALSE(keys.find(unknown.data()));
}
