#include "admin/api.hpp"

#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <charconv>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "service/tokens.hpp"

namespace smtpsd::admin {

namespace {

std::shared_ptr<spdlog::logger> api_log() { return base::logger("api"); }

json error_json(const std::string& text) { return {{"error", text}}; }

const char* type_name(field::kind k) {
  switch (k) {
    case field::kind::string: return "a string";
    case field::kind::integer: return "a whole number";
    case field::kind::boolean: return "true or false";
    case field::kind::limit: return "a number or \"default\"";
  }
  return "?";
}

bool has_type(const json& v, field::kind k) {
  switch (k) {
    case field::kind::string: return v.is_string();
    case field::kind::integer: return v.is_number_integer();
    case field::kind::boolean: return v.is_boolean();
    case field::kind::limit: return v.is_number() || v.is_string();
  }
  return false;
}

// The body a route takes: a JSON object with its fields, each of its type.
std::optional<std::string> check_body(const route& r, const json& body) {
  if (!body.is_object()) return "the request body must be a JSON object";
  for (auto& [key, value] : body.items()) {
    const field* f = nullptr;
    for (auto& b : r.body) f = b.name == key ? &b : f;
    if (!f) return fmt::format("unknown field \"{}\"", base::printable(key, 64));
    if (!has_type(value, f->type)) return fmt::format("\"{}\" must be {}", key, type_name(f->type));
  }
  for (auto& b : r.body)
    if (b.required && !body.contains(b.name)) return fmt::format("\"{}\" is required", b.name);
  return std::nullopt;
}

std::optional<std::string> check_query(const route& r, const std::map<std::string, std::string>& query) {
  for (auto& [key, value] : query) {
    const field* f = nullptr;
    for (auto& q : r.query) f = q.name == key ? &q : f;
    if (!f) return fmt::format("unknown query parameter \"{}\"", base::printable(key, 64));
    if (f->type == field::kind::integer) {
      long long n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || end != value.data() + value.size() || n < 0)
        return fmt::format("\"{}\" must be a whole number, got \"{}\"", key, base::printable(value, 64));
    }
    if (f->type == field::kind::boolean && value != "true" && value != "false")
      return fmt::format("\"{}\" must be true or false", key);
  }
  return std::nullopt;
}

http::status status_of(service::error::kind k) {
  switch (k) {
    case service::error::kind::invalid: return http::status::bad_request;
    case service::error::kind::not_found: return http::status::not_found;
    case service::error::kind::conflict: return http::status::conflict;
    case service::error::kind::forbidden: return http::status::forbidden;
  }
  return http::status::internal_server_error;
}

std::optional<std::string> bearer_token(const request& req) {
  auto h = std::string_view(req[http::field::authorization]);
  constexpr std::string_view scheme = "Bearer ";
  if (h.size() <= scheme.size() || !base::iequals(h.substr(0, scheme.size()), scheme)) return std::nullopt;
  auto token = base::trim(h.substr(scheme.size()));
  if (token.empty()) return std::nullopt;
  return std::string(token);
}

}  // namespace

