#include "store/embedded/segment_spool.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "base/crc32c.hpp"
#include "base/ids.hpp"
#include "base/metrics.hpp"
#include "store/types.hpp"

namespace smtpsd::store::embedded {

namespace fs = std::filesystem;

namespace {

constexpr char segment_magic[8] = {'S', 'M', 'T', 'P', 'S', 'D', 'S', 'G'};
constexpr char record_magic[8] = {'S', 'M', 'T', 'P', 'S', 'D', 'R', '1'};
// A record that ends with replay data (an older smtpsd stops its scan there).
constexpr char replay_magic[8] = {'S', 'M', 'T', 'P', 'S', 'D', 'R', '2'};
constexpr std::uint32_t max_replay = 16u << 20;
constexpr std::uint64_t segment_header = 4096;
constexpr std::size_t record_header = 48;
constexpr std::size_t id_size = 16;
constexpr std::size_t write_buffer = 64 * 1024;
// What a new record's buffer starts with: a small message fits. Buffers at
// least this large go back to the spares after their commit (a buffer per
// message allocated on an I/O thread and freed on the committer's would
// pass through glibc's shared bins each time).
constexpr std::size_t writer_reserve = 8 * 1024;
constexpr std::uint64_t verify_in_memory = 1 << 20;  // larger records are checked as they stream
constexpr std::size_t scan_window = 256 * 1024;

base::counter& fsyncs(const char* what) {
  return base::metrics().get_counter("smtpsd_fsyncs_total", "fsync/fdatasync calls made by the spool",
                                     {{"what", what}});
}

[[noreturn]] void io_error(std::string_view what, const fs::path& p) {
  int e = errno;
  auto msg = fmt::format("spool: {} {}: {}", what, p.string(), std::strerror(e));
  if (e == ENOSPC || e == EDQUOT || e == EFBIG) throw storage_full(msg);
  throw store_error(msg);
}

void put_u32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_u64(char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
std::uint32_t get_u32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

// Named, not anonymous: segment_spool::impl holds them.
namespace segment_parts {

// [magic 8][seq 8][body 8][header 8][id length 4][data crc 4][replay length 4][head crc 4]
// The data CRC covers the id, body and header section; the replay data that
// may follow them carries a CRC of its own (store/replay.hpp).
struct record_head {
  std::uint64_t seq = 0;
  std::uint64_t body = 0;
  std::uint64_t header = 0;
  std::uint32_t id_len = 0;
  std::uint32_t data_crc = 0;
  std::uint32_t replay = 0;
  std::uint64_t replay_at() const { return record_header + id_len + body + header; }
  std::uint64_t length() const { return replay_at() + replay; }
};

}  // namespace segment_parts

namespace {

using segment_parts::record_head;

void encode(char* p, const record_head& h) {
  std::memcpy(p, h.replay ? replay_magic : record_magic, 8);
  put_u64(p + 8, h.seq);
  put_u64(p + 16, h.body);
  put_u64(p + 24, h.header);
  put_u32(p + 32, h.id_len);
  put_u32(p + 36, h.data_crc);
  put_u32(p + 40, h.replay);
  put_u32(p + 44, base::crc32c({p, 44}));
}

std::optional<record_head> decode(const char* p) {
  const bool plain = std::memcmp(p, record_magic, 8) == 0;
  if ((!plain && std::memcmp(p, replay_magic, 8) != 0) || get_u32(p + 44) != base::crc32c({p, 44})) return std::nullopt;
  record_head h;
  h.seq = get_u64(p + 8);
  h.body = get_u64(p + 16);
  h.header = get_u64(p + 24);
  h.id_len = get_u32(p + 32);
  h.data_crc = get_u32(p + 36);
  h.replay = get_u32(p + 40);
  if (plain != (h.replay == 0) || h.replay > max_replay) return std::nullopt;
  if (h.id_len != id_size || h.body > (1ull << 40) || h.header > (1ull << 32)) return std::nullopt;
  return h;
}

void write_all(int fd, const char* data, std::size_t n, const fs::path& p) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      io_error("write", p);
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
}

void pwrite_all(int fd, const char* data, std::size_t n, std::uint64_t off, const fs::path& p) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      io_error("write", p);
    }
    data += w;
    n -= static_cast<std::size_t>(w);
    off += static_cast<std::uint64_t>(w);
  }
}

// Reads up to n octets; fewer only at the end of the file.
std::size_t pread_some(int fd, char* data, std::size_t n, std::uint64_t off, const fs::path& p) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, data + got, n - got, static_cast<off_t>(off + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      io_error("read", p);
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

void pread_all(int fd, char* data, std::size_t n, std::uint64_t off, const fs::path& p) {
  if (pread_some(fd, data, n, off, p) != n) throw store_error(fmt::format("spool: {} is truncated", p.string()), false);
}

std::uint64_t file_size(int fd, const fs::path& p) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) io_error("stat", p);
  return static_cast<std::uint64_t>(st.st_size);
}

