#include "queue/body.hpp"

#include "store/queue_store.hpp"

namespace smtpsd::queue {

namespace {

// A small message, already in memory.
class memory_source final : public delivery::content_source {
 public:
  explicit memory_source(std::shared_ptr<const std::string> s) : s_(std::move(s)) {}
  net::awaitable<std::string_view> next() override {
    if (done_) co_return std::string_view{};
    done_ = true;
    co_return std::string_view(*s_);
  }

 private:
  std::shared_ptr<const std::string> s_;
  bool done_ = false;
};

// A large message, read from the spool on the worker pool a chunk at a time.
class spool_source final : public delivery::content_source {
 public:
  spool_source(std::shared_ptr<store::spool> spool, net::worker_pool& pool, std::string id)
      : spool_(std::move(spool)), pool_(pool), id_(std::move(id)) {}
  net::awaitable<std::string_view> next() override {
    if (!reader_) {
      auto open = [this] {
        auto r = spool_->open(id_);
        if (!r) throw store::store_error("the message body is gone", false);
        return std::shared_ptr<store::spool_reader>(std::move(r));
      };
      reader_ = co_await pool_.run(std::move(open));
      chunk_ = reader_->header_section() + "\r\n";
      co_return std::string_view(chunk_);
    }
    auto read = [r = reader_] {
      std::string buf(body_loader::chunk_size, '\0');
      buf.resize(r->read_body(buf.data(), buf.size()));
      return buf;
    };
    chunk_ = co_await pool_.run(std::move(read));
    co_return std::string_view(chunk_);
  }

 private:
  std::shared_ptr<store::spool> spool_;
  net::worker_pool& pool_;
  std::string id_;
  std::shared_ptr<store::spool_reader> reader_;
  std::string chunk_;  // the last one returned
};

struct read_result {
  std::string headers;
  std::shared_ptr<const std::string> whole;  // small messages only
};

}  // namespace

net::awaitable<loaded_body> body_loader::load(const store::queued_message& m) {
  loaded_body out;
  auto read = [spool = spool_, id = m.id, size = m.size] {
    auto r = spool->open(id);
    if (!r) throw store::store_error("the message body is missing", false);
    read_result got;
    got.headers = r->header_section();
    if (size <= small_message) got.whole = std::make_shared<const std::string>(r->read_all());
    return got;
  };
  read_result got;
  try {
    got = co_await pool_.run(std::move(read));
  } catch (const store::store_error& e) {
    out.st = e.transient() ? loaded_body::state::unavailable : loaded_body::state::corrupt;
    out.problem = e.what();
    co_return out;
  }
  if (got.whole) co_return in_memory(std::move(got.headers), std::move(got.whole));
  out.headers = std::move(got.headers);
  out.open = [spool = spool_, &pool = pool_, id = m.id] { return std::make_unique<spool_source>(spool, pool, id); };
  co_return out;
}

loaded_body body_loader::in_memory(std::string headers, std::shared_ptr<const std::string> whole) {
  loaded_body out;
  out.headers = std::move(headers);
  out.open = [whole = std::move(whole)] { return std::make_unique<memory_source>(whole); };
  return out;
}

net::awaitable<void> body_loader::quarantine(store::queue_store& queue, const std::string& id) {
  auto move_aside = [spool = spool_, &queue, id] {
    spool->quarantine(id);
    queue.remove(id);
  };
  co_await pool_.run(std::move(move_aside));
}

}  // namespace smtpsd::queue