std::string call::query_or(const std::string& name, const std::string& fallback) const {
  auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

std::size_t call::limit(std::size_t fallback, std::size_t max) const {
  auto it = query.find("limit");
  if (it == query.end()) return fallback;
  auto n = std::stoull(it->second);  // checked by check_query
  if (n == 0 || n > max) throw service::error(service::error::kind::invalid, fmt::format("limit must be 1 to {}", max));
  return n;
}

std::optional<std::string> call::text(const std::string& name) const {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  return it->dump();  // numbers and booleans as the CLI would write them
}

std::optional<std::map<std::string, std::string>> match_path(std::string_view pattern,
                                                             const std::vector<std::string>& segments) {
  std::map<std::string, std::string> params;
  std::size_t i = 0;
  std::size_t pos = 1;  // after the leading '/'
  while (pos <= pattern.size()) {
    auto end = pattern.find('/', pos);
    if (end == std::string_view::npos) end = pattern.size();
    auto part = pattern.substr(pos, end - pos);
    if (i >= segments.size()) return std::nullopt;
    if (part.size() > 2 && part.front() == '{' && part.back() == '}') {
      if (segments[i].empty()) return std::nullopt;
      params[std::string(part.substr(1, part.size() - 2))] = segments[i];
    } else if (part != segments[i]) {
      return std::nullopt;
    }
    ++i;
    pos = end + 1;
  }
  if (i != segments.size()) return std::nullopt;
  return params;
}

response json_response(http::status s, const json& body, const request& req) {
  response res{s, req.version()};
  res.keep_alive(req.keep_alive());
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  res.prepare_payload();
  return res;
}

response error_response(http::status s, const std::string& text, const request& req) {
  return json_response(s, error_json(text), req);
}

api::api(const config::config& cfg, store::stores stores, net::worker_pool& pool, policy::auth_throttle& throttle,
         base::time_point started)
    : env_{cfg, std::move(stores), base::real_clock()}, pool_(pool), throttle_(throttle), started_(started), routes_(api_routes()) {}

net::awaitable<response> api::handle(const request& req, const std::string& client_ip) {
  auto target = boost::urls::parse_origin_form(std::string_view(req.target()));
  if (!target) co_return error_response(http::status::bad_request, "the request target is not a valid path", req);
  std::vector<std::string> segments;
  for (auto s : target->segments()) segments.push_back(s);
  while (!segments.empty() && segments.back().empty()) segments.pop_back();  // "/api/v1/accounts/"

  const route* found = nullptr;
  bool other_method = false;
  call c;
  for (auto& r : routes_) {
    auto params = match_path(r.pattern, segments);
    if (!params) continue;
    if (r.method != req.method() && !(req.method() == http::verb::head && r.method == http::verb::get)) {
      other_method = true;
      continue;
    }
    found = &r;
    c.path = std::move(*params);
    break;
  }
  if (!found && other_method)
    co_return error_response(http::status::method_not_allowed, "this resource does not take that method", req);
  if (!found) co_return error_response(http::status::not_found, "no such API resource", req);

  for (auto p : target->params()) {
    if (c.query.count(p.key)) co_return error_response(http::status::bad_request, "a query parameter is repeated", req);
    c.query[p.key] = p.value;
  }
  c.started = started_;

  if (throttle_.throttled(client_ip)) {
    auto res = error_response(http::status::too_many_requests, "too many failed token checks from this address", req);
    res.set(http::field::retry_after, "60");
    co_return res;
  }
  auto token = bearer_token(req);
  if (!token) {
    auto res = error_response(http::status::unauthorized, "this needs an Authorization: Bearer TOKEN header", req);
    res.set(http::field::www_authenticate, "Bearer");
    co_return res;
  }

  auto job = [this, r = found, c = std::move(c), body = req.body(), t = std::move(*token), ip = client_ip]() mutable {
    return authorize_and_run(*r, c, body, t, ip);
  };
  auto out = co_await pool_.run(std::move(job));
  auto res = json_response(out.status, out.body, req);
  if (out.status == http::status::unauthorized) res.set(http::field::www_authenticate, "Bearer error=\"invalid_token\"");
  co_return res;
}

api::outcome api::authorize_and_run(const route& r, call& c, const std::string& body, const std::string& token,
                                    const std::string& ip) {
  std::optional<store::api_token> who;
  try {
    who = service::check_token(env_, token);
  } catch (const std::exception& e) {
    api_log()->error("cannot check an API token: {}", e.what());
    return {http::status::service_unavailable, error_json("the token store cannot be read now; try again")};
  }
  if (!who) {
    auto n = throttle_.failure(ip);
    api_log()->warn("invalid token from {} ({} failures in the window)", ip, n);
    return {http::status::unauthorized, error_json("the token is not valid")};
  }
  if (who->read_only && r.changes) return {http::status::forbidden, error_json("this token may only read")};
  if (auto why = check_query(r, c.query)) return {http::status::bad_request, error_json(*why)};
  if (!body.empty() || !r.body.empty()) {
    c.body = body.empty() ? json::object() : json::parse(body, nullptr, false);
    if (c.body.is_discarded()) return {http::status::bad_request, error_json("the request body is not valid JSON")};
    if (auto why = check_body(r, c.body)) return {http::status::bad_request, error_json(*why)};
  }
  try {
    if (settle_) settle_();
    auto answer = r.handle(env_, c);
    if (r.changes) {
      std::string params;
      for (auto& [k, v] : c.path) params += fmt::format(" {}={}", k, base::printable(v, 100));
      api_log()->info("{} {}{} by token \"{}\"", http::to_string(r.method), r.pattern, params, who->name);
    }
    return {r.ok, std::move(answer)};
  } catch (const service::error& e) {
    return {status_of(e.what_kind()), error_json(e.what())};
  } catch (const json::exception& e) {
    return {http::status::bad_request, error_json(std::string("bad value: ") + e.what())};
  } catch (const std::exception& e) {
    api_log()->error("{} {}: {}", http::to_string(r.method), r.pattern, e.what());
    return {http::status::service_unavailable, error_json("the server cannot do that now; try again")};
  }
}

}  // namespace smtpsd::admin