std::string large_name(std::string_view id) { return "l-" + std::string(id); }

}  // namespace

namespace segment_parts {

struct segment {
  fs::path path;
  int fd = -1;
  bool large = false;        // one record of its own, at offset 0
  std::uint64_t seq = 0;     // 0: not in use (a free segment) or large
  std::uint64_t end = 0;     // just past the last record
  std::uint64_t allocated = 0;
  std::size_t live = 0;      // index entries pointing here
  std::uint64_t live_bytes = 0;
  segment() = default;
  segment(const segment&) = delete;
  segment& operator=(const segment&) = delete;
  ~segment() {
    if (fd >= 0) ::close(fd);
  }
};

struct location {
  std::shared_ptr<segment> seg;
  std::uint64_t offset = 0;
  record_head head;
};

}  // namespace segment_parts

using segment_parts::location;
using segment_parts::segment;

struct segment_spool::impl {
  fs::path dir;
  segment_options opt;
  int dir_fd = -1;
  bool owner = false;
  bool scanned = false;
  std::mutex write_mu;  // one sync at a time (taken before mu)
  std::mutex mu;        // everything below
  std::unordered_map<std::string, location> index;
  std::set<std::string> broken;  // large files without a complete record
  std::vector<std::shared_ptr<segment>> segments;  // in use, oldest first; the last is current
  std::vector<std::shared_ptr<segment>> free;
  std::uint64_t max_seq = 0;
  std::uint32_t next_slot = 1;
  std::optional<spool_position> through;  // where the last sync() ended
  std::optional<spool_position> recorded;  // what the queue made durable (spool::recorded)

  std::size_t large_files = 0;     // in the index, and
  std::uint64_t large_bytes = 0;   // their octets (kept by put and drop)

  segment_spool::usage_figures figures() const {
    segment_spool::usage_figures u;
    u.segments = segments.size();
    u.free_segments = free.size();
    u.large_files = large_files;
    u.entries = index.size();
    u.live_bytes = large_bytes;
    u.file_bytes = large_bytes;
    for (auto& s : segments) {
      u.live_bytes += s->live_bytes;
      u.file_bytes += s->allocated;
    }
    for (auto& s : free) u.file_bytes += s->allocated;
    return u;
  }

  // What the spool holds, for /metrics (the writer's view).
  void publish() {
    if (!owner) return;
    static auto& messages = base::metrics().get_gauge("smtpsd_spool_messages", "Message bodies in the spool");
    static auto& files = base::metrics().get_gauge("smtpsd_spool_segments",
                                                    "Spool segment files, in use and kept for reuse");
    static auto& bytes = base::metrics().get_gauge("smtpsd_spool_bytes",
                                                   "Octets the spool's segments and large files take on disk");
    const auto u = figures();
    messages.set(static_cast<std::int64_t>(u.entries + broken.size()));
    files.set(static_cast<std::int64_t>(u.segments + u.free_segments));
    bytes.set(static_cast<std::int64_t>(u.file_bytes));
  }

  // Record buffers go back here after their commit and are handed to the
  // next messages: a 100 KiB message then costs no fresh allocation (glibc
  // maps those afresh, page by page, and unmaps them at free).
  std::mutex spare_mu;
  std::vector<std::string> spare;
  static constexpr std::size_t max_spare = 32;
  std::string take_buffer() {
    std::lock_guard l(spare_mu);
    if (spare.empty()) return {};
    auto b = std::move(spare.back());
    spare.pop_back();
    return b;
  }
  void give_back(std::string& b) {
    if (b.capacity() < writer_reserve || b.capacity() > opt.spill_bytes + 64 * 1024) {
      std::string().swap(b);
      return;
    }
    b.clear();
    std::lock_guard l(spare_mu);
    if (spare.size() < max_spare) spare.push_back(std::move(b));
    else std::string().swap(b);
  }

  fs::path segment_path(std::uint32_t slot) const { return dir / fmt::format("seg-{:08x}", slot); }

  void claim() {
    if (owner) return;
    if (::flock(dir_fd, LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK)
        throw store_error(fmt::format("spool: {} is in use by another smtpsd process", dir.string()), false);
      io_error("lock", dir);
    }
    owner = true;
    scanned = false;  // again, as the writer: files opened for writing, the torn tail cut
  }

  void ensure_scanned() {
    if (!scanned) scan();
  }

