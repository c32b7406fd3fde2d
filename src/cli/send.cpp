// `smtpsd send`: a submission client in the spirit of swaks.
#include <unistd.h>

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/ids.hpp"
#include "base/random.hpp"
#include "base/time_format.hpp"
#include "cli/cli.hpp"
#include "cli/client_common.hpp"
#include "message/compose.hpp"
#include "net/tls.hpp"
#include "smtp/client.hpp"

namespace smtpsd::cli {

namespace {

struct send_options {
  std::string server;
  std::string mode;
  std::string username;
  std::string password_file;
  std::string from;
  std::vector<std::string> to;
  std::string subject;
  std::string file;
  std::vector<std::string> attach;
  bool insecure = false;
  bool verbose = false;
  unsigned timeout_s = 30;
};

std::string slurp(const std::string& path, const char* what) {
  if (path == "-") {
    std::stringstream s;
    s << std::cin.rdbuf();
    return s.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw failure(fmt::format("{} {}: cannot read it", what, path));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string local_hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
  return buf;
}

bool needs_utf8(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return true;
  return false;
}

// The whole exchange; "" on success (250 after the data), else the reason.
net::awaitable<std::string> submit(const send_options& o, const base::host_port& where, bool implicit,
                                   const std::string& password, const std::string& content) {
  const auto timeout = std::chrono::seconds(o.timeout_s);
  auto d = co_await dial(where, timeout);
  if (!d.client) co_return d.error;
  auto& c = *d.client;
  if (o.verbose)
    c.trace = [](char dir, std::string_view line) { std::cerr << (dir == '>' ? "C: " : "S: ") << line << "\n"; };

  net::client_tls_options tls;
  tls.verify = !o.insecure;
  auto ctx = net::make_client_context(tls);
  auto tls_failure = [&](const std::string& why) {
    if (why.find("certificate") != std::string::npos)
      return fmt::format("the certificate of {} does not verify: {}; --insecure sends anyway", where.to_string(), why);
    return fmt::format("TLS with {} failed: {}", where.to_string(), why);
  };
  if (implicit) {
    auto why = co_await c.handshake(*ctx, where.host, !o.insecure);
    if (!why.empty()) co_return tls_failure(why);
  }
  auto banner = co_await c.read_reply();
  if (!banner.ok()) co_return greeting_problem(where, banner, timeout);
  const auto me = local_hostname();
  auto hello = co_await c.hello(me);
  if (!hello.ok()) co_return "EHLO refused: " + hello.summary();
  if (!implicit) {
    if (!c.capabilities().starttls)
      co_return where.to_string() + " does not offer STARTTLS; smtpsd send never sends in the clear";
    auto r = co_await c.starttls(*ctx, where.host, !o.insecure);
    if (!r.ok()) co_return r.io_error ? tls_failure(r.reply.lines.front()) : "STARTTLS refused: " + r.summary();
    hello = co_await c.hello(me);
    if (!hello.ok()) co_return "EHLO refused: " + hello.summary();
  }
  if (!o.username.empty()) {
    auto r = co_await c.auth(o.username, password);
    if (!r.ok()) co_return "AUTH failed: " + r.summary();
  }
  smtp::mail_options mo;
  mo.size = content.size();
  if (needs_utf8(content)) mo.body = smtp::body_type::eight_bit_mime;
  mo.smtputf8 = needs_utf8(o.from);
  for (auto& t : o.to) mo.smtputf8 = mo.smtputf8 || needs_utf8(t);
  const std::string mail = smtp::format_mail(o.from, mo, c.capabilities());
  auto r = co_await c.command(mail);
  if (!r.ok()) co_return r.summary();
  for (auto& t : o.to) {
    const std::string rcpt = smtp::format_rcpt(t, {}, {}, c.capabilities());
    r = co_await c.command(rcpt);
    if (!r.ok()) co_return r.summary();
  }
  r = co_await c.command("DATA");
  if (r.reply.code != 354) co_return r.summary();
  smtp::dot_stuffer stuffer;
  std::string wire;
  stuffer.encode(content, wire);
  stuffer.finish(wire);
  if (c.trace) c.trace('>', fmt::format("<{} octets of message> .", content.size()));
  if (!co_await c.send(wire)) co_return "connection lost while sending the message";
  r = co_await c.read_reply();
  const std::string final_reply = r.summary();
  co_await c.quit();
  if (r.ok()) {
    std::cout << final_reply << "\n";
    co_return std::string{};
  }
  co_return final_reply;
}

}  // namespace

void add_send(CLI::App& app, context& ctx) {
  auto o = std::make_shared<send_options>();
  auto* cmd = app.add_subcommand("send", "submit one message, like swaks (exit 0 only on 250 after the data)");
  cmd->add_option("--server", o->server, "HOST:PORT")->required();
  cmd->add_option("--mode", o->mode, "implicit-tls or starttls (default: implicit-tls on 465/2465, else starttls)")
      ->check(CLI::IsMember({"implicit-tls", "starttls"}));
  cmd->add_option("--username", o->username, "AUTH user name");
  cmd->add_option("--password-file", o->password_file, "file whose first line is the password (else $SMTPSD_PASSWORD)");
  cmd->add_option("--from", o->from, "envelope sender (and From: when the message has none)")->required();
  cmd->add_option("--to", o->to, "recipient; repeat for more")->required()->allow_extra_args(false);
  cmd->add_option("--subject", o->subject, "Subject: when the message has none");
  cmd->add_option("--attach", o->attach, "attach a file; repeat for more")->allow_extra_args(false);
  cmd->add_option("--timeout", o->timeout_s, "seconds for each step (default 30)");
  cmd->add_flag("--insecure", o->insecure, "do not verify the server's certificate");
  cmd->add_flag("-v,--verbose", o->verbose, "print the dialogue on stderr (the AUTH line redacted)");
  cmd->add_option("FILE", o->file, "a whole RFC 5322 message, or - for stdin (default: a short test message)");
  cmd->callback([&ctx, o] {
    const auto where = parse_server(o->server, 0, "--server");
    const bool implicit = o->mode.empty() ? (where.port == 465 || where.port == 2465) : o->mode == "implicit-tls";
    std::string password;
    if (!o->username.empty()) {
      if (!o->password_file.empty()) {
        std::istringstream s(slurp(o->password_file, "--password-file"));
        std::getline(s, password);
        if (!password.empty() && password.back() == '\r') password.pop_back();
      } else if (const char* env = std::getenv("SMTPSD_PASSWORD")) {
        password = env;
      } else {
        throw failure("--username needs --password-file or SMTPSD_PASSWORD");
      }
    }
    message::compose_input in;
    if (!o->file.empty()) in.text = slurp(o->file, "message file");
    in.from = o->from;
    in.to = o->to;
    in.subject = o->subject;
    const auto now = base::real_clock().now();
    const auto id = base::make_queue_id(now, static_cast<std::uint32_t>(base::real_random().next_u64()));
    in.date = base::rfc5322_date(now);
    const auto at = o->from.rfind('@');
    in.message_id = "<" + id + "@" + (at == std::string::npos ? std::string("localhost") : o->from.substr(at + 1)) + ">";
    in.boundary = "smtpsd-send-" + id;
    for (auto& path : o->attach) {
      auto slash = path.rfind('/');
      auto name = slash == std::string::npos ? path : path.substr(slash + 1);
      in.attachments.push_back({name, message::guess_content_type(name), slurp(path, "--attach")});
    }
    std::string content;
    try {
      content = message::compose(in);
    } catch (const std::invalid_argument& e) {
      throw failure(fmt::format("{}: {}", o->file.empty() ? "the message" : o->file, e.what()));
    }
    net::asio::io_context io;
    auto problem = run_coroutine(io, submit(*o, where, implicit, password, content));
    if (!problem.empty()) {
      std::cerr << "smtpsd: " << problem << "\n";
      ctx.exit_code = 1;
    }
  });
}

}  // namespace smtpsd::cli
