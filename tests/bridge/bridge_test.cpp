// shmring-bridge end to end (issue 17): real producer and consumer processes, real send and recv bridges over
// loopback TCP on ports chosen free at run time. Every message is checked (sequence, type, flags, timestamp, size,
// CRC of the payload): none missing, none duplicated, across SIGKILLs of either bridge at random moments; a paused
// consumer makes the producer wait with the bridges' memory bounded; CURVE, a wrong key refused; hostile frames
// counted and dropped. Rings and journals are removed however a test ends.
#include <catch2/catch.hpp>

#include <shmring/shmring.hpp>

#include "checksum.hpp"
#include "process.hpp"
#include "segment_guard.hpp"

#include "../../tools/bridge/tsan_zmq.hpp"

#include <zmq.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SHMRING_BRIDGE_EXE
#error "SHMRING_BRIDGE_EXE must name the shmring-bridge executable"
#endif

using shmring_test::child_process;
using shmring_test::command_process;
using shmring_test::segment_guard;
namespace record = shmring::record;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t big_size = 8u << 20;  // larger than either ring

/// What message i of a run with this seed is: size, type, flags, timestamp, and its payload bytes.
struct spec {
  std::size_t size;
  std::uint32_t type;
  std::uint8_t flags;
  std::uint64_t timestamp;
};

spec spec_of(std::uint64_t seed, std::uint64_t i, std::uint64_t n, std::uint64_t bigs) {
  std::mt19937_64 r(seed * 1000003 + i);
  spec s{static_cast<std::size_t>(r() % (64 * 1024 + 1)), static_cast<std::uint32_t>(1000 + r() % 50),
         static_cast<std::uint8_t>(r() % 8 & record::user_flags), 1'000'000'000 + i * 3};
  if (bigs != 0 && i % (n / bigs) == n / bigs / 2) s.size = big_size;  // a few 8 MiB messages, spread out
  return s;
}

void fill(std::vector<std::byte>& p, std::uint64_t seed, std::uint64_t i, std::size_t n) {
  p.resize(n);
  std::uint64_t x = shmring_test::mix(seed ^ (i << 20));
  for (std::size_t k = 0; k < n; k += 8) {
    x = shmring_test::mix(x + k);
    std::memcpy(p.data() + k, &x, std::min<std::size_t>(8, n - k));
  }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(s >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(s);
  return ntohs(a.sin_port);
}

/// A journal path, removed however the test ends.
struct file_guard {
  std::string path;
  explicit file_guard(const std::string& p) : path(p) { ::unlink(path.c_str()); }
  ~file_guard() { ::unlink(path.c_str()); }
};

/// A bridge process with its --json status lines readable.
class bridge {
 public:
  explicit bridge(std::vector<std::string> args) : args_(std::move(args)) { start(); }
  void start() {
    std::vector<std::string> argv{SHMRING_BRIDGE_EXE};
    argv.insert(argv.end(), args_.begin(), args_.end());
    p_ = std::make_unique<command_process>(argv);
    buf_.clear();
  }
  void kill_and_restart() {
    p_->kill_now();
    start();
  }
  [[nodiscard]] pid_t pid() const { return p_->pid(); }
  /// Stops it with SIGTERM; its exit code (0 expected).
  int stop() {
    ::kill(p_->pid(), SIGTERM);
    return p_->wait();
  }
  /// The value of a field of its latest status line, reading the lines written so far (waiting at most wait).
  std::optional<std::uint64_t> field(const std::string& key, std::chrono::milliseconds wait = 0ms) {
    pollfd p{p_->output_fd(), POLLIN, 0};
    while (::poll(&p, 1, static_cast<int>(wait.count())) > 0) {
      char tmp[65536];
      const ssize_t n = ::read(p_->output_fd(), tmp, sizeof tmp);
      if (n <= 0) break;
      buf_.append(tmp, static_cast<std::size_t>(n));
      wait = 0ms;
    }
    const auto end = buf_.rfind('\n');
    if (end == std::string::npos) return std::nullopt;
    const auto begin = buf_.rfind('\n', end - 1);
    const std::string line = buf_.substr(begin == std::string::npos ? 0 : begin + 1, end);
    if (buf_.size() > (1u << 20)) buf_.erase(0, begin == std::string::npos ? 0 : begin + 1);
    const auto at = line.find("\"" + key + "\":");
    if (at == std::string::npos) return std::nullopt;
    return std::stoull(line.substr(at + key.size() + 3));
  }
  /// Waits (reading status lines, a hang guard of limit) until field key satisfies pred.
  template <class Pred>
  bool await_field(const std::string& key, Pred pred, std::chrono::seconds limit = 120s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto v = field(key, 200ms); v && pred(*v)) return true;
    }
    return false;
  }
  /// Resident set size, KiB, from /proc.
  [[nodiscard]] std::uint64_t rss_kib() const {
    std::ifstream f("/proc/" + std::to_string(p_->pid()) + "/status");
    std::string k;
    while (f >> k) {
      if (k == "VmRSS:") {
        std::uint64_t v = 0;
        f >> v;
        return v;
      }
      std::getline(f, k);
    }
    return 0;
  }

 private:
  std::vector<std::string> args_;
  std::unique_ptr<command_process> p_;
  std::string buf_;
};

