#include "events/ses.hpp"

#include "base/json_out.hpp"
#include "base/strings.hpp"
#include "base/time_format.hpp"
#include "events/classify.hpp"
#include "message/address_list.hpp"

namespace smtpsd::events {

namespace {

std::string domain_of(const std::string& address) {
  auto at = address.rfind('@');
  return at == std::string::npos ? std::string{} : base::to_lower(address.substr(at + 1));
}

// commonHeaders: the parsed From, To, Cc, Reply-To lists, Date, Message-ID,
// Subject; a repeated field keeps its first place and takes its last value.
void common_headers(base::json_out& j, const std::vector<std::pair<std::string, std::string>>& headers) {
  struct entry {
    const char* key;
    bool list;
    const std::string* value;
  };
  static constexpr std::pair<const char*, const char*> lists[] = {
      {"From", "from"}, {"To", "to"}, {"Cc", "cc"}, {"Reply-To", "replyTo"}};
  static constexpr std::pair<const char*, const char*> singles[] = {
      {"Date", "date"}, {"Message-ID", "messageId"}, {"Subject", "subject"}};
  std::vector<entry> out;
  auto put = [&](const char* key, bool list, const std::string& value) {
    for (auto& e : out)
      if (e.key == key) {
        e.value = &value;
        return;
      }
    out.push_back({key, list, &value});
  };
  for (auto& [name, value] : headers) {
    for (auto& [field, key] : lists)
      if (base::iequals(name, field)) put(key, true, value);
    for (auto& [field, key] : singles)
      if (base::iequals(name, field)) put(key, false, value);
  }
  j.begin_object();
  for (auto& e : out) {
    j.key(e.key);
    if (!e.list) {
      j.value(*e.value);
      continue;
    }
    j.begin_array();
    if (auto parsed = message::parse_address_list(*e.value))
      for (auto& a : *parsed) j.value(a);
    else
      j.value(*e.value);
    j.end_array();
  }
  j.end_object();
}

// The tags: SES's own first, then the message's, values of one name together.
void tags_object(base::json_out& j, const event& e) {
  std::vector<std::pair<std::string_view, std::vector<std::string_view>>> tags;
  auto add = [&](std::string_view k, std::string_view v) {
    for (auto& t : tags)
      if (t.first == k) {
        t.second.push_back(v);
        return;
      }
    tags.push_back({k, {v}});
  };
  const auto from_domain = domain_of(e.from);
  if (!e.configuration_set.empty()) add("ses:configuration-set", e.configuration_set);
  if (!e.mail.client_ip.empty()) add("ses:source-ip", e.mail.client_ip);
  if (!e.from.empty()) add("ses:from-domain", from_domain);
  if (!e.account.empty()) add("ses:caller-identity", e.account);
  for (auto& [k, v] : e.tags) add(k, v);
  j.begin_object();
  for (auto& [k, values] : tags) {
    j.key(k).begin_array();
    for (auto v : values) j.value(v);
    j.end_array();
  }
  j.end_object();
}

void mail_object(base::json_out& j, const event& e, const std::string& host) {
  const auto submitted = e.mail.submitted == base::time_point{} ? e.time : e.mail.submitted;
  j.begin_object();
  j.member("timestamp", base::rfc3339_ms(submitted));
  j.member("source", e.from);
  j.member("sourceArn", "arn:smtpsd:ses:" + host + ":" + e.account + ":identity/" + domain_of(e.from));
  j.member("sendingAccountId", e.account);
  j.member("messageId", e.queue_id);
  j.key("destination").strings(e.mail.destination.empty() ? e.recipients : e.mail.destination);
  j.member("headersTruncated", e.mail.headers_truncated);
  const auto headers = header_fields(e.mail);
  j.key("headers").begin_array();
  for (auto& [n, v] : headers) j.begin_object().member("name", n).member("value", v).end_object();
  j.end_array();
  j.key("commonHeaders");
  common_headers(j, headers);
  j.key("tags");
  tags_object(j, e);
  j.end_object();
}

std::string diagnostic(const std::string& reply) { return reply.empty() ? reply : "smtp; " + reply; }

void bounce_object(base::json_out& j, const event& e, const std::string& host) {
  j.begin_object();
  j.member("bounceType", e.bounce_type.empty() ? "Undetermined" : e.bounce_type);
  j.member("bounceSubType", e.bounce_sub_type.empty() ? "Undetermined" : e.bounce_sub_type);
  j.key("bouncedRecipients").begin_array();
  for (auto& d : e.details)
    j.begin_object()
        .member("emailAddress", d.address)
        .member("action", "failed")
        .member("status", d.status)
        .member("diagnosticCode", diagnostic(d.diagnostic))
        .end_object();
  j.end_array();
  j.member("timestamp", base::rfc3339_ms(e.time));
  j.member("feedbackId", e.id);
  j.member("reportingMTA", "dsn; " + host);
  j.end_object();
}

void delay_object(base::json_out& j, const event& e, const std::string& host) {
  std::string type = "Undetermined";
  if (!e.details.empty())
    type = classify_delay(e.details[0].status, e.details[0].diagnostic, !e.remote_mta.empty());
  j.begin_object();
  j.member("timestamp", base::rfc3339_ms(e.time));
  j.member("delayType", type);
  j.key("expirationTime");
  if (e.expires)
    j.value(base::rfc3339_ms(*e.expires));
  else
    j.null();
  j.key("delayedRecipients").begin_array();
  for (auto& d : e.details)
    j.begin_object()
        .member("emailAddress", d.address)
        .member("status", d.status)
        .member("diagnosticCode", diagnostic(d.diagnostic))
        .end_object();
  j.end_array();
  j.member("reportingMTA", host);
  j.end_object();
}

void complaint_object(base::json_out& j, const event& e) {
  j.begin_object();
  j.key("complainedRecipients").begin_array();
  for (auto& r : e.recipients) j.begin_object().member("emailAddress", r).end_object();
  j.end_array();
  j.member("timestamp", base::rfc3339_ms(e.time));
  j.member("feedbackId", e.id);
  j.key("complaintSubType").null();
  j.member("complaintFeedbackType", e.reason.empty() ? std::string("abuse") : e.reason);
  j.member("arrivalDate", base::rfc3339_ms(e.time));
  j.member("userAgent", e.remote_mta);
  j.end_object();
}

}  // namespace

std::string ses_event_type(std::string_view type) {
  if (type == "send") return "Send";
  if (type == "reject") return "Reject";
  if (type == "delivery") return "Delivery";
  if (type == "bounce") return "Bounce";
  if (type == "delivery_delay") return "DeliveryDelay";
  if (type == "complaint") return "Complaint";
  return std::string(type);
}

std::string to_ses_json(const event& e, const std::string& reporting_mta) {
  std::string out;
  out.reserve(1024 + e.mail.header_section.size() * 2);
  base::json_out j(out);
  j.begin_object();
  j.member("eventType", ses_event_type(e.type));
  j.key("mail");
  mail_object(j, e, reporting_mta);
  if (e.type == "send") {
    j.key("send").begin_object().end_object();
  } else if (e.type == "reject") {
    j.key("reject").begin_object().member("reason", e.reason.empty() ? e.smtp_response : e.reason).end_object();
  } else if (e.type == "delivery") {
    j.key("delivery").begin_object();
    j.member("timestamp", base::rfc3339_ms(e.time));
    j.member("processingTimeMillis", static_cast<std::int64_t>(e.processing.count()));
    j.key("recipients").strings(e.recipients);
    j.member("smtpResponse", e.smtp_response);
    j.member("reportingMTA", reporting_mta);
    j.member("remoteMtaIp", e.remote_ip);
    j.end_object();
  } else if (e.type == "bounce") {
    j.key("bounce");
    bounce_object(j, e, reporting_mta);
  } else if (e.type == "delivery_delay") {
    j.key("deliveryDelay");
    delay_object(j, e, reporting_mta);
  } else if (e.type == "complaint") {
    j.key("complaint");
    complaint_object(j, e);
  }
  j.end_object();
  return out;
}

}  // namespace smtpsd::events