  // Rebuilds the index from the files (with mu held).
  void scan() {
    index.clear();
    broken.clear();
    segments.clear();
    free.clear();
    max_seq = 0;
    large_files = 0;
    large_bytes = 0;
    std::vector<std::shared_ptr<segment>> found;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      const auto name = it->path().filename().string();
      if (name.size() == 12 && name.rfind("seg-", 0) == 0) {
        std::uint32_t slot = 0;
        if (std::sscanf(name.c_str() + 4, "%8x", &slot) != 1) continue;
        next_slot = std::max(next_slot, slot + 1);
        auto s = std::make_shared<segment>();
        s->path = it->path();
        s->fd = ::open(s->path.c_str(), (owner ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (s->fd < 0) io_error("open", s->path);
        char head[32] = {};
        s->allocated = file_size(s->fd, s->path);
        if (pread_some(s->fd, head, sizeof head, 0, s->path) == sizeof head && std::memcmp(head, segment_magic, 8) == 0 &&
            get_u32(head + 28) == base::crc32c({head, 28}))
          s->seq = get_u64(head + 16);
        if (s->seq == 0) {
          if (owner) free.push_back(s);
          continue;
        }
        found.push_back(std::move(s));
      } else if (name.size() == 2 + id_size && name.rfind("l-", 0) == 0 && base::is_queue_id(name.substr(2))) {
        scan_large(it->path(), name.substr(2));
      }
    }
    if (ec) throw store_error(fmt::format("spool: cannot list {}: {}", dir.string(), ec.message()));
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a->seq < b->seq; });
    for (auto& s : found) {
      scan_records(s);
      max_seq = std::max(max_seq, s->seq);
      segments.push_back(s);
    }
    if (owner && !segments.empty()) cut_tail(*segments.back());
    if (owner) reclaim();
    scanned = true;
    publish();
  }

  void scan_records(const std::shared_ptr<segment>& s) {
    const std::uint64_t size = s->allocated;
    std::string window;
    std::uint64_t window_at = 0;
    std::uint64_t off = segment_header;
    while (off + record_header + id_size <= size) {
      if (off < window_at || off + record_header + id_size > window_at + window.size()) {
        window.resize(scan_window);
        window.resize(pread_some(s->fd, window.data(), scan_window, off, s->path));
        window_at = off;
        if (window.size() < record_header + id_size) break;
      }
      const char* p = window.data() + (off - window_at);
      auto h = decode(p);
      if (!h || h->seq != s->seq || off + h->length() > size) break;
      std::string id(p + record_header, id_size);
      if (!base::is_queue_id(id)) break;
      put(id, location{s, off, *h});
      off += h->length();
    }
    s->end = off;
  }

  void scan_large(const fs::path& p, const std::string& id) {
    auto s = std::make_shared<segment>();
    s->path = p;
    s->large = true;
    s->fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) io_error("open", p);
    char head[record_header + id_size];
    const auto size = file_size(s->fd, p);
    auto h = pread_some(s->fd, head, sizeof head, 0, p) == sizeof head ? decode(head) : std::nullopt;
    if (!h || h->length() != size || std::string_view(head + record_header, id_size) != id) {
      broken.insert(id);
      return;
    }
    s->end = s->allocated = size;
    put(id, location{s, 0, *h});
  }

  // The writer's current segment ends at its last whole record: what follows
  // (a torn record) is cut, so nothing of it can be read as a record later.
  void cut_tail(segment& s) {
    if (s.end < s.allocated) {
      // Frees the blocks too; the next records allocate them again.
      if (::fallocate(s.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(s.end),
                      static_cast<off_t>(s.allocated - s.end)) != 0) {
        std::string zeros(64 * 1024, '\0');  // no hole punching here: overwrite what a scan would read
        pwrite_all(s.fd, zeros.data(), static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), s.allocated - s.end)),
                   s.end, s.path);
      }
      if (::fdatasync(s.fd) != 0) io_error("fdatasync", s.path);
      s.allocated = s.end;
    }
  }

  void put(const std::string& id, location loc) {
    auto [it, fresh] = index.try_emplace(id);
    if (!fresh) drop(it->second);  // a copy made by compaction: the newer one wins
    loc.seg->live += 1;
    loc.seg->live_bytes += loc.head.length();
    if (loc.seg->large) {
      large_files += 1;
      large_bytes += loc.head.length();
    }
    it->second = std::move(loc);
  }

  void drop(const location& loc) {
    loc.seg->live -= 1;
    loc.seg->live_bytes -= loc.head.length();
    if (loc.seg->large) {
      large_files -= 1;
      large_bytes -= loc.head.length();
    }
  }

  std::shared_ptr<segment> current() const { return segments.empty() ? nullptr : segments.back(); }

  // Segments no record points to any more (and no reader holds) are reused
  // or deleted; large files go as soon as their one record is removed.
  void reclaim() {
    auto cur = current();
    for (auto it = segments.begin(); it != segments.end();) {
      auto& s = *it;
      if (s == cur || s->live > 0 || s.use_count() > 1) {
        ++it;
        continue;
      }
      // An old header would make a restart index stale records: spoil it (no sync needed:
      // if the write is lost, those records are unqueued and dropped at start-up).
      char zero[8] = {};
      if (::pwrite(s->fd, zero, sizeof zero, 0) != static_cast<ssize_t>(sizeof zero)) { /* dropped below anyway */ }
      s->seq = 0;
      if (free.size() < opt.keep_free) {
        free.push_back(s);
      } else {
        ::unlink(s->path.c_str());
      }
      it = segments.erase(it);
    }
  }

  void grow(segment& s, std::uint64_t need) {
    if (need <= s.allocated) return;
    std::uint64_t target = (need + opt.grow_bytes - 1) / opt.grow_bytes * opt.grow_bytes;
    target = std::max(need, std::min(target, opt.segment_bytes));
    // Zeros written, not fallocate(): a write into an allocated-but-unwritten
    // extent changes the extent tree, so every fdatasync would write
    // metadata too; over written zeros it writes only the data. (A reused
    // segment is all written blocks already.)
    static const std::string zeros(256 * 1024, '\0');
    for (std::uint64_t at = s.allocated; at < target;) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), target - at));
      pwrite_all(s.fd, zeros.data(), n, at, s.path);
      at += n;
    }
    s.allocated = target;
  }

  // Compaction: an old segment that few records still use (a deferred
  // message keeps a whole segment otherwise) has them copied into the
  // current one, synced with the batch; the index then points at the copies
  // and the old segment is reclaimed. After a crash before that, both copies
  // exist and the newer one wins.
  struct moved {
    std::string id;
    std::string raw;  // the record, its head renumbered for the new segment
    std::shared_ptr<segment> from;
    std::uint64_t from_offset = 0;
    std::shared_ptr<segment> to;
    std::uint64_t offset = 0;
    record_head head;
  };
  std::vector<moved> plan_compaction() {
    std::vector<moved> out;
    auto cur = current();
    if (!cur) return out;
    std::shared_ptr<segment> old;
    for (auto& s : segments) {
      if (s == cur || s->live == 0 || s->seq + 2 > cur->seq) continue;
      if (s->live_bytes * 8 <= opt.segment_bytes) {
        old = s;
        break;
      }
    }
    if (!old || cur->end + old->live_bytes > opt.segment_bytes) return out;
    for (auto& [id, loc] : index) {
      if (loc.seg != old) continue;
      moved m;
      m.id = id;
      m.from = old;
      m.from_offset = loc.offset;
      m.head = loc.head;
      // Without its replay data once the queue recorded a position past it:
      // its row is durable then, and the copy must not bring back a message
      // delivered meanwhile. A record from that position on keeps it (rows
      // held while the queue's commits fail): no row can be committed for it
      // but with a position past the copy, which the copy is written before.
      // A spool not told any position keeps none (its queue's every commit
      // is durable on its own).
      if (!recorded || spool_position{old->seq, loc.offset} < *recorded) m.head.replay = 0;
      m.raw.resize(m.head.length());
      pread_all(old->fd, m.raw.data(), m.raw.size(), loc.offset, old->path);
      out.push_back(std::move(m));
    }
    std::sort(out.begin(), out.end(), [](const moved& a, const moved& b) { return a.from_offset < b.from_offset; });
    grow(*cur, cur->end + old->live_bytes);
    for (auto& m : out) {
      m.head.seq = cur->seq;
      encode(m.raw.data(), m.head);
      m.to = cur;
      m.offset = cur->end;
      cur->end += m.raw.size();
    }
    return out;
  }

  // A new current segment: a free one reused, or a new file.
  void roll() {
    static auto& dir_syncs = fsyncs("spool_dir");
    reclaim();
    std::shared_ptr<segment> s;
    bool fresh = free.empty();
    if (!fresh) {
      s = free.back();
      free.pop_back();
    } else {
      s = std::make_shared<segment>();
      s->path = segment_path(next_slot);
      s->fd = ::open(s->path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (s->fd < 0) io_error("create", s->path);
      ++next_slot;
    }
    try {
      s->seq = max_seq + 1;
      s->live = 0;
      s->live_bytes = 0;
      s->end = segment_header;
      grow(*s, segment_header + record_header + id_size);
      std::string head(segment_header, '\0');
      std::memcpy(head.data(), segment_magic, 8);
      put_u32(head.data() + 8, 1);  // format version
      put_u64(head.data() + 16, s->seq);
      put_u32(head.data() + 24, 0);
      put_u32(head.data() + 28, base::crc32c({head.data(), 28}));
      pwrite_all(s->fd, head.data(), head.size(), 0, s->path);
      if (::fdatasync(s->fd) != 0) io_error("fdatasync", s->path);
      fsyncs("spool_segment").inc();
      if (fresh) {
        if (::fsync(dir_fd) != 0) io_error("fsync", dir);
        dir_syncs.inc();
      }
    } catch (...) {
      s->seq = 0;
      if (fresh) ::unlink(s->path.c_str());
      else free.push_back(s);
      throw;
    }
    max_seq = s->seq;
    segments.push_back(s);
  }
};

