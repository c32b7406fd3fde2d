#include <fmt/format.h>

#include <iostream>
#include <thread>

#include "base/strings.hpp"
#include "base/time_format.hpp"
#include "cli/cli.hpp"
#include "events/event.hpp"

namespace smtpsd::cli {

namespace {

struct tail_options {
  bool follow = false;
  std::string type;
  std::string account;
  std::size_t limit = 20;
};

std::string event_line(const events::event& e) {
  std::string to;
  for (auto& r : e.recipients) to += (to.empty() ? "" : ",") + r;
  auto line = fmt::format("{} {:<14} queue_id={} account={} from=<{}> to={}", base::rfc3339(e.time), e.type,
                          e.queue_id.empty() ? "-" : e.queue_id, e.account.empty() ? "-" : e.account, e.from,
                          to.empty() ? "-" : to);
  if (!e.smtp_response.empty()) line += " response=\"" + base::printable(e.smtp_response, 200) + "\"";
  if (!e.reason.empty()) line += " reason=" + e.reason;
  if (!e.bounce_type.empty()) line += " bounce=" + e.bounce_type + "/" + e.bounce_sub_type;
  return line + "\n";
}

void print_event(const context& ctx, const store::stored_event& row) {
  auto e = events::from_record(row.record);
  std::cout << (ctx.json ? events::to_json(e) + "\n" : event_line(e)) << std::flush;
}

void tail(context& ctx, const tail_options& o) {
  if (!o.type.empty() && !events::known_type(o.type))
    throw failure("--type must be one of send, reject, delivery, bounce, delivery_delay, complaint");
  auto c = ctx.load_config();
  auto s = ctx.open_stores(c);
  store::event_query q;
  q.type = o.type;
  q.account = o.account;
  q.limit = o.limit;
  auto recent = s.events->query(q);  // newest first
  std::int64_t last = recent.empty() ? s.events->last_seq() : recent.front().seq;
  if (ctx.json && !o.follow) {
    auto j = nlohmann::json::array();
    for (auto it = recent.rbegin(); it != recent.rend(); ++it)
      j.push_back(nlohmann::json::parse(events::to_json(events::from_record(it->record))));
    ctx.print(j, "");
    return;
  }
  for (auto it = recent.rbegin(); it != recent.rend(); ++it) print_event(ctx, *it);
  while (o.follow) {  // until interrupted
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    for (auto& row : s.events->read_after(last, 1000)) {
      last = row.seq;
      if ((!o.type.empty() && row.type != o.type) || (!o.account.empty() && row.account != o.account)) continue;
      print_event(ctx, row);
    }
  }
}

}  // namespace

void add_events(CLI::App& app, context& ctx) {
  auto* group = app.add_subcommand("events", "the event log that webhooks read");
  group->require_subcommand(1);

  auto* t = group->add_subcommand("tail", "recent events, oldest first; --follow keeps printing new ones");
  auto o = std::make_shared<tail_options>();
  t->add_flag("-f,--follow", o->follow, "wait for new events (JSON lines with --json)");
  t->add_option("--type", o->type, "only this type: send, reject, delivery, bounce, delivery_delay, complaint");
  t->add_option("--account", o->account, "only this account's");
  t->add_option("-n,--limit", o->limit, "how many recent events (default 20)");
  t->callback([&ctx, o] { tail(ctx, *o); });

  auto* dead = group->add_subcommand("dead-letters", "events a webhook gave up on");
  auto dead_hook = std::make_shared<std::string>();
  dead->add_option("--webhook", *dead_hook, "only this webhook's (its name; default: its URL)");
  dead->callback([&ctx, dead_hook] {
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    auto j = nlohmann::json::array();
    std::string text;
    for (auto& d : s.events->dead_letters(*dead_hook)) {
      j.push_back({{"webhook", d.consumer},
                   {"event_id", d.event.id},
                   {"type", d.event.type},
                   {"time", base::rfc3339(d.event.time)},
                   {"reason", d.reason},
                   {"dead_since", base::rfc3339(d.when)},
                   {"redeliver", d.redeliver}});
      text += fmt::format("{} {} {:<14} {} reason=\"{}\"{}\n", d.event.id, base::rfc3339(d.event.time), d.event.type,
                          d.consumer, d.reason, d.redeliver ? " (redelivery requested)" : "");
    }
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
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    auto n = s.events->request_redelivery(*redo_hook, *redo_id);
    if (n == 0 && !*redo_all) throw failure("no dead letter with event_id " + *redo_id);
    ctx.print({{"redeliver", n}}, fmt::format("{} dead letters will be sent again within a few seconds\n", n));
  });
}

}  // namespace smtpsd::cli
