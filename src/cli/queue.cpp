#include <cstdio>

#include <fmt/format.h>

#include "cli/cli.hpp"
#include "service/queue.hpp"

namespace smtpsd::cli {

namespace {

std::string message_text(const nlohmann::json& m) {
  std::string s = fmt::format("{}  {}  from=<{}>  size={}  account={}\n", m["id"].get<std::string>(),
                              m["created"].get<std::string>(), m["from"].get<std::string>(), m["size"].dump(),
                              m["account"].get<std::string>());
  for (auto& r : m["recipients"]) {
    s += fmt::format("    <{}> {} attempts={}", r["address"].get<std::string>(), r["status"].get<std::string>(),
                     r["attempts"].dump());
    if (!r["next_attempt"].is_null()) s += " next=" + r["next_attempt"].get<std::string>();
    if (!r["last_response"].is_null()) s += " last=\"" + r["last_response"].get<std::string>() + "\"";
    s += "\n";
  }
  return s;
}

}  // namespace

void add_queue(CLI::App& app, context& ctx) {
  auto* group = app.add_subcommand("queue", "the outbound queue");
  group->require_subcommand(1);

  auto* list = group->add_subcommand("list", "list queued messages, oldest first");
  list->callback([&ctx] {
    auto j = ctx.with_service([](service::env& e) { return service::all_queue(e); });
    std::string text;
    for (auto& m : j) text += message_text(m);
    if (j.empty()) text = "the queue is empty\n";
    ctx.print(j, text);
  });

  auto* show = group->add_subcommand("show", "show one queued message");
  auto show_id = std::make_shared<std::string>();
  auto raw = std::make_shared<bool>(false);
  show->add_option("ID", *show_id, "queue id")->required();
  show->add_flag("--raw", *raw, "print the message itself, as it will be sent (header section, blank line, body)");
  show->callback([&ctx, show_id, raw] {
    if (*raw) {
      std::string content;
      ctx.with_service([&](service::env& e) {
        content = service::message_content(e, *show_id);
        return nlohmann::json();
      });
      std::fwrite(content.data(), 1, content.size(), stdout);
      return;
    }
    auto j = ctx.with_service([&](service::env& e) { return service::show_message(e, *show_id); });
    ctx.print(j, message_text(j));
  });

  auto* retry = group->add_subcommand("retry", "make deferred recipients due now");
  auto retry_id = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  retry->add_option("ID", *retry_id, "queue id");
  retry->add_flag("--all", *all, "every message");
  retry->callback([&ctx, retry_id, all] {
    if (retry_id->empty() == !*all) throw failure("queue retry takes either an ID or --all");
    auto j = ctx.with_service([&](service::env& e) { return service::retry_queue(e, *all ? "" : *retry_id); });
    ctx.print(j, fmt::format("{} recipients due now\n", j["recipients"].dump()));
  });

  auto* remove = group->add_subcommand("remove", "delete a queued message without delivering it");
  auto rm_id = std::make_shared<std::string>();
  remove->add_option("ID", *rm_id, "queue id")->required();
  remove->callback([&ctx, rm_id] {
    auto j = ctx.with_service([&](service::env& e) { return service::remove_message(e, *rm_id); });
    ctx.print(j, "removed " + *rm_id + "\n");
  });
}

}  // namespace smtpsd::cli
