// Test support: start real processes (this test binary re-run as a child), wait for them with a hang guard,
// and remove segments even when a test fails.
// May touch: processes it starts, segments whose names it made.
#pragma once

#include <shmring/shmring.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <cerrno>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace shmring_test {

using child_fn = int (*)(const std::vector<std::string>& args);

inline std::map<std::string, child_fn>& children() {
  static std::map<std::string, child_fn> m;
  return m;
}

struct child_registrar {
  child_registrar(const char* name, child_fn f) { children()[name] = f; }
};

/// Defines a function that a test can start as a separate process: SHMRING_CHILD(producer_child) { ... return 0; }
#define SHMRING_CHILD(name)                                                   \
  static int name(const std::vector<std::string>& args);                     \
  static const ::shmring_test::child_registrar name##_registrar(#name, name); \
  static int name([[maybe_unused]] const std::vector<std::string>& args)

inline int run_child(int argc, char* argv[]) {
  const auto it = children().find(argv[2]);
  if (it == children().end()) {
    std::fprintf(stderr, "unknown child %s\n", argv[2]);
    return 127;
  }
  std::vector<std::string> args(argv + 3, argv + argc);
  try {
    return it->second(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child %s: %s\n", argv[2], e.what());
    return 99;
  }
}

/// A unique segment name for this test run, removed when the guard goes out of scope (pass or fail).
class segment_guard {
 public:
  explicit segment_guard(const std::string& what) {
    static std::atomic<int> counter{0};
    name_ = "test-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
    (void)shmring::remove(name_);
  }
  ~segment_guard() {
    try {
      (void)shmring::remove(name_);
    } catch (...) {
    }
  }
  segment_guard(const segment_guard&) = delete;
  segment_guard& operator=(const segment_guard&) = delete;
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] const char* c_str() const noexcept { return name_.c_str(); }

 private:
  std::string name_;
};

/// A child process running this binary's SHMRING_CHILD function. Killed (SIGKILL) and reaped by the destructor
/// if still running, so a failing test never leaves processes behind.
class child_process {
 public:
  /// Starts `<this binary> --child fn args...`. With capture_stdout, the child's standard output is a pipe that
  /// read_output() drains.
  child_process(const std::string& fn, const std::vector<std::string>& args, bool capture_stdout = false) {
    std::vector<std::string> argv_s{"/proc/self/exe", "--child", fn};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    char exe[4096];
    const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) throw std::runtime_error("readlink /proc/self/exe failed");
    exe[n] = '\0';
    posix_spawn_file_actions_t fa;
    ::posix_spawn_file_actions_init(&fa);
    int fds[2] = {-1, -1};
    if (capture_stdout) {
      if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
      ::posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    }
    const int rc = ::posix_spawn(&pid_, exe, &fa, nullptr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&fa);
    if (capture_stdout) {
      ::close(fds[1]);
      out_fd_ = fds[0];
    }
    if (rc != 0) throw std::runtime_error("posix_spawn failed");
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() {
    if (out_fd_ >= 0) ::close(out_fd_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

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
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -2;
  }

  /// Everything the child wrote to its standard output until it closed it (blocks until then).
  std::string read_output() {
    std::string out;
    if (out_fd_ < 0) return out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n > 0) {
        out.append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
    ::close(out_fd_);
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

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
};

}  // namespace shmring_test
