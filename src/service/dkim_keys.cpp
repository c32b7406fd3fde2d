#include "service/dkim_keys.hpp"

namespace smtpsd::service {

namespace {

constexpr std::string_view prefix = "dkim/";
constexpr std::string_view keys_json = "/keys.json";

// The keystore's files as the store's shared files, under "dkim/".
class stored_key_files final : public dkim::key_files {
 public:
  explicit stored_key_files(std::shared_ptr<store::account_store> a) : a_(std::move(a)) {}
  std::optional<std::string> read(const std::string& path) const override {
    return a_->read_shared_file(std::string(prefix) + path);
  }
  void write(const std::string& path, const std::string& data) override {
    a_->write_shared_file(std::string(prefix) + path, data);
  }
  void remove(const std::string& path) override { a_->remove_shared_file(std::string(prefix) + path); }
  std::vector<std::string> domains() const override {
    std::vector<std::string> out;
    for (auto& p : a_->shared_files(keys_json))
      if (p.size() > prefix.size() + keys_json.size() && p.starts_with(prefix))
        out.push_back(p.substr(prefix.size(), p.size() - prefix.size() - keys_json.size()));
    return out;
  }
  // The store's change counter (read at most every 500 ms): any write of a
  // shared file moves it, so a key made or rotated on another node is used
  // here within a second.
  std::string version(const std::string&) const override { return "g" + std::to_string(a_->generation()); }
  std::string describe(const std::string& path) const override { return "shared store: " + std::string(prefix) + path; }

 private:
  std::shared_ptr<store::account_store> a_;
};

}  // namespace

std::shared_ptr<dkim::key_files> dkim_files(const config::config& c, const store::stores& s) {
  if (c.storage.backend == "postgres") return std::make_shared<stored_key_files>(s.accounts);
  return std::make_shared<dkim::folder_key_files>(c.data_dir / "dkim");
}

}  // namespace smtpsd::service
