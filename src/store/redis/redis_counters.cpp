#include "store/redis/redis_counters.hpp"
#include "base/thread.hpp"

#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <charconv>

namespace smtpsd::store::redis {

namespace {

// KEYS: rate, day. ARGV: rate, max_24h. Returns {verdict, value, limit}.
constexpr const char* reserve_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, max = tonumber(ARGV[1]), tonumber(ARGV[2])
local minute = math.floor(now / 60) * 60
local total = 0
local fields = redis.call('HGETALL', KEYS[2])
for i = 1, #fields, 2 do
  if tonumber(fields[i]) <= minute - 86400 then redis.call('HDEL', KEYS[2], fields[i])
  else total = total + tonumber(fields[i + 1]) end
end
if total + 1 > max then return {2, tostring(total), tostring(max)} end
local cap = rate < 1 and 1 or rate
local b = redis.call('HMGET', KEYS[1], 'tokens', 'last')
local tokens = tonumber(b[1]) or cap
local last = tonumber(b[2]) or now
if now > last then tokens = tokens + (now - last) * rate end
if tokens > cap then tokens = cap end
local ok = tokens >= 1
if ok then tokens = tokens - 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'last', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
if not ok then return {1, tostring(tokens), tostring(rate)} end
redis.call('HINCRBY', KEYS[2], tostring(minute), 1)
redis.call('EXPIRE', KEYS[2], 90000)
return {0, tostring(total + 1), tostring(max)}
)lua";

// KEYS: rate, day. ARGV: n, rate.
constexpr const char* release_script = R"lua(
local t = redis.call('TIME')
local minute = math.floor(tonumber(t[1]) / 60) * 60
local n, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('HINCRBY', KEYS[2], tostring(minute), -n)
local cap = rate < 1 and 1 or rate
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
if tokens then
  tokens = tokens + n
  if tokens > cap then tokens = cap end
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens))
end
return 0
)lua";

// KEYS: day.
constexpr const char* usage_script = R"lua(
local t = redis.call('TIME')
local minute = math.floor(tonumber(t[1]) / 60) * 60
local total = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if tonumber(fields[i]) > minute - 86400 then total = total + tonumber(fields[i + 1]) end
end
return total
)lua";

// KEYS: auth, sequence. ARGV: window seconds, 1 to count a failure.
constexpr const char* auth_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if ARGV[2] == '1' then
  redis.call('ZADD', KEYS[1], now, redis.call('INCR', KEYS[2]))
  redis.call('EXPIRE', KEYS[1], window)
end
return redis.call('ZCARD', KEYS[1])
)lua";

std::string rate_key(std::int64_t id) { return fmt::format("smtpsd:rate:{}", id); }
std::string day_key(std::int64_t id) { return fmt::format("smtpsd:day:{}", id); }

double number(const redisReply* r) {
  if (r->type == REDIS_REPLY_INTEGER) return static_cast<double>(r->integer);
  if (r->type == REDIS_REPLY_STRING) return std::strtod(r->str, nullptr);
  return 0;
}

}  // namespace

std::optional<redis_address> parse_redis_url(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed || parsed->scheme() != "redis") return std::nullopt;
  redis_address a;
  if (!parsed->encoded_host_address().empty()) a.host = std::string(parsed->encoded_host_address());
  if (a.host.size() > 2 && a.host.front() == '[') a.host = a.host.substr(1, a.host.size() - 2);
  if (parsed->has_port()) {
    if (parsed->port_number() == 0) return std::nullopt;
    a.port = parsed->port_number();
  }
  if (parsed->has_password()) a.password = std::string(parsed->password());
  auto path = std::string(parsed->path());
  if (path.size() > 1) {
    auto digits = std::string_view(path).substr(1);
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), a.db);
    if (ec != std::errc{} || p != digits.data() + digits.size()) return std::nullopt;
  }
  return a;
}

redis_counters::redis_counters(redis_address a) : a_(std::move(a)) {
  try {
    connect();
  } catch (const store_error& e) {
    throw store_error(e.what(), false);
  }
  returner_ = base::start_thread("smtpsd-redis", [this] { give_back_loop(); });
}

redis_counters::~redis_counters() {
  {
    std::lock_guard l(returns_mu_);
    stopping_ = true;
  }
  returns_cv_.notify_one();
  returner_.join();
  if (c_) redisFree(c_);
}

