// shmring-bridge: carries a message ring over ZeroMQ, exactly once (docs/bridge.md). `send` is the consumer of a
// local ring and forwards its records; `recv` is the producer of a local ring and writes what it receives. This
// file parses the command line and documents it (--help); sender.cpp and receiver.cpp are the two modes.
// May touch: signal dispositions of SIGINT, SIGTERM (a flag) and SIGPIPE (ignored).
#include "config.hpp"
#include "tsan_zmq.hpp"

#include <zmq.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

namespace shmring_bridge {
namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_stop(int) { g_stop.store(true, std::memory_order_relaxed); }  // relaxed: a flag, polled

constexpr const char* usage = R"(shmring-bridge: carry a shmring message ring over ZeroMQ, every message exactly once.

Usage:
  shmring-bridge send --ring NAME --to tcp://HOST:PORT [options]
      Attach as the CONSUMER of the local ring NAME (created with --capacity if there is none) and forward every
      record to a recv bridge. A record is freed from NAME only after the receiver has written it into its ring
      and acknowledged it.
  shmring-bridge recv --ring NAME --listen tcp://ADDR:PORT [options]
      Attach as the PRODUCER of the local ring NAME (created with --capacity if there is none) and write every
      message received into it, with the sender's type, flags, timestamp, tag and sequence.
  shmring-bridge keygen
      Print a new CURVE key pair (Z85): the lines public=... and secret=...
  shmring-bridge --help

Options (both modes):
  --ring NAME              the local ring (shmring name, /dev/shm/shmring-NAME)
  --capacity BYTES         data area of the ring when the bridge creates it (a power of two, default 1048576);
                           a ring the bridge creates is persistent: it and recv's journal are the stream's state
  --status-interval SEC    print a status line every SEC seconds (default 1; 0: only the line at exit)
  --json                   status lines as JSON objects, one per line
  --sndhwm N               ZeroMQ send high-water mark, frames (default 1000)
  --rcvhwm N               ZeroMQ receive high-water mark, frames (default 1000)
  --curve-secret-key Z85   this side's CURVE secret key: turns on encryption (recv: the server's key pair's
                           secret; send: the client's, with --curve-public-key and --curve-server-key)
  --curve-public-key Z85   send: the client's CURVE public key
  --curve-server-key Z85   send: the recv bridge's CURVE public key; a server with another key is refused

Options of send:
  --to ENDPOINT            where the recv bridge listens (tcp://HOST:PORT or ipc://PATH); send never listens
  --batch BYTES            largest DATA frame (default 262144, at least 4096); a larger record goes in several
                           chunks. Keep it under recv's --max-frame
  --window BYTES           payload bytes sent and not yet acknowledged, at most (default 8388608; at least one
                           chunk is always allowed)
  --resend-timeout MS      with records in flight and no acknowledgement for MS milliseconds, start a new
                           session and resend what was not acknowledged (default 2000)

Options of recv:
  --listen ENDPOINT        the one address to listen on (tcp://ADDR:PORT or ipc://PATH)
  --journal PATH           the stream's journal (default /dev/shm/shmbridge-NAME.journal): where the stream
                           stands at every head recv publishes; delete it (and the ring) to start a new stream
  --max-frame BYTES        largest frame accepted (default 67108864); larger ones are refused by ZeroMQ

Status fields: messages and bytes (totals and per second); send: acked_index, acked_sequence, in_flight_bytes,
in_flight_records, window, reconnects, sessions, resends; recv: next_index, next_sequence, sessions, malformed,
stale, violations, orphans, aborted, refused, reconnects. Exit status: 0 after SIGINT/SIGTERM, 2 for a usage
error, 3 when the stream cannot continue (see the message), 1 otherwise.
)";

bool is_endpoint(std::string_view e) { return e.starts_with("tcp://") || e.starts_with("ipc://"); }

[[noreturn]] void bad(const std::string& why) {
  std::fprintf(stderr, "shmring-bridge: %s (see --help)\n", why.c_str());
  std::exit(2);
}

std::uint64_t number(const std::string& opt, const char* v) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long n = std::strtoull(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || v[0] == '-') bad(opt + " needs a non-negative number, not " + v);
  return n;
}

config parse(int argc, char** argv) {
  config c;
  if (argc < 2) bad("a mode is needed: send, recv or keygen");
  c.mode = argv[1];
  if (c.mode == "--help" || c.mode == "-h") {
    std::fputs(usage, stdout);
    std::exit(0);
  }
  if (c.mode != "send" && c.mode != "recv" && c.mode != "keygen") bad("unknown mode " + c.mode);
  for (int i = 2; i < argc; ++i) {
    const std::string o = argv[i];
    if (o == "--help" || o == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    if (o == "--json") {
      c.json = true;
      continue;
    }
    if (i + 1 >= argc) bad(o + " needs a value");
    const char* v = argv[++i];
    auto small = [&](std::uint64_t max) {
      const std::uint64_t n = number(o, v);
      if (n > max) bad(o + " is at most " + std::to_string(max));
      return n;
    };
    if (o == "--ring") c.ring = v;
    else if (o == "--to") c.to = v;
    else if (o == "--listen") c.listen = v;
    else if (o == "--capacity") c.capacity = number(o, v);
    else if (o == "--batch") c.batch = small(std::uint64_t{1} << 30);
    else if (o == "--window") c.window = number(o, v);
    else if (o == "--sndhwm") c.sndhwm = static_cast<int>(small(1u << 30));
    else if (o == "--rcvhwm") c.rcvhwm = static_cast<int>(small(1u << 30));
    else if (o == "--max-frame") c.max_frame = small(std::uint64_t{1} << 40);
    else if (o == "--resend-timeout") c.resend_ms = static_cast<int>(small(3'600'000));
    else if (o == "--journal") c.journal = v;
    else if (o == "--status-interval") {
      char* end = nullptr;
      c.status_interval = std::strtod(v, &end);
      if (end == v || *end != '\0' || !(c.status_interval >= 0) || c.status_interval > 86400)
        bad("--status-interval needs seconds between 0 and 86400");
    } else if (o == "--curve-secret-key") c.curve.secret = v;
    else if (o == "--curve-public-key") c.curve.public_key = v;
    else if (o == "--curve-server-key") c.curve.server_public = v;
    else bad("unknown option " + o);
  }
  if (c.mode == "keygen") return c;
  if (c.ring.empty()) bad("--ring is needed");
  if (c.mode == "send" && !is_endpoint(c.to)) bad("send needs --to tcp://HOST:PORT (or ipc://PATH)");
  if (c.mode == "recv" && !is_endpoint(c.listen)) bad("recv needs --listen tcp://ADDR:PORT (or ipc://PATH)");
  if (c.batch < 4096) bad("--batch is at least 4096 bytes");
  for (const std::string* k : {&c.curve.secret, &c.curve.public_key, &c.curve.server_public})
    if (!k->empty() && k->size() != 40) bad("a CURVE key is 40 Z85 characters");
  if (c.mode == "send" && c.curve.any() &&
      (c.curve.secret.empty() || c.curve.public_key.empty() || c.curve.server_public.empty()))
    bad("send with CURVE needs --curve-server-key, --curve-public-key and --curve-secret-key");
  if (c.mode == "recv" && c.curve.any() && (c.curve.secret.empty() || !c.curve.server_public.empty()))
    bad("recv with CURVE needs --curve-secret-key (its own), not --curve-server-key");
  if (c.curve.any() && zmq_has("curve") == 0) bad("this libzmq has no CURVE support");
  return c;
}

int keygen() {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) {
    std::fprintf(stderr, "shmring-bridge: zmq_curve_keypair: %s\n", zmq_strerror(zmq_errno()));
    return 1;
  }
  std::printf("public=%s\nsecret=%s\n", pub, sec);
  return 0;
}
}  // namespace

bool stop_requested() noexcept { return g_stop.load(std::memory_order_relaxed); }

}  // namespace shmring_bridge

int main(int argc, char** argv) {
  using namespace shmring_bridge;
  const config c = parse(argc, argv);
  if (c.mode == "keygen") return keygen();
  struct sigaction sa{};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  try {
    return c.mode == "send" ? run_send(c) : run_recv(c);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmring-bridge %s: %s\n", c.mode.c_str(), e.what());
    return 1;
  }
}
