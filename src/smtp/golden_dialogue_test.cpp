// Runs the golden SMTP dialogues in tests/golden/*.txt against server_fsm.
//
// File format, one item per line:
//   # comment
//   @settings tls=1 starttls=0 max_recipients=2 max_message_bytes=1000 max_errors=10
//   @user NAME PASSWORD ACCOUNT     credentials the fake authenticator accepts
//   @throttle                       every AUTH is answered as throttled
//   @reject-mail ADDRESS CODE ENH TEXT…   (and @reject-rcpt)
//   C: a client line, without CRLF
//   D: message content for DATA/BDAT; escapes \r \n \0 \xHH \\ (no implicit newline)
//   S: an expected reply line
//   ! tls | ! closed                 expected events
// The S: and ! lines are compared, in order, with what the machine produced.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/strings.hpp"
#include "smtp/data_reader.hpp"
#include "smtp/replies.hpp"
#include "smtp/server_fsm.hpp"

using namespace smtpsd;
using namespace smtpsd::smtp;

namespace {

std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char n = s[++i];
      if (n == 'x' && i + 2 < s.size()) {
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
        continue;
      }
      out += n == 'r' ? '\r' : n == 'n' ? '\n' : n == '0' ? '\0' : n == 't' ? '\t' : n;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct dialogue {
  server_settings settings;
  std::map<std::string, std::pair<std::string, std::string>> users;  // name -> (password, account)
  bool throttle = false;
  std::map<std::string, reply> reject_mail, reject_rcpt;
  std::vector<std::string> client;  // "C:..." and "D:..." in order
  std::vector<std::string> expected;
};

reply parse_reply_spec(std::string_view spec) {
  auto parts = base::split(spec, ' ');
  std::string text;
  for (std::size_t i = 2; i < parts.size(); ++i) text += (i > 2 ? " " : "") + std::string(parts[i]);
  return make_reply(std::stoi(std::string(parts[0])), parts[1], text);
}

dialogue load(const std::filesystem::path& p) {
  dialogue d;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::string_view l(line);
    if (base::istarts_with(l, "@settings")) {
      for (auto kv : base::split(l.substr(10), ' ')) {
        auto eq = kv.find('=');
        auto k = kv.substr(0, eq);
        auto v = std::string(kv.substr(eq + 1));
        if (k == "tls") d.settings.tls_active = v == "1";
        if (k == "starttls") d.settings.starttls_offered = v == "1";
        if (k == "max_recipients") d.settings.max_recipients = static_cast<unsigned>(std::stoul(v));
        if (k == "max_message_bytes") d.settings.max_message_bytes = std::stoull(v);
        if (k == "max_errors") d.settings.max_errors = static_cast<unsigned>(std::stoul(v));
      }
    } else if (base::istarts_with(l, "@user ")) {
      auto parts = base::split(l.substr(6), ' ');
      d.users[std::string(parts.at(0))] = {std::string(parts.at(1)), std::string(parts.at(2))};
    } else if (l == "@throttle") {
      d.throttle = true;
    } else if (base::istarts_with(l, "@reject-mail ") || base::istarts_with(l, "@reject-rcpt ")) {
      auto rest = l.substr(13);
      auto sp = rest.find(' ');
      auto& target = base::istarts_with(l, "@reject-mail") ? d.reject_mail : d.reject_rcpt;
      target.emplace(std::string(rest.substr(0, sp)), parse_reply_spec(rest.substr(sp + 1)));
    } else if (l.starts_with("C: ") || l.starts_with("D: ")) {
      d.client.push_back(line);
    } else if (l.starts_with("S: ") || l.starts_with("! ")) {
      d.expected.push_back(line);
    } else {
      ADD_FAILURE() << p << ": cannot read line: " << line;
    }
  }
  return d;
}

class runner {
 public:
  explicit runner(dialogue& d) : d_(d), fsm_(d.settings) {}

  std::vector<std::string> run() {
    std::string out;
    fsm_.greet(out);
    emit(out);
    for (std::size_t i = 0; i < d_.client.size() && !closed_; ++i) {
      const auto& item = d_.client[i];
      if (item.starts_with("D: ")) {
        data_ += unescape(std::string_view(item).substr(3));
        continue;
      }
      // Content lines that follow belong to this command.
      for (std::size_t j = i + 1; j < d_.client.size() && d_.client[j].starts_with("D: "); ++j) {
        data_ += unescape(std::string_view(d_.client[j]).substr(3));
        i = j;
      }
      std::string cmd = unescape(std::string_view(item).substr(3));
      out.clear();
      action a = cmd.find('\n') != std::string::npos ? fsm_.on_bare_lf(out)
                 : cmd.size() + 2 > fsm_.line_limit() ? fsm_.on_line_too_long(out)
                                                        : fsm_.on_line(cmd, out);
      drive(a, out);
      // BDAT may need more lines than the content given with it; that is a test bug.
    }
    return transcript_;
  }

