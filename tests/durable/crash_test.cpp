// Processes killed on a file-backed message ring (issue 18), at points chosen by a seeded PRNG (the child kills
// itself with SIGKILL when it gets there: no sleeps, no timing).
//
// A consumer killed 100 times while a producer runs. Each incarnation reads a message in place (read()), appends
// its index to a log file of the test's own, and only then releases it (the tail store): recorded before
// released. It dies at one of three points: after read() before logging (the message was not recorded: the next
// incarnation must deliver it), after logging before release() (recorded, not released: the next one delivers it
// again, at-least-once), or after release(). Asserted: the log is every index 0..N-1 in order, each exactly once,
// except that an incarnation killed between logging and releasing is followed by one whose first entry repeats
// its last, exactly then and only then. So with deduplication by sequence (the log's last entry) every message is
// processed exactly once; every payload's CRC is checked by the child.
//
// A producer killed at seeded points, under every policy: after k messages, between the data sync and the header
// sync of a commit (from detail::sync_hook), or with a reservation half written. Each restart (a new producer
// resuming after what was received) and a consumer that reattaches (recovery at attach) deliver every message
// sent, whole, in order, and nothing else.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "errors.hpp"
#include "file_guard.hpp"
#include "process.hpp"
#include "sanitizers.hpp"

#include <shmring/detail/file_sync.hpp>
#include <shmring/shmring.hpp>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace shmring;
using shmring_test::child_process;
using shmring_test::temp_dir;

#ifndef SHMRING_DURABLE_KILLS
#define SHMRING_DURABLE_KILLS 100  // the soak build (SHMRING_SOAK) sets 2000
#endif

namespace {

std::vector<std::byte> payload_of(std::uint64_t i) {
  std::vector<std::byte> p(8 + shmring_test::mix(i) % 700);
  std::uint64_t x = shmring_test::mix(i + 3);
  for (std::size_t k = 0; k < p.size(); ++k) {
    if (k % 8 == 0) x = shmring_test::mix(x);
    p[k] = static_cast<std::byte>(x >> (8 * (k % 8)));
  }
  std::memcpy(p.data(), &i, 8);
  return p;
}

/// The index a payload carries if it is exactly payload_of(index), else ~0.
std::uint64_t checked_index(std::span<const std::byte> p) {
  if (p.size() < 8) return ~std::uint64_t{0};
  std::uint64_t i = 0;
  std::memcpy(&i, p.data(), 8);
  const auto want = payload_of(i);
  if (want.size() != p.size() || shmring_test::crc32(p) != shmring_test::crc32(want)) return ~std::uint64_t{0};
  return i;
}

[[noreturn]] void die() {
  std::raise(SIGKILL);
  std::abort();
}

std::vector<std::uint64_t> read_log(const std::string& path) {
  std::vector<std::uint64_t> out;
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return out;
  std::uint64_t v = 0;
  while (::read(fd, &v, sizeof v) == static_cast<ssize_t>(sizeof v)) out.push_back(v);
  ::close(fd);
  return out;
}

}  // namespace

// args: ring total. Sends payload_of(0..total-1), retrying a message when the consumer dies while send() waits
// (a single record: not sent at all then), then closes.
SHMRING_CHILD(steady_producer) {
  auto p = message_producer::open(args.at(0));
  const std::uint64_t total = std::stoull(args.at(1));
  for (std::uint64_t i = 0; i < total; ++i) {
    for (;;) {
      try {
        p.send(payload_of(i));
        break;
      } catch (const error& e) {
        if (e.code() != errc::peer_dead) throw;
      }
    }
  }
  p.close();
  return 0;
}

// args: ring log k point. Reads messages, logging each index before releasing it; on the k-th message (from 0)
// kills itself at `point`: 0 after read, 1 after logging, 2 after release; k < 0 never. Exit 3 on a bad payload,
// 0 at the end of the stream.
SHMRING_CHILD(logging_consumer) {
  auto c = message_consumer::open(args.at(0));
  const int log = ::open(args.at(1).c_str(), O_WRONLY | O_APPEND | O_CREAT, 0600);
  if (log < 0) return 4;
  const long k = std::stol(args.at(2));
  const int point = std::stoi(args.at(3));
  for (long n = 0;; ++n) {
    message_view v;
    try {
      v = c.read();
    } catch (const error& e) {
      return e.code() == errc::closed ? 0 : 5;
    }
    const std::uint64_t i = checked_index(v.payload);
    if (i == ~std::uint64_t{0}) return 3;
    if (n == k && point == 0) die();
    if (::write(log, &i, sizeof i) != static_cast<ssize_t>(sizeof i)) return 4;
    if (n == k && point == 1) die();
    c.release();
    if (n == k && point == 2) die();
  }
}

