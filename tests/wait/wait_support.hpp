// Test support for the waiting, liveness and stale-segment tests: a checked 64-byte item, line-based reports
// from child processes over pipes (with a hang guard, never a sleep), a pipe a child inherits so the parent can
// release it, and a read-only view of a segment's header to observe the shared words the library writes.
#pragma once

#include "checksum.hpp"
#include "process.hpp"

#include <shmring/shmring.hpp>

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace shmring_test {

/// A 64-byte element whose every byte is a function of its sequence number and flags, closed by a CRC-32 over
/// the rest: a lost, repeated, torn or stale element fails the check.
struct item {
  std::uint64_t seq;
  std::uint32_t flags;  // 1 on the last element of a stream
  std::uint8_t body[48];
  std::uint32_t crc;    // crc32 of the 60 bytes before it
};
static_assert(sizeof(item) == 64);

inline item make_item(std::uint64_t seq, std::uint32_t flags = 0) {
  item v{};
  v.seq = seq;
  v.flags = flags;
  std::uint64_t x = mix(seq);
  for (std::size_t i = 0; i < sizeof v.body; i += 8) {
    x = mix(x);
    std::memcpy(v.body + i, &x, 8);
  }
  v.crc = crc32(std::as_bytes(std::span<const item>(&v, 1)).first(offsetof(item, crc)));
  return v;
}

/// True when v is exactly element seq (with whatever flags it carries, which the CRC covers).
inline bool item_ok(const item& v, std::uint64_t seq) {
  const item want = make_item(seq, v.flags);
  return std::memcmp(&v, &want, sizeof want) == 0;
}

/// Makes this child die with its parent, so a test killed by its CTest timeout leaves no process behind.
inline void die_with_parent() { (void)::prctl(PR_SET_PDEATHSIG, SIGKILL); }

/// Writes one line with one write(2): under PIPE_BUF bytes it reaches the reader whole or not at all, which makes
/// a line written before a SIGKILL "durable" for the parent.
inline void report(int fd, const std::string& line) {
  const std::string s = line + "\n";
  const char* p = s.data();
  std::size_t left = s.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("write to the report pipe failed");
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}
inline void report(const std::string& line) { report(STDOUT_FILENO, line); }

/// Reads a child's reports line by line. Blocks on the pipe (an event); the limit is a hang guard only.
class line_reader {
 public:
  explicit line_reader(int fd) : fd_(fd) {}

  /// The next line without its newline, or nothing at end of file. Fails the test after `limit` without data.
  std::optional<std::string> next(std::chrono::seconds limit = std::chrono::seconds(120)) {
    for (;;) {
      const auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      if (eof_) {
        if (buf_.empty()) return std::nullopt;
        std::string line;
        line.swap(buf_);
        return line;
      }
      pollfd p{fd_, POLLIN, 0};
      int r = 0;
      do r = ::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(limit).count()));
      while (r < 0 && errno == EINTR);
      if (r == 0) FAIL("no report from the child within " << limit.count() << " s (hang guard)");
      char tmp[4096];
      const ssize_t n = ::read(fd_, tmp, sizeof tmp);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        eof_ = true;
      else
        buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }

  /// The next line, which must exist.
  std::string expect(std::chrono::seconds limit = std::chrono::seconds(120)) {
    auto l = next(limit);
    if (!l) FAIL("the child closed its report pipe early");
    return *l;
  }

 private:
  int fd_;
  std::string buf_;
  bool eof_ = false;
};

/// The words of a line, split on spaces.
inline std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> w;
  std::size_t i = 0;
  while (i < line.size()) {
    const auto j = line.find(' ', i);
    const auto end = j == std::string::npos ? line.size() : j;
    if (end > i) w.push_back(line.substr(i, end - i));
    i = end + 1;
  }
  return w;
}

/// A pipe whose read end one chosen child inherits (pass read_fd() as an argument and start the child inside
/// inherit()): the parent releases that child, blocked on the pipe, by writing a byte.
class release_pipe {
 public:
  release_pipe() {
    if (::pipe2(fd_, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  }
  ~release_pipe() {
    ::close(fd_[0]);
    ::close(fd_[1]);
  }
  release_pipe(const release_pipe&) = delete;
  release_pipe& operator=(const release_pipe&) = delete;

  [[nodiscard]] int read_fd() const noexcept { return fd_[0]; }

  /// Runs start() (which starts the child) with the read end inheritable, and only then.
  template <class F>
  auto inherit(F&& start) {
    (void)::fcntl(fd_[0], F_SETFD, 0);
    struct restore {
      int fd;
      ~restore() { (void)::fcntl(fd, F_SETFD, FD_CLOEXEC); }
    } r{fd_[0]};
    return start();
  }

  /// Releases the child once.
  void release() {
    const char c = 'g';
    while (::write(fd_[1], &c, 1) != 1)
      if (errno != EINTR) throw std::runtime_error("write to the release pipe failed");
  }

 private:
  int fd_[2] = {-1, -1};
};

/// In the child: blocks until the parent releases it. False when the parent is gone.
inline bool wait_released(int fd) {
  char c = 0;
  for (;;) {
    const ssize_t n = ::read(fd, &c, 1);
    if (n == 1) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

/// A read-only view of a segment's header, to observe the words the library shares (indices, sleeping flags).
class header_view {
 public:
  explicit header_view(const std::string& name)
      : seg_(shmring::segment::open(name, shmring::segment::access::read_only)) {
    seg_.map(sizeof(shmring::layout::header));
  }
  [[nodiscard]] const shmring::layout::header& h() const noexcept {
    return *std::launder(reinterpret_cast<const shmring::layout::header*>(seg_.data()));
  }
  /// The consumer's index relative to the first one (what consumer<T>::popped() says).
  [[nodiscard]] std::uint64_t popped() const noexcept {
    // acquire: pairs with the consumer's release store of tail.
    return h().tail.value.load(std::memory_order_acquire) - h().control.initial_index;
  }

 private:
  shmring::segment seg_;
};

}  // namespace shmring_test
