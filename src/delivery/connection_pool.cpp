#include "delivery/connection_pool.hpp"

#include <algorithm>

#include "net/coro.hpp"

namespace smtpsd::delivery {

connection_pool::connection_pool(unsigned per_destination, std::chrono::steady_clock::duration idle)
    : per_destination_(std::max(1u, per_destination)), idle_time_(idle) {}

net::awaitable<std::optional<connection_pool::slot>> connection_pool::acquire(const std::string& key) {
  if (stopping_) co_return std::nullopt;
  auto& g = gates_[key];
  if (g.active < per_destination_) {
    ++g.active;
    co_return std::optional<slot>(std::in_place, this, key);
  }
  auto w = std::make_shared<waiter>(co_await net::asio::this_coro::executor);
  g.waiters.push_back(w);
  const auto ec = co_await net::wait(w->wake);  // cancelled by release() or shutdown()
  (void)ec;
  if (!w->granted) co_return std::nullopt;
  slot held(this, key);
  if (stopping_) co_return std::nullopt;  // gives the slot back
  co_return std::optional<slot>(std::move(held));
}

void connection_pool::release(const std::string& key) {
  auto& g = gates_[key];
  if (!g.waiters.empty() && !stopping_) {
    auto w = std::move(g.waiters.front());
    g.waiters.pop_front();
    w->granted = true;  // hands the slot over; active stays the same
    w->wake.cancel();
  } else if (g.active > 0) {
    --g.active;
  }
}

void connection_pool::shutdown() {
  stopping_ = true;
  for (auto& [key, g] : gates_) {
    for (auto& w : g.waiters) w->wake.cancel();
    g.waiters.clear();
  }
}

std::unique_ptr<smtp_client> connection_pool::take_idle(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  const auto now = std::chrono::steady_clock::now();
  while (!list.empty()) {
    auto c = std::move(list.back());
    list.pop_back();
    if (now - c.since <= idle_time_) return std::move(c.client);
    c.client->stream().close_now();
  }
  return nullptr;
}

std::unique_ptr<smtp_client> connection_pool::keep(const std::string& key, std::unique_ptr<smtp_client> c) {
  auto& list = idle_[key];
  if (stopping_ || list.size() >= per_destination_) return c;
  list.push_back({std::move(c), std::chrono::steady_clock::now()});
  return nullptr;
}

void connection_pool::reap(bool all) {
  const auto now = std::chrono::steady_clock::now();
  for (auto& [key, list] : idle_) {
    std::erase_if(list, [&](idle_connection& c) {
      if (!all && now - c.since <= idle_time_) return false;
      c.client->stream().close_now();
      return true;
    });
  }
}

unsigned connection_pool::in_use(const std::string& key) const {
  auto it = gates_.find(key);
  return it == gates_.end() ? 0 : it->second.active;
}

std::size_t connection_pool::idle_count(const std::string& key) const {
  auto it = idle_.find(key);
  return it == idle_.end() ? 0 : it->second.size();
}

}  // namespace smtpsd::delivery