namespace {

class seg_writer final : public spool_writer {
 public:
  seg_writer(segment_spool::impl& sp, std::string id) : sp_(sp), id_(std::move(id)), buf_(sp.take_buffer()) {
    buf_.reserve(writer_reserve);
    buf_.assign(record_header, '\0');  // all zero: not a record until finish()
    buf_.append(id_);
    crc_ = base::crc32c(id_);
  }
  ~seg_writer() override {
    if (fd_ >= 0) ::close(fd_);
    sp_.give_back(buf_);
  }

  void write_body(std::string_view bytes) override {
    body_ += bytes.size();
    crc_ = base::crc32c_extend(crc_, bytes);
    if (fd_ < 0) {
      if (buf_.size() + bytes.size() <= sp_.opt.spill_bytes) {
        buf_.append(bytes);
        return;
      }
      spill();
    }
    if (buf_.size() + bytes.size() > write_buffer) {
      flush();
      if (bytes.size() >= write_buffer) {
        write_all(fd_, bytes.data(), bytes.size(), path_);
        return;
      }
    }
    buf_.append(bytes);
  }

  void finish(std::string_view header_section) override {
    crc_ = base::crc32c_extend(crc_, header_section);
    head_.body = body_;
    head_.header = header_section.size();
    head_.id_len = id_size;
    head_.data_crc = crc_;
    if (fd_ < 0) {
      buf_.append(header_section);  // the head is written at sync(), with the segment's number
    } else {
      flush();
      write_all(fd_, header_section.data(), header_section.size(), path_);
      char head[record_header];
      encode(head, head_);  // sequence 0: a file of its own
      pwrite_all(fd_, head, sizeof head, 0, path_);
    }
    finished_ = true;
  }

