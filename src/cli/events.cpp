#include <fmt/format.h>

#include <iostream>
#include <thread>

#include "base/strings.hpp"
#include "cli/cli.hpp"
#include "service/events.hpp"

namespace smtpsd::cli {

namespace {

std::string event_line(const nlohmann::json& e) {
  auto str = [&](const char* k) { return e[k].is_null() ? std::string("-") : e[k].get<std::string>(); };
  std::string to;
  for (auto& r : e["recipients"]) to += (to.empty() ? "" : ",") + r.get<std::string>();
  auto line = fmt::format("{} {:<14} queue_id={} account={} from=<{}> to={}", str("time"), str("type"), str("queue_id"),
                          str("account"), e["from"].get<std::string>(), to.empty() ? "-" : to);
  if (!e["smtp_response"].is_null()) line += " response=\"" + base::printable(str("smtp_response"), 200) + "\"";
  if (e.contains("reason") && !e["reason"].is_null()) line += " reason=" + str("reason");
  if (e.contains("bounce_type")) line += " bounce=" + str("bounce_type") + "/" + str("bounce_sub_type");
  return line + "\n";
}

void print_event(const context& ctx, nlohmann::json e) {
  e.erase("seq");
  std::cout << (ctx.json ? e.dump() + "\n" : event_line(e)) << std::flush;
}

void tail(context& ctx, service::event_filter f, bool follow) {
  auto page = ctx.with_service([&](service::env& e) { return service::list_events(e, f); });  // newest first
  auto items = page["items"];
  std::reverse(items.begin(), items.end());
  if (ctx.json && !follow) {
    for (auto& i : items) i.erase("seq");
    ctx.print(items, "");
    return;
  }
  for (auto& i : items) print_event(ctx, i);
  f.after = page["last"].get<std::int64_t>();
  while (follow) {  // until interrupted
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto more = ctx.with_service([&](service::env& e) { return service::list_events(e, f); });
    for (auto& i : more["items"]) print_event(ctx, i);
    f.after = more["last"].get<std::int64_t>();
  }
}

}  // namespace

void add_events(CLI::App& app, context& ctx) {
  auto* group = app.add_subcommand("events", "the event log that webhooks read");
  group->require_subcommand(1);

  auto* t = group->add_subcommand("tail", "recent events, oldest first; --follow keeps printing new ones");
  auto f = std::make_shared<service::event_filter>();
  auto follow = std::make_shared<bool>(false);
  f->limit = 20;
  t->add_flag("-f,--follow", *follow, "wait for new events (JSON lines with --json)");
  t->add_option("--type", f->type, "only this type: send, reject, delivery, bounce, delivery_delay, complaint");
  t->add_option("--account", f->account, "only this account's");
  t->add_option("-n,--limit", f->limit, "how many recent events (default 20, at most 1000)");
  t->callback([&ctx, f, follow] { tail(ctx, *f, *follow); });

  auto* dead = group->add_subcommand("dead-letters", "events a webhook gave up on");
  auto dead_hook = std::make_shared<std::string>();
  dead->add_option("--webhook", *dead_hook, "only this webhook's (its name; default: its URL)");
  dead->callback([&ctx, dead_hook] {
    auto j = ctx.with_service([&](service::env& e) { return service::dead_letters(e, *dead_hook); });
    std::string text;
    for (auto& d : j)
      text += fmt::format("{} {} {:<14} {} reason=\"{}\"{}\n", d["event_id"].get<std::string>(),
                          d["time"].get<std::string>(), d["type"].get<std::string>(), d["webhook"].get<std::string>(),
                          d["reason"].get<std::string>(), d["redeliver"].get<bool>() ? " (redelivery requested)" : "");
    if (j.empty()) text = "no dead letters\n";
    ctx.print(j, text);
  });

  auto* redo = group->add_subcommand("redeliver", "send dead letters again (the running server picks them up)");
  auto redo_hook = std::make_shared<std::string>();
  auto redo_id = std::make_shared<std::string>();
  auto redo_all = std::make_shared<bool>(false);
  redo->add_option("EVENT_ID", *redo_id, "the event_id of one dead letter");
  redo->add_flag("--all", *redo_all, "every dead letter (of --webhook, or of every webhook)");
  redo->add_option("--webhook", *redo_hook, "only this webhook's (its name; default: its URL)");
  redo->callback([&ctx, redo_hook, redo_id, redo_all] {
    if (redo_id->empty() == !*redo_all) throw failure("events redeliver takes either an EVENT_ID or --all");
    auto j = ctx.with_service([&](service::env& e) { return service::redeliver(e, *redo_hook, *redo_id); });
    ctx.print(j, fmt::format("{} dead letters will be sent again within a few seconds\n", j["redeliver"].dump()));
  });
}

}  // namespace smtpsd::cli
