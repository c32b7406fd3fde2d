#include "service/queue.hpp"

#include "base/ids.hpp"
#include "base/time_format.hpp"

namespace smtpsd::service {

namespace {

void require_id(const std::string& id) {
  if (!base::is_queue_id(id)) invalid("\"" + id + "\" is not a queue id (16 characters, as in \"queued as …\")");
}

std::optional<store::rcpt_status> status_of(const std::string& s) {
  if (s.empty()) return std::nullopt;
  for (auto st : {store::rcpt_status::queued, store::rcpt_status::deferred, store::rcpt_status::delivered,
                  store::rcpt_status::failed})
    if (store::to_string(st) == s) return st;
  invalid("status must be queued, deferred, delivered or failed, got \"" + s + "\"");
}

}  // namespace

// Built field by field: a braced list makes each pair a two-element array
// first, which tripled the allocations of a 1,000-message page.
json message_json(const store::queued_message& m) {
  auto rcpts = json::array();
  for (auto& r : m.recipients) {
    json one = json::object();
    one["address"] = r.address;
    one["status"] = store::to_string(r.status);
    one["attempts"] = r.attempts;
    one["next_attempt"] = store::pending(r.status) ? time_json(r.next_attempt) : json(nullptr);
    one["last_response"] = r.last_response.empty() ? json(nullptr) : json(r.last_response);
    rcpts.push_back(std::move(one));
  }
  auto tags = json::object();
  for (auto& [k, v] : m.tags) tags[k] = v;
  json out = json::object();
  out["id"] = m.id;
  out["account"] = m.account;
  out["from"] = m.from;
  out["size"] = m.size;
  out["created"] = base::rfc3339(m.created);
  out["message_id"] = m.message_id.empty() ? json(nullptr) : json(m.message_id);
  out["configuration_set"] = m.configuration_set.empty() ? json(nullptr) : json(m.configuration_set);
  out["tags"] = std::move(tags);
  out["recipients"] = std::move(rcpts);
  return out;
}

json list_queue(env& e, const std::string& after, std::size_t limit, const std::string& account,
                const std::string& status, const std::string& recipient) {
  store::queue_query q;
  q.after = after;
  q.limit = limit + 1;  // one more than asked: is there a next page?
  q.account = account;
  q.status = status_of(status);
  q.recipient = recipient;
  auto page = e.stores.queue->list(q);
  const bool more = page.size() > limit;
  if (more) page.resize(limit);
  auto items = json::array();
  for (auto& m : page) items.push_back(message_json(m));
  return {{"items", std::move(items)}, {"next", more ? json(page.back().id) : json(nullptr)}};
}

json all_queue(env& e) {
  auto out = json::array();
  for (auto& m : e.stores.queue->list(std::size_t{0})) out.push_back(message_json(m));
  return out;
}

json show_message(env& e, const std::string& id) {
  require_id(id);
  auto m = e.stores.queue->get(id);
  if (!m) not_found("no queued message " + id);
  return message_json(*m);
}

std::string message_content(env& e, const std::string& id) {
  require_id(id);
  if (!e.stores.queue->get(id)) not_found("no queued message " + id);
  auto body = e.stores.bodies->open(id);
  if (!body) not_found("the body of " + id + " is not in the spool");
  return body->read_all();
}

json retry_queue(env& e, const std::string& id) {
  if (!id.empty()) {
    require_id(id);
    if (!e.stores.queue->get(id)) not_found("no queued message " + id);
  }
  return {{"recipients", e.stores.queue->retry(id, e.clock.now())}};
}

json remove_message(env& e, const std::string& id) {
  require_id(id);
  if (!e.stores.queue->remove(id)) not_found("no queued message " + id);
  e.stores.bodies->remove(id);
  return {{"removed", id}};
}

json queue_size(env& e) { return {{"messages", e.stores.queue->count()}}; }

}  // namespace smtpsd::service