/// Two rings, a journal and a port, and the two bridges' command lines.
struct link_setup {
  segment_guard src{"bridge-src"}, dst{"bridge-dst"};
  file_guard journal{"/dev/shm/shmbridge-test-" + std::to_string(::getpid()) + "-" + dst.name() + ".journal"};
  std::string endpoint = "tcp://127.0.0.1:" + std::to_string(free_port());
  std::uint64_t capacity = 1u << 20;

  link_setup() {
    // Both rings exist before the processes and bridges attach (in any order), as recv would create its own.
    // Persistent: a ring is the stream's state (with the journal), so it must outlive every side's restart.
    shmring::options o;
    o.persistent = true;
    (void)shmring::message_consumer::create(src.name(), capacity, o);
    (void)shmring::message_consumer::create(dst.name(), capacity, o);
  }
  std::vector<std::string> recv_args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> a{"recv", "--ring", dst.name(), "--listen", endpoint, "--capacity",
                               std::to_string(capacity), "--journal", journal.path, "--json", "--status-interval", "0.05"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  std::vector<std::string> send_args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> a{"send", "--ring", src.name(), "--to", endpoint, "--json", "--status-interval", "0.05",
                               "--resend-timeout", "300"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

std::vector<std::string> run_args(const std::string& ring, std::uint64_t n, std::uint64_t seed, std::uint64_t bigs) {
  return {ring, std::to_string(n), std::to_string(seed), std::to_string(bigs)};
}

/// Waits for a child (hang guard) and requires exit code 0.
void require_success(child_process& c, std::chrono::seconds limit) {
  const int rc = c.wait(limit);
  INFO("child exit code " << rc);
  REQUIRE(rc == 0);
}

}  // namespace

// The producer: n messages into the source ring, each with the type, flags and timestamp of its spec (relayed
// with the original timestamp, as a bridge does), waiting for room as the ring's back-pressure says.
SHMRING_CHILD(bridge_producer) {
  shmring_test::die_with_parent();
  auto p = shmring::message_producer::open(args.at(0));
  const std::uint64_t n = std::stoull(args.at(1)), seed = std::stoull(args.at(2)), bigs = std::stoull(args.at(3));
  std::vector<std::byte> payload;
  for (std::uint64_t i = 0; i < n; ++i) {
    const spec s = spec_of(seed, i, n, bigs);
    fill(payload, seed, i, s.size);
    shmring::message_producer::relay_message m{};
    m.size = s.size;
    m.type = s.type;
    m.flags = s.flags;
    m.timestamp_ns = s.timestamp;
    for (int attempt = 0;; ++attempt) {
      try {
        const std::span<const std::byte> rest(payload.data() + m.sent, payload.size() - m.sent);
        if (p.relay_until(m, rest, std::chrono::steady_clock::now() + std::chrono::seconds(1), [](std::uint64_t) {})) break;
      } catch (const shmring::error& e) {
        // The send bridge (our consumer) was killed: the message goes on where it stopped once its successor attaches.
        if (e.code() != shmring::errc::peer_dead) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      if (attempt > 100000) return 2;
    }
  }
  return 0;
}

// The consumer: n messages from the destination ring, every field and the payload's CRC checked in order.
SHMRING_CHILD(bridge_consumer) {
  shmring_test::die_with_parent();
  auto c = shmring::message_consumer::open(args.at(0));
  const std::uint64_t n = std::stoull(args.at(1)), seed = std::stoull(args.at(2)), bigs = std::stoull(args.at(3));
  std::vector<std::byte> want;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::optional<shmring::message> got;
    for (int attempt = 0; !got; ++attempt) {
      try {
        got = c.receive_for(std::chrono::seconds(1));
      } catch (const shmring::error& e) {
        // The recv bridge (our producer) was killed: everything it completed is delivered; its successor attaches.
        if (e.code() != shmring::errc::peer_dead || attempt > 100000) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      if (attempt > 100000) return 3;
    }
    const auto& m = *got;
    const spec s = spec_of(seed, i, n, bigs);
    fill(want, seed, i, s.size);
    if (m.sequence != i || m.type != static_cast<shmring::message_type>(s.type) ||
        static_cast<std::uint8_t>(m.flags) != s.flags || m.timestamp_ns != s.timestamp || m.size() != s.size ||
        shmring_test::crc32(m.payload) != shmring_test::crc32(want)) {
      std::fprintf(stderr, "message %llu: sequence %llu type %u flags %u ts %llu size %zu (want %zu)\n",
                   static_cast<unsigned long long>(i), static_cast<unsigned long long>(m.sequence),
                   static_cast<unsigned>(m.type), static_cast<unsigned>(m.flags),
                   static_cast<unsigned long long>(m.timestamp_ns), m.size(), s.size);
      return 1;
    }
  }
  return 0;
}

namespace {

/// The exactly-once run: n messages (bigs of 8 MiB) through the bridges, with kills of each bridge at random
/// points of the consumer's progress, each restarted. Afterwards nothing more is in the destination ring.
void exactly_once_run(std::uint64_t n, std::uint64_t bigs, int kills_each, std::uint64_t seed) {
  link_setup L;
  bridge recv(L.recv_args());
  bridge send(L.send_args());
  child_process consumer("bridge_consumer", run_args(L.dst.name(), n, seed, bigs));
  child_process producer("bridge_producer", run_args(L.src.name(), n, seed, bigs));
  std::mt19937_64 r(seed);
  std::vector<std::uint64_t> at;  // consumer progress (messages) at which to kill
  for (int k = 0; k < 2 * kills_each; ++k) at.push_back(r() % n);
  std::sort(at.begin(), at.end());
  int sends_killed = 0, recvs_killed = 0;
  for (std::size_t k = 0; k < at.size(); ++k) {
    // Waits on the consumer's counter in the ring (a hang guard bounds it); then kills one bridge.
    const auto deadline = std::chrono::steady_clock::now() + 300s;
    while (consumer.running() && shmring::status(L.dst.name()).consumer.messages < at[k] &&
           std::chrono::steady_clock::now() < deadline) {
      (void)send.field("sessions", 1ms);  // reads their status lines as they come (a polling interval, not a sync)
      (void)recv.field("sessions");
    }
    // (If the consumer is done already, the kill still happens: the final checks run with restarted bridges.)
    const bool kill_send = (r() & 1) != 0 ? sends_killed < kills_each : recvs_killed >= kills_each;
    if (kill_send) {
      send.kill_and_restart();
      ++sends_killed;
    } else {
      recv.kill_and_restart();
      ++recvs_killed;
    }
  }
  require_success(consumer, 600s);
  require_success(producer, 60s);
  CHECK(sends_killed == kills_each);
  CHECK(recvs_killed == kills_each);
  // Everything was acknowledged and freed, and nothing more (no duplicate) is in the destination ring.
  REQUIRE(send.await_field("acked_sequence", [&](std::uint64_t v) { return v == n; }));
  const auto st = shmring::status(L.dst.name());
  CHECK(st.head == st.tail);
  CHECK(st.next_sequence == n);
  const auto src = shmring::status(L.src.name());
  CHECK(src.head == src.tail);
  CHECK(send.stop() == 0);
  CHECK(recv.stop() == 0);
}

}  // namespace

TEST_CASE("bridge: every message once, whole and in order, with SIGKILLs of both bridges", "[bridge]") {
  // CI size: SHMRING_BRIDGE_MESSAGES messages of 0-64 KiB, SHMRING_BRIDGE_BIGS of them 8 MiB, SHMRING_BRIDGE_KILLS
  // kills of each bridge (the soak build registers the sizes: tests/bridge/CMakeLists.txt).
  exactly_once_run(SHMRING_BRIDGE_MESSAGES, SHMRING_BRIDGE_BIGS, SHMRING_BRIDGE_KILLS, 17);
}

#ifndef SHMRING_BRIDGE_SOAK
TEST_CASE("bridge: a paused consumer makes the producer wait, and the bridges' memory stays bounded", "[bridge]") {
  link_setup L;
  const std::string window = std::to_string(4u << 20);
  bridge recv(L.recv_args());
  bridge send(L.send_args({"--window", window}));
  const std::uint64_t n = 3000, seed = 5;  // about 96 MiB: many times both rings, the window and the HWMs
  REQUIRE(send.await_field("sessions", [](std::uint64_t v) { return v >= 1; }));
  const std::uint64_t rss0_send = send.rss_kib(), rss0_recv = recv.rss_kib();
  child_process producer("bridge_producer", run_args(L.src.name(), n, seed, 0));
  // No consumer: both rings fill, then the producer sleeps waiting for room (its sleep counter rises).
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  auto full = [&] {
    const auto s = shmring::status(L.src.name()), d = shmring::status(L.dst.name());
    return s.bytes_used + 70'000 > s.capacity && d.bytes_used + 70'000 > d.capacity && s.producer.sleeps > 0;
  };
  while (!full() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);  // polling interval
  REQUIRE(full());
  CHECK(producer.running());
  const std::uint64_t received = shmring::status(L.dst.name()).producer.messages;
  CHECK(received < n);
  // Bounded: what is in flight is the window (4 MiB) and one record; the rings are mapped (1 MiB each).
  const std::uint64_t bound_kib = 32 * 1024;
  INFO("RSS growth send " << send.rss_kib() - rss0_send << " KiB, recv " << recv.rss_kib() - rss0_recv << " KiB");
  CHECK(send.rss_kib() < rss0_send + bound_kib);
  CHECK(recv.rss_kib() < rss0_recv + bound_kib);
  CHECK(send.field("in_flight_bytes", 100ms).value_or(0) <= (4u << 20) + (1u << 20));
  // The consumer comes: everything arrives, once.
  child_process consumer("bridge_consumer", run_args(L.dst.name(), n, seed, 0));
  require_success(consumer, 300s);
  require_success(producer, 60s);
  CHECK(send.stop() == 0);
  CHECK(recv.stop() == 0);
}

namespace {
std::pair<std::string, std::string> keypair() {
  char pub[41], sec[41];
  REQUIRE(zmq_curve_keypair(pub, sec) == 0);
  return {pub, sec};
}

/// Connects a raw DEALER (optionally with CURVE keys) and waits for the handshake's outcome: true if it
/// succeeded, false if the server refused it.
bool raw_handshake(void* ctx, const std::string& ep, const std::string& server_pub, bool curve) {
  void* s = zmq_socket(ctx, ZMQ_DEALER);
  int zero = 0;
  zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
  if (curve) {
    const auto [pub, sec] = keypair();
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pub.data(), 40);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub.data(), 40);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec.data(), 40);
  }
  const std::string mon_ep = "inproc://test-mon-" + std::to_string(reinterpret_cast<std::uintptr_t>(s));
  zmq_socket_monitor(s, mon_ep.c_str(), ZMQ_EVENT_ALL);
  void* m = zmq_socket(ctx, ZMQ_PAIR);
  zmq_connect(m, mon_ep.c_str());
  zmq_connect(s, ep.c_str());
  std::optional<bool> outcome;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!outcome && std::chrono::steady_clock::now() < deadline) {
    zmq_pollitem_t it{m, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 1000) <= 0) continue;
    zmq_msg_t ev;
    zmq_msg_init(&ev);
    zmq_msg_recv(&ev, m, 0);
    std::uint16_t id = 0;
    std::memcpy(&id, zmq_msg_data(&ev), 2);
    zmq_msg_close(&ev);
    zmq_msg_t addr;
    zmq_msg_init(&addr);
    zmq_msg_recv(&addr, m, 0);
    zmq_msg_close(&addr);
    if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) outcome = true;
    if (id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL || id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
        id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH || id == ZMQ_EVENT_DISCONNECTED)
      outcome = false;
  }
  zmq_socket_monitor(s, nullptr, 0);
  zmq_close(m);
  zmq_close(s);
  REQUIRE(outcome.has_value());
  return *outcome;
}

