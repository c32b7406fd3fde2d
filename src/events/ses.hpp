#pragma once
// The record Amazon SES event publishing sends (its SNS and Firehose
// destinations), so consumers written for SES read smtpsd's events
// unchanged: eventType, mail{timestamp, messageId, source, sourceArn,
// sendingAccountId, destination, headersTruncated, headers, commonHeaders,
// tags}, and one of send{}, reject{reason}, delivery{…}, bounce{…},
// deliveryDelay{…}, complaint{…}. smtpsd's values stand in for SES's own:
// the queue id for messageId, the account name for sendingAccountId, this
// host for the reporting MTA. Tags are lists of strings, as in SES, with
// its ses:configuration-set, ses:source-ip, ses:from-domain and
// ses:caller-identity entries. Pure.
#include <string>

#include "events/event.hpp"

namespace smtpsd::events {

// "Send", "Reject", "Delivery", "Bounce", "DeliveryDelay", "Complaint".
std::string ses_event_type(std::string_view type);
// The whole record: one JSON object, no newline.
std::string to_ses_json(const event& e, const std::string& reporting_mta);

}  // namespace smtpsd::events
