#pragma once
// RFC 5322 header sections: split into fields, find fields by name. With
// RFC 6532, field bodies may hold UTF-8.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smtpsd::message {

struct header_field {
  std::string_view name;   // as written
  std::string_view value;  // after the colon, up to (not including) the final CRLF; folding kept
  std::string_view raw;    // the whole field including its final CRLF
};

// The header section: every line ends in CRLF; it excludes the empty line
// that separates it from the body. nullopt when a line is neither a field
// nor a continuation.
std::optional<std::vector<header_field>> parse_header_section(std::string_view section);

const header_field* find_field(const std::vector<header_field>& fields, std::string_view name);
std::size_t count_fields(const std::vector<header_field>& fields, std::string_view name);

// Unfolds a field value: CRLF before WSP removed, outer whitespace trimmed.
std::string unfold(std::string_view value);

// Folds a field so no line exceeds `width` octets where whitespace allows.
std::string fold_field(std::string_view name, std::string_view value, std::size_t width = 78);

// Splits streamed content into its header section and body. Feed chunks;
// once the empty line is seen, header_done() is true and body bytes follow.
class header_splitter {
 public:
  explicit header_splitter(std::size_t max_header_bytes) : max_(max_header_bytes) {}
  // Appends header bytes to the internal buffer until the separator; returns
  // the part of `in` that belongs to the body (empty until header_done()).
  std::string_view feed(std::string_view in);
  bool header_done() const { return done_; }
  bool too_big() const { return too_big_; }
  // The header section (without the separating empty line).
  const std::string& section() const { return header_; }
  // Called at the end of the content: a message with no empty line is all header.
  void finish() { done_ = true; }

 private:
  std::size_t max_;
  std::string header_;
  bool done_ = false;
  bool too_big_ = false;
};

}  // namespace smtpsd::message
