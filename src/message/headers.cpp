#include "message/headers.hpp"

#include <cstring>

#include "base/strings.hpp"

namespace smtpsd::message {

namespace {
bool is_ftext(unsigned char c) { return c >= 33 && c <= 126 && c != ':'; }
}  // namespace

std::optional<std::vector<header_field>> parse_header_section(std::string_view section) {
  std::vector<header_field> fields;
  fields.reserve(16);  // one allocation for a usual message's fields, not five
  std::size_t pos = 0;
  while (pos < section.size()) {
    const std::size_t start = pos;
    // Field name up to the colon.
    std::size_t i = pos;
    while (i < section.size() && is_ftext(static_cast<unsigned char>(section[i]))) ++i;
    std::size_t name_end = i;
    while (i < section.size() && (section[i] == ' ' || section[i] == '\t')) ++i;  // obs-ftext WSP before colon
    if (i == start || i >= section.size() || section[i] != ':' || name_end == start) return std::nullopt;
    const std::size_t value_start = i + 1;
    // The value runs to a CRLF not followed by WSP.
    std::size_t end = value_start;
    for (;;) {
      auto crlf = section.find("\r\n", end);
      if (crlf == std::string_view::npos) return std::nullopt;  // every line ends in CRLF
      end = crlf + 2;
      if (end < section.size() && (section[end] == ' ' || section[end] == '\t')) continue;
      break;
    }
    auto value = section.substr(value_start, end - 2 - value_start);
    // Bare CR or LF inside a field is malformed.
    for (std::size_t k = 0; k < value.size(); ++k) {
      if (value[k] == '\n' && (k == 0 || value[k - 1] != '\r')) return std::nullopt;
      if (value[k] == '\r' && (k + 1 >= value.size() || value[k + 1] != '\n')) return std::nullopt;
      if (value[k] == '\0') return std::nullopt;
    }
    fields.push_back({section.substr(start, name_end - start), value, section.substr(start, end - start)});
    pos = end;
  }
  return fields;
}

const header_field* find_field(const std::vector<header_field>& fields, std::string_view name) {
  for (auto& f : fields)
    if (base::iequals(f.name, name)) return &f;
  return nullptr;
}

std::size_t count_fields(const std::vector<header_field>& fields, std::string_view name) {
  std::size_t n = 0;
  for (auto& f : fields)
    if (base::iequals(f.name, name)) ++n;
  return n;
}

std::string unfold(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\r' && i + 1 < value.size() && value[i + 1] == '\n') {
      ++i;
      continue;
    }
    out += value[i];
  }
  return std::string(base::trim(out));
}

std::string fold_field(std::string_view name, std::string_view value, std::size_t width) {
  std::string out(name);
  out += ':';
  std::size_t line_len = out.size();
  for (auto word : base::split(value, ' ')) {
    if (word.empty()) continue;
    if (line_len + 1 + word.size() > width && line_len > name.size() + 1) {
      out += "\r\n\t";
      line_len = 1;
    } else {
      out += ' ';
      ++line_len;
    }
    out += word;
    line_len += word.size();
  }
  out += "\r\n";
  return out;
}

std::string_view header_splitter::feed(std::string_view in) {
  if (done_) return in;
  // Line by line (memchr for the LF), not byte by byte: only an LF can end
  // the section. Content that starts with CRLF has an empty header section.
  std::size_t i = 0;
  while (i < in.size()) {
    const auto* lf = static_cast<const char*>(std::memchr(in.data() + i, '\n', in.size() - i));
    const std::size_t stop = lf ? static_cast<std::size_t>(lf - in.data()) : in.size();
    if (header_.size() + (stop - i) > max_) {  // over the limit before the line could end
      too_big_ = true;
      done_ = true;
      return {};
    }
    header_.append(in.data() + i, stop - i);
    if (!lf) return {};
    header_ += '\n';
    const auto n = header_.size();
    if ((n == 2 && header_ == "\r\n") || (n >= 4 && header_.compare(n - 4, 4, "\r\n\r\n") == 0)) {
      header_.resize(n - 2);  // keep the last field's CRLF, drop the empty line
      done_ = true;
      return in.substr(stop + 1);
    }
    if (n > max_) {
      too_big_ = true;
      done_ = true;
      return {};
    }
    i = stop + 1;
  }
  return {};
}

}  // namespace smtpsd::message
