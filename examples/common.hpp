// Small helpers shared by the example programs: argument parsing, CPU pinning, rates.
#pragma once

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <shmring/wait.hpp>

#include <sched.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;


namespace example {

/// `--key value` and `--flag` arguments; `--help` prints usage and exits.
class args {
 public:
  args(int argc, char** argv, const char* usage) {
    for (int i = 1; i < argc; ++i) {
      std::string_view a = argv[i];
      if (a == "--help" || a == "-h") {
        std::fputs(usage, stdout);
        std::exit(0);
      }
      if (a.substr(0, 2) != "--") fail(usage, "unexpected argument: " + std::string(a));
      const std::string key(a.substr(2));
      if (i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0)
        kv_[key] = argv[++i];
      else
        kv_[key] = "";
    }
  }
  [[nodiscard]] std::string str(const std::string& k, const std::string& def) const {
    auto it = kv_.find(k);
    return it == kv_.end() ? def : it->second;
  }
  [[nodiscard]] unsigned long long num(const std::string& k, unsigned long long def) const {
    auto it = kv_.find(k);
    if (it == kv_.end()) return def;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0') throw std::invalid_argument("--" + k + " needs a number");
    return v;
  }
  [[nodiscard]] bool has(const std::string& k) const { return kv_.count(k) != 0; }

 private:
  [[noreturn]] static void fail(const char* usage, const std::string& why) {
    std::fprintf(stderr, "%s\n\n%s", why.c_str(), usage);
    std::exit(2);
  }
  std::map<std::string, std::string> kv_;
};

/// Pins the calling thread to one CPU (ignored when cpu < 0 or pinning fails).
inline void pin(long cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<int>(cpu), &set);
  (void)sched_setaffinity(0, sizeof set, &set);
}

/// --wait spin|yield|sleep.
inline shmring::wait_policy parse_wait(const std::string& w) {
  if (w == "spin") return shmring::wait_policy::spin;
  if (w == "yield") return shmring::wait_policy::yield;
  if (w == "sleep") return shmring::wait_policy::sleep;
  throw std::invalid_argument("--wait must be spin, yield or sleep");
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib's crc32(). Slicing by 8: eight bytes per step.
inline std::uint32_t crc32(std::span<const std::byte> data) {
  static const auto t = [] {
    struct tables { std::uint32_t v[8][256]; } tab{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      tab.v[0][i] = c;
    }
    for (std::uint32_t i = 0; i < 256; ++i)
      for (int k = 1; k < 8; ++k) tab.v[k][i] = (tab.v[k - 1][i] >> 8) ^ tab.v[0][tab.v[k - 1][i] & 0xFFu];
    return tab;
  }();
  std::uint32_t crc = ~0u;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t n = data.size();
  for (; n >= 8; n -= 8, p += 8) {  // little-endian machines (x86-64, aarch64)
    std::uint32_t lo = 0, hi = 0;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
    lo ^= crc;
    crc = t.v[7][lo & 0xFFu] ^ t.v[6][(lo >> 8) & 0xFFu] ^ t.v[5][(lo >> 16) & 0xFFu] ^ t.v[4][lo >> 24] ^
          t.v[3][hi & 0xFFu] ^ t.v[2][(hi >> 8) & 0xFFu] ^ t.v[1][(hi >> 16) & 0xFFu] ^ t.v[0][hi >> 24];
  }
  for (; n > 0; --n, ++p) crc = t.v[0][(crc ^ *p) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

/// Smallest --size of the message mode: the sequence number (8 bytes) and the CRC-32 (4 bytes).
inline constexpr std::size_t min_message_size = 12;

/// The bytes of message seq between its sequence number and its CRC: a splitmix64 stream seeded by seq.
inline void fill_pattern(std::uint64_t seq, std::span<std::byte> body) {
  std::uint64_t x = seq;
  for (std::size_t i = 0; i < body.size(); i += 8) {
    x += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    std::memcpy(body.data() + i, &z, std::min<std::size_t>(8, body.size() - i));
  }
}

/// The payload of message seq in the message mode of producer/consumer (out.size() >= min_message_size): seq
/// (8 bytes, little-endian on the supported machines), bytes derived from seq, then the CRC-32 of all bytes
/// before it. The consumer rebuilds it from the sequence number the ring reports and compares every byte.
inline void fill_message(std::uint64_t seq, std::span<std::byte> out) {
  std::memcpy(out.data(), &seq, 8);
  fill_pattern(seq, out.subspan(8, out.size() - 12));
  const std::uint32_t crc = crc32(out.first(out.size() - 4));
  std::memcpy(out.data() + out.size() - 4, &crc, 4);
}

/// Whether in is exactly the payload of message seq: its sequence number, every derived byte and its CRC-32
/// (scratch is reused between calls).
inline bool check_message(std::uint64_t seq, std::span<const std::byte> in, std::vector<std::byte>& scratch) {
  if (in.size() < min_message_size) return false;
  std::uint64_t s = 0;
  std::uint32_t crc = 0;
  std::memcpy(&s, in.data(), 8);
  std::memcpy(&crc, in.data() + in.size() - 4, 4);
  if (s != seq || crc != crc32(in.first(in.size() - 4))) return false;
  scratch.resize(in.size() - 12);
  fill_pattern(seq, scratch);
  return std::memcmp(scratch.data(), in.data() + 8, scratch.size()) == 0;
}

/// --mode producer|consumer as in BitRPC's cross-language test: each program plays its own role, and started
/// with the other one, it runs the sibling program (same directory, same arguments) instead.
inline void run_mode(const args& a, const char* self, const char* other, int argc, char** argv) {
  const std::string mode = a.str("mode", self);
  if (mode == self) return;
  if (mode != other) throw std::invalid_argument("--mode must be producer or consumer");
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) throw std::runtime_error("readlink /proc/self/exe failed");
  std::string path(exe, static_cast<std::size_t>(n));
  path = path.substr(0, path.rfind('/') + 1) + other;
  std::vector<char*> v(argv, argv + argc);
  v[0] = path.data();
  v.push_back(nullptr);
  ::execv(path.c_str(), v.data());
  throw std::runtime_error("could not start " + path);
}

/// Starts this program again with args (a peer or worker process); returns its pid.
inline pid_t spawn_self(const std::vector<std::string>& args) {
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) throw std::runtime_error("readlink /proc/self/exe failed");
  exe[n] = '\0';
  std::vector<std::string> argv_s{exe};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawn(&pid, exe, nullptr, nullptr, argv.data(), environ) != 0)
    throw std::runtime_error("posix_spawn failed");
  return pid;
}

/// Waits for pid to exit: its exit code, or 128 + the signal that killed it, or -1.
inline int wait_exit(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

}  // namespace example
