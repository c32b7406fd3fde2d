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

// RFC 7677 over scram_server. RFC 4954 has no "additional data with success":
// the server-final message goes out as one more challenge, and the client's
// empty answer to it ends the exchange.
class scram final : public mechanism {
 public:
  scram(bool plus, std::string exporter, bool offered) : s_(plus, std::move(exporter), offered) {}

  step_result start(std::optional<std::string_view> initial) override {
    if (!initial || initial->empty()) return challenge("");
    return first(*initial);
  }
  step_result step(std::string_view response) override {
    switch (st_) {
      case state::first:
        return first(response);
      case state::lookup:
        return fail("unexpected SCRAM message");
      case state::final_msg: {
        st_ = state::over;
        auto r = s_.client_final(response);
        if (!r.ok) return proven(false, std::move(r.message));
        st_ = state::ack;
        return challenge(std::move(r.message));
      }
      case state::ack:
        st_ = state::over;
        if (!response.empty()) return fail("SCRAM exchange not ended with an empty response");
        return proven(true, {});
      case state::over:
        break;
    }
    return fail("unexpected SCRAM message");
  }
  step_result secrets(const scram_secrets& sec, std::string_view server_nonce) override {
    if (st_ != state::lookup) return fail("unexpected SCRAM secrets");
    st_ = state::final_msg;
    return challenge(s_.server_first(sec, server_nonce));
  }

 private:
  step_result first(std::string_view msg) {
    auto r = s_.client_first(msg);
    if (!r.ok) return fail(std::move(r.message));
    st_ = state::lookup;
    step_result out;
    out.k = step_result::kind::lookup;
    out.creds.username = s_.username();
    return out;
  }
  step_result proven(bool ok, std::string reason) {
    step_result out;
    out.k = step_result::kind::done;
    out.creds.username = s_.username();
    out.proof = ok;
    out.reason = std::move(reason);
    return out;
  }

  scram_server s_;
  enum class state { first, lookup, final_msg, ack, over } st_ = state::first;
};

}  // namespace

step_result mechanism::secrets(const scram_secrets&, std::string_view) { return fail("no secrets expected"); }

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

std::unique_ptr<mechanism> make_mechanism(std::string_view name, const channel_binding& cb) {
  if (base::iequals(name, "PLAIN")) return std::make_unique<plain>();
  if (base::iequals(name, "LOGIN")) return std::make_unique<login>();
  if (base::iequals(name, "SCRAM-SHA-256")) return std::make_unique<scram>(false, std::string{}, cb.offered);
  if (base::iequals(name, "SCRAM-SHA-256-PLUS") && cb.offered && cb.tls_exporter) {
    auto exporter = cb.tls_exporter();
    if (!exporter.empty()) return std::make_unique<scram>(true, std::move(exporter), true);
  }
  return nullptr;
}

std::string_view advertised_mechanisms(const channel_binding& cb) {
  return cb.offered ? "PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS" : "PLAIN LOGIN SCRAM-SHA-256";
}

}  // namespace smtpsd::sasl
