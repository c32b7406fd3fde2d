#include "dkim/keystore.hpp"

#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "base/strings.hpp"

namespace smtpsd::dkim {

namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error(p.string() + ": cannot read");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_private(const fs::path& p, const std::string& text) {
  const auto tmp = p.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(tmp + ": cannot write");
    ::chmod(tmp.c_str(), 0600);
    out << text;
    if (!out.flush()) throw std::runtime_error(tmp + ": cannot write");
  }
  fs::rename(tmp, p);
}

algorithm parse_alg(const std::string& s, const fs::path& file) {
  if (s == "ed25519") return algorithm::ed25519;
  if (s == "rsa") return algorithm::rsa;
  throw std::runtime_error(file.string() + ": unknown algorithm \"" + s + "\"");
}

}  // namespace

keystore::keystore(fs::path dir) : dir_(std::move(dir)) {}

fs::path keystore::domain_dir(const std::string& domain) const { return dir_ / base::to_lower(domain); }

std::vector<key_info> keystore::read(const std::string& domain) const {
  const auto file = domain_dir(domain) / "keys.json";
  if (!fs::exists(file)) return {};
  std::vector<key_info> out;
  try {
    auto j = nlohmann::json::parse(read_file(file));
    for (auto& k : j.at("keys"))
      out.push_back({k.at("selector"), parse_alg(k.at("algorithm"), file), k.at("state"), k.at("created"),
                     k.value("record", "")});
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(file.string() + ": " + e.what());
  }
  return out;
}

void keystore::write(const std::string& domain, const std::vector<key_info>& keys) const {
  nlohmann::json j;
  j["keys"] = nlohmann::json::array();
  for (auto& k : keys)
    j["keys"].push_back({{"selector", k.selector}, {"algorithm", to_string(k.alg)}, {"state", k.state},
                         {"created", k.created}, {"record", k.record}});
  write_private(domain_dir(domain) / "keys.json", j.dump(2) + "\n");
}

std::vector<key_info> keystore::make_pair(const std::string& domain, const std::string& state, const std::string& now) {
  fs::create_directories(domain_dir(domain));
  ::chmod(dir_.c_str(), 0700);
  ::chmod(domain_dir(domain).c_str(), 0700);
  // Selectors count up per domain: smtpsd1e/smtpsd1r, then smtpsd2e/smtpsd2r, …
  unsigned gen = 1;
  for (auto& k : read(domain)) {
    unsigned n = 0;
    if (std::sscanf(k.selector.c_str(), "smtpsd%u", &n) == 1) gen = std::max(gen, n + 1);
  }
  std::vector<key_info> made;
  for (auto a : {algorithm::ed25519, algorithm::rsa}) {
    auto key = generate(a);
    key_info k;
    k.selector = "smtpsd" + std::to_string(gen) + (a == algorithm::ed25519 ? "e" : "r");
    k.alg = a;
    k.state = state;
    k.created = now;
    k.record = dns_record(a, key);
    write_private(domain_dir(domain) / (k.selector + ".pem"), private_pem(key));
    made.push_back(k);
  }
  return made;
}

std::vector<key_info> keystore::ensure(const std::string& domain, const std::string& now) {
  auto keys = read(domain);
  if (!keys.empty()) return keys;
  keys = make_pair(domain, "active", now);
  write(domain, keys);
  return keys;
}

std::vector<key_info> keystore::list(const std::string& domain) const { return read(domain); }

std::vector<key_info> keystore::rotate(const std::string& domain, const std::string& now) {
  auto keys = read(domain);
  if (keys.empty()) throw std::runtime_error(domain + " has no DKIM keys");
  std::erase_if(keys, [&](const key_info& k) {
    if (k.state != "pending") return false;
    fs::remove(domain_dir(domain) / (k.selector + ".pem"));
    return true;
  });
  auto made = make_pair(domain, "pending", now);
  keys.insert(keys.end(), made.begin(), made.end());
  write(domain, keys);
  return made;
}

void keystore::activate_pending(const std::string& domain) {
  auto keys = read(domain);
  bool any = false;
  for (auto& k : keys) any = any || k.state == "pending";
  if (!any) return;
  for (auto& k : keys) {
    if (k.state == "active") k.state = "published";
    else if (k.state == "pending") k.state = "active";
  }
  write(domain, keys);
}

std::size_t keystore::retire(const std::string& domain) {
  auto keys = read(domain);
  std::size_t n = 0;
  std::erase_if(keys, [&](const key_info& k) {
    if (k.state != "published") return false;
    fs::remove(domain_dir(domain) / (k.selector + ".pem"));
    ++n;
    return true;
  });
  write(domain, keys);
  return n;
}

std::vector<std::string> keystore::domains() const {
  std::vector<std::string> out;
  if (!fs::exists(dir_)) return out;
  for (auto& e : fs::directory_iterator(dir_))
    if (e.is_directory() && fs::exists(e.path() / "keys.json")) out.push_back(e.path().filename().string());
  return out;
}

std::vector<signing_key> keystore::signing_keys(const std::string& raw_domain) {
  const auto domain = base::to_lower(raw_domain);
  const auto file = domain_dir(domain) / "keys.json";
  std::error_code ec;
  const auto mtime = fs::last_write_time(file, ec);
  std::lock_guard l(mu_);
  if (ec) {
    cache_.erase(domain);
    return {};
  }
  if (auto it = cache_.find(domain); it != cache_.end() && it->second.mtime == mtime) return it->second.keys;
  std::vector<signing_key> keys;
  for (auto& k : read(domain)) {
    if (k.state != "active") continue;
    const auto pem_file = domain_dir(domain) / (k.selector + ".pem");
    keys.push_back({domain, k.selector, k.alg, load_private(read_file(pem_file), k.alg, pem_file.string())});
  }
  std::stable_sort(keys.begin(), keys.end(), [](auto& a, auto& b) { return a.alg == algorithm::ed25519 && b.alg != algorithm::ed25519; });
  cache_[domain] = {mtime, keys};
  return keys;
}

void keystore::check_all() {
  for (auto& d : domains()) signing_keys(d);
}

}  // namespace smtpsd::dkim
