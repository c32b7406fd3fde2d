#include "events/ses.hpp"

#include <nlohmann/json.hpp>

#include "base/strings.hpp"
#include "base/time_format.hpp"
#include "events/classify.hpp"
#include "message/address_list.hpp"

namespace smtpsd::events {

namespace {

using ojson = nlohmann::ordered_json;

std::string domain_of(const std::string& address) {
  auto at = address.rfind('@');
  return at == std::string::npos ? std::string{} : base::to_lower(address.substr(at + 1));
}

// commonHeaders: the parsed From, To, Cc, Reply-To lists, Date, Message-ID, Subject.
ojson common_headers(const mail_info& m) {
  ojson c = ojson::object();
  auto list = [&](const std::string& value) {
    auto parsed = message::parse_address_list(value);
    auto out = ojson::array();
    if (parsed)
      for (auto& a : *parsed) out.push_back(a);
    else
      out.push_back(value);
    return out;
  };
  for (auto& [name, value] : m.headers) {
    if (base::iequals(name, "From")) c["from"] = list(value);
    else if (base::iequals(name, "To")) c["to"] = list(value);
    else if (base::iequals(name, "Cc")) c["cc"] = list(value);
    else if (base::iequals(name, "Reply-To")) c["replyTo"] = list(value);
    else if (base::iequals(name, "Date")) c["date"] = value;
    else if (base::iequals(name, "Message-ID")) c["messageId"] = value;
    else if (base::iequals(name, "Subject")) c["subject"] = value;
  }
  return c;
}

ojson mail_object(const event& e, const std::string& host) {
  const auto submitted = e.mail.submitted == base::time_point{} ? e.time : e.mail.submitted;
  ojson m;
  m["timestamp"] = base::rfc3339_ms(submitted);
  m["source"] = e.from;
  m["sourceArn"] = "arn:smtpsd:ses:" + host + ":" + e.account + ":identity/" + domain_of(e.from);
  m["sendingAccountId"] = e.account;
  m["messageId"] = e.queue_id;
  m["destination"] = e.mail.destination.empty() ? e.recipients : e.mail.destination;
  m["headersTruncated"] = e.mail.headers_truncated;
  auto headers = ojson::array();
  for (auto& [n, v] : e.mail.headers) headers.push_back({{"name", n}, {"value", v}});
  m["headers"] = std::move(headers);
  m["commonHeaders"] = common_headers(e.mail);
  ojson tags = ojson::object();
  if (!e.configuration_set.empty()) tags["ses:configuration-set"] = {e.configuration_set};
  if (!e.mail.client_ip.empty()) tags["ses:source-ip"] = {e.mail.client_ip};
  if (!e.from.empty()) tags["ses:from-domain"] = {domain_of(e.from)};
  if (!e.account.empty()) tags["ses:caller-identity"] = {e.account};
  for (auto& [k, v] : e.tags) tags[k].push_back(v);
  m["tags"] = std::move(tags);
  return m;
}

std::string diagnostic(const std::string& reply) { return reply.empty() ? reply : "smtp; " + reply; }

ojson bounce_object(const event& e, const std::string& host) {
  auto rcpts = ojson::array();
  for (auto& d : e.details)
    rcpts.push_back({{"emailAddress", d.address}, {"action", "failed"}, {"status", d.status},
                     {"diagnosticCode", diagnostic(d.diagnostic)}});
  return {{"bounceType", e.bounce_type.empty() ? "Undetermined" : e.bounce_type},
          {"bounceSubType", e.bounce_sub_type.empty() ? "Undetermined" : e.bounce_sub_type},
          {"bouncedRecipients", std::move(rcpts)},
          {"timestamp", base::rfc3339_ms(e.time)},
          {"feedbackId", e.id},
          {"reportingMTA", "dsn; " + host}};
}

ojson delay_object(const event& e, const std::string& host) {
  auto rcpts = ojson::array();
  std::string type = "Undetermined";
  for (auto& d : e.details) {
    rcpts.push_back({{"emailAddress", d.address}, {"status", d.status}, {"diagnosticCode", diagnostic(d.diagnostic)}});
    if (rcpts.size() == 1) type = classify_delay(d.status, d.diagnostic, !e.remote_mta.empty());
  }
  ojson o{{"timestamp", base::rfc3339_ms(e.time)}, {"delayType", type}};
  o["expirationTime"] = e.expires ? ojson(base::rfc3339_ms(*e.expires)) : ojson(nullptr);
  o["delayedRecipients"] = std::move(rcpts);
  o["reportingMTA"] = host;
  return o;
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
  ojson j;
  j["eventType"] = ses_event_type(e.type);
  j["mail"] = mail_object(e, reporting_mta);
  if (e.type == "send") {
    j["send"] = ojson::object();
  } else if (e.type == "reject") {
    j["reject"] = {{"reason", e.reason.empty() ? e.smtp_response : e.reason}};
  } else if (e.type == "delivery") {
    j["delivery"] = {{"timestamp", base::rfc3339_ms(e.time)},
                     {"processingTimeMillis", e.processing.count()},
                     {"recipients", e.recipients},
                     {"smtpResponse", e.smtp_response},
                     {"reportingMTA", reporting_mta},
                     {"remoteMtaIp", e.remote_ip}};
  } else if (e.type == "bounce") {
    j["bounce"] = bounce_object(e, reporting_mta);
  } else if (e.type == "delivery_delay") {
    j["deliveryDelay"] = delay_object(e, reporting_mta);
  } else if (e.type == "complaint") {
    auto rcpts = ojson::array();
    for (auto& r : e.recipients) rcpts.push_back({{"emailAddress", r}});
    j["complaint"] = {{"complainedRecipients", std::move(rcpts)},
                      {"timestamp", base::rfc3339_ms(e.time)},
                      {"feedbackId", e.id},
                      {"complaintSubType", nullptr},
                      {"complaintFeedbackType", e.reason.empty() ? std::string("abuse") : e.reason},
                      {"arrivalDate", base::rfc3339_ms(e.time)},
                      {"userAgent", e.remote_mta}};
  }
  return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

}  // namespace smtpsd::events