  bool keep_replay(std::string_view data) override {
    if (fd_ >= 0 || !finished_ || head_.replay != 0 || data.empty() || data.size() > max_replay) return false;
    buf_.append(data);
    head_.replay = static_cast<std::uint32_t>(data.size());
    return true;
  }

  const std::string& id() const override { return id_; }
  std::uint64_t size() const override { return body_ + head_.header; }
  std::shared_ptr<const std::string> content() const override {
    if (fd_ >= 0 || !finished_ || buf_.size() < record_header + id_.size() + body_ + head_.header) return nullptr;  // synced: handed back
    const std::size_t body_at = record_header + id_.size();
    auto out = std::make_shared<std::string>();
    out->reserve(head_.header + 2 + body_);
    out->append(buf_, body_at + body_, head_.header).append("\r\n").append(buf_, body_at, body_);
    return out;
  }

  bool spilled() const { return fd_ >= 0; }
  bool finished() const { return finished_; }
  std::string& record() { return buf_; }
  record_head& head() { return head_; }
  const fs::path& path() const { return path_; }
  int fd() const { return fd_; }
  int release_fd() { return std::exchange(fd_, -1); }

 private:
  // Too large to hold until the commit: the record goes to a file of its own.
  void spill() {
    path_ = sp_.dir / large_name(id_);
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0) io_error("create", path_);
    flush();
    buf_.reserve(write_buffer);
  }
  void flush() {
    write_all(fd_, buf_.data(), buf_.size(), path_);
    buf_.clear();
  }

  segment_spool::impl& sp_;
  std::string id_;
  std::string buf_;
  fs::path path_;
  int fd_ = -1;
  std::uint64_t body_ = 0;
  std::uint32_t crc_ = 0;
  record_head head_;
  bool finished_ = false;
};

class seg_reader final : public spool_reader {
 public:
  explicit seg_reader(location loc) : loc_(std::move(loc)) {
    const auto& h = loc_.head;
    const auto& s = *loc_.seg;
    const std::uint64_t data = loc_.offset + record_header;
    if (h.length() <= verify_in_memory) {
      const auto n = static_cast<std::size_t>(h.id_len + h.body + h.header);
      small_ = std::make_unique_for_overwrite<char[]>(n);  // read into, never zeroed first
      pread_all(s.fd, small_.get(), n, data, s.path);
      check(base::crc32c({small_.get(), n}));
      header_.assign(small_.get() + h.id_len + h.body, h.header);
      at_ = h.id_len;
    } else {
      header_.resize(h.header);
      pread_all(s.fd, header_.data(), header_.size(), data + h.id_len + h.body, s.path);
      std::string id(h.id_len, '\0');
      pread_all(s.fd, id.data(), id.size(), data, s.path);
      crc_ = base::crc32c(id);
      at_ = h.id_len;
    }
  }

