// The segmented spool on a real file system: rollover, reuse, large files,
// a second process reading, and recovery from writes torn at random offsets.
#include "store/embedded/segment_spool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "base/ids.hpp"
#include "base/time_format.hpp"
#include "store/types.hpp"

namespace smtpsd::store::embedded {
namespace {

namespace fs = std::filesystem;

class segment_spool_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("smtpsd-seg-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static segment_options small() {
    segment_options o;
    o.segment_bytes = 64 * 1024;
    o.grow_bytes = 16 * 1024;
    o.spill_bytes = 8 * 1024;
    o.keep_free = 1;
    return o;
  }

  std::string next_id() { return base::make_queue_id(base::from_unix_seconds(1'800'000'000), ++n_); }

  // Writes and syncs a batch; returns the ids with their whole message.
  // With `replay`, each record keeps "replay:ID" as its replay data.
  std::map<std::string, std::string> write_batch(spool& sp, int count, std::mt19937& rng, std::size_t max_body,
                                                 bool replay = false) {
    std::map<std::string, std::string> out;
    std::vector<std::unique_ptr<spool_writer>> ws;
    std::vector<spool_writer*> raw;
    for (int i = 0; i < count; ++i) {
      auto id = next_id();
      auto w = sp.create(id);
      std::string body;
      const auto len = std::uniform_int_distribution<std::size_t>(0, max_body)(rng);
      while (body.size() < len) body += "line " + std::to_string(rng()) + "\r\n";
      const std::string header = "Subject: " + id + "\r\n";
      // In pieces, as a session streams it.
      for (std::size_t at = 0; at < body.size(); at += 700) w->write_body(std::string_view(body).substr(at, 700));
      w->finish(header);
      if (replay) {
        EXPECT_TRUE(w->keep_replay("replay:" + id));
      }
      out[id] = header + "\r\n" + body;
      raw.push_back(w.get());
      ws.push_back(std::move(w));
    }
    sp.sync(raw);
    return out;
  }

  static std::string read(spool& sp, const std::string& id) {
    auto r = sp.open(id);
    return r ? r->read_all() : std::string("<absent>");
  }

  fs::path dir_;
  std::uint32_t n_ = 0;
};

// The ids replay_after lists, each checked to carry the data write_batch gave it.
std::vector<std::string> replayed_ids(spool& sp, spool_position after) {
  std::vector<std::string> out;
  for (auto& r : sp.replay_after(after)) {
    EXPECT_EQ(r.data, "replay:" + r.id);
    out.push_back(r.id);
  }
  return out;
}

TEST_F(segment_spool_test, many_messages_share_segments_which_are_reused_once_emptied) {
  std::mt19937 rng(1);
  segment_spool sp(dir_, small());
  std::map<std::string, std::string> all;
  for (int b = 0; b < 40; ++b) {
    auto batch = write_batch(sp, 8, rng, 3000);
    all.insert(batch.begin(), batch.end());
    // Delivered: all but every tenth message goes again.
    int i = 0;
    for (auto it = all.begin(); it != all.end(); ++i) {
      if (i % 10 == 0) {
        ++it;
        continue;
      }
      sp.remove(it->first);
      it = all.erase(it);
    }
  }
  auto u = sp.usage();
  EXPECT_EQ(u.entries, all.size());
  EXPECT_EQ(u.large_files, 0u);
  EXPECT_LE(u.free_segments, 1u);
  // 40 batches of ~12 KiB is ~8 segments of 64 KiB written: emptied ones were reused or deleted.
  std::size_t files = 0;
  for (auto& e : fs::directory_iterator(dir_)) files += e.path().filename().string().rfind("seg-", 0) == 0;
  EXPECT_EQ(files, u.segments + u.free_segments);
  EXPECT_LT(u.file_bytes, 16 * 64 * 1024u);
  for (auto& [id, text] : all) EXPECT_EQ(read(sp, id), text) << id;
}

TEST_F(segment_spool_test, the_few_survivors_of_old_segments_are_copied_forward) {
  std::mt19937 rng(7);
  std::map<std::string, std::string> kept;
  {
    segment_spool sp(dir_, small());
    for (int b = 0; b < 60; ++b) {
      auto batch = write_batch(sp, 8, rng, 3000, true);
      bool first = true;
      for (auto& [id, text] : batch) {
        if (first && b % 3 == 0) kept.insert({id, text});  // a deferred message now and then
        else sp.remove(id);
        first = false;
      }
    }
    auto u = sp.usage();
    EXPECT_EQ(u.entries, kept.size());
    // ~60 batches of ~12 KiB filled ~11 segments of 64 KiB; one survivor in
    // each would pin them all without compaction.
    EXPECT_LE(u.segments, 4u);
    for (auto& [id, text] : kept) EXPECT_EQ(read(sp, id), text);
  }
  segment_spool sp(dir_, small());
  auto ids = sp.ids();
  EXPECT_GE(ids.size(), kept.size()) << "removals are not written: records removed from live segments come back, unqueued";
  for (auto& [id, text] : kept) EXPECT_EQ(read(sp, id), text);
  // A copy keeps no replay data (its queue row is long durable, and it must
  // not bring back a message delivered meanwhile): the first survivor, copied
  // forward long ago, is not listed.
  auto replayed = replayed_ids(sp, {});
  EXPECT_EQ(std::count(replayed.begin(), replayed.end(), kept.begin()->first), 0);
  EXPECT_FALSE(replayed.empty()) << "the records not copied keep theirs";
}

TEST_F(segment_spool_test, a_survivor_past_the_recorded_position_keeps_its_replay_data_when_copied) {
  // A row held while the queue's commits fail: its record is answered for by
  // its replay data alone, and the queue records no position past it. Later
  // batches (refused, so removed) fill segments until compaction copies the
  // record forward: the copy keeps the replay data. A survivor the queue
  // recorded (the batch before) loses it, as in the test above.
  std::mt19937 rng(9);
  std::string held, durable;
  {
    segment_spool sp(dir_, small());
    durable = write_batch(sp, 1, rng, 3000, true).begin()->first;
    sp.recorded(*sp.synced_through());  // its row is committed
    held = write_batch(sp, 1, rng, 3000, true).begin()->first;
    for (int b = 0; b < 60; ++b)
      for (auto& [id, text] : write_batch(sp, 8, rng, 3000, true)) sp.remove(id);
    EXPECT_LE(sp.usage().segments, 4u) << "compaction copied the two forward";
  }
  segment_spool sp(dir_, small());
  auto replayed = replayed_ids(sp, {});
  EXPECT_EQ(std::count(replayed.begin(), replayed.end(), held), 1) << "the held row's copy can still bring it back";
  EXPECT_EQ(std::count(replayed.begin(), replayed.end(), durable), 0);
}

TEST_F(segment_spool_test, replay_data_rides_with_its_record_and_is_found_past_a_position) {
  std::mt19937 rng(5);
  std::map<std::string, std::string> first, second;
  spool_position after_first, after_second;
  {
    segment_spool sp(dir_, small());
    EXPECT_FALSE(sp.synced_through()) << "nothing synced yet";
    first = write_batch(sp, 3, rng, 2000, true);
    ASSERT_TRUE(sp.synced_through());
    after_first = *sp.synced_through();
    second = write_batch(sp, 2, rng, 2000, true);
    after_second = *sp.synced_through();
    EXPECT_LT(after_first, after_second);
  }
  segment_spool sp(dir_, small());  // as after a restart
  std::vector<std::string> all, later;
  for (auto& m : {first, second})
    for (auto& [id, text] : m) {
      all.push_back(id);
      EXPECT_EQ(read(sp, id), text) << "the body reads as before: the replay data is not part of it";
    }
  later.reserve(second.size());
  for (auto& [id, text] : second) later.push_back(id);
  EXPECT_EQ(replayed_ids(sp, {}), all) << "every one, in the order written";
  EXPECT_EQ(replayed_ids(sp, after_first), later);
  EXPECT_TRUE(replayed_ids(sp, after_second).empty());
  // And records go on after them.
  auto more = write_batch(sp, 2, rng, 2000);
  for (auto& [id, text] : more) EXPECT_EQ(read(sp, id), text);
  EXPECT_EQ(replayed_ids(sp, after_first), later) << "records without replay data are not listed";
}

TEST_F(segment_spool_test, forgotten_replay_data_is_not_replayed_and_the_body_still_reads) {
  std::mt19937 rng(6);
  std::map<std::string, std::string> batch;
  std::string refused;
  {
    segment_spool sp(dir_, small());
    batch = write_batch(sp, 3, rng, 2000, true);
    refused = std::next(batch.begin())->first;
    const std::vector<std::string> ids{refused};
    sp.forget_replay(ids);
  }
  segment_spool sp(dir_, small());
  std::vector<std::string> expect;
  for (auto& [id, text] : batch) {
    EXPECT_EQ(read(sp, id), text);
    if (id != refused) expect.push_back(id);
  }
  EXPECT_EQ(replayed_ids(sp, {}), expect);
}

TEST_F(segment_spool_test, a_large_message_keeps_no_replay_data) {
  segment_spool sp(dir_, small());
  auto w = sp.create(next_id());
  w->write_body(std::string(small().spill_bytes + 1, 'x'));  // streams to a file of its own
  w->finish("Subject: big\r\n");
  EXPECT_FALSE(w->keep_replay("replay")) << "the queue must make its row durable itself";
  auto small_one = sp.create(next_id());
  EXPECT_FALSE(small_one->keep_replay("replay")) << "not before finish()";
}

TEST_F(segment_spool_test, a_reopened_spool_has_every_synced_record_once) {
  std::mt19937 rng(2);
  std::map<std::string, std::string> all;
  {
    segment_spool sp(dir_, small());
    for (int b = 0; b < 10; ++b) {
      auto batch = write_batch(sp, 5, rng, 6000);
      all.insert(batch.begin(), batch.end());
    }
  }
  segment_spool sp(dir_, small());
  auto ids = sp.ids();
  ASSERT_EQ(ids.size(), all.size());
  for (auto& [id, text] : all) EXPECT_EQ(read(sp, id), text);
  // And it goes on appending after what it found.
  auto more = write_batch(sp, 5, rng, 6000);
  for (auto& [id, text] : more) EXPECT_EQ(read(sp, id), text);
  EXPECT_EQ(read(sp, all.begin()->first), all.begin()->second);
}

TEST_F(segment_spool_test, large_messages_stream_to_their_own_file_and_are_checked_while_read) {
  std::mt19937 rng(3);
  std::string id;
  std::string text;
  {
    segment_spool sp(dir_, small());
    auto batch = write_batch(sp, 1, rng, 0);
    id = next_id();
    auto w = sp.create(id);
    std::string body;
    while (body.size() < 3 * 1024 * 1024) body += "a longer line of the large message " + std::to_string(body.size()) + "\r\n";
    w->write_body(body);
    w->finish("Subject: big\r\n");
    spool_writer* e[] = {w.get()};
    sp.sync(e);
    text = "Subject: big\r\n\r\n" + body;
    EXPECT_EQ(read(sp, id), text);
    EXPECT_EQ(sp.usage().large_files, 1u);
  }
  ASSERT_TRUE(fs::exists(dir_ / ("l-" + id)));
  {
    segment_spool sp(dir_, small());
    EXPECT_EQ(read(sp, id), text);
  }
  // One flipped octet in the middle: the reader refuses before the end.
  {
    std::fstream f(dir_ / ("l-" + id), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1024 * 1024);
    f.put('#');
  }
  segment_spool sp(dir_, small());
  auto r = sp.open(id);
  ASSERT_TRUE(r);
  EXPECT_THROW(r->read_all(), store_error);
  sp.quarantine(id);
  EXPECT_TRUE(fs::exists(dir_ / "corrupt" / id));
  EXPECT_FALSE(sp.open(id));
  sp.remove(id);
}

TEST_F(segment_spool_test, another_process_reads_but_never_writes) {
  std::mt19937 rng(4);
  segment_spool writer(dir_, small());
  writer.open_for_writing();
  segment_spool reader(dir_, small());
  EXPECT_TRUE(reader.ids().empty());
  auto batch = write_batch(writer, 3, rng, 2000);
  for (auto& [id, text] : batch) EXPECT_EQ(read(reader, id), text) << "found by looking again";
  EXPECT_THROW(reader.create(next_id()), store_error);
  EXPECT_THROW(reader.open_for_writing(), store_error);
  reader.remove(batch.begin()->first);  // left to the writer
  EXPECT_EQ(read(writer, batch.begin()->first), batch.begin()->second);
}

TEST_F(segment_spool_test, a_failed_sync_leaves_nothing_behind_and_the_next_one_works) {
  std::mt19937 rng(5);
  segment_spool sp(dir_, small());
  auto w = sp.create(next_id());
  w->write_body("x\r\n");
  spool_writer* e[] = {w.get()};
  EXPECT_THROW(sp.sync(e), store_error) << "not finished";
  EXPECT_TRUE(sp.ids().empty());
  auto batch = write_batch(sp, 2, rng, 100);
  EXPECT_EQ(sp.ids().size(), 2u);
}

// Crash recovery: the last batch's writes are torn at a random offset
// (zeros, garbage or a short file from there on). Every record synced before
// that batch is there after a restart, exactly once and intact; what follows
// the tear is cut; records appended after the restart survive the next one.
TEST_F(segment_spool_test, writes_torn_at_random_offsets_lose_only_the_unsynced_tail) {
  std::mt19937 rng(6);
  for (int round = 0; round < 60; ++round) {
    fs::remove_all(dir_);
    std::map<std::string, std::string> synced;
    std::map<std::string, std::string> torn_batch;
    std::uintmax_t before = 0;
    fs::path seg;
    {
      segment_options o = small();
      o.segment_bytes = 1 << 20;  // one segment: the tear falls in the last batch's records
      segment_spool sp(dir_, o);
      for (int b = 0; b < 3; ++b) {
        auto batch = write_batch(sp, 4, rng, 2000);
        synced.insert(batch.begin(), batch.end());
      }
      for (auto& e : fs::directory_iterator(dir_))
        if (e.path().filename().string().rfind("seg-", 0) == 0) seg = e.path();
      std::ifstream in(seg, std::ios::binary);
      std::string data((std::istreambuf_iterator<char>(in)), {});
      // The end of the synced records: scan for the last one's id.
      before = data.find(std::prev(synced.end())->first) + 16 + std::prev(synced.end())->second.size() - 2;
      torn_batch = write_batch(sp, 4, rng, 2000);
    }
    const auto size = fs::file_size(seg);
    std::ifstream in(seg, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), {});
    in.close();
    const auto written_end = data.find(std::prev(torn_batch.end())->first) + 16 + std::prev(torn_batch.end())->second.size() - 2;
    const auto tear = std::uniform_int_distribution<std::uintmax_t>(before, written_end)(rng);
    const int mode = round % 3;
    if (mode == 2) {
      fs::resize_file(seg, tear);
    } else {
      for (auto i = tear; i < std::min<std::uintmax_t>(size, written_end + 64); ++i)
        data[i] = mode == 0 ? '\0' : static_cast<char>(rng());
      std::ofstream out(seg, std::ios::binary | std::ios::trunc);
      out.write(data.data(), static_cast<std::streamsize>(data.size()));
    }
    std::map<std::string, std::string> more;
    {
      segment_spool sp(dir_, small());
      sp.open_for_writing();
      for (auto& [id, text] : synced) ASSERT_EQ(read(sp, id), text) << "round " << round << " tear at " << tear;
      for (auto& [id, text] : torn_batch) {
        try {
          auto got = read(sp, id);
          ASSERT_TRUE(got == text || got == "<absent>") << "round " << round;
        } catch (const store_error&) {  // indexed, but its data is torn: never read as good
        }
      }
      more = write_batch(sp, 3, rng, 2000);
    }
    segment_spool sp(dir_, small());
    sp.open_for_writing();
    for (auto& [id, text] : synced) ASSERT_EQ(read(sp, id), text) << "round " << round;
    for (auto& [id, text] : more) ASSERT_EQ(read(sp, id), text) << "round " << round << " after the restart";
    auto ids = sp.ids();
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
  }
}

TEST_F(segment_spool_test, a_small_message_is_handed_over_from_memory_a_large_one_is_not) {
  segment_spool sp(dir_, small());
  auto w = sp.create(next_id());
  w->write_body("Hello,\r\n");
  w->write_body("world.\r\n");
  EXPECT_EQ(w->content(), nullptr) << "not before it is finished";
  w->finish("Subject: small\r\n");
  auto big = sp.create(next_id());
  big->write_body(std::string(small().spill_bytes + 1, 'x'));
  big->finish("Subject: big\r\n");
  const auto content = w->content();
  EXPECT_EQ(big->content(), nullptr) << "a message spilled to its own file is read from there";
  spool_writer* e[] = {w.get(), big.get()};
  sp.sync(e);
  ASSERT_NE(content, nullptr);
  EXPECT_EQ(*content, "Subject: small\r\n\r\nHello,\r\nworld.\r\n");
  EXPECT_EQ(*content, read(sp, w->id())) << "what delivery would read back";
  EXPECT_EQ(w->content(), nullptr) << "its buffer went back to the spool at the sync";
}

}  // namespace
}  // namespace smtpsd::store::embedded
