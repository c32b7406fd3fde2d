#include <fmt/format.h>

#include "base/ids.hpp"
#include "base/time_format.hpp"
#include "cli/cli.hpp"

namespace smtpsd::cli {

namespace {

nlohmann::json message_json(const store::queued_message& m) {
  auto rcpts = nlohmann::json::array();
  for (auto& r : m.recipients)
    rcpts.push_back({{"address", r.address},
                     {"status", store::to_string(r.status)},
                     {"attempts", r.attempts},
                     {"next_attempt", r.status == store::rcpt_status::queued || r.status == store::rcpt_status::deferred
                                          ? time_json(r.next_attempt)
                                          : nlohmann::json(nullptr)},
                     {"last_response", r.last_response.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.last_response)}});
  return {{"id", m.id},
          {"account", m.account},
          {"from", m.from},
          {"size", m.size},
          {"created", base::rfc3339(m.created)},
          {"message_id", m.message_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.message_id)},
          {"recipients", rcpts}};
}

std::string message_text(const store::queued_message& m) {
  std::string s = fmt::format("{}  {}  from=<{}>  size={}  account={}\n", m.id, base::rfc3339(m.created), m.from, m.size,
                              m.account);
  for (auto& r : m.recipients) {
    s += fmt::format("    <{}> {} attempts={}", r.address, store::to_string(r.status), r.attempts);
    if (r.next_attempt && (r.status == store::rcpt_status::queued || r.status == store::rcpt_status::deferred))
      s += " next=" + base::rfc3339(*r.next_attempt);
    if (!r.last_response.empty()) s += " last=\"" + r.last_response + "\"";
    s += "\n";
  }
  return s;
}

void require_id(const std::string& id) {
  if (!base::is_queue_id(id)) throw failure("\"" + id + "\" is not a queue id (16 characters, as in \"queued as …\")");
}

}  // namespace

void add_queue(CLI::App& app, context& ctx) {
  auto* group = app.add_subcommand("queue", "the outbound queue");
  group->require_subcommand(1);

  auto* list = group->add_subcommand("list", "list queued messages, oldest first");
  list->callback([&ctx] {
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    auto j = nlohmann::json::array();
    std::string text;
    for (auto& m : s.queue->list(0)) {
      j.push_back(message_json(m));
      text += message_text(m);
    }
    if (j.empty()) text = "the queue is empty\n";
    ctx.print(j, text);
  });

  auto* show = group->add_subcommand("show", "show one queued message");
  auto show_id = std::make_shared<std::string>();
  show->add_option("ID", *show_id, "queue id")->required();
  show->callback([&ctx, show_id] {
    require_id(*show_id);
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    auto m = s.queue->get(*show_id);
    if (!m) throw failure("no queued message " + *show_id);
    ctx.print(message_json(*m), message_text(*m));
  });

  auto* retry = group->add_subcommand("retry", "make deferred recipients due now");
  auto retry_id = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  retry->add_option("ID", *retry_id, "queue id");
  retry->add_flag("--all", *all, "every message");
  retry->callback([&ctx, retry_id, all] {
    if (retry_id->empty() == !*all) throw failure("queue retry takes either an ID or --all");
    if (!*all) require_id(*retry_id);
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    if (!*all && !s.queue->get(*retry_id)) throw failure("no queued message " + *retry_id);
    auto n = s.queue->retry(*all ? "" : *retry_id, base::real_clock().now());
    ctx.print({{"recipients", n}}, fmt::format("{} recipients due now\n", n));
  });

  auto* remove = group->add_subcommand("remove", "delete a queued message without delivering it");
  auto rm_id = std::make_shared<std::string>();
  remove->add_option("ID", *rm_id, "queue id")->required();
  remove->callback([&ctx, rm_id] {
    require_id(*rm_id);
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    if (!s.queue->remove(*rm_id)) throw failure("no queued message " + *rm_id);
    s.bodies->remove(*rm_id);
    ctx.print({{"removed", *rm_id}}, "removed " + *rm_id + "\n");
  });
}

}  // namespace smtpsd::cli
