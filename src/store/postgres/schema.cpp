#include "store/postgres/schema.hpp"

namespace smtpsd::store::postgres {

const std::vector<const char*>& migrations() {
  static const std::vector<const char*> m = {
      // 1: everything the embedded backend holds at its schema 8, plus bodies and leases
      R"sql(
CREATE TABLE meta(key text PRIMARY KEY, value bigint NOT NULL);
INSERT INTO meta VALUES ('generation', 0);
CREATE TABLE accounts(
  id bigserial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  max_send_rate double precision,
  max_24h bigint,
  max_message_bytes bigint,
  suspended boolean NOT NULL DEFAULT false,
  created bigint NOT NULL,
  configuration_set text NOT NULL DEFAULT '');
CREATE TABLE credentials(
  id bigserial PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  username text NOT NULL UNIQUE,
  hash text NOT NULL,
  scram text NOT NULL DEFAULT '',
  created bigint NOT NULL);
CREATE INDEX credentials_account ON credentials(account_id);
CREATE TABLE identities(
  id bigserial PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  value text NOT NULL,
  kind integer NOT NULL,
  created bigint NOT NULL,
  UNIQUE(account_id, value));
CREATE TABLE api_tokens(
  name text PRIMARY KEY,
  hash text NOT NULL UNIQUE,
  read_only boolean NOT NULL,
  created bigint NOT NULL);
CREATE TABLE suppression(
  address text COLLATE "C" PRIMARY KEY,
  reason text NOT NULL,
  created bigint NOT NULL);
CREATE TABLE usage(
  account_id bigint NOT NULL,
  minute bigint NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY(account_id, minute));
CREATE SEQUENCE lease_tokens;
CREATE TABLE messages(
  id text COLLATE "C" PRIMARY KEY,
  account_id bigint NOT NULL,
  account text NOT NULL,
  sender text NOT NULL,
  size bigint NOT NULL,
  created bigint NOT NULL,
  message_id text NOT NULL DEFAULT '',
  envid text NOT NULL DEFAULT '',
  ret integer NOT NULL DEFAULT 0,
  body integer NOT NULL DEFAULT 0,
  smtputf8 boolean NOT NULL DEFAULT false,
  configuration_set text NOT NULL DEFAULT '',
  tags text NOT NULL DEFAULT '',
  client_ip text NOT NULL DEFAULT '',
  next_due bigint,
  retried boolean NOT NULL DEFAULT false,
  lease_until bigint NOT NULL DEFAULT 0,
  lease_node text NOT NULL DEFAULT '',
  lease_token bigint NOT NULL DEFAULT 0);
CREATE INDEX messages_due ON messages(retried, next_due, id) WHERE next_due IS NOT NULL;
CREATE INDEX messages_account ON messages(account, id);
CREATE INDEX messages_leased ON messages(lease_node) WHERE lease_node <> '';
CREATE TABLE recipients(
  message_id text COLLATE "C" NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  idx integer NOT NULL,
  address text NOT NULL,
  orcpt text NOT NULL DEFAULT '',
  notify integer NOT NULL DEFAULT 0,
  status integer NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt bigint,
  last_response text NOT NULL DEFAULT '',
  delay_warned bigint,
  PRIMARY KEY(message_id, idx));
CREATE INDEX recipients_address ON recipients(lower(address), message_id);
CREATE TABLE events(
  seq bigserial PRIMARY KEY,
  id text NOT NULL,
  time bigint NOT NULL,
  type text NOT NULL,
  account text NOT NULL DEFAULT '',
  configuration_set text NOT NULL DEFAULT '',
  record text NOT NULL);
CREATE INDEX events_time ON events(time);
CREATE INDEX events_type ON events(type, seq);
CREATE INDEX events_account ON events(account, seq);
CREATE INDEX events_id ON events(id);
CREATE TABLE event_cursors(consumer text PRIMARY KEY, seq bigint NOT NULL);
CREATE TABLE event_dead_letters(
  consumer text NOT NULL,
  seq bigint NOT NULL,
  reason text NOT NULL,
  time bigint NOT NULL,
  redeliver boolean NOT NULL DEFAULT false,
  PRIMARY KEY(consumer, seq));
CREATE TABLE event_stats(
  bucket bigint NOT NULL,
  account text NOT NULL,
  type text NOT NULL,
  events bigint NOT NULL,
  recipients bigint NOT NULL,
  PRIMARY KEY(bucket, account, type));
CREATE TABLE bodies(
  id text COLLATE "C" PRIMARY KEY,
  header bytea NOT NULL,
  body_size bigint NOT NULL,
  chunks integer NOT NULL,
  quarantined boolean NOT NULL DEFAULT false,
  created bigint NOT NULL);
CREATE TABLE body_chunks(
  id text COLLATE "C" NOT NULL,
  n integer NOT NULL,
  data bytea NOT NULL,
  created bigint NOT NULL,
  PRIMARY KEY(id, n));
)sql",
      // 2: secrets made once per installation
      R"sql(
CREATE TABLE secrets(name text PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE roles(role text PRIMARY KEY, node text NOT NULL, until bigint NOT NULL);
CREATE TABLE shared_files(path text COLLATE "C" PRIMARY KEY, data bytea NOT NULL);
)sql",
      // 3: what the sender asked of outbound TLS (RFC 8689: REQUIRETLS, TLS-Required: No)
      R"sql(
ALTER TABLE messages ADD COLUMN tls integer NOT NULL DEFAULT 0;
)sql",
      // 4: sender reputation (SPEC §9): sandbox, pause, hourly outcome counts
      R"sql(
ALTER TABLE accounts ADD COLUMN sandbox boolean NOT NULL DEFAULT false;
ALTER TABLE accounts ADD COLUMN allowed_recipients text NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN paused text NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN reputation_warning text NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN reputation_since bigint NOT NULL DEFAULT 0;
CREATE TABLE reputation(
  account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  hour bigint NOT NULL,
  recipients bigint NOT NULL DEFAULT 0,
  bounces bigint NOT NULL DEFAULT 0,
  complaints bigint NOT NULL DEFAULT 0,
  PRIMARY KEY(account_id, hour));
)sql",
      // 5: the suppression list's change generation, for the servers' copies of it
      R"sql(
INSERT INTO meta VALUES ('suppressions', 0);
)sql",
  };
  return m;
}

}  // namespace smtpsd::store::postgres
