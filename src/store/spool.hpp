#pragma once
// Message bodies, apart from metadata. An entry is written once (body
// streamed, then the final header section), made durable by sync(), and read
// by delivery. A reader refuses an entry that was not completely written.
#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace smtpsd::store {

class spool_writer {
 public:
  virtual ~spool_writer() = default;
  // Body bytes in order. Throws storage_full or store_error.
  virtual void write_body(std::string_view bytes) = 0;
  // The header section goes in last, once it is final (fix-ups, signatures).
  virtual void finish(std::string_view header_section) = 0;
  virtual const std::string& id() const = 0;
  virtual std::uint64_t size() const = 0;  // header + body octets
  // Between finish() and sync(): the whole message (header section, blank
  // line, body) when the writer holds all of it in memory anyway (a small
  // message), so that delivery need not read it back; else nullptr.
  virtual std::shared_ptr<const std::string> content() const { return nullptr; }
  // After finish(), before sync(): what re-creates the entry's queue row and
  // events (store/replay.hpp), kept with the entry where the spool can (a
  // segment record). False when it cannot (a spool without records, a large
  // message in a file of its own): the queue must then make the row durable
  // itself.
  virtual bool keep_replay(std::string_view /*data*/) { return false; }
};

// A point in a spool that writes its entries in order (segment, offset).
struct spool_position {
  std::uint64_t segment = 0;
  std::uint64_t offset = 0;
  friend auto operator<=>(const spool_position&, const spool_position&) = default;
};

// An entry written past a position, where it lies, and the replay data it kept.
struct replayable {
  std::string id;
  std::string data;
  spool_position at;
};

class spool_reader {
 public:
  virtual ~spool_reader() = default;
  virtual const std::string& header_section() const = 0;
  virtual std::uint64_t body_size() const = 0;
  // Reads the next body bytes into buf; 0 at the end. Throws store_error.
  virtual std::size_t read_body(char* buf, std::size_t n) = 0;
  // The whole message, header section then body (tests and small messages).
  std::string read_all();
};

class spool {
 public:
  virtual ~spool() = default;
  virtual std::unique_ptr<spool_writer> create(std::string_view id) = 0;
  // Makes finished entries durable, together (one directory sync for all).
  virtual void sync(std::span<spool_writer* const> entries) = 0;
  // Drops an entry (aborted, delivered or removed). Missing entries are fine.
  virtual void remove(std::string_view id) = 0;
  // nullopt when absent; throws store_error when present but incomplete or corrupt.
  virtual std::unique_ptr<spool_reader> open(std::string_view id) = 0;
  virtual std::vector<std::string> ids() = 0;
  // Moves a corrupt entry out of the way, keeping it for inspection.
  virtual void quarantine(std::string_view id) = 0;
  // Other nodes write into it too: a body not queued yet may be another
  // node's message in flight, so start-up must not drop unqueued bodies
  // (the backend sweeps old orphans itself).
  virtual bool shared() const { return false; }
  // The serving process calls this first: it becomes the one writer, or
  // throws store_error when another process already is. (Writing claims it
  // too; a process that never writes only reads.)
  virtual void open_for_writing() {}
  // Where the last sync() ended: every entry it wrote lies before this
  // position. nullopt for a spool that keeps no order.
  virtual std::optional<spool_position> synced_through() const { return std::nullopt; }
  // The entries still in the spool written after `after` that kept replay
  // data, in the order written (start-up re-queues those the queue lost).
  virtual std::vector<replayable> replay_after(spool_position /*after*/) { return {}; }
  // The queue made `through` durable (queue_store::replayed_through): every
  // entry before it has its row, or never will. Entries from there on may
  // still need their replay data, so a spool that moves entries keeps it
  // with them; before it, a move drops it. Until told, a spool keeps none on
  // a move (its queue makes every row durable on its own).
  virtual void recorded(spool_position /*through*/) {}
  // Spoils the replay data of entries whose queue commit failed (their
  // clients were refused), durably, so that no replay queues them (a segment
  // zeroes its first five octets, which replay data never starts with).
  virtual void forget_replay(std::span<const std::string> /*ids*/) {}
  // Free octets on the spool's file system, nullopt when unknown (not files).
  virtual std::optional<std::uint64_t> free_bytes() const { return std::nullopt; }
};

}  // namespace smtpsd::store
