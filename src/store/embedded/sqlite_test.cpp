// The SQLite layer itself: writes go through one connection, reads through
// the others, and a relaxed transaction leaves the connection durable again.
#include "store/embedded/sqlite.hpp"

#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace smtpsd::store::embedded {
namespace {

namespace fs = std::filesystem;

class sqlite_layer : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("smtpsd-sqlite-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

std::int64_t synchronous(connection& c) {
  auto s = c.prepare("PRAGMA synchronous");
  s.step();
  return s.int64(0);
}

TEST_F(sqlite_layer, writes_share_one_connection_and_reads_use_the_others) {
  database db(dir_ / "t.db", 2);
  std::set<connection*> writers;
  for (int i = 0; i < 3; ++i) db.write([&](connection& c) { writers.insert(&c); });
  ASSERT_EQ(writers.size(), 1u) << "every write on the same connection, so its page cache stays valid";
  connection* reader = nullptr;
  db.with([&](connection& c) { reader = &c; });
  EXPECT_NE(reader, *writers.begin()) << "a read never waits behind the writer";
  // A read inside a write (a nested store call) must not deadlock on the writer.
  bool nested = false;
  db.write([&](connection&) { db.with([&](connection&) { nested = true; }); });
  EXPECT_TRUE(nested);
}

TEST_F(sqlite_layer, a_relaxed_transaction_leaves_the_connection_durable) {
  database db(dir_ / "t.db", 1);
  db.write([](connection& c) {
    ASSERT_EQ(synchronous(c), 2) << "FULL";
    c.exec("CREATE TABLE IF NOT EXISTS leases(id INTEGER PRIMARY KEY, until INTEGER)");
    {
      transaction t(c, durability::relaxed);
      EXPECT_EQ(synchronous(c), 1) << "NORMAL inside";
      c.exec("INSERT INTO leases(until) VALUES (1)");
      t.commit();
    }
    EXPECT_EQ(synchronous(c), 2) << "FULL again after a commit";
    {
      transaction t(c, durability::relaxed);
      c.exec("INSERT INTO leases(until) VALUES (2)");
    }  // rolled back
    EXPECT_EQ(synchronous(c), 2) << "FULL again after a rollback";
    auto n = c.prepare("SELECT count(*) FROM leases");
    n.step();
    EXPECT_EQ(n.int64(0), 1);
    {
      transaction t(c);
      EXPECT_EQ(synchronous(c), 2) << "a durable transaction is FULL";
      t.commit();
    }
  });
}

}  // namespace
}  // namespace smtpsd::store::embedded
