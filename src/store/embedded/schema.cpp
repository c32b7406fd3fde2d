#include "store/embedded/schema.hpp"

namespace smtpsd::store::embedded {

const std::vector<const char*>& migrations() {
  static const std::vector<const char*> m = {
      // 1: accounts, credentials, queue
      R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta VALUES ('generation', 0);
CREATE TABLE accounts(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  max_send_rate REAL,
  max_24h INTEGER,
  max_message_bytes INTEGER,
  suspended INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL);
CREATE TABLE credentials(
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  username TEXT NOT NULL UNIQUE,
  hash TEXT NOT NULL,
  created INTEGER NOT NULL);
CREATE INDEX credentials_account ON credentials(account_id);
CREATE TABLE messages(
  id TEXT PRIMARY KEY,
  account_id INTEGER NOT NULL,
  account TEXT NOT NULL,
  sender TEXT NOT NULL,
  size INTEGER NOT NULL,
  created INTEGER NOT NULL,
  message_id TEXT NOT NULL DEFAULT '',
  envid TEXT NOT NULL DEFAULT '',
  ret INTEGER NOT NULL DEFAULT 0,
  body INTEGER NOT NULL DEFAULT 0,
  smtputf8 INTEGER NOT NULL DEFAULT 0);
CREATE TABLE recipients(
  message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  address TEXT NOT NULL,
  orcpt TEXT NOT NULL DEFAULT '',
  notify INTEGER NOT NULL DEFAULT 0,
  status INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt INTEGER,
  last_response TEXT NOT NULL DEFAULT '',
  PRIMARY KEY(message_id, idx));
)sql",
      // 2: identities, suppression list, rolling usage
      R"sql(
CREATE TABLE identities(
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  value TEXT NOT NULL,
  kind INTEGER NOT NULL,
  created INTEGER NOT NULL,
  UNIQUE(account_id, value));
CREATE TABLE suppression(
  address TEXT PRIMARY KEY,
  reason TEXT NOT NULL,
  created INTEGER NOT NULL);
CREATE TABLE usage(
  account_id INTEGER NOT NULL,
  minute INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY(account_id, minute));
)sql",
      // 3: delivery leases, and an index of what is due
      R"sql(
ALTER TABLE messages ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
CREATE INDEX recipients_due ON recipients(next_attempt) WHERE status IN (0, 1);
)sql",
      // 4: the event log for webhooks, configuration sets and tags
      R"sql(
ALTER TABLE messages ADD COLUMN configuration_set TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN tags TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN client_ip TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN configuration_set TEXT NOT NULL DEFAULT '';
CREATE TABLE events(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL,
  time INTEGER NOT NULL,
  type TEXT NOT NULL,
  account TEXT NOT NULL DEFAULT '',
  configuration_set TEXT NOT NULL DEFAULT '',
  record TEXT NOT NULL);
CREATE INDEX events_time ON events(time);
CREATE INDEX events_type ON events(type, seq);
CREATE INDEX events_account ON events(account, seq);
CREATE TABLE event_cursors(consumer TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE event_dead_letters(
  consumer TEXT NOT NULL,
  seq INTEGER NOT NULL,
  reason TEXT NOT NULL,
  time INTEGER NOT NULL,
  redeliver INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(consumer, seq));
)sql",
      // 5: API tokens, event statistics, the queue by account
      R"sql(
CREATE TABLE api_tokens(
  name TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  read_only INTEGER NOT NULL,
  created INTEGER NOT NULL);
CREATE TABLE event_stats(
  bucket INTEGER NOT NULL,
  account TEXT NOT NULL,
  type TEXT NOT NULL,
  events INTEGER NOT NULL,
  recipients INTEGER NOT NULL,
  PRIMARY KEY(bucket, account, type));
CREATE INDEX messages_account ON messages(account, id);
)sql",
      // 6: the queue by recipient, for the API's filter
      R"sql(
CREATE INDEX recipients_address ON recipients(lower(address), message_id);
)sql",
      // 7: when each recipient's last delay DSN went out
      R"sql(
ALTER TABLE recipients ADD COLUMN delay_warned INTEGER;
)sql",
      // 8: SCRAM-SHA-256 secrets of credentials made since (older ones keep "")
      R"sql(
ALTER TABLE credentials ADD COLUMN scram TEXT NOT NULL DEFAULT '';
)sql",
      // 9: fencing tokens of delivery leases
      R"sql(
ALTER TABLE messages ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
INSERT INTO meta VALUES ('lease_token', 0);
)sql",
      // 10: secrets made once per installation
      R"sql(
CREATE TABLE secrets(name TEXT PRIMARY KEY, value BLOB NOT NULL);
)sql",
      // 11: files every node sees the same (one node keeps DKIM keys in its folder)
      R"sql(
CREATE TABLE shared_files(path TEXT PRIMARY KEY, data BLOB NOT NULL);
)sql",
      // 12: what the sender asked of outbound TLS (RFC 8689: REQUIRETLS, TLS-Required: No)
      R"sql(
ALTER TABLE messages ADD COLUMN tls INTEGER NOT NULL DEFAULT 0;
)sql",
      // 13: sender reputation (SPEC §9): sandbox, pause, hourly outcome counts
      R"sql(
ALTER TABLE accounts ADD COLUMN sandbox INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN allowed_recipients TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN paused TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN reputation_warning TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN reputation_since INTEGER NOT NULL DEFAULT 0;
CREATE TABLE reputation(
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  hour INTEGER NOT NULL,
  recipients INTEGER NOT NULL DEFAULT 0,
  bounces INTEGER NOT NULL DEFAULT 0,
  complaints INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(account_id, hour));
)sql",
      // 14: the suppression list's change generation, for the servers' copies of it
      R"sql(
INSERT INTO meta VALUES ('suppressions', 0);
)sql",
      // 15: the spool position through which queue rows are committed (the
      // replay after a power cut starts there)
      R"sql(
INSERT INTO meta VALUES ('spool_segment', 0);
INSERT INTO meta VALUES ('spool_offset', 0);
)sql",
      // 16: two indexes no query used, which cost every event two more inserts
      // (sqlite_event_store::query's "?1 = '' OR type = ?1" filters cannot use
      // an index: EXPLAIN QUERY PLAN shows events_time and a sort)
      R"sql(
DROP INDEX events_type;
DROP INDEX events_account;
)sql",
  };
  return m;
}

}  // namespace smtpsd::store::embedded
