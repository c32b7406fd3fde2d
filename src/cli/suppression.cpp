#include <fmt/format.h>

#include "cli/cli.hpp"
#include "service/suppression.hpp"

namespace smtpsd::cli {

void add_suppression(CLI::App& app, context& ctx) {
  auto* group = app.add_subcommand("suppression", "addresses never sent to: hard bounces and manual additions");
  group->require_subcommand(1);

  auto* list = group->add_subcommand("list", "list suppressed addresses");
  list->callback([&ctx] {
    auto j = ctx.with_service([](service::env& e) { return service::all_suppressions(e); });
    std::string text;
    for (auto& s : j)
      text += fmt::format("{:<40} {}  {}\n", s["address"].get<std::string>(), s["created"].get<std::string>(),
                          s["reason"].get<std::string>());
    if (j.empty()) text = "the suppression list is empty\n";
    ctx.print(j, text);
  });

  auto* add = group->add_subcommand("add", "suppress an address");
  auto address = std::make_shared<std::string>();
  add->add_option("ADDRESS", *address, "the address")->required();
  add->callback([&ctx, address] {
    auto j = ctx.with_service([&](service::env& e) { return service::add_suppression(e, *address, "manual"); });
    ctx.print(j, "suppressed " + j["address"].get<std::string>() + "\n");
  });

  auto* remove = group->add_subcommand("remove", "send to an address again");
  auto rm = std::make_shared<std::string>();
  remove->add_option("ADDRESS", *rm, "the address")->required();
  remove->callback([&ctx, rm] {
    auto j = ctx.with_service([&](service::env& e) { return service::remove_suppression(e, *rm); });
    ctx.print(j, "removed " + j["removed"].get<std::string>() + "\n");
  });
}

}  // namespace smtpsd::cli
