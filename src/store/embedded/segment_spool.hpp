#pragma once
// Message bodies in a few large append-only segment files, as databases
// write their logs (docs/operations.md, "The spool"):
//
//   spool/seg-00000001   4 KiB segment header (magic, sequence number, CRC)
//                        then records, back to back:
//                        [48-octet record header][queue id][body][header section]
//                        [replay data: the queue row and events, if kept]
//   spool/l-QUEUEID      one record of its own: a message too large to hold
//                        in memory until its commit (over spill_bytes)
//
// A record header holds the segment's sequence number, the lengths, a CRC32C
// of the id, body and header section, and a CRC32C of itself. Small messages
// stay in memory until the group committer's sync(), which appends every
// record of the batch with one pwritev and makes them durable with one
// fdatasync. Segments grow by steps of written zeros up to segment_bytes, then a
// new one starts; a segment whose records are all removed is recycled (its
// stale records carry an old sequence number and stop a scan), and a sparse
// old one has its few survivors copied forward first.
//
// The index (queue id → segment, offset, length) lives in memory and is
// rebuilt at start-up by scanning the record headers; a scan stops at the
// first header that is torn, belongs to an older use of the file, or runs
// past its end, and the tail is cut there. A record that got 250 was synced
// before its metadata was committed, so it lies before any torn tail. Every
// record's data CRC is checked when it is read.
//
// synced_through() is where the last sync ended, (segment sequence, offset):
// the queue records it with each commit that skips its own sync, and
// replay_after() lists the replay data of the records written after it.
// Compaction's copies drop their replay data when they lie before the
// position the queue last made durable (recorded()), and keep it from there
// on (spool.hpp, store/replay.hpp).
//
// One process writes (the server; flock on the folder). Any other process
// (the CLI while the server runs) only reads: its remove() leaves the record
// to the writer, which drops bodies that lost their queue row.
#include <filesystem>
#include <memory>

#include "store/spool.hpp"

namespace smtpsd::store::embedded {

struct segment_options {
  std::uint64_t segment_bytes = 64ull << 20;  // a segment is full when the next record would not fit
  std::uint64_t grow_bytes = 1ull << 20;      // zero-filled ahead of the write position
  std::size_t spill_bytes = 256 << 10;        // a larger message streams to its own file
  std::size_t keep_free = 2;                  // emptied segments kept for reuse; more are deleted
};

class segment_spool final : public spool {
 public:
  explicit segment_spool(std::filesystem::path dir, segment_options o = {});
  ~segment_spool() override;

  std::unique_ptr<spool_writer> create(std::string_view id) override;
  void sync(std::span<spool_writer* const> entries) override;
  void remove(std::string_view id) override;
  std::unique_ptr<spool_reader> open(std::string_view id) override;
  std::vector<std::string> ids() override;
  void quarantine(std::string_view id) override;
  void open_for_writing() override;
  std::optional<spool_position> synced_through() const override;
  std::vector<replayable> replay_after(spool_position after) override;
  void forget_replay(std::span<const std::string> ids) override;
  void recorded(spool_position through) override;
  std::optional<std::uint64_t> free_bytes() const override;

  struct usage_figures {
    std::size_t segments = 0;       // in use (the current one included)
    std::size_t free_segments = 0;  // emptied, kept for reuse
    std::size_t large_files = 0;
    std::size_t entries = 0;
    std::uint64_t live_bytes = 0;  // records still referenced
    std::uint64_t file_bytes = 0;  // allocated on disk, segments and large files
  };
  usage_figures usage();

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace smtpsd::store::embedded
