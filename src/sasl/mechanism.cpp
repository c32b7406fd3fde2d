#include "sasl/mechanism.hpp"

#include "base/strings.hpp"

namespace smtpsd::sasl {

namespace {

constexpr std::size_t max_field = 255;

step_result fail(std::string reason) {
  step_result r;
  r.k = step_result::kind::failed;
  r.reason = std::move(reason);
  return r;
}

step_result challenge(std::string c) {
  step_result r;
  r.k = step_result::kind::challenge;
  r.challenge = std::move(c);
  return r;
}

step_result done(credentials c) {
  step_result r;
  r.k = step_result::kind::done;
  r.creds = std::move(c);
  return r;
}

class plain final : public mechanism {
 public:
  step_result start(std::optional<std::string_view> initial) override {
    if (!initial) return challenge("");
    return step(*initial);
  }
  step_result step(std::string_view response) override {
    auto c = parse_plain(response);
    if (!c) return fail("malformed PLAIN message");
    return done(std::move(*c));
  }
};

class login final : public mechanism {
 public:
  step_result start(std::optional<std::string_view> initial) override {
    if (!initial) return challenge("Username:");
    return step(*initial);
  }
  step_result step(std::string_view response) override {
    if (!have_user_) {
      if (response.empty() || response.size() > max_field || response.find('\0') != std::string_view::npos)
        return fail("malformed LOGIN username");
      user_ = std::string(response);
      have_user_ = true;
      return challenge("Password:");
    }
    if (response.size() > max_field || response.find('\0') != std::string_view::npos)
      return fail("malformed LOGIN password");
    return done(credentials{std::move(user_), base::secret_string(std::string(response))});
  }

 private:
  bool have_user_ = false;
  std::string user_;
};

}  // namespace

std::optional<credentials> parse_plain(std::string_view message) {
  // message = [authzid] NUL authcid NUL passwd
  auto first = message.find('\0');
  if (first == std::string_view::npos) return std::nullopt;
  auto second = message.find('\0', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  auto authzid = message.substr(0, first);
  auto authcid = message.substr(first + 1, second - first - 1);
  auto passwd = message.substr(second + 1);
  if (authcid.empty() || authcid.size() > max_field || passwd.size() > max_field) return std::nullopt;
  if (passwd.find('\0') != std::string_view::npos) return std::nullopt;
  // No proxy authorization: authzid must be absent or name the same user.
  if (!authzid.empty() && authzid != authcid) return std::nullopt;
  if (!base::valid_utf8(authcid) || !base::valid_utf8(passwd)) return std::nullopt;
  return credentials{std::string(authcid), base::secret_string(std::string(passwd))};
}

std::unique_ptr<mechanism> make_mechanism(std::string_view name) {
  if (base::iequals(name, "PLAIN")) return std::make_unique<plain>();
  if (base::iequals(name, "LOGIN")) return std::make_unique<login>();
  return nullptr;
}

std::string_view advertised_mechanisms() { return "PLAIN LOGIN"; }

}  // namespace smtpsd::sasl
