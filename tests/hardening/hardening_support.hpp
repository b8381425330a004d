// Test support for the hardening tests: error codes of a call, raw access to a segment's bytes (as a broken or
// hostile process has it), waiting for a child to stop, a pipe a child reports progress through, and running
// other programs (the shmring tool, unshare) as children.
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
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
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

inline std::string shm_path(const std::string& name) { return shmring::object_name(name, "/dev/shm/"); }

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
    fd_ = ::shm_open(shmring::object_name(name, "/").c_str(), O_RDWR, 0);
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

/// Whether the child has exited (or was killed), without reaping it: child_process::wait still works afterwards.
inline bool has_exited(pid_t pid) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return true;
  return info.si_pid != 0;
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

/// Another program (not this test binary) run as a child with its standard output captured: the shmring tool,
/// unshare. Killed (SIGKILL) and reaped by the destructor if still running.
class command_process {
 public:
  explicit command_process(const std::vector<std::string>& argv_s) {
    std::vector<std::string> copy = argv_s;
    std::vector<char*> argv;
    for (auto& s : copy) argv.push_back(s.data());
    argv.push_back(nullptr);
    int fds[2] = {-1, -1};
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    posix_spawn_file_actions_t fa;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    const int rc = ::posix_spawnp(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    out_fd_ = fds[0];
    if (rc != 0) {
      pid_ = -1;
      throw std::runtime_error("posix_spawnp " + argv_s.at(0) + " failed");
    }
  }
  command_process(const command_process&) = delete;
  command_process& operator=(const command_process&) = delete;
  ~command_process() {
    if (out_fd_ >= 0) ::close(out_fd_);
    kill_now();
  }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] int output_fd() const noexcept { return out_fd_; }

  /// Everything written to standard output until the program closed it (blocks until then).
  std::string read_output() {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n > 0)
        out.append(buf, static_cast<std::size_t>(n));
      else if (n == 0 || errno != EINTR)
        break;
    }
    return out;
  }

  /// Waits for the exit (a blocking waitpid: an event) and returns the exit code, 128 + signal if killed.
  int wait() {
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -2;
  }

  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    (void)wait();
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
};

/// This test binary's path (for running it under another program, e.g. unshare).
inline std::string self_exe() {
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) throw std::runtime_error("readlink /proc/self/exe failed");
  return std::string(exe, static_cast<std::size_t>(n));
}

}  // namespace shmring_test
