#include "cli/probe_report.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include <ctime>
#include <cstdlib>

#include "base/strings.hpp"
#include "delivery/smtp_client.hpp"
#include "net/tls.hpp"

namespace smtpsd::cli {

namespace {

using delivery::response;
using delivery::smtp_client;
using delivery::timeouts;

// Every co_await result below is a named local (see worker_pool.hpp on GCC 12).

const char* probe_name = "smtpsd-probe.invalid";

ehlo_info to_info(const smtp::capabilities& c) {
  ehlo_info e;
  e.extensions = c.keywords;
  e.size = c.size;
  e.auth = c.auth;
  return e;
}

std::string x509_name(X509_NAME* n) {
  BIO* b = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
  char* p = nullptr;
  long len = BIO_get_mem_data(b, &p);
  std::string out(p, static_cast<std::size_t>(len));
  BIO_free(b);
  return out;
}

certificate_info describe_cert(X509* x) {
  certificate_info c;
  c.subject = x509_name(X509_get_subject_name(x));
  c.issuer = x509_name(X509_get_issuer_name(x));
  if (auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
      if (g->type == GEN_DNS) {
        c.names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)),
                             static_cast<std::size_t>(ASN1_STRING_length(g->d.dNSName)));
      } else if (g->type == GEN_IPADD) {
        const auto* d = ASN1_STRING_get0_data(g->d.iPAddress);
        const int n = ASN1_STRING_length(g->d.iPAddress);
        boost::system::error_code ec;
        if (n == 4) {
          c.names.push_back(net::asio::ip::address_v4({d[0], d[1], d[2], d[3]}).to_string());
        } else if (n == 16) {
          net::asio::ip::address_v6::bytes_type b;
          std::copy(d, d + 16, b.begin());
          c.names.push_back(net::asio::ip::address_v6(b).to_string());
        }
      }
    }
    GENERAL_NAMES_free(sans);
  }
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
    const auto t = timegm(&tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    c.not_after = buf;
    c.days_left = static_cast<long>((t - std::time(nullptr)) / 86400);
  }
  if (EVP_PKEY* k = X509_get0_pubkey(x)) {
    c.key_type = EVP_PKEY_get0_type_name(k) ? EVP_PKEY_get0_type_name(k) : "?";
    c.key_bits = EVP_PKEY_get_bits(k);
  }
  return c;
}

std::shared_ptr<net::ssl::context> probe_context() {
  // No verification during the handshake (we want to see bad certificates),
  // but the system CAs loaded so the verdict is computed all the same.
  net::client_tls_options o;
  o.verify = false;
  auto ctx = net::make_client_context(o);
  ctx->set_default_verify_paths();
  if (const char* f = std::getenv("SSL_CERT_FILE")) {
    boost::system::error_code ec;
    ctx->load_verify_file(f, ec);
  }
  SSL_CTX_set_session_cache_mode(ctx->native_handle(), SSL_SESS_CACHE_CLIENT);
  return ctx;
}

std::shared_ptr<net::ssl::context> legacy_context(bool old_versions) {
  net::client_tls_options o;
  o.verify = false;
  o.allow_legacy = true;
  auto ctx = net::make_client_context(o);
  if (old_versions) {
    SSL_CTX_set_max_proto_version(ctx->native_handle(), TLS1_1_VERSION);
  } else {
    // TLS 1.2 with RSA key exchange only: no forward secrecy.
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(ctx->native_handle(), "kRSA:@SECLEVEL=0");
  }
  return ctx;
}

class prober {
 public:
  prober(const base::host_port& t, const probe_options& o, probe_report& r) : t_(t), o_(o), r_(r) {}

  net::awaitable<void> run() {
    r_.target = t_.to_string();
    std::string mode = o_.mode;
    if (mode == "auto") {
      auto detected = co_await detect();
      mode = detected;
    }
    if (mode == "closed" || mode == "unknown") {
      r_.mode = mode;
      co_return;
    }
    r_.mode = mode;
    co_await full_session(mode);
    if (o_.thorough && !r_.tls_version.empty()) co_await tls_checks(mode);
    if (r_.valid_for_host && !*r_.valid_for_host)
      r_.warnings.push_back("certificate not valid for " + t_.host + ": " + r_.verify_error);
    if (!r_.chain.empty() && r_.chain.front().days_left < 21)
      r_.warnings.push_back(fmt::format("certificate expires in {} days ({})", r_.chain.front().days_left,
                                        r_.chain.front().not_after));
  }

 private:
  net::duration short_wait() const { return std::min<net::duration>(o_.timeout, std::chrono::seconds(3)); }

