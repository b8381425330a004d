// shmring-bridge: what the command line says (options.cpp parses it; --help documents every field), and the
// two modes' entry points.
// May touch: nothing.
#pragma once

#include "link.hpp"

#include <shmring/options.hpp>

#include <cstdio>
#include <stdexcept>

#include <cstdint>
#include <string>

namespace shmring_bridge {

struct config {
  std::string mode;                    ///< send, recv or keygen
  std::string ring;                    ///< --ring
  std::string to;                      ///< send: --to
  std::string listen;                  ///< recv: --listen
  std::uint64_t capacity = 1u << 20;   ///< recv: --capacity (bytes, for a ring it creates)
  std::uint64_t batch = 256u << 10;    ///< send: --batch (bytes of one DATA frame at most)
  std::uint64_t window = 8u << 20;     ///< send: --window (payload bytes in flight at most)
  int sndhwm = 1000;                   ///< --sndhwm (frames)
  int rcvhwm = 1000;                   ///< --rcvhwm (frames)
  std::uint64_t max_frame = 64u << 20; ///< recv: --max-frame (bytes; larger frames are refused by ZeroMQ)
  double status_interval = 1.0;        ///< --status-interval (seconds; 0: only the final line)
  bool json = false;                   ///< --json
  int resend_ms = 2000;                ///< send: --resend-timeout (ms without acknowledgement before a new handshake)
  std::string journal;                 ///< recv: --journal (default /dev/shm/shmbridge-RING.journal)
  curve_keys curve;                    ///< --curve-server-key, --curve-public-key, --curve-secret-key
};

/// The stream cannot continue: the receiver refused it, or the two sides disagree on where it stands.
struct stream_refused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A ring the bridge creates is persistent: its indices (with recv's journal) are the stream's state, which must
/// outlive every restart of either side (`shmring remove` ends it).
inline shmring::options persistent_ring() {
  shmring::options o;
  o.persistent = true;
  return o;
}

/// Runs a mode: its exit code, or 3 (with the reason on standard error) when the stream is refused.
template <class Run>
int run_mode(const char* mode, Run&& run) {
  try {
    return run();
  } catch (const stream_refused& e) {
    std::fprintf(stderr, "shmring-bridge %s: %s\n", mode, e.what());
    return 3;
  }
}

int run_send(const config& c);
int run_recv(const config& c);

/// Set by SIGINT/SIGTERM: the bridge prints its last status line and exits 0.
bool stop_requested() noexcept;

}  // namespace shmring_bridge