std::vector<std::byte> bytes_of(std::initializer_list<std::uint8_t> b) {
  std::vector<std::byte> v;
  for (auto x : b) v.push_back(static_cast<std::byte>(x));
  return v;
}
}  // namespace

TEST_CASE("bridge: a CURVE link carries the stream, and a client with a wrong key, or none, is refused", "[bridge]") {
  link_setup L;
  const auto [server_pub, server_sec] = keypair();
  const auto [client_pub, client_sec] = keypair();
  bridge recv(L.recv_args({"--curve-secret-key", server_sec}));
  bridge send(L.send_args({"--curve-server-key", server_pub, "--curve-public-key", client_pub, "--curve-secret-key",
                           client_sec}));
  const std::uint64_t n = 500, seed = 9;
  child_process consumer("bridge_consumer", run_args(L.dst.name(), n, seed, 0));
  child_process producer("bridge_producer", run_args(L.src.name(), n, seed, 0));
  require_success(consumer, 120s);
  require_success(producer, 60s);
  void* ctx = zmq_ctx_new();
  const auto [other_pub, other_sec] = keypair();
  CHECK(raw_handshake(ctx, L.endpoint, server_pub, true));     // the right server key: the handshake succeeds
  CHECK_FALSE(raw_handshake(ctx, L.endpoint, other_pub, true));  // a wrong one: refused
  CHECK_FALSE(raw_handshake(ctx, L.endpoint, "", false));        // no encryption: refused
  zmq_ctx_term(ctx);
  CHECK(recv.await_field("refused", [](std::uint64_t v) { return v >= 2; }));
  CHECK(recv.field("messages").value_or(0) == n);
  CHECK(send.stop() == 0);
  CHECK(recv.stop() == 0);
}