  // Which mode: implicit TLS answers a ClientHello; SMTP speaks first.
  net::awaitable<std::string> detect() {
    const bool tls_first = t_.port == 465 || t_.port == 2465;
    if (tls_first) {
      auto ok = co_await tls_answers();
      if (ok == "yes") co_return std::string("implicit-tls");
      if (ok == "closed") co_return std::string("closed");
    }
    auto d = co_await smtp_client::dial(t_, o_.timeout);
    if (!d.first) {
      r_.error = d.second;
      co_return std::string("closed");
    }
    auto banner = co_await d.first->read_reply(short_wait());
    if (!banner.io_error) {
      auto hello = co_await d.first->hello(probe_name);
      const bool starttls = hello.ok() && d.first->capabilities().starttls;
      co_await d.first->quit();
      co_return std::string(starttls ? "starttls" : "plain");
    }
    const std::string text = banner.reply.lines.empty() ? std::string{} : banner.reply.lines.front();
    d.first->stream().close_now();
    if (text.find("timed out") == std::string::npos) {
      auto q = text.find('"');
      r_.error = t_.to_string() + " does not speak SMTP (it sent " + (q == std::string::npos ? text : text.substr(q)) + ")";
      co_return std::string("unknown");
    }
    if (!tls_first) {
      auto ok = co_await tls_answers();
      if (ok == "yes") co_return std::string("implicit-tls");
    }
    r_.error = fmt::format("{} accepted the connection but sent no SMTP greeting and did not answer TLS",
                           t_.to_string());
    co_return std::string("unknown");
  }

  net::awaitable<std::string> tls_answers() {
    auto d = co_await smtp_client::dial(t_, o_.timeout);
    if (!d.first) {
      r_.error = d.second;
      co_return std::string("closed");
    }
    auto ctx = probe_context();
    timeouts t;
    t.connect = t.command = t.data = short_wait();
    d.first->set_timeouts(t);
    auto why = co_await d.first->handshake(*ctx, t_.host, false);
    d.first->stream().close_now();
    co_return std::string(why.empty() ? "yes" : "no");
  }

