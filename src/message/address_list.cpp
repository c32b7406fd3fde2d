#include "message/address_list.hpp"

#include <cstring>

namespace smtpsd::message {

namespace {

enum class tok { word, quoted, literal, special, end };

struct token {
  tok kind = tok::end;
  std::string_view text;
};

bool is_atext(unsigned char c) {
  if (c >= 0x80) return true;  // RFC 6532
  if (std::isalnum(c)) return true;
  return c != 0 && std::strchr("!#$%&'*+-/=?^_`{|}~.", c) != nullptr;  // '.' kept inside words (obs-phrase, dot-atom)
}

class lexer {
 public:
  explicit lexer(std::string_view s) : s_(s) {}
  // false on malformed input (unterminated quote, comment or literal).
  bool next(token& t) {
    if (!skip_cfws()) return false;
    if (i_ >= s_.size()) {
      t = {tok::end, {}};
      return true;
    }
    const std::size_t start = i_;
    const char c = s_[i_];
    if (c == '"') {
      for (++i_; i_ < s_.size(); ++i_) {
        if (s_[i_] == '\\') {
          ++i_;
        } else if (s_[i_] == '"') {
          ++i_;
          t = {tok::quoted, s_.substr(start, i_ - start)};
          return true;
        }
      }
      return false;
    }
    if (c == '[') {
      auto close = s_.find(']', i_);
      if (close == std::string_view::npos) return false;
      i_ = close + 1;
      t = {tok::literal, s_.substr(start, i_ - start)};
      return true;
    }
    if (std::strchr("<>@,;:", c)) {
      ++i_;
      t = {tok::special, s_.substr(start, 1)};
      return true;
    }
    while (i_ < s_.size() && is_atext(static_cast<unsigned char>(s_[i_]))) ++i_;
    if (i_ == start) return false;  // a character that fits nowhere
    t = {tok::word, s_.substr(start, i_ - start)};
    return true;
  }

 private:
  bool skip_cfws() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        ++i_;
      } else if (c == '(') {
        int depth = 0;
        for (; i_ < s_.size(); ++i_) {
          if (s_[i_] == '\\') {
            ++i_;
          } else if (s_[i_] == '(') {
            ++depth;
          } else if (s_[i_] == ')' && --depth == 0) {
            break;
          }
        }
        if (i_ >= s_.size()) return false;
        ++i_;
      } else {
        break;
      }
    }
    return true;
  }
  std::string_view s_;
  std::size_t i_ = 0;
};

class parser {
 public:
  explicit parser(std::string_view s) : lex_(s) {}

  std::optional<std::vector<std::string>> parse() {
    if (!advance()) return std::nullopt;
    for (;;) {
      if (cur_.kind == tok::end) return out_;
      if (is(",")) {  // empty list element (obs-addr-list)
        if (!advance()) return std::nullopt;
        continue;
      }
      if (!address(false)) return std::nullopt;
      if (cur_.kind == tok::end) return out_;
      if (!is(",") || !advance()) return std::nullopt;
    }
  }

 private:
  bool advance() { return lex_.next(cur_); }
  bool is(std::string_view s) const { return cur_.kind == tok::special && cur_.text == s; }

  // mailbox or group
  bool address(bool in_group) {
    std::vector<token> phrase;
    while (cur_.kind == tok::word || cur_.kind == tok::quoted) {
      phrase.push_back(cur_);
      if (!advance()) return false;
    }
    if (is(":")) {
      if (in_group || phrase.empty()) return false;
      if (!advance()) return false;
      for (;;) {
        if (is(";")) return advance();
        if (cur_.kind == tok::end) return true;  // tolerate a missing ';'
        if (is(",")) {
          if (!advance()) return false;
          continue;
        }
        if (!address(true)) return false;
        if (!is(",") && !is(";")) return false;
      }
    }
    if (is("<")) {
      if (!advance()) return false;
      // obs-route: "@a,@b:"
      if (is("@")) {
        while (!is(":")) {
          if (cur_.kind == tok::end) return false;
          if (!advance()) return false;
        }
        if (!advance()) return false;
      }
      std::vector<token> local;
      while (cur_.kind == tok::word || cur_.kind == tok::quoted) {
        local.push_back(cur_);
        if (!advance()) return false;
      }
      if (!addr_spec(local)) return false;
      if (!is(">")) return false;
      return advance();
    }
    return addr_spec(phrase);
  }

  // local "@" domain, with the local part's words already read.
  bool addr_spec(const std::vector<token>& local) {
    if (local.empty() || !is("@")) return false;
    if (!advance()) return false;
    if (cur_.kind != tok::word && cur_.kind != tok::literal) return false;
    std::string addr;
    for (auto& t : local) addr += t.text;  // obs-local-part: words joined by dots
    addr += '@';
    addr += cur_.text;
    if (addr.front() == '.' || addr.find("..") != std::string::npos) return false;
    out_.push_back(std::move(addr));
    return advance();
  }

  lexer lex_;
  token cur_;
  std::vector<std::string> out_;
};

}  // namespace

std::optional<std::vector<std::string>> parse_address_list(std::string_view value) { return parser(value).parse(); }

}  // namespace smtpsd::message
