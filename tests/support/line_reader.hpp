// Test support (Catch2): reading a child's reports line by line, with a hang guard that fails the test when the
// child says nothing for too long, and a child's final report once it exited.
#pragma once

#include "process.hpp"
#include "reports.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <poll.h>
#include <unistd.h>

namespace shmring_test {

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

/// The words of the report line a child writes last (it must write one), once the child has exited with 0 and
/// when the line has `count` words; each of these is REQUIREd.
inline std::vector<std::string> final_report(child_process& child, std::size_t count) {
  line_reader r(child.output_fd());
  auto w = words(r.expect());
  REQUIRE(child.wait() == 0);
  REQUIRE(w.size() == count);
  return w;
}

}  // namespace shmring_test