  void record_tls(SSL* ssl) {
    auto info = net::describe(ssl);
    r_.tls_version = info.version;
    r_.cipher = info.cipher;
    r_.group = info.group;
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
      for (int i = 0; i < sk_X509_num(chain); ++i) r_.chain.push_back(describe_cert(sk_X509_value(chain, i)));
    }
    X509* leaf = SSL_get0_peer_certificate(ssl);
    const long v = SSL_get_verify_result(ssl);
    bool name_ok = false;
    if (leaf) {
      boost::system::error_code not_ip;
      net::asio::ip::make_address(t_.host, not_ip);
      name_ok = not_ip ? X509_check_host(leaf, t_.host.c_str(), t_.host.size(), 0, nullptr) == 1
                       : X509_check_ip_asc(leaf, t_.host.c_str(), 0) == 1;
    }
    r_.valid_for_host = leaf && v == X509_V_OK && name_ok;
    if (!leaf) r_.verify_error = "no certificate";
    else if (v != X509_V_OK) r_.verify_error = X509_verify_cert_error_string(v);
    else if (!name_ok) r_.verify_error = "the certificate does not name " + t_.host;
  }

  net::awaitable<void> full_session(const std::string& mode) {
    auto d = co_await smtp_client::dial(t_, o_.timeout);
    if (!d.first) {
      r_.mode = "closed";
      r_.error = d.second;
      co_return;
    }
    auto& c = *d.first;
    auto ctx = ctx_;  // the resumption check must use the same context
    if (mode == "implicit-tls") {
      auto why = co_await c.handshake(*ctx, t_.host, false);
      if (!why.empty()) {
        r_.error = why;
        co_return;
      }
    }
    auto banner = co_await c.read_reply(short_wait());
    if (!banner.ok()) {
      r_.error = banner.io_error ? "no SMTP greeting: " + banner.summary() : "greeting refused: " + banner.summary();
      if (c.stream().tls_active()) record_tls(c.stream().ssl_handle());
      co_return;
    }
    r_.banner = banner.summary();
    auto hello = co_await c.hello(probe_name);
    if (!hello.ok()) {
      r_.error = "EHLO refused: " + hello.summary();
      co_return;
    }
    if (mode == "implicit-tls") {
      r_.ehlo = to_info(c.capabilities());
    } else {
      r_.ehlo_before_tls = to_info(c.capabilities());
      if (!c.capabilities().auth.empty()) r_.warnings.push_back("AUTH offered before TLS");
      if (mode == "starttls") {
        if (!c.capabilities().starttls) {
          r_.error = "STARTTLS is not offered";
          co_return;
        }
        // CVE-2011-0411: HELP pipelined behind STARTTLS in plaintext must be
        // thrown away; a server that answers it inside TLS executed it.
        auto r = co_await c.starttls_with("HELP\r\n", *ctx, t_.host, false);
        if (!r.ok()) {
          r_.error = "STARTTLS failed: " + r.summary();
          co_return;
        }
        const std::string ehlo = std::string("EHLO ") + probe_name;
        auto first = co_await c.command(ehlo);
        if (!first.io_error && first.reply.code != 250) {
          r_.warnings.push_back("plaintext pipelined before STARTTLS was executed inside TLS (CVE-2011-0411)");
          first = co_await c.read_reply();
        }
        if (!first.ok()) {
          r_.error = "EHLO after STARTTLS refused: " + first.summary();
          co_return;
        }
        r_.ehlo = to_info(smtp::parse_ehlo(first.reply));
      } else {
        r_.ehlo = r_.ehlo_before_tls;
      }
    }
    if (c.stream().tls_active()) {
      record_tls(c.stream().ssl_handle());
      session_ = SSL_get1_session(c.stream().ssl_handle());
    }
    if (o_.thorough) {
      // An open relay takes mail between outside domains without AUTH; never any data.
      const std::string mail = "MAIL FROM:<smtpsd-probe@example.com>";
      auto m = co_await c.command(mail);
      if (m.ok()) {
        const std::string rcpt = "RCPT TO:<smtpsd-probe@example.net>";
        auto rc = co_await c.command(rcpt);
        if (rc.ok()) r_.warnings.push_back("open relay: MAIL and RCPT to an outside domain accepted without AUTH");
      }
      auto rs = co_await c.command("RSET");
      (void)rs;
    }
    co_await c.quit();
  }

  // A fresh connection up to a finished TLS handshake with `ctx`.
  struct attempt {
    bool ok = false;
    std::string version, cipher;
    bool reused = false;
  };
  net::awaitable<attempt> tls_attempt(const std::string& mode, net::ssl::context& ctx, SSL_SESSION* resume) {
    attempt a;
    auto d = co_await smtp_client::dial(t_, o_.timeout);
    if (!d.first) co_return a;
    auto& c = *d.first;
    if (mode == "starttls") {
      auto banner = co_await c.read_reply(short_wait());
      if (!banner.ok()) co_return a;
      auto hello = co_await c.hello(probe_name);
      if (!hello.ok()) co_return a;
      auto r = co_await c.starttls(ctx, t_.host, false, resume);
      a.ok = r.ok();
    } else {
      auto why = co_await c.handshake(ctx, t_.host, false, resume);
      a.ok = why.empty();
    }
    if (a.ok) {
      auto info = net::describe(c.stream().ssl_handle());
      a.version = info.version;
      a.cipher = info.cipher;
      a.reused = SSL_session_reused(c.stream().ssl_handle()) == 1;
    }
    c.stream().close_now();
    co_return a;
  }

  net::awaitable<void> tls_checks(const std::string& mode) {
    if (session_) {
      auto again = co_await tls_attempt(mode, *ctx_, session_);
      r_.resumption = again.ok && again.reused;
      SSL_SESSION_free(session_);
      session_ = nullptr;
    }
    auto old_ctx = legacy_context(true);
    auto old = co_await tls_attempt(mode, *old_ctx, nullptr);
    if (old.ok) r_.warnings.push_back(old.version + " accepted (only TLS 1.2 and 1.3 are safe)");
    auto weak_ctx = legacy_context(false);
    auto weak = co_await tls_attempt(mode, *weak_ctx, nullptr);
    if (weak.ok) r_.warnings.push_back("cipher without forward secrecy accepted: " + weak.cipher);
  }

  base::host_port t_;
  probe_options o_;
  probe_report& r_;
  SSL_SESSION* session_ = nullptr;
  std::shared_ptr<net::ssl::context> ctx_ = probe_context();
};

}  // namespace

probe_report probe(const base::host_port& target, const probe_options& o) {
  probe_report report;
  net::asio::io_context io;
  prober p(target, o, report);
  std::exception_ptr err;
  net::asio::co_spawn(io, p.run(), [&](std::exception_ptr e) { err = e; });
  io.run();
  if (err) {
    try {
      std::rethrow_exception(err);
    } catch (const std::exception& e) {
      report.error = e.what();
    }
  }
  return report;
}

}  // namespace smtpsd::cli
