#include "cli/client_common.hpp"

#include <fmt/format.h>

#include "cli/cli.hpp"

namespace smtpsd::cli {

net::awaitable<dialed> dial(const base::host_port& where, net::duration timeout) {
  auto d = co_await delivery::smtp_client::dial(where, timeout);
  co_return dialed{std::move(d.first), std::move(d.second)};
}

std::string greeting_problem(const base::host_port& where, const delivery::response& r, net::duration timeout) {
  const auto& text = r.reply.lines.empty() ? std::string{} : r.reply.lines.front();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout).count();
  if (r.io_error && text.find("timed out") != std::string::npos)
    return fmt::format("{} accepted the connection but sent no SMTP greeting within {} s", where.to_string(), secs);
  if (r.io_error && text.find("malformed reply line") != std::string::npos) {
    auto q = text.find('"');
    return fmt::format("{} does not speak SMTP (it sent {})", where.to_string(),
                       q == std::string::npos ? text : text.substr(q));
  }
  if (r.io_error) return fmt::format("{}: {}", where.to_string(), text);
  return fmt::format("{} refused the session: {}", where.to_string(), r.summary());
}

base::host_port parse_server(const std::string& text, std::uint16_t default_port, const char* option) {
  if (auto hp = base::host_port::parse(text, true)) return *hp;
  if (default_port) {
    if (auto hp = base::host_port::parse(text + ":" + std::to_string(default_port), true)) return *hp;
    if (auto hp = base::host_port::parse("[" + text + "]:" + std::to_string(default_port), true)) return *hp;
  }
  throw failure(fmt::format("{} \"{}\" is not HOST:PORT", option, text));
}

}  // namespace smtpsd::cli
