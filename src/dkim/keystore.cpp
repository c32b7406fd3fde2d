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

algorithm parse_alg(const std::string& s, const std::string& file) {
  if (s == "ed25519") return algorithm::ed25519;
  if (s == "rsa") return algorithm::rsa;
  throw std::runtime_error(file + ": unknown algorithm \"" + s + "\"");
}

std::string keys_json(const std::string& domain) { return base::to_lower(domain) + "/keys.json"; }
std::string pem_path(const std::string& domain, const std::string& selector) {
  return base::to_lower(domain) + "/" + selector + ".pem";
}

}  // namespace

std::optional<std::string> folder_key_files::read(const std::string& path) const {
  if (!fs::exists(dir_ / path)) return std::nullopt;
  return read_file(dir_ / path);
}

void folder_key_files::write(const std::string& path, const std::string& data) {
  const auto file = dir_ / path;
  fs::create_directories(file.parent_path());
  ::chmod(dir_.c_str(), 0700);
  ::chmod(file.parent_path().c_str(), 0700);
  write_private(file, data);
}

void folder_key_files::remove(const std::string& path) { fs::remove(dir_ / path); }

std::vector<std::string> folder_key_files::domains() const {
  std::vector<std::string> out;
  if (!fs::exists(dir_)) return out;
  for (auto& e : fs::directory_iterator(dir_))
    if (e.is_directory() && fs::exists(e.path() / "keys.json")) out.push_back(e.path().filename().string());
  return out;
}

std::string folder_key_files::version(const std::string& domain) const {
  std::error_code ec;
  const auto mtime = fs::last_write_time(dir_ / keys_json(domain), ec);
  if (ec) return "";
  return std::to_string(mtime.time_since_epoch().count());
}

keystore::keystore(fs::path dir) : files_(std::make_shared<folder_key_files>(std::move(dir))) {}

std::vector<key_info> keystore::read(const std::string& domain) const {
  const auto path = keys_json(domain);
  auto text = files_->read(path);
  if (!text) return {};
  const auto file = files_->describe(path);
  std::vector<key_info> out;
  try {
    auto j = nlohmann::json::parse(*text);
    for (auto& k : j.at("keys"))
      out.push_back({k.at("selector"), parse_alg(k.at("algorithm"), file), k.at("state"), k.at("created"),
                     k.value("record", "")});
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(file + ": " + e.what());
  }
  return out;
}

void keystore::write(const std::string& domain, const std::vector<key_info>& keys) const {
  nlohmann::json j;
  j["keys"] = nlohmann::json::array();
  for (auto& k : keys)
    j["keys"].push_back({{"selector", k.selector}, {"algorithm", to_string(k.alg)}, {"state", k.state},
                         {"created", k.created}, {"record", k.record}});
  files_->write(keys_json(domain), j.dump(2) + "\n");
}

std::vector<key_info> keystore::make_pair(const std::string& domain, const std::string& state, const std::string& now) {
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
    files_->write(pem_path(domain, k.selector), private_pem(key));
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
    files_->remove(pem_path(domain, k.selector));
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
    files_->remove(pem_path(domain, k.selector));
    ++n;
    return true;
  });
  write(domain, keys);
  return n;
}

std::vector<std::string> keystore::domains() const { return files_->domains(); }

std::vector<signing_key> keystore::signing_keys(const std::string& raw_domain) {
  const auto domain = base::to_lower(raw_domain);
  const auto version = files_->version(domain);
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard l(mu_);
  if (version.empty()) {
    cache_[domain] = {"", {}, now};
    return {};
  }
  if (auto it = cache_.find(domain); it != cache_.end() && it->second.version == version) {
    it->second.checked = now;
    return it->second.keys;
  }
  std::vector<signing_key> keys;
  for (auto& k : read(domain)) {
    if (k.state != "active") continue;
    const auto path = pem_path(domain, k.selector);
    auto pem = files_->read(path);
    if (!pem) throw std::runtime_error(files_->describe(path) + ": cannot read");
    keys.push_back({domain, k.selector, k.alg, load_private(*pem, k.alg, files_->describe(path))});
  }
  std::stable_sort(keys.begin(), keys.end(), [](auto& a, auto& b) { return a.alg == algorithm::ed25519 && b.alg != algorithm::ed25519; });
  cache_[domain] = {version, keys, now};
  return keys;
}

bool keystore::may_sign(const std::string& raw_domain) {
  const auto domain = base::to_lower(raw_domain);
  std::lock_guard l(mu_);
  auto it = cache_.find(domain);
  if (it == cache_.end() || std::chrono::steady_clock::now() - it->second.checked > std::chrono::seconds(1)) return true;
  return !it->second.keys.empty();
}

void keystore::check_all() {
  for (auto& d : domains()) signing_keys(d);
}

}  // namespace smtpsd::dkim
