#include <fmt/format.h>

#include "base/time_format.hpp"
#include "cli/cli.hpp"
#include "base/strings.hpp"
#include "policy/identity.hpp"

namespace smtpsd::cli {

namespace {
std::string require_address(const std::string& text) {
  auto a = policy::normalize_address(text);
  if (!a) throw failure(fmt::format("\"{}\" is not an address such as bob@example.org", text));
  return *a;
}
}  // namespace

void add_suppression(CLI::App& app, context& ctx) {
  auto* group = app.add_subcommand("suppression", "addresses never sent to: hard bounces and manual additions");
  group->require_subcommand(1);

  auto* list = group->add_subcommand("list", "list suppressed addresses");
  list->callback([&ctx] {
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    auto j = nlohmann::json::array();
    std::string text;
    for (auto& e : s.suppressions->list()) {
      j.push_back({{"address", e.address}, {"reason", e.reason}, {"created", base::rfc3339(e.created)}});
      text += fmt::format("{:<40} {}  {}\n", e.address, base::rfc3339(e.created), e.reason);
    }
    if (j.empty()) text = "the suppression list is empty\n";
    ctx.print(j, text);
  });

  auto* add = group->add_subcommand("add", "suppress an address");
  auto address = std::make_shared<std::string>();
  add->add_option("ADDRESS", *address, "the address")->required();
  add->callback([&ctx, address] {
    auto a = require_address(*address);
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    auto now = base::from_unix_seconds(base::unix_seconds(base::real_clock().now()));
    if (!s.suppressions->add(a, "manual", now)) throw failure(a + " is already on the suppression list");
    auto e = s.suppressions->find(a);
    ctx.print({{"address", e->address}, {"reason", e->reason}, {"created", base::rfc3339(e->created)}},
              "suppressed " + e->address + "\n");
  });

  auto* remove = group->add_subcommand("remove", "send to an address again");
  auto rm = std::make_shared<std::string>();
  remove->add_option("ADDRESS", *rm, "the address")->required();
  remove->callback([&ctx, rm] {
    auto a = require_address(*rm);
    auto c = ctx.load_config();
    auto s = ctx.open_stores(c);
    if (!s.suppressions->remove(a)) throw failure(a + " is not on the suppression list");
    ctx.print({{"removed", base::to_lower(a)}}, "removed " + base::to_lower(a) + "\n");
  });
}

}  // namespace smtpsd::cli
