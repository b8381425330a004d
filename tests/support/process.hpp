// Test and bench support: processes. This program re-run as a child running one of its SHMRING_CHILD functions
// (child_process), another program run as a child (command_process), a hang guard when waiting for either, and
// observing a child's state without reaping it. Children are killed and reaped by the destructors, so a failing
// test never leaves processes behind. Nothing here depends on Catch2.
// May touch: processes it starts.
#pragma once

#include "child_registry.hpp"

#include <chrono>
#include <csignal>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include <cerrno>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace shmring_test {

/// This program's path (to re-run it as a child, or under another program such as unshare).
inline std::string self_exe() {
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) throw std::runtime_error("readlink /proc/self/exe failed");
  return std::string(exe, static_cast<std::size_t>(n));
}

/// An exit status as one number: the exit code, 128 + the signal if killed, -2 otherwise.
inline int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -2;
}

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

/// In a child: die with the parent, so a parent killed (e.g. by its CTest timeout) leaves no process behind.
inline void die_with_parent() { (void)::prctl(PR_SET_PDEATHSIG, SIGKILL); }

/// How child_process starts this program again.
struct spawn_options {
  /// The child's standard output is a pipe that read_output() / output_fd() read.
  bool capture_stdout = false;
  /// The hidden flag this program's main() recognises before the child's name (tests' main: --child).
  std::string flag = "--child";
  /// Descriptors handed to the child, at fd_base, fd_base + 1, ... (dup2 clears close-on-exec there).
  std::vector<int> fds;
  int fd_base = 100;
};

/// A child process running this program's SHMRING_CHILD function. Killed (SIGKILL) and reaped by the destructor
/// if still running.
class child_process {
 public:
  /// Starts `<this program> --child fn args...`. With capture_stdout, the child's standard output is a pipe that
  /// read_output() drains.
  child_process(const std::string& fn, const std::vector<std::string>& args, bool capture_stdout = false)
      : child_process(fn, args, options_capturing(capture_stdout)) {}

  /// Starts `<this program> <o.flag> fn args...`.
  child_process(const std::string& fn, const std::vector<std::string>& args, const spawn_options& o) {
    std::vector<std::string> argv_s{"/proc/self/exe", o.flag, fn};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    const std::string exe = self_exe();
    posix_spawn_file_actions_t fa;
    ::posix_spawn_file_actions_init(&fa);
    for (std::size_t i = 0; i < o.fds.size(); ++i)
      ::posix_spawn_file_actions_adddup2(&fa, o.fds[i], o.fd_base + static_cast<int>(i));
    int fds[2] = {-1, -1};
    if (o.capture_stdout) {
      if (::pipe2(fds, O_CLOEXEC) != 0) {
        ::posix_spawn_file_actions_destroy(&fa);
        throw std::runtime_error("pipe2 failed");
      }
      ::posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    }
    const int rc = ::posix_spawn(&pid_, exe.c_str(), &fa, nullptr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&fa);
    if (o.capture_stdout) {
      ::close(fds[1]);
      out_fd_ = fds[0];
    }
    if (rc != 0) {
      pid_ = -1;
      throw std::runtime_error("posix_spawn failed");
    }
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() {
    if (out_fd_ >= 0) ::close(out_fd_);
    kill_now();
  }

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  /// Whether the child still runs (without reaping it: wait() still returns its exit code).
  [[nodiscard]] bool running() const { return pid_ > 0 && !has_exited(pid_); }

  /// Waits for the child to exit and returns its exit code (128 + signal if killed). A hang guard, not a
  /// synchronisation: after `limit` the child is killed and -1 returned, so a broken build fails instead of hanging.
  int wait(std::chrono::seconds limit = std::chrono::seconds(240)) {
    // pidfd becomes readable when the child exits: an event, not a polling loop.
    const int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pfd >= 0) {
      pollfd p{pfd, POLLIN, 0};
      int r = 0;
      do r = ::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(limit).count()));
      while (r < 0 && errno == EINTR);
      ::close(pfd);
      if (r == 0) {
        kill_now();
        return -1;
      }
    }
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return exit_code(st);
  }

  /// Everything the child wrote to its standard output until it closed it (blocks until then).
  std::string read_output() {
    std::string out = read_all(out_fd_);
    if (out_fd_ >= 0) ::close(out_fd_);
    out_fd_ = -1;
    return out;
  }

  /// The read end of the child's captured standard output (-1 without capture), for tests that read as it runs.
  [[nodiscard]] int output_fd() const noexcept { return out_fd_; }

  /// Sends SIGKILL and reaps the child.
  void kill_now() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
  }

  /// Everything readable from fd until end of file (blocks until then); empty for fd < 0.
  static std::string read_all(int fd) {
    std::string out;
    if (fd < 0) return out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        out.append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
    return out;
  }

 private:
  static spawn_options options_capturing(bool capture_stdout) {
    spawn_options o;
    o.capture_stdout = capture_stdout;
    return o;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
};

/// Another program (not this one) run as a child with its standard output captured: the shmring tool, unshare.
/// Killed (SIGKILL) and reaped by the destructor if still running.
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
  std::string read_output() { return child_process::read_all(out_fd_); }

  /// Waits for the exit (a blocking waitpid: an event) and returns the exit code, 128 + signal if killed.
  int wait() {
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return exit_code(st);
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

}  // namespace shmring_test