TEST_CASE("bridge: malformed and hostile frames to recv are counted and dropped, and the stream stays intact", "[bridge]") {
  link_setup L;
  bridge recv(L.recv_args());
  void* ctx = zmq_ctx_new();
  void* raw = zmq_socket(ctx, ZMQ_DEALER);
  int zero = 0;
  zmq_setsockopt(raw, ZMQ_LINGER, &zero, sizeof zero);
  REQUIRE(zmq_connect(raw, L.endpoint.c_str()) == 0);
  auto put = [](std::vector<std::byte>& v, std::size_t at, auto x) {
    if (v.size() < at + sizeof x) v.resize(at + sizeof x);
    std::memcpy(v.data() + at, &x, sizeof x);
  };
  auto prefix = [&](std::uint8_t kind, std::size_t size) {
    std::vector<std::byte> v(size);
    put(v, 0, std::uint32_t{0x42524853u});
    put(v, 4, std::uint8_t{1});
    put(v, 5, kind);
    return v;
  };
  std::vector<std::vector<std::byte>> garbage;
  garbage.push_back({});                                   // empty
  garbage.push_back(bytes_of({1, 2, 3}));                  // shorter than a prefix
  garbage.push_back(bytes_of({0, 0, 0, 0, 1, 1, 0, 0}));   // wrong magic
  garbage.push_back(prefix(9, 8));                         // unknown kind
  garbage.push_back(prefix(1, 55));                        // a HELLO one byte short
  garbage.push_back(prefix(1, 56));                        // a HELLO with session 0
  garbage.push_back(prefix(4, 40));                        // an ACK, which travels the other way
  garbage.push_back(prefix(3, 23));                        // a DATA header cut short
  {
    auto d = prefix(3, 24);  // DATA, session 5, a million chunks
    put(d, 8, std::uint64_t{5});
    put(d, 16, std::uint32_t{1'000'000});
    garbage.push_back(d);
  }
  std::mt19937_64 r(3);
  for (int i = 0; i < 10; ++i) {  // random bytes behind a valid prefix
    auto d = prefix(static_cast<std::uint8_t>(1 + i % 3 * 2), 8 + r() % 2000);
    for (std::size_t k = 8; k < d.size(); ++k) d[k] = static_cast<std::byte>(r());
    put(d, 8, std::uint64_t{0});  // no session: never valid
    garbage.push_back(d);
  }
  for (const auto& g : garbage) REQUIRE(zmq_send(raw, g.data(), g.size(), 0) == static_cast<int>(g.size()));
  {
    const auto two = prefix(1, 56);  // a two-part message
    REQUIRE(zmq_send(raw, two.data(), two.size(), ZMQ_SNDMORE) >= 0);
    REQUIRE(zmq_send(raw, two.data(), two.size(), 0) >= 0);
  }
  const std::uint64_t expected = garbage.size() + 1;
  REQUIRE(recv.await_field("malformed", [&](std::uint64_t v) { return v == expected; }));
  // The real stream runs; half-way a hostile peer says hello for the same stream (the link has no CURVE, so it
  // can) and sends impossible chunks. Each is refused without touching the ring; the sender takes its stream back
  // (no acknowledgement for --resend-timeout: a new session) and every message still arrives once.
  const std::uint64_t n = 2000, seed = 21;
  bridge send(L.send_args());
  child_process consumer("bridge_consumer", run_args(L.dst.name(), n, seed, 0));
  child_process producer("bridge_producer", run_args(L.src.name(), n, seed, 0));
  const auto half = std::chrono::steady_clock::now() + 120s;
  while (shmring::status(L.dst.name()).consumer.messages < n / 2 && std::chrono::steady_clock::now() < half)
    std::this_thread::sleep_for(1ms);  // polling interval on the counter
  REQUIRE(shmring::status(L.dst.name()).consumer.messages >= n / 2);  // the hostile frames come mid-stream
  // The sender is stopped while the hostile peer holds the stream, so that it cannot take it back before the
  // hostile frames arrive.
  REQUIRE(::kill(send.pid(), SIGSTOP) == 0);
  REQUIRE(shmring_test::wait_stopped(send.pid()));
  const auto src = shmring::status(L.src.name());
  auto hello = prefix(1, 56);
  put(hello, 8, std::uint64_t{77});
  put(hello, 16, src.created_ns);
  std::uint64_t h = 14695981039346656037ull;
  for (char c : L.src.name()) h = (h ^ static_cast<std::uint8_t>(c)) * 1099511628211ull;
  put(hello, 24, h);
  put(hello, 32, std::uint64_t{0});  // released nothing: always "not ahead" of the receiver
  const std::uint64_t sessions = recv.field("sessions", 100ms).value_or(0);
  REQUIRE(zmq_send(raw, hello.data(), hello.size(), 0) == 56);
  REQUIRE(recv.await_field("sessions", [&](std::uint64_t v) { return v > sessions; }));
  // While the hostile session holds, the real sender's frames are stale: the receiver's position stays put.
  const std::uint64_t next = *recv.field("next_index", 100ms);
  const std::uint64_t before = recv.field("violations").value_or(0);
  auto chunk_frame = [&](std::uint64_t from, std::uint64_t to, std::uint64_t seq, std::uint32_t msg_len,
                         std::uint32_t rec_len, std::uint32_t len, std::uint8_t flags) {
    auto d = prefix(3, 24 + 56 + ((len + 7) & ~7u));
    put(d, 8, std::uint64_t{77});
    put(d, 16, std::uint32_t{1});
    put(d, 24, from);
    put(d, 32, to);
    put(d, 40, seq);
    put(d, 48, std::uint64_t{1});
    put(d, 56, std::uint32_t{1});
    put(d, 60, msg_len);
    put(d, 64, rec_len);
    put(d, 68, std::uint32_t{0});
    put(d, 72, len);
    put(d, 78, flags);
    return d;
  };
  const std::uint8_t whole = record::flag_first_fragment | record::flag_last_fragment;
  const std::vector<std::vector<std::byte>> hostile{
      chunk_frame(next + 4096, next + 4136, 5, 8, 8, 8, whole),  // not where the stream stands: a gap
      chunk_frame(next, next + 40, 0, 8, 8, 8, whole),           // sequence 0 again: impossible
      chunk_frame(next, next + 40, 1u << 30, 4, 8, 8, whole),    // a record longer than its message
      chunk_frame(next, next + 48, 3, 16, 16, 8, whole),         // a piece that is not the whole record
  };
  const std::uint64_t ring_messages = shmring::status(L.dst.name()).producer.messages;
  for (const auto& g : hostile) REQUIRE(zmq_send(raw, g.data(), g.size(), 0) == static_cast<int>(g.size()));
  REQUIRE(recv.await_field("violations", [&](std::uint64_t v) { return v >= before + 2; }));
  CHECK(recv.await_field("malformed", [&](std::uint64_t v) { return v == expected + 1; }));
  CHECK(recv.field("gaps").value_or(0) >= 1);
  CHECK(shmring::status(L.dst.name()).producer.messages == ring_messages);  // nothing of it reached the ring
  zmq_close(raw);
  zmq_ctx_term(ctx);
  REQUIRE(::kill(send.pid(), SIGCONT) == 0);
  require_success(consumer, 300s);
  require_success(producer, 60s);
  CHECK(send.field("resends", 100ms).value_or(0) >= 1);
  CHECK(send.stop() == 0);
  CHECK(recv.stop() == 0);
}
#endif
