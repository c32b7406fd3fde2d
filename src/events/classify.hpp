#pragma once
// SES's names for why mail bounced or was delayed, from the enhanced status
// code and the reply text, as SES classifies them: a mailbox that does not
// exist (5.1.x) is Permanent/General, a full mailbox Transient/MailboxFull
// whatever its code, a message too large Transient/MessageTooLarge, refused
// content Transient/ContentRejected (AttachmentRejected when the reply names
// an attachment), an expiry after retries Transient/General; a failure with
// no status at all is Undetermined. Pure.
#include <string>
#include <string_view>

namespace smtpsd::events {

struct bounce_class {
  std::string type;      // Permanent, Transient, Undetermined
  std::string sub_type;  // General, NoEmail, Suppressed, MailboxFull, MessageTooLarge, ContentRejected,
                         // AttachmentRejected, Undetermined
  bool operator==(const bounce_class&) const = default;
};

bounce_class classify_bounce(std::string_view status, std::string_view response);

// SES's deliveryDelay.delayType: TransientCommunicationFailure, MailboxFull,
// SpamDetected, RecipientServerError, InternalFailure, General, Undetermined.
std::string classify_delay(std::string_view status, std::string_view response, bool remote);

}  // namespace smtpsd::events
