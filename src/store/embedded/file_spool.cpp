#include "store/embedded/file_spool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/ids.hpp"
#include "base/metrics.hpp"
#include "store/types.hpp"

namespace smtpsd::store::embedded {

namespace {

constexpr std::size_t preamble_size = 32;
constexpr char magic[8] = {'S', 'M', 'T', 'P', 'S', 'D', 'Q', '1'};
constexpr std::size_t buffer_size = 64 * 1024;

base::counter& fsyncs(const char* what) {
  return base::metrics().get_counter("smtpsd_fsyncs_total", "fsync/fdatasync calls made by the spool",
                                     {{"what", what}});
}

[[noreturn]] void io_error(std::string_view what, const std::filesystem::path& p) {
  int e = errno;
  auto msg = fmt::format("spool: {} {}: {}", what, p.string(), std::strerror(e));
  if (e == ENOSPC || e == EDQUOT || e == EFBIG) throw storage_full(msg);
  throw store_error(msg);
}

void put_u64(char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void write_all(int fd, const char* data, std::size_t n, const std::filesystem::path& p) {
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

void pread_all(int fd, char* data, std::size_t n, off_t off, const std::filesystem::path& p) {
  while (n > 0) {
    ssize_t r = ::pread(fd, data, n, off);
    if (r < 0) {
      if (errno == EINTR) continue;
      io_error("read", p);
    }
    if (r == 0) throw store_error(fmt::format("spool: {} is truncated", p.string()));
    data += r;
    n -= static_cast<std::size_t>(r);
    off += r;
  }
}

class file_writer final : public spool_writer {
 public:
  file_writer(std::string id, std::filesystem::path path) : id_(std::move(id)), path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0) io_error("create", path_);
    buf_.reserve(buffer_size);
    buf_.assign(preamble_size, '\0');  // all zero: incomplete until finish()
  }
  ~file_writer() override {
    if (fd_ >= 0) ::close(fd_);
  }

  void write_body(std::string_view bytes) override {
    body_ += bytes.size();
    if (buf_.size() + bytes.size() > buffer_size) {
      flush();
      if (bytes.size() >= buffer_size) {
        write_all(fd_, bytes.data(), bytes.size(), path_);
        return;
      }
    }
    buf_.append(bytes);
  }

  void finish(std::string_view header_section) override {
    header_ = header_section.size();
    flush();
    write_all(fd_, header_section.data(), header_section.size(), path_);
    char pre[preamble_size] = {};
    std::memcpy(pre, magic, sizeof magic);
    put_u64(pre + 8, body_);
    put_u64(pre + 16, header_);
    if (::pwrite(fd_, pre, preamble_size, 0) != static_cast<ssize_t>(preamble_size)) io_error("write", path_);
  }

  const std::string& id() const override { return id_; }
  std::uint64_t size() const override { return body_ + header_; }
  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void flush() {
    write_all(fd_, buf_.data(), buf_.size(), path_);
    buf_.clear();
  }
  std::string id_;
  std::filesystem::path path_;
  int fd_ = -1;
  std::string buf_;
  std::uint64_t body_ = 0;
  std::uint64_t header_ = 0;
};

class file_reader final : public spool_reader {
 public:
  explicit file_reader(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {
    char pre[preamble_size];
    struct stat st {};
    if (::fstat(fd_, &st) != 0) io_error("stat", path_);
    if (static_cast<std::size_t>(st.st_size) < preamble_size)
      throw store_error(fmt::format("spool: {} is incomplete", path_.string()), false);
    pread_all(fd_, pre, preamble_size, 0, path_);
    body_ = get_u64(pre + 8);
    std::uint64_t header = get_u64(pre + 16);
    if (std::memcmp(pre, magic, sizeof magic) != 0 ||
        preamble_size + body_ + header != static_cast<std::uint64_t>(st.st_size))
      throw store_error(fmt::format("spool: {} is incomplete or corrupt", path_.string()), false);
    header_.resize(header);
    pread_all(fd_, header_.data(), header, static_cast<off_t>(preamble_size + body_), path_);
  }
  ~file_reader() override { ::close(fd_); }

  const std::string& header_section() const override { return header_; }
  std::uint64_t body_size() const override { return body_; }
  std::size_t read_body(char* buf, std::size_t n) override {
    std::uint64_t left = body_ - pos_;
    if (left == 0) return 0;
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, n));
    pread_all(fd_, buf, want, static_cast<off_t>(preamble_size + pos_), path_);
    pos_ += want;
    return want;
  }

 private:
  std::filesystem::path path_;
  int fd_;
  std::string header_;
  std::uint64_t body_ = 0;
  std::uint64_t pos_ = 0;
};

}  // namespace

file_spool::file_spool(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw store_error(fmt::format("spool: cannot create {}: {}", dir_.string(), ec.message()), false);
  ::chmod(dir_.c_str(), 0700);
  dir_fd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) io_error("open", dir_);
}

file_spool::~file_spool() {
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

std::filesystem::path file_spool::path_of(std::string_view id) const {
  if (!base::is_queue_id(id)) throw store_error(fmt::format("spool: bad id {}", id), false);
  return dir_ / std::string(id);
}

std::unique_ptr<spool_writer> file_spool::create(std::string_view id) {
  return std::make_unique<file_writer>(std::string(id), path_of(id));
}

void file_spool::sync(std::span<spool_writer* const> entries) {
  static auto& file_syncs = fsyncs("spool_file");
  static auto& dir_syncs = fsyncs("spool_dir");
  for (auto* e : entries) {
    auto* w = static_cast<file_writer*>(e);
    if (::fdatasync(w->fd()) != 0) io_error("fdatasync", w->path());
    file_syncs.inc();
  }
  // The new names must be durable too.
  if (!entries.empty()) {
    if (::fsync(dir_fd_) != 0) io_error("fsync", dir_);
    dir_syncs.inc();
  }
}

void file_spool::remove(std::string_view id) {
  auto p = path_of(id);
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) io_error("unlink", p);
}

std::unique_ptr<spool_reader> file_spool::open(std::string_view id) {
  auto p = path_of(id);
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return nullptr;
    io_error("open", p);
  }
  return std::make_unique<file_reader>(p, fd);
}

std::vector<std::string> file_spool::ids() {
  std::vector<std::string> out;
  for (auto& e : std::filesystem::directory_iterator(dir_)) {
    auto name = e.path().filename().string();
    if (e.is_regular_file() && base::is_queue_id(name)) out.push_back(name);
  }
  return out;
}

void file_spool::quarantine(std::string_view id) {
  auto from = path_of(id);
  auto to_dir = dir_ / "corrupt";
  std::filesystem::create_directories(to_dir);
  std::error_code ec;
  std::filesystem::rename(from, to_dir / std::string(id), ec);
}

}  // namespace smtpsd::store::embedded
