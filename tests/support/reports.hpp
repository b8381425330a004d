// Test support: how a child and its parent talk over pipes. A child reports progress as lines on its standard
// output; the parent reads them (blocking: an event) and may release a child that waits on a pipe it inherited.
// Nothing here depends on Catch2 (line_reader.hpp adds the reader with a hang guard that fails a test).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace shmring_test {

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

/// A child's report to its parent through stdio: one line on standard output, flushed.
inline void say(const std::string& line) {
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

/// Reads one '\n'-terminated line from fd (blocking, byte by byte: nothing after the line is consumed). Empty at
/// end of file.
inline std::string read_line(int fd) {
  std::string line;
  char c = 0;
  for (;;) {
    const ssize_t n = ::read(fd, &c, 1);
    if (n == 1) {
      if (c == '\n') return line;
      line.push_back(c);
    } else if (n == 0 || errno != EINTR) {
      return line;
    }
  }
}

/// A child's report of "key=value" lines, as a map (later keys win; other lines are ignored).
inline std::map<std::string, std::string> key_values(const std::string& out) {
  std::map<std::string, std::string> kv;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (const auto eq = line.find('='); eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  return kv;
}

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

}  // namespace shmring_test