  const std::string& header_section() const override { return header_; }
  std::uint64_t body_size() const override { return loc_.head.body; }

  std::size_t read_body(char* buf, std::size_t n) override {
    const auto& h = loc_.head;
    const std::uint64_t end = h.id_len + h.body;
    if (at_ >= end) return 0;
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(end - at_, n));
    if (small_) {
      std::memcpy(buf, small_.get() + at_, want);
    } else {
      pread_all(loc_.seg->fd, buf, want, loc_.offset + record_header + at_, loc_.seg->path);
      crc_ = base::crc32c_extend(crc_, {buf, want});
      if (at_ + want == end) check(base::crc32c_extend(crc_, header_));  // before the last octets go out
    }
    at_ += want;
    return want;
  }

 private:
  void check(std::uint32_t crc) const {
    if (crc != loc_.head.data_crc)
      throw store_error(fmt::format("spool: the record at {}:{} fails its checksum", loc_.seg->path.string(), loc_.offset),
                        false);
  }

  location loc_;
  std::string header_;
  std::unique_ptr<char[]> small_;  // the record's data, checked, when it is small
  std::uint64_t at_ = 0;
  std::uint32_t crc_ = 0;
};

}  // namespace

segment_spool::segment_spool(fs::path dir, segment_options o) : impl_(std::make_unique<impl>()) {
  impl_->dir = std::move(dir);
  impl_->opt = o;
  std::error_code ec;
  fs::create_directories(impl_->dir, ec);
  if (ec) throw store_error(fmt::format("spool: cannot create {}: {}", impl_->dir.string(), ec.message()), false);
  ::chmod(impl_->dir.c_str(), 0700);
  impl_->dir_fd = ::open(impl_->dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (impl_->dir_fd < 0) io_error("open", impl_->dir);
}

segment_spool::~segment_spool() {
  {
    std::lock_guard l(impl_->mu);
    impl_->index.clear();
    impl_->segments.clear();
    impl_->free.clear();
  }
  if (impl_->dir_fd >= 0) ::close(impl_->dir_fd);  // and with it the lock
}

void segment_spool::open_for_writing() {
  std::lock_guard l(impl_->mu);
  impl_->claim();
  impl_->ensure_scanned();
}

std::unique_ptr<spool_writer> segment_spool::create(std::string_view id) {
  if (!base::is_queue_id(id)) throw store_error(fmt::format("spool: bad id {}", id), false);
  {
    std::lock_guard l(impl_->mu);
    if (!impl_->owner) {
      impl_->claim();
      impl_->ensure_scanned();
    }
  }
  return std::make_unique<seg_writer>(*impl_, std::string(id));
}

void segment_spool::sync(std::span<spool_writer* const> entries) {
  static auto& segment_syncs = fsyncs("spool_segment");
  static auto& file_syncs = fsyncs("spool_file");
  static auto& dir_syncs = fsyncs("spool_dir");
  auto& d = *impl_;
  std::lock_guard w(d.write_mu);
  struct placed {
    seg_writer* writer;
    std::shared_ptr<segment> seg;
    std::uint64_t offset;
  };
  std::vector<placed> plan;
  plan.reserve(entries.size());
  std::vector<impl::moved> moves;
  bool large = false;
  {
    std::lock_guard l(d.mu);
    d.claim();
    d.ensure_scanned();
    std::vector<std::pair<std::shared_ptr<segment>, std::uint64_t>> ends;  // to undo a plan that fails
    if (auto cur = d.current()) ends.emplace_back(cur, cur->end);
    bool rolled = false;
    try {
      for (auto* e : entries) {
        auto* wr = static_cast<seg_writer*>(e);
        if (!wr->finished()) throw store_error(fmt::format("spool: {} synced before it was finished", wr->id()), false);
        if (wr->spilled()) {
          large = true;
          plan.push_back({wr, nullptr, 0});
          continue;
        }
        auto& rec = wr->record();
        auto cur = d.current();
        if (!cur || (cur->end + rec.size() > d.opt.segment_bytes && cur->end > segment_header)) {
          d.roll();
          cur = d.current();
          ends.emplace_back(cur, cur->end);
          rolled = true;
        }
        d.grow(*cur, cur->end + rec.size());
        wr->head().seq = cur->seq;
        encode(rec.data(), wr->head());
        plan.push_back({wr, cur, cur->end});
        cur->end += rec.size();
      }
      if (rolled) moves = d.plan_compaction();
    } catch (...) {
      for (auto& [seg, end] : ends) seg->end = end;
      throw;
    }
  }
  // The writes and syncs, without holding up readers.
  std::vector<iovec> iov;
  std::vector<segment*> touched;
  for (std::size_t i = 0; i < plan.size();) {
    if (!plan[i].seg) {
      ++i;
      continue;
    }
    auto* s = plan[i].seg.get();
    const auto at = plan[i].offset;
    std::uint64_t expect = at;
    iov.clear();
    for (; i < plan.size() && plan[i].seg.get() == s && plan[i].offset == expect && iov.size() < IOV_MAX; ++i) {
      auto& rec = plan[i].writer->record();
      iov.push_back({rec.data(), rec.size()});
      expect += rec.size();
    }
    std::uint64_t off = at;
    std::size_t first = 0;
    while (first < iov.size()) {
      ssize_t n = ::pwritev(s->fd, iov.data() + first, static_cast<int>(iov.size() - first), static_cast<off_t>(off));
      if (n < 0) {
        if (errno == EINTR) continue;
        io_error("write", s->path);
      }
      off += static_cast<std::uint64_t>(n);
      auto left = static_cast<std::size_t>(n);
      while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
      if (left > 0) {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
      }
    }
    if (std::find(touched.begin(), touched.end(), s) == touched.end()) touched.push_back(s);
  }
  for (auto& m : moves) {
    pwrite_all(m.to->fd, m.raw.data(), m.raw.size(), m.offset, m.to->path);
    if (std::find(touched.begin(), touched.end(), m.to.get()) == touched.end()) touched.push_back(m.to.get());
  }
  for (auto* s : touched) {
    if (::fdatasync(s->fd) != 0) io_error("fdatasync", s->path);
    segment_syncs.inc();
  }
  for (auto& p : plan) {
    if (p.seg) continue;
    if (::fdatasync(p.writer->fd()) != 0) io_error("fdatasync", p.writer->path());
    file_syncs.inc();
  }
  if (large) {  // their names must be durable too
    if (::fsync(d.dir_fd) != 0) io_error("fsync", d.dir);
    dir_syncs.inc();
  }
  std::lock_guard l(d.mu);
  for (auto& p : plan) {
    if (p.seg) {
      d.put(p.writer->id(), location{p.seg, p.offset, p.writer->head()});
      d.give_back(p.writer->record());  // for the next messages
      continue;
    }
    auto s = std::make_shared<segment>();
    s->path = p.writer->path();
    s->large = true;
    s->fd = p.writer->release_fd();
    s->end = s->allocated = p.writer->head().length();
    d.broken.erase(p.writer->id());
    d.put(p.writer->id(), location{s, 0, p.writer->head()});
  }
  for (auto& m : moves) {
    auto it = d.index.find(m.id);
    if (it != d.index.end() && it->second.seg == m.from && it->second.offset == m.from_offset)
      d.put(m.id, location{m.to, m.offset, m.head});  // else removed meanwhile: the copy is just unused
  }
  if (auto cur = d.current()) d.through = spool_position{cur->seq, cur->end};
  if (!moves.empty()) {
    static auto& compactions = base::metrics().get_counter(
        "smtpsd_spool_compactions_total", "Spool segments whose last records were copied forward");
    compactions.inc();
    d.reclaim();
  }
  d.publish();
}

void segment_spool::remove(std::string_view id) {
  auto& d = *impl_;
  std::lock_guard l(d.mu);
  d.ensure_scanned();
  const std::string key(id);
  auto it = d.index.find(key);
  bool large = d.broken.erase(key) > 0;
  if (it != d.index.end()) {
    large = large || it->second.seg->large;
    d.drop(it->second);
    d.index.erase(it);
  } else {
    large = true;  // perhaps a large message that was never committed
  }
  if (!d.owner) return;  // the writer drops it once its queue row is gone
  if (large && base::is_queue_id(id)) {
    auto p = d.dir / large_name(id);
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) io_error("unlink", p);
  }
  d.reclaim();
  d.publish();
}