TEST_CASE("a consumer killed 100 times continues at its tail: every sequence exactly once after dedup",
          "[durable][ipc][restart]") {
  const int kills = static_cast<int>(shmring_test::scaled(SHMRING_DURABLE_KILLS, SHMRING_DURABLE_KILLS * 3 / 10));
  const std::uint64_t total = static_cast<std::uint64_t>(kills) * 45 + 200;  // more than the kills can take
  temp_dir dir;
  const std::string ring = dir.ring("consumer-kills");
  const std::string log = dir.path() + "/log";
  { auto creator = message_consumer::create(ring, 1 << 14); }
  child_process producer_child("steady_producer", {ring, std::to_string(total)});
  std::mt19937_64 rng(18001);
  std::vector<int> points;      // the kill point of incarnation j
  std::vector<std::size_t> ends;  // log entries after incarnation j
  for (int j = 0; j < kills; ++j) {
    const long k = static_cast<long>(rng() % 40);
    const int point = static_cast<int>(rng() % 3);
    child_process c("logging_consumer", {ring, log, std::to_string(k), std::to_string(point)});
    REQUIRE(c.wait() == 128 + SIGKILL);
    points.push_back(point);
    ends.push_back(read_log(log).size());
  }
  child_process last("logging_consumer", {ring, log, "-1", "0"});
  REQUIRE(last.wait() == 0);
  REQUIRE(producer_child.wait() == 0);

  const std::vector<std::uint64_t> entries = read_log(log);
  REQUIRE(!entries.empty());
  CHECK(entries.front() == 0);
  CHECK(entries.back() == total - 1);
  std::size_t j = 0;  // the incarnation that wrote entries[e]
  std::size_t repeats = 0;
  for (std::size_t e = 1; e < entries.size(); ++e) {
    while (j < ends.size() && ends[j] <= e - 1) ++j;  // entries[e - 1] belongs to incarnation j
    const bool boundary = j < ends.size() && ends[j] == e;  // entries[e] is the next incarnation's first
    INFO("entry " << e << ", incarnation " << j);
    if (boundary && points[j] == 1) {
      REQUIRE(entries[e] == entries[e - 1]);  // logged, not released: delivered again
      ++repeats;
    } else {
      REQUIRE(entries[e] == entries[e - 1] + 1);
    }
  }
  std::size_t logged_kills = 0;
  for (std::size_t x = 0; x < points.size(); ++x)
    if (points[x] == 1 && (x == 0 || ends[x] > ends[x - 1])) ++logged_kills;
  CHECK(repeats == logged_kills);
  CHECK(entries.size() == total + repeats);
  CHECK(shmring::remove(ring));
}

namespace {
long sync_kill_at = -1;  // producer child: the sync_hook call that kills it
long syncs_seen = 0;
void kill_at_sync(std::uint64_t, std::uint64_t) noexcept {
  if (syncs_seen++ == sync_kill_at) die();
}
}  // namespace

// args: ring first count policy how at. Sends payload_of(first..first+count-1) under policy (0 none, 1 batch,
// 2 commit; batch calls sync() every 7 messages), then dies: how 0 after `at` messages; 1 at the at-th sync
// (between a data sync and a header sync, or after either); 2 with a reservation of message first+at half
// written. Never returns normally before dying; exit 0 if it ran out of messages first.
SHMRING_CHILD(dying_producer) {
  options o;
  o.durability = static_cast<sync_policy>(std::stoi(args.at(3)));
  auto p = message_producer::open(args.at(0), 0, o);
  const std::uint64_t first = std::stoull(args.at(1)), count = std::stoull(args.at(2));
  const int how = std::stoi(args.at(4));
  const long at = std::stol(args.at(5));
  if (how == 1) {
    sync_kill_at = at;
    detail::sync_hook = &kill_at_sync;
  }
  for (std::uint64_t n = 0; n < count; ++n) {
    const std::uint64_t i = first + n;
    if (how == 0 && static_cast<long>(n) == at) die();
    if (how == 2 && static_cast<long>(n) == at) {
      const auto want = payload_of(i);
      auto span = p.reserve(want.size());
      std::memcpy(span.data(), want.data(), want.size() / 2);
      die();
    }
    p.send(payload_of(i));
    if (o.durability == sync_policy::batch && n % 7 == 6) p.sync();
  }
  return 0;
}

TEST_CASE("a producer killed at seeded points: every message sent is delivered whole, in order, once",
          "[durable][ipc][restart]") {
  const int rounds = static_cast<int>(shmring_test::scaled(SHMRING_DURABLE_KILLS * 3 / 10, SHMRING_DURABLE_KILLS / 10));
  temp_dir dir;
  const std::string ring = dir.ring("producer-kills");
  std::optional<message_consumer> c(message_consumer::create(ring, 1 << 15));
  std::mt19937_64 rng(18002);
  std::uint64_t next = 0;  // the next index expected (and the first the next producer sends)
  for (int round = 0; round < rounds; ++round) {
    const int policy = static_cast<int>(rng() % 3);
    const int how = static_cast<int>(rng() % 3);
    const long at = static_cast<long>(rng() % 30);
    INFO("round " << round << ", policy " << policy << ", how " << how << ", at " << at);
    child_process p("dying_producer", {ring, std::to_string(next), "30", std::to_string(policy), std::to_string(how),
                                       std::to_string(at)});
    const int code = p.wait();
    REQUIRE((code == 128 + SIGKILL || code == 0));
    if (rng() % 3 == 0) {  // the consumer restarts too (recovery at attach: no live producer)
      c.reset();
      c.emplace(message_consumer::open(ring));
    }
    CHECK(c->recovered_bytes() == 0);  // a process kill loses nothing the page cache holds: nothing to discard
    while (const auto m = c->try_receive()) {
      REQUIRE(checked_index(m->payload) == next);
      ++next;
    }
    CHECK_FALSE(c->corrupted());
  }
  CHECK(next > 0);
  c.reset();
  CHECK(shmring::remove(ring));
}
