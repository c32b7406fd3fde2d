#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "store/postgres/pg_stores.hpp"
#include "base/thread.hpp"

namespace smtpsd::store::postgres {

namespace {

std::int64_t now_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

// bytea's hex input form, for arrays of bytea in one statement.
std::string hex_bytea(std::string_view data) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 + data.size() * 2);
  out += "\\x";
  for (unsigned char ch : data) {
    out += digits[ch >> 4];
    out += digits[ch & 15];
  }
  return out;
}

std::string from_hex_bytea(std::string_view text) {
  auto value = [](char ch) { return ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10; };
  std::string out;
  if (text.size() < 2 || text.substr(0, 2) != "\\x") throw store_error("spool: unexpected bytea output", false);
  out.reserve((text.size() - 2) / 2);
  for (std::size_t i = 2; i + 1 < text.size(); i += 2)
    out += static_cast<char>(value(text[i]) * 16 + value(text[i + 1]));
  return out;
}

}  // namespace

// Inserts full chunks on a thread of its own: write_body() runs on a
// session's I/O thread, which must not wait for PostgreSQL.
class chunk_uploader {
 public:
  chunk_uploader() : thread_(base::start_thread("smtpsd-pg-spool", [this] { loop(); })) {}
  ~chunk_uploader() {
    {
      std::lock_guard l(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  std::future<void> post(std::function<void()> job) {
    std::packaged_task<void()> task(std::move(job));
    auto f = task.get_future();
    {
      std::lock_guard l(mu_);
      jobs_.push_back(std::move(task));
    }
    cv_.notify_one();
    return f;
  }

 private:
  void loop() {
    std::unique_lock l(mu_);
    for (;;) {
      cv_.wait(l, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      l.unlock();
      job();  // an exception goes to the job's future
      l.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::packaged_task<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

namespace {

class pg_writer final : public spool_writer {
 public:
  pg_writer(std::shared_ptr<database> db, std::shared_ptr<chunk_uploader> up, std::string id)
      : db_(std::move(db)), up_(std::move(up)), id_(std::move(id)) {}
  // An abandoned entry's chunks in flight land before it goes (at most two):
  // what is stored of it is then seen, and refused, by open().
  ~pg_writer() override {
    for (auto& f : uploads_) f.wait();
  }
  void write_body(std::string_view bytes) override {
    tail_.append(bytes);
    body_size_ += bytes.size();
    if (tail_.size() >= pg_spool::chunk_size) flush();
  }
  // Every chunk handed to the uploader is in (rethrows its error).
  void wait_uploads() {
    // At most two chunks in flight per message: memory stays bounded when PostgreSQL is slow.
    for (auto& f : uploads_) f.get();
    uploads_.clear();
  }
  void finish(std::string_view header_section) override { header_ = header_section; }
  const std::string& id() const override { return id_; }
  std::uint64_t size() const override { return header_.size() + body_size_; }

  // Full chunks go in as they fill, each committed on its own by the
  // uploader; the tail and the entry itself wait for sync().
  void flush() {
    if (uploads_.size() >= 2) wait_uploads();
    uploads_.push_back(up_->post([db = db_, id = id_, n = chunks_, data = std::move(tail_)] {
      db->with([&](connection& c) {
        c.exec("INSERT INTO body_chunks(id, n, data, created) VALUES ($1,$2,$3,$4)", id, n, bytes{data}, now_seconds());
      });
    }));
    ++chunks_;
    tail_.clear();
  }

  std::shared_ptr<database> db_;
  std::shared_ptr<chunk_uploader> up_;
  std::vector<std::future<void>> uploads_;
  std::string id_, header_, tail_;
  std::uint64_t body_size_ = 0;
  int chunks_ = 0;
};

class pg_reader final : public spool_reader {
 public:
  pg_reader(std::shared_ptr<database> db, std::string id, std::string header, std::uint64_t body_size, int chunks)
      : db_(std::move(db)), id_(std::move(id)), header_(std::move(header)), body_size_(body_size), chunks_(chunks) {}
  const std::string& header_section() const override { return header_; }
  std::uint64_t body_size() const override { return body_size_; }
  std::size_t read_body(char* buf, std::size_t n) override {
    while (pos_ == chunk_.size()) {
      if (next_ == chunks_) {
        if (read_ != body_size_) throw store_error("spool: entry " + id_ + " is shorter than recorded", false);
        return 0;
      }
      chunk_ = db_->with([&](connection& c) {
        auto r = c.exec_binary("SELECT data FROM body_chunks WHERE id = $1 AND n = $2", id_, next_);
        if (r.rows() == 0) throw store_error("spool: entry " + id_ + " misses a part", false);
        return std::string(r.raw(0, 0));
      });
      ++next_;
      pos_ = 0;
    }
    const auto k = std::min(n, chunk_.size() - pos_);
    std::copy_n(chunk_.data() + pos_, k, buf);
    pos_ += k;
    read_ += k;
    return k;
  }

 private:
  std::shared_ptr<database> db_;
  std::string id_, header_;
  std::uint64_t body_size_;
  int chunks_;
  int next_ = 0;
  std::string chunk_;
  std::size_t pos_ = 0;
  std::uint64_t read_ = 0;
};

using column = std::vector<std::optional<std::string>>;

}  // namespace

pg_spool::pg_spool(std::shared_ptr<database> db) : db_(std::move(db)), uploader_(std::make_shared<chunk_uploader>()) {}

std::unique_ptr<spool_writer> pg_spool::create(std::string_view id) {
  return std::make_unique<pg_writer>(db_, uploader_, std::string(id));
}

// One transaction for every entry of the batch: their last chunks and rows.
void pg_spool::sync(std::span<spool_writer* const> entries) {
  column chunk_id, chunk_n, chunk_data, id, header, size, chunks;
  for (auto* e : entries) {
    auto& w = static_cast<pg_writer&>(*e);
    w.wait_uploads();
    int n = w.chunks_;
    if (!w.tail_.empty()) {
      chunk_id.push_back(w.id_);
      chunk_n.push_back(std::to_string(n++));
      chunk_data.push_back(hex_bytea(w.tail_));
    }
    id.push_back(w.id_);
    header.push_back(hex_bytea(w.header_));
    size.push_back(std::to_string(w.body_size_));
    chunks.push_back(std::to_string(n));
  }
  const auto now = now_seconds();
  db_->with([&](connection& c) {
    transaction t(c);
    if (!chunk_id.empty())
      c.exec("INSERT INTO body_chunks(id, n, data, created) SELECT u.*, $4 FROM unnest($1::text[], $2::int[], $3::bytea[]) AS u",
             array_literal(chunk_id), array_literal(chunk_n), array_literal(chunk_data), now);
    c.exec("INSERT INTO bodies(id, header, body_size, chunks, created) "
           "SELECT u.*, $5 FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::int[]) AS u",
           array_literal(id), array_literal(header), array_literal(size), array_literal(chunks), now);
    t.commit();
  });
  for (auto* e : entries) static_cast<pg_writer&>(*e).tail_.clear();
}

void pg_spool::remove(std::string_view id) {
  db_->with([&](connection& c) {
    c.exec("WITH parts AS (DELETE FROM body_chunks WHERE id = $1) DELETE FROM bodies WHERE id = $1", id);
  });
}

std::unique_ptr<spool_reader> pg_spool::open(std::string_view id) {
  return db_->with([&](connection& c) -> std::unique_ptr<spool_reader> {
    auto r = c.exec("SELECT header, body_size, chunks FROM bodies WHERE id = $1 AND NOT quarantined", id);
    if (r.rows() == 0) {
      if (c.exec("SELECT 1 FROM body_chunks WHERE id = $1 LIMIT 1", id).rows() > 0)
        throw store_error("spool: entry " + std::string(id) + " was not completely written", false);
      return nullptr;
    }
    return std::make_unique<pg_reader>(db_, std::string(id), from_hex_bytea(r.raw(0, 0)),
                                       static_cast<std::uint64_t>(r.int64(0, 1)), static_cast<int>(r.int64(0, 2)));
  });
}

std::vector<std::string> pg_spool::ids() {
  return db_->with([](connection& c) {
    auto r = c.exec("SELECT id FROM bodies WHERE NOT quarantined");
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
    return out;
  });
}

void pg_spool::quarantine(std::string_view id) {
  db_->with([&](connection& c) { c.exec("UPDATE bodies SET quarantined = true WHERE id = $1", id); });
}

}  // namespace smtpsd::store::postgres