std::unique_ptr<spool_reader> segment_spool::open(std::string_view id) {
  auto& d = *impl_;
  if (!base::is_queue_id(id)) throw store_error(fmt::format("spool: bad id {}", id), false);
  const std::string key(id);
  location loc;
  {
    std::lock_guard l(d.mu);
    d.ensure_scanned();
    auto it = d.index.find(key);
    if (it == d.index.end() && !d.owner) {  // written since this process looked
      d.scan();
      it = d.index.find(key);
    }
    if (it == d.index.end()) {
      auto p = d.dir / large_name(id);
      if (d.broken.count(key) || ::access(p.c_str(), F_OK) == 0)
        throw store_error(fmt::format("spool: {} is incomplete", p.string()), false);
      return nullptr;
    }
    loc = it->second;
  }
  return std::make_unique<seg_reader>(std::move(loc));
}

std::vector<std::string> segment_spool::ids() {
  auto& d = *impl_;
  std::lock_guard l(d.mu);
  d.ensure_scanned();
  std::vector<std::string> out;
  out.reserve(d.index.size() + d.broken.size());
  for (auto& [id, loc] : d.index) out.push_back(id);
  out.insert(out.end(), d.broken.begin(), d.broken.end());
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<spool_position> segment_spool::synced_through() const {
  std::lock_guard l(impl_->mu);
  return impl_->through;
}

void segment_spool::recorded(spool_position through) {
  std::lock_guard l(impl_->mu);
  impl_->recorded = through;
}

std::optional<std::uint64_t> segment_spool::free_bytes() const {
  std::error_code ec;
  const auto sp = fs::space(impl_->dir, ec);  // dir is set once, at construction
  if (ec) return std::nullopt;
  return sp.available;
}

std::vector<replayable> segment_spool::replay_after(spool_position after) {
  auto& d = *impl_;
  std::lock_guard l(d.mu);
  d.ensure_scanned();
  std::vector<std::pair<spool_position, const std::pair<const std::string, location>*>> found;
  for (auto& entry : d.index) {
    const auto& loc = entry.second;
    if (loc.seg->large || loc.head.replay == 0) continue;
    const spool_position at{loc.seg->seq, loc.offset};
    if (at >= after) found.emplace_back(at, &entry);
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<replayable> out;
  out.reserve(found.size());
  for (auto& [at, entry] : found) {
    const auto& loc = entry->second;
    replayable r{entry->first, std::string(loc.head.replay, '\0'), at};
    pread_all(loc.seg->fd, r.data.data(), r.data.size(), loc.offset + loc.head.replay_at(), loc.seg->path);
    if (r.data.size() >= 5 && r.data.compare(0, 5, std::string_view("\0\0\0\0\0", 5)) == 0) continue;  // forgotten
    out.push_back(std::move(r));
  }
  return out;
}

void segment_spool::forget_replay(std::span<const std::string> ids) {
  auto& d = *impl_;
  std::lock_guard w(d.write_mu);
  std::vector<std::shared_ptr<segment>> touched;
  {
    std::lock_guard l(d.mu);
    d.ensure_scanned();
    for (const auto& id : ids) {
      auto it = d.index.find(id);
      if (it == d.index.end() || it->second.seg->large || it->second.head.replay == 0) continue;
      const auto& loc = it->second;
      const char zero[5] = {};  // the replay data's CRC and version: it no longer checks out
      pwrite_all(loc.seg->fd, zero, sizeof zero, loc.offset + loc.head.replay_at(), loc.seg->path);
      if (std::find(touched.begin(), touched.end(), loc.seg) == touched.end()) touched.push_back(loc.seg);
    }
  }
  for (auto& s : touched) {
    if (::fdatasync(s->fd) != 0) io_error("fdatasync", s->path);
    fsyncs("spool_segment").inc();
  }
}

void segment_spool::quarantine(std::string_view id) {
  auto& d = *impl_;
  if (!base::is_queue_id(id)) return;
  std::lock_guard l(d.mu);
  d.ensure_scanned();
  const auto to_dir = d.dir / "corrupt";
  std::error_code ec;
  fs::create_directories(to_dir, ec);
  const std::string key(id);
  const auto to = to_dir / key;
  auto it = d.index.find(key);
  if (it != d.index.end() && !it->second.seg->large) {
    // Keep the record's octets for inspection.
    const auto& loc = it->second;
    std::string raw(loc.head.length(), '\0');
    raw.resize(pread_some(loc.seg->fd, raw.data(), raw.size(), loc.offset, loc.seg->path));
    int fd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
      if (::write(fd, raw.data(), raw.size()) < 0) { /* best effort */ }
      ::close(fd);
    }
  } else {
    fs::rename(d.dir / large_name(id), to, ec);
  }
  if (it != d.index.end()) {
    d.drop(it->second);
    d.index.erase(it);
  }
  d.broken.erase(key);
  if (d.owner) d.reclaim();
  d.publish();
}

segment_spool::usage_figures segment_spool::usage() {
  auto& d = *impl_;
  std::lock_guard l(d.mu);
  d.ensure_scanned();
  return d.figures();
}

}  // namespace smtpsd::store::embedded
