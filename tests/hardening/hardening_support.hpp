// Test support for the hardening tests: error codes of a call, raw access to a segment's bytes (as a broken or
// hostile process has it), waiting for a child to stop, and a pipe a child reports progress through.
// May touch: segments whose names the tests made, processes they started.
#pragma once

#include "process.hpp"

#include <shmring/shmring.hpp>

#include <catch2/catch.hpp>

#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace shmring_test {

/// The error code f() throws, or errc::ok.
template <class F>
shmring::errc code_of(F&& f) {
  try {
    f();
  } catch (const shmring::error& e) {
    return e.code();
  }
  return shmring::errc::ok;
}

inline std::string shm_path(const std::string& name) { return "/dev/shm/" + shmring::object_name(name); }

/// Whether /dev/shm/shmring-<name> exists.
inline bool segment_exists(const std::string& name) {
  struct stat st{};
  return ::stat(shm_path(name).c_str(), &st) == 0;
}

/// The inode of /dev/shm/shmring-<name>, or 0.
inline ino_t segment_inode(const std::string& name) {
  struct stat st{};
  return ::stat(shm_path(name).c_str(), &st) == 0 ? st.st_ino : 0;
}

/// A raw read-write mapping of the whole object, as a broken or hostile process would make it.
class raw_map {
 public:
  explicit raw_map(const std::string& name) {
    fd_ = ::shm_open(("/" + shmring::object_name(name)).c_str(), O_RDWR, 0);
    if (fd_ < 0) throw std::runtime_error("shm_open " + name + " failed");
    struct stat st{};
    ::fstat(fd_, &st);
    size_ = static_cast<std::size_t>(st.st_size);
    p_ = static_cast<std::byte*>(::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0));
    if (p_ == MAP_FAILED) throw std::runtime_error("mmap " + name + " failed");
  }
  ~raw_map() {
    ::munmap(p_, size_);
    ::close(fd_);
  }
  raw_map(const raw_map&) = delete;
  raw_map& operator=(const raw_map&) = delete;
  [[nodiscard]] shmring::layout::header& h() const noexcept { return *reinterpret_cast<shmring::layout::header*>(p_); }
  [[nodiscard]] std::byte* data() const noexcept { return p_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  int fd_ = -1;
  std::size_t size_ = 0;
  std::byte* p_ = nullptr;
};

/// Blocks until the child has stopped (SIGSTOP, raise(SIGSTOP)): an event from the kernel, not a poll.
/// The stop stays reportable (WNOWAIT), so child_process's own reaping is unaffected.
inline bool wait_stopped(pid_t pid) {
  siginfo_t info{};
  for (;;) {
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WSTOPPED | WEXITED | WNOWAIT) == 0)
      return info.si_code == CLD_STOPPED;
    if (errno != EINTR) return false;
  }
}

/// Reads one '\n'-terminated line from fd (blocking). Empty at end of file.
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

/// A child's report to its parent: one line on standard output, flushed.
inline void say(const std::string& line) {
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace shmring_test