void redis_counters::give_back_loop() {
  std::unique_lock l(returns_mu_);
  for (;;) {
    returns_cv_.wait(l, [&] { return stopping_ || !returns_.empty(); });
    if (returns_.empty()) return;  // stopping, all given back
    auto r = returns_.front();
    returns_.pop_front();
    l.unlock();
    try {
      eval(release_script, {rate_key(r.account_id), day_key(r.account_id)},
           {std::to_string(r.n), fmt::format("{}", r.rate)});
    } catch (const std::exception&) {
      // Redis is away: the reservation stays counted until its minute leaves the 24 hours.
    }
    l.lock();
  }
}

void redis_counters::connect() {
  if (c_) {
    redisFree(c_);
    c_ = nullptr;
  }
  const timeval tv{1, 0};
  c_ = redisConnectWithTimeout(a_.host.c_str(), a_.port, tv);
  if (!c_ || c_->err) {
    std::string why = c_ ? c_->errstr : "out of memory";
    if (c_) redisFree(c_);
    c_ = nullptr;
    throw store_error(fmt::format("Redis at {}:{} unreachable: {}", a_.host, a_.port, why));
  }
  redisSetTimeout(c_, tv);
  auto check = [&](redisReply* r, const char* what) {
    reply owned(r);
    if (!r || r->type == REDIS_REPLY_ERROR) {
      std::string why = r ? r->str : c_->errstr;
      redisFree(c_);
      c_ = nullptr;
      throw store_error(fmt::format("Redis {}: {}", what, why));
    }
  };
  if (!a_.password.empty())
    check(static_cast<redisReply*>(redisCommand(c_, "AUTH %b", a_.password.data(), a_.password.size())), "AUTH");
  if (a_.db != 0) check(static_cast<redisReply*>(redisCommand(c_, "SELECT %d", a_.db)), "SELECT");
}

redis_counters::reply redis_counters::eval(const char* script, const std::vector<std::string>& keys,
                                           const std::vector<std::string>& args) {
  std::vector<std::string> words{"EVAL", script, std::to_string(keys.size())};
  words.insert(words.end(), keys.begin(), keys.end());
  words.insert(words.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (auto& w : words) {
    argv.push_back(w.data());
    lens.push_back(w.size());
  }
  std::lock_guard l(mu_);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!c_) connect();  // throws when Redis is still away
    reply r(static_cast<redisReply*>(redisCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (!r) {  // the connection broke: reconnect once, then give up
      std::string why = c_->errstr;
      redisFree(c_);
      c_ = nullptr;
      if (attempt == 1) throw store_error("Redis: " + why);
      continue;
    }
    if (r->type == REDIS_REPLY_ERROR) throw store_error(std::string("Redis: ") + r->str);
    return r;
  }
  throw store_error("Redis unreachable");
}

counters::decision redis_counters::reserve(std::int64_t account_id, double rate, std::uint64_t max_24h) {
  auto r = eval(reserve_script, {rate_key(account_id), day_key(account_id)},
                {fmt::format("{}", rate), std::to_string(max_24h)});
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) throw store_error("Redis: unexpected reply to reserve");
  decision d;
  const auto v = static_cast<int>(number(r->element[0]));
  d.v = v == 0 ? verdict::ok : v == 1 ? verdict::rate : verdict::quota;
  d.value = number(r->element[1]);
  d.limit = number(r->element[2]);
  return d;
}

void redis_counters::release(std::int64_t account_id, unsigned n, double rate) {
  if (n == 0) return;
  {
    std::lock_guard l(returns_mu_);
    if (returns_.size() >= 100000) return;  // Redis away for long: bounded
    returns_.push_back({account_id, n, rate});
  }
  returns_cv_.notify_one();
}

std::uint64_t redis_counters::usage_24h(std::int64_t account_id) {
  auto r = eval(usage_script, {day_key(account_id)}, {});
  return static_cast<std::uint64_t>(std::max(0.0, number(r.get())));
}

unsigned redis_counters::add_auth_failure(std::string_view ip, std::chrono::seconds window) {
  auto r = eval(auth_script, {fmt::format("smtpsd:auth:{}", ip), "smtpsd:auth-seq"}, {std::to_string(window.count()), "1"});
  return static_cast<unsigned>(number(r.get()));
}

unsigned redis_counters::auth_failures(std::string_view ip, std::chrono::seconds window) {
  auto r = eval(auth_script, {fmt::format("smtpsd:auth:{}", ip), "smtpsd:auth-seq"}, {std::to_string(window.count()), "0"});
  return static_cast<unsigned>(number(r.get()));
}

}  // namespace smtpsd::store::redis
