#pragma once
// What happened to a message, one event per step (SPEC §5). Every field of
// the smtpsd format is present on every event (null where unknown); a bounce
// adds bounce_type and bounce_sub_type, a reject its reason. The rest of the
// struct is kept for the SES format (SES's mail, delivery, bounce and
// deliveryDelay objects) and travels in the stored record, never in the
// smtpsd body.
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.hpp"
#include "base/random.hpp"
#include "store/event_store.hpp"

namespace smtpsd::events {

using tag_list = std::vector<std::pair<std::string, std::string>>;

// The event types, in the order SPEC §5 lists them, then "reputation"
// (SPEC §9: an account's bounce or complaint rate crossed a warning or pause
// threshold; the SES format has no such record and skips it).
inline constexpr const char* types[] = {"send", "reject", "delivery", "bounce", "delivery_delay", "complaint",
                                        "reputation"};
bool known_type(std::string_view t);

// One recipient's part of a delivery, delay or bounce.
struct recipient_result {
  std::string address;
  std::string status;      // enhanced status, "5.1.1"
  std::string diagnostic;  // the reply, "550 5.1.1 no such user"
};

// The message as SES's `mail` object describes it.
struct mail_info {
  base::time_point submitted{};
  std::vector<std::string> destination;  // every envelope recipient
  // The header section as submitted (CRLF lines, folded), cut after the last
  // whole field that fits in max_header_bytes: kept raw, and parsed only by
  // the SES format when it renders (header_fields).
  std::string header_section;
  bool headers_truncated = false;
  std::string client_ip;
};

struct event {
  std::string id;    // event_id: unique, the same on every retry of its POST
  std::string type;  // one of `types`
  base::time_point time{};
  std::string queue_id;
  std::string message_id;
  std::string account;
  std::string from;  // envelope sender; "" is the null sender
  std::vector<std::string> recipients;
  std::string smtp_response;
  std::string remote_mta;
  std::string configuration_set;
  tag_list tags;
  std::string bounce_type;      // bounce: Permanent, Transient, Undetermined
  std::string bounce_sub_type;  // bounce: General, MailboxFull, …
  std::string reason;           // reject: why, for people; complaint: the feedback type; reputation: the rate
  std::string status;           // reputation: "warning" or "paused"
  // delivery, bounce, delivery_delay: how the connection that gave
  // smtp_response was secured; null when none was made or it was plaintext.
  struct tls_info {
    std::string version;  // "TLSv1.3"
    std::string cipher;
    std::string policy;   // "dane", "mta-sts", "opportunistic", "route", "smarthost"
    bool verified = false;
  };
  std::optional<tls_info> tls;

  // Kept for the SES format.
  std::vector<recipient_result> details;
  mail_info mail;
  std::string remote_ip;                       // delivery: the address of remote_mta
  std::chrono::milliseconds processing{0};     // delivery: from submission to the remote's 250
  std::optional<base::time_point> expires;     // delivery_delay: when the message will bounce

  // append_json's object and a newline when already rendered
  // (to_stored_rendering_line), which the journal then writes as it is; else "".
  std::string journal_line;
};

// A new event id: a time-ordered UUID (version 7, RFC 9562).
std::string make_event_id(base::time_point now, base::random_source& random);

// The smtpsd format (SPEC §5): one JSON object, no newline.
std::string to_json(const event& e);
// to_json's object appended to out.
void append_json(std::string& out, const event& e);
// The stored form: the smtpsd format plus what the SES format needs.
std::string to_record(const event& e);
// Back from the stored form; throws std::runtime_error on a record that is not one.
event from_record(std::string_view record);
// The row the event store keeps.
store::stored_event to_stored(const event& e);
// The same, and e's journal_line from the same rendering: a message's send
// event is rendered once, where it is made.
store::stored_event to_stored_rendering_line(event& e);

// An event about a queued message: its ids, account, sender, set, tags and
// the SES mail object (header fields too when `header_section` is given);
// no recipients yet.
event about_message(const store::queued_message& m, std::string type, std::string id, base::time_point now,
                    const std::string* header_section);

// At most this much of the header section is kept for the SES format.
constexpr std::size_t max_header_bytes = 10 * 1024;
// The header section kept of a message's (CRLF lines), cut at max_header_bytes.
mail_info headers_of(std::string_view header_section, mail_info m = {});
// mail_info's header fields: name and unfolded value.
std::vector<std::pair<std::string, std::string>> header_fields(const mail_info& m);

class sink {
 public:
  virtual ~sink() = default;
  // An event that is not part of a store change (a reject): journaled now,
  // stored in the next batch; never blocks.
  virtual void emit(event e) = 0;
  // Events the caller wrote to the store with the change they report (a
  // send with its queued message, outcomes with their recorded attempt):
  // journaled and handed to the webhooks now.
  virtual void stored(std::span<const event> events) = 0;
  // False while events cannot be stored (a full disk): sessions refuse new
  // mail with 452 rather than lose events.
  virtual bool accepting() const { return true; }
  // Whether an SES-format webhook wants the header fields in mail_info.
  virtual bool wants_headers() const { return false; }
};

class null_sink final : public sink {
 public:
  void emit(event) override {}
  void stored(std::span<const event>) override {}
};

}  // namespace smtpsd::events
