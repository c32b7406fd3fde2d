#include "events/classify.hpp"

#include "base/strings.hpp"

namespace smtpsd::events {

namespace {

bool mentions(std::string_view response, std::initializer_list<std::string_view> words) {
  const auto lower = base::to_lower(response);
  for (auto w : words)
    if (lower.find(w) != std::string::npos) return true;
  return false;
}

// "5.2.2" -> subject and detail "2.2".
std::string_view detail(std::string_view status) { return status.size() > 2 ? status.substr(2) : std::string_view{}; }

}  // namespace

bounce_class classify_bounce(std::string_view status, std::string_view response) {
  if (status.size() < 5 || (status[0] != '4' && status[0] != '5')) return {"Undetermined", "Undetermined"};
  const auto d = detail(status);
  if (d == "2.2" || mentions(response, {"mailbox full", "mailbox is full", "over quota", "quota exceeded"}))
    return {"Transient", "MailboxFull"};
  if (d == "3.4" || d == "2.3" || mentions(response, {"too large", "too big", "message size"}))
    return {"Transient", "MessageTooLarge"};
  if (mentions(response, {"attachment"})) return {"Transient", "AttachmentRejected"};
  if (d == "7.1" && mentions(response, {"spam", "content", "blocked", "policy", "rejected"}))
    return {"Transient", "ContentRejected"};
  if (d == "6.0" || d == "7.7") return {"Transient", "ContentRejected"};
  if (d == "1.1" && mentions(response, {"suppression list"})) return {"Permanent", "Suppressed"};
  if (status[0] == '4') return {"Transient", "General"};  // retried until the queue age ran out (4.4.7)
  return {"Permanent", "General"};
}

std::string classify_delay(std::string_view status, std::string_view response, bool remote) {
  const auto d = detail(status);
  if (d == "2.2" || mentions(response, {"mailbox full", "over quota"})) return "MailboxFull";
  if (d.starts_with("7.") && mentions(response, {"spam", "reputation", "blocked"})) return "SpamDetected";
  if (remote) return "RecipientServerError";
  if (d == "4.1" || d == "4.2") return "TransientCommunicationFailure";
  if (d.starts_with("3.")) return "InternalFailure";
  if (d == "4.3") return "Undetermined";
  return "General";
}

}  // namespace smtpsd::events
