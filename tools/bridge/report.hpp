// shmring-bridge: the status line (text, or one JSON object per line with --json), printed every
// --status-interval seconds and once at exit: messages and bytes per second since the previous line, totals, and
// the mode's own fields (acknowledged position, in-flight window, reconnects, refused frames...).
// A status line never stalls the bridge: when standard output is a pipe nobody reads, periodic lines are skipped
// (counted in the next line that gets out as lines_skipped); only the line at exit waits to be written.
// May touch: standard output (write(2) on descriptor 1).
#pragma once

#include <chrono>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <poll.h>
#include <unistd.h>

namespace shmring_bridge {

class reporter {
 public:
  reporter(std::string mode, std::string ring, double interval, bool json)
      : mode_(std::move(mode)), ring_(std::move(ring)), json_(json),
        interval_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(interval))),
        last_(std::chrono::steady_clock::now()) {}

  /// Whether a periodic line is due.
  [[nodiscard]] bool due(std::chrono::steady_clock::time_point now) const noexcept {
    return interval_.count() > 0 && now - last_ >= interval_;
  }

  /// Prints one line: messages and bytes (totals, and rates since the last line) and the extra fields.
  void print(std::uint64_t messages, std::uint64_t bytes, const std::vector<std::pair<const char*, std::uint64_t>>& extra,
             const char* event = "status") {
    const auto now = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(now - last_).count();
    const double mps = dt > 0 ? static_cast<double>(messages - last_messages_) / dt : 0;
    const double bps = dt > 0 ? static_cast<double>(bytes - last_bytes_) / dt : 0;
    last_ = now;
    last_messages_ = messages;
    last_bytes_ = bytes;
    std::string line;
    char buf[128];
    if (json_) {
      line = "{\"event\":\"" + std::string(event) + "\",\"mode\":\"" + mode_ + "\",\"ring\":\"" + escape(ring_) + "\"";
      std::snprintf(buf, sizeof buf, ",\"messages\":%llu,\"bytes\":%llu,\"messages_per_s\":%.1f,\"bytes_per_s\":%.1f",
                    static_cast<unsigned long long>(messages), static_cast<unsigned long long>(bytes), mps, bps);
      line += buf;
      for (const auto& [k, v] : extra) {
        std::snprintf(buf, sizeof buf, ",\"%s\":%llu", k, static_cast<unsigned long long>(v));
        line += buf;
      }
      line += "}";
    } else {
      std::snprintf(buf, sizeof buf, "%s %s ring=%s messages=%llu (%.0f/s) bytes=%llu (%.0f/s)", event, mode_.c_str(),
                    ring_.c_str(), static_cast<unsigned long long>(messages), mps,
                    static_cast<unsigned long long>(bytes), bps);
      line = buf;
      for (const auto& [k, v] : extra) {
        std::snprintf(buf, sizeof buf, " %s=%llu", k, static_cast<unsigned long long>(v));
        line += buf;
      }
    }
    line += "\n";
    const bool final_line = std::string_view(event) != "status";
    pollfd p{STDOUT_FILENO, POLLOUT, 0};
    if (!final_line && (::poll(&p, 1, 0) != 1 || (p.revents & POLLOUT) == 0)) {
      ++skipped_;  // nobody reads: the data path does not wait for the reader
      return;
    }
    for (std::size_t at = 0; at < line.size();) {
      const ssize_t n = ::write(STDOUT_FILENO, line.data() + at, line.size() - at);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      at += static_cast<std::size_t>(n);
    }
  }

  /// Periodic lines skipped because standard output was not writable.
  [[nodiscard]] std::uint64_t skipped() const noexcept { return skipped_; }

 private:
  static std::string escape(const std::string& s) {
    std::string o;
    for (char c : s) {
      if (c == '"' || c == '\\') o += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) o += c;
    }
    return o;
  }

  std::string mode_, ring_;
  bool json_;
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point last_;
  std::uint64_t last_messages_ = 0, last_bytes_ = 0, skipped_ = 0;
};

}  // namespace shmring_bridge