 private:
  void emit(const std::string& wire) {
    std::size_t pos = 0;
    while (pos < wire.size()) {
      auto e = wire.find("\r\n", pos);
      transcript_.push_back("S: " + wire.substr(pos, e - pos));
      pos = e + 2;
    }
  }

  void drive(action a, std::string& out) {
    for (;;) {
      switch (a) {
        case action::read:
          emit(out);
          return;
        case action::close:
          emit(out);
          transcript_.push_back("! closed");
          closed_ = true;
          return;
        case action::start_tls:
          emit(out);
          out.clear();
          transcript_.push_back("! tls");
          fsm_.on_tls_started();
          return;
        case action::lookup_secrets: {
          static const auto secrets = sasl::make_scram_secrets("pencil", "salt", 4096);
          a = fsm_.on_scram_secrets(secrets, "N", out);
          break;
        }
        case action::authenticate: {
          auth_outcome r;
          const auto& c = fsm_.pending_credentials();
          auto it = d_.users.find(c.username);
          if (d_.throttle)
            r.k = auth_outcome::kind::throttled;
          else if (it != d_.users.end() && it->second.first == c.password.expose()) {
            r.k = auth_outcome::kind::success;
            r.account = it->second.second;
          }
          a = fsm_.on_auth_result(r, out);
          break;
        }
        case action::check_mail: {
          verdict v;
          if (auto it = d_.reject_mail.find(fsm_.pending_mail().from.str()); it != d_.reject_mail.end())
            v.reject = it->second;
          a = fsm_.on_mail_verdict(v, out);
          break;
        }
        case action::check_rcpt: {
          verdict v;
          if (auto it = d_.reject_rcpt.find(fsm_.pending_rcpt().to.str()); it != d_.reject_rcpt.end())
            v.reject = it->second;
          a = fsm_.on_rcpt_verdict(v, out);
          break;
        }
        case action::receive_data: {
          emit(out);
          out.clear();
          data_reader r(data_reader::mode::dot_terminated, fsm_.max_message_bytes());
          std::string content;
          auto used = r.feed(data_, content);
          data_.erase(0, used);
          if (!r.done()) ADD_FAILURE() << "DATA content not terminated";
          auto e = data_error_reply(r.err());
          a = fsm_.on_message_result(e ? *e : replies::queued(next_id()), out);
          break;
        }
        case action::receive_bdat:
        case action::discard_bdat: {
          const auto n = fsm_.bdat().size;
          if (data_.size() < n) ADD_FAILURE() << "BDAT wants " << n << " octets, have " << data_.size();
          std::string chunk = data_.substr(0, n);
          data_.erase(0, n);
          if (a == action::discard_bdat) {
            a = action::read;
            break;
          }
          if (!bdat_) bdat_ = std::make_unique<data_reader>(data_reader::mode::chunked, fsm_.max_message_bytes());
          std::string content;
          bdat_->feed(chunk, content);
          if (!fsm_.bdat().last) {
            a = fsm_.on_bdat_chunk(out);
            break;
          }
          bdat_->finish(content);
          auto e = data_error_reply(bdat_->err());
          bdat_.reset();
          a = fsm_.on_message_result(e ? *e : replies::queued(next_id()), out);
          break;
        }
      }
    }
  }

  std::string next_id() { return "TESTID" + std::to_string(++ids_); }

  dialogue& d_;
  server_fsm fsm_;
  std::string data_;
  std::unique_ptr<data_reader> bdat_;
  std::vector<std::string> transcript_;
  bool closed_ = false;
  int ids_ = 0;
};

std::string join(const std::vector<std::string>& v) {
  std::ostringstream s;
  for (auto& l : v) s << l << "\n";
  return s.str();
}

}  // namespace

TEST(golden_dialogues, all_files_match) {
  std::filesystem::path dir = std::filesystem::path(SMTPSD_SOURCE_DIR) / "tests" / "golden";
  int files = 0;
  for (auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".txt") continue;
    ++files;
    auto d = load(entry.path());
    runner r(d);
    EXPECT_EQ(join(r.run()), join(d.expected)) << "in " << entry.path().filename();
  }
  EXPECT_GE(files, 5);
}
