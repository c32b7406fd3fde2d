#pragma once
// Every reply smtpsd sends, written once. The texts of SPEC §3 are fixed by
// the contract: outside test suites match them.
#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/reply.hpp"

namespace smtpsd::smtp::replies {

// The replies without a variable part are built once: a reference to each.
reply banner(std::string_view hostname);
const reply& ok();                       // 250 2.0.0 Ok
const reply& mail_ok();                  // 250 2.1.0 Ok
const reply& rcpt_ok();                  // 250 2.1.5 Ok
reply queued(std::string_view queue_id);
std::string queued_summary(std::string_view queue_id);  // queued(id).summary(), for events
reply bdat_chunk_ok(std::uint64_t n);
const reply& bye();
const reply& start_data();
reply ready_for_tls();
reply help();
reply vrfy();
const reply& auth_ok();
reply auth_challenge(std::string_view base64);

// 4xx
reply service_closing(std::string_view hostname);   // 421 4.3.2 shutdown
reply timeout(std::string_view hostname);           // 421 4.4.2
reply too_many_errors();                            // 421 4.7.0
reply too_many_connections();                       // 421 4.7.0
reply too_many_connections_from_ip();               // 421 4.7.0
reply auth_throttled();                             // 421 4.7.0
reply too_many_recipients();                        // 452 4.5.3
reply insufficient_storage();                       // 452 4.3.1
reply temporary_failure();                          // 451 4.3.0
reply auth_temporary_failure();                     // 454 4.7.0
reply rate_exceeded();                              // 454 4.7.0 SES text
reply quota_exceeded();                             // 454 4.7.0 SES text

// 5xx
reply unrecognized_command();     // 500 5.5.1
reply line_too_long();            // 500 5.5.2
reply bare_lf_in_command();       // 500 5.5.2
reply syntax_error(std::string_view what);  // 501 5.5.4
reply bad_sequence(std::string_view what);  // 503 5.5.1
reply not_implemented();          // 502 5.5.1
reply param_not_supported(std::string_view param);  // 555 5.5.4
reply auth_mech_unknown();        // 504 5.5.4
reply auth_bad_base64();          // 501 5.5.2
reply auth_cancelled();           // 501 5.7.0
reply auth_already();             // 503 5.5.1
reply auth_needs_tls();           // 538 5.7.11
reply auth_required();            // 530 5.7.0
reply auth_failed();              // 535 5.7.8
reply tls_not_available();        // 502 5.5.1
reply tls_already_active();       // 503 5.5.1
reply sender_not_authorized(std::string_view address);  // 550 5.7.1
reply header_from_not_authorized(std::string_view address);  // 550 5.7.1
reply null_sender_refused();      // 550 5.7.1
reply message_too_big();          // 552 5.3.4
reply header_too_big();           // 552 5.3.4
reply text_line_too_long();       // 552 5.3.4
reply bare_cr_lf_in_data();       // 554 5.5.2
reply suppressed(std::string_view address);
// SPEC §9: 550 5.7.1 Sending paused for account NAME: REASON
reply sending_paused(std::string_view account, std::string_view reason);
// SPEC §9: a sandboxed account's recipient outside its identities (550 5.7.1, names the sandbox)
reply sandbox_recipient(std::string_view address, std::string_view account);
// The inbound listener: a recipient outside the return-path domain
reply relay_denied(std::string_view domain);
reply auth_not_offered();  // 503 5.5.1: AUTH on the inbound listener  // 550 5.1.1 "suppression list"
reply access_denied();            // 554 5.7.1
reply smtputf8_required();        // 553 5.6.7
reply bad_sender_syntax();        // 501 5.1.7
reply bad_recipient_syntax();     // 501 5.1.3
reply bad_auth_data();            // 501 5.5.2
reply no_local_recipients();      // 550 5.1.1
reply no_valid_recipients();      // 554 5.5.1
reply malformed_headers();        // 554 5.6.0
reply binarymime_unsupported();   // 504 5.5.4
reply configuration_set_unknown(std::string_view name);  // 554 5.3.0 (SPEC §5)
reply bad_message_tags();         // 554 5.6.0

}  // namespace smtpsd::smtp::replies
