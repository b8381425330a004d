// Dead peers, with real processes killed by SIGKILL at random points (seeded; each kill lands after the victim
// reported progress through its pipe, wherever it then is: copying, publishing, waking, sleeping):
//  - producer killed: the waiting consumer gets errc::peer_dead, has received an unbroken, checked prefix, and a
//    restarted producer re-attaches and continues from pushed(): one unbroken sequence across all restarts;
//  - consumer killed while it consumes with front() -> durable record -> pop_front(): the waiting producer gets
//    peer_dead, a restarted consumer continues at the dead one's final tail; nothing is lost, and at most the one
//    element that was recorded but not yet released is seen twice: exactly the element at that final tail.
#include <catch2/catch.hpp>

#include "sanitizers.hpp"
#include "item.hpp"
#include "line_reader.hpp"
#include "process.hpp"
#include "raw_segment.hpp"
#include "reports.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#ifndef SHMRING_KILLS
#define SHMRING_KILLS 100  // the soak build (label soak) defines 1000
#endif

using namespace shmring;
using shmring_test::child_process;
using shmring_test::header_view;
using shmring_test::item;
using shmring_test::item_ok;
using shmring_test::line_reader;
using shmring_test::make_item;
using shmring_test::mix;
using shmring_test::release_pipe;
using shmring_test::report;
using shmring_test::segment_guard;
using shmring_test::words;

namespace {
constexpr int kills = SHMRING_KILLS;
constexpr std::uint64_t capacity = 64;
constexpr std::uint64_t final_stream = 1000;  // what the last, unkilled producer or consumer moves
using clock_type = std::chrono::steady_clock;

options with_policy(int policy) {
  options o;
  o.wait.policy = static_cast<wait_policy>(policy);
  o.wait.liveness_interval = std::chrono::milliseconds(5);
  return o;
}

const char* policy_name(int p) { return p == 0 ? "spin" : p == 1 ? "yield" : "sleep"; }

std::uint64_t num(const std::string& s) { return std::stoull(s); }

// The checksum a consumer keeps over everything it accepted, computed by the parent independently.
std::uint64_t stream_checksum(std::uint64_t n, std::uint64_t last_flags_at) {
  std::uint64_t sum = 0;
  for (std::uint64_t s = 0; s < n; ++s) sum = mix(sum ^ make_item(s, s == last_flags_at ? 1u : 0u).crc);
  return sum;
}
}  // namespace

// ------------------------------------------------------------------------------------------ producer killed

// args: name policy release_fd. Creates the ring and consumes with pop(), checking every element. On peer_dead
// it reports "dead <received> <popped()>" and waits until the parent releases it (a new producer is attached).
// Ends at the element flagged last: "done <received> <checksum>".
SHMRING_CHILD(enduring_consumer) {
  shmring_test::die_with_parent();
  auto c = consumer<item>::create(args.at(0), capacity, with_policy(std::stoi(args.at(1))));
  const int release_fd = std::stoi(args.at(2));
  report("ready");
  std::uint64_t received = 0, sum = 0;
  for (;;) {
    try {
      const item v = c.pop();
      if (!item_ok(v, received)) {
        report("bad " + std::to_string(received));
        return 3;
      }
      sum = mix(sum ^ v.crc);
      ++received;
      if (v.flags == 1) break;
    } catch (const error& e) {
      if (e.code() != errc::peer_dead) throw;
      report("dead " + std::to_string(received) + " " + std::to_string(c.popped()));
      if (!shmring_test::wait_released(release_fd)) return 4;
    }
  }
  report("done " + std::to_string(received) + " " + std::to_string(sum));
  return 0;
}

// args: name policy k last. Opens the ring as producer, reports "start <pushed()>", pushes the sequence on from
// there and reports "progress" after k elements. Killed by the parent, except the last one (last = 1), which
// pushes final_stream elements, flags the final one and exits.
SHMRING_CHILD(restartable_producer) {
  shmring_test::die_with_parent();
  auto p = producer<item>::open(args.at(0), with_policy(std::stoi(args.at(1))));
  const std::uint64_t k = num(args.at(2));
  const bool last = args.at(3) == "1";
  const std::uint64_t start = p.pushed();
  report("start " + std::to_string(start));
  if (k == 0) report("progress");
  for (std::uint64_t seq = start;; ++seq) {
    const bool final_one = last && seq + 1 == start + final_stream;
    p.push(make_item(seq, final_one ? 1u : 0u));
    if (seq + 1 == start + k) report("progress");
    if (final_one) return 0;
  }
}

TEST_CASE("a producer killed at random points: the consumer gets peer_dead and one unbroken sequence across restarts",
          "[ipc][stress][liveness]") {
  const int policy = GENERATE(2, 1, 0);  // sleep (the default), yield, spin
  const int rounds = policy == 2 ? kills : kills / 5;
  CAPTURE(policy_name(policy), rounds);
  const std::uint64_t seed = 0x5eed0001u + static_cast<std::uint64_t>(policy);
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  const auto t0 = clock_type::now();

  segment_guard g("pkill");
  release_pipe rel;
  auto cons = rel.inherit([&] {
    return std::make_unique<child_process>("enduring_consumer",
                                           std::vector<std::string>{g.name(), std::to_string(policy),
                                                                    std::to_string(rel.read_fd())},
                                           true);
  });
  line_reader from_cons(cons->output_fd());
  REQUIRE(from_cons.expect() == "ready");

  std::uint64_t received = 0;  // what the consumer has accepted, as it reported at its last peer_dead
  int dead_reports = 0;
  for (int r = 0; r <= rounds; ++r) {
    const bool last = r == rounds;
    const std::uint64_t k = last ? 0 : rng() % 1500;  // elements before the kill may land; 0 happens too
    child_process prod("restartable_producer",
                       {g.name(), std::to_string(policy), std::to_string(k), last ? "1" : "0"}, true);
    line_reader from_prod(prod.output_fd());
    const auto start = words(from_prod.expect());
    REQUIRE(start.size() == 2);
    REQUIRE(start[0] == "start");
    // The restarted producer continues exactly where the consumer stopped: nothing lost, nothing repeated.
    REQUIRE(num(start[1]) == received);
    if (r > 0) rel.release();  // the consumer waits for this after its peer_dead
    if (last) {
      REQUIRE(prod.wait() == 0);
      break;
    }
    REQUIRE(from_prod.expect() == "progress");
    prod.kill_now();  // SIGKILL wherever the producer is now, and reaped
    const auto dead = words(from_cons.expect());
    REQUIRE(dead.size() == 3);
    REQUIRE(dead[0] == "dead");
    ++dead_reports;
    // Everything the producer reported as pushed arrived, checked (the consumer exits on the first bad one).
    CHECK(num(dead[1]) >= received + k);
    CHECK(num(dead[2]) == num(dead[1]));
    received = num(dead[1]);
  }
  const auto done = words(from_cons.expect());
  REQUIRE(cons->wait() == 0);
  REQUIRE(done.size() == 3);
  REQUIRE(done[0] == "done");
  CHECK(dead_reports == rounds);
  const std::uint64_t total = num(done[1]);
  CHECK(total == received + final_stream);
  CHECK(num(done[2]) == stream_checksum(total, total - 1));
  const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  std::printf("producer killed %d times (policy %s): %" PRIu64 " elements in one unbroken sequence, %.2f s\n",
              rounds, policy_name(policy), total, secs);
}

// ------------------------------------------------------------------------------------------ consumer killed

// args: name policy release_fd. Creates the ring and pushes 0, 1, 2, ... for ever with push(). On peer_dead it
// reports "dead <pushed()>" and waits until the parent releases it (a new consumer is attached), then pushes the
// same element again. The parent kills it at the end.
SHMRING_CHILD(enduring_producer) {
  shmring_test::die_with_parent();
  auto p = producer<item>::create(args.at(0), capacity, with_policy(std::stoi(args.at(1))));
  const int release_fd = std::stoi(args.at(2));
  report("ready");
  for (std::uint64_t seq = 0;; ++seq) {
    const item v = make_item(seq);
    for (;;) {
      try {
        p.push(v);
        break;
      } catch (const error& e) {
        if (e.code() != errc::peer_dead) throw;
        report("dead " + std::to_string(p.pushed()));
        if (!shmring_test::wait_released(release_fd)) return 4;
      }
    }
  }
}

// args: name k last. Opens the ring as consumer and reports "start <popped()>". Then for each element: front(),
// check it, record it durably ("e <seq> <crc>", one write to the parent's pipe), pop_front(). Reports "progress"
// after k elements; the last one (last = 1) stops there and detaches cleanly, the others are killed.
SHMRING_CHILD(recording_consumer) {
  shmring_test::die_with_parent();
  auto c = consumer<item>::open(args.at(0));
  const std::uint64_t k = num(args.at(1));
  const bool last = args.at(2) == "1";
  std::uint64_t seq = c.popped();
  report("start " + std::to_string(seq));
  if (k == 0) report("progress");
  for (std::uint64_t n = 1;; ++n, ++seq) {
    const item* p = nullptr;
    while ((p = c.front()) == nullptr) shmring::detail::cpu_relax();  // the producer is alive and pushing
    if (!item_ok(*p, seq)) {
      report("bad " + std::to_string(seq));
      return 3;
    }
    report("e " + std::to_string(p->seq) + " " + std::to_string(p->crc));  // delivered once this write returns
    c.pop_front();                                                        // released
    if (n == k) {
      report("progress");
      if (last) return 0;
    }
  }
}

TEST_CASE("a consumer killed at random points while it consumes: a restarted one continues at the dead one's tail",
          "[ipc][stress][liveness]") {
  const int policy = GENERATE(2, 1, 0);
  const int rounds = policy == 2 ? kills : kills / 5;
  CAPTURE(policy_name(policy), rounds);
  const std::uint64_t seed = 0x5eed0100u + static_cast<std::uint64_t>(policy);
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  const auto t0 = clock_type::now();

  segment_guard g("ckill");
  release_pipe rel;
  auto prod = rel.inherit([&] {
    return std::make_unique<child_process>("enduring_producer",
                                           std::vector<std::string>{g.name(), std::to_string(policy),
                                                                    std::to_string(rel.read_fd())},
                                           true);
  });
  line_reader from_prod(prod->output_fd());
  REQUIRE(from_prod.expect() == "ready");
  const header_view view(g.name());

  std::vector<std::uint32_t> times_seen;  // per sequence number: how many consumers recorded it
  std::vector<std::uint32_t> crc_seen;
  std::uint64_t expected_start = 0, duplicates = 0;
  int dead_reports = 0;
  for (int r = 0; r <= rounds; ++r) {
    const bool last = r == rounds;
    const std::uint64_t k = last ? final_stream : rng() % 1500;
    child_process cons("recording_consumer", {g.name(), std::to_string(k), last ? "1" : "0"}, true);
    line_reader from_cons(cons.output_fd());
    const auto start = words(from_cons.expect());
    REQUIRE(start.size() == 2);
    REQUIRE(start[0] == "start");
    // The new consumer starts exactly at the dead one's final tail, read from the segment before it started.
    REQUIRE(num(start[1]) == expected_start);
    if (r > 0) rel.release();  // the producer waits for this after its peer_dead
    std::uint64_t next = expected_start, recorded = 0;
    bool killed = false;
    while (auto line = from_cons.next()) {
      const auto w = words(*line);
      if (w.size() == 1 && w[0] == "progress") {
        if (!last && !killed) {
          cons.kill_now();  // SIGKILL wherever it is now: before, between or after record and release
          killed = true;
        }
        continue;
      }
      REQUIRE(w.size() == 3);
      REQUIRE(w[0] == "e");
      const std::uint64_t s = num(w[1]);
      const auto crc = static_cast<std::uint32_t>(num(w[2]));
      REQUIRE(s == next);  // each consumer records an unbroken run (it also checked the element's bytes)
      CHECK(crc == make_item(s).crc);
      if (times_seen.size() <= s) {
        times_seen.resize(s + 1, 0);
        crc_seen.resize(s + 1, 0);
      }
      if (times_seen[s]++ > 0) {
        // Seen before: only the element a killed consumer recorded but did not release may come again, and
        // only as the first one its successor reads, with the same bytes.
        CHECK(recorded == 0);
        CHECK(s == expected_start);
        CHECK(crc_seen[s] == crc);
        ++duplicates;
      }
      crc_seen[s] = crc;
      ++next;
      ++recorded;
    }
    if (last) {
      REQUIRE(cons.wait() == 0);
      CHECK(recorded == final_stream);
      break;
    }
    REQUIRE(killed);
    // The waiting producer learns that its consumer died.
    const auto dead = words(from_prod.expect());
    REQUIRE(dead.size() == 2);
    REQUIRE(dead[0] == "dead");
    ++dead_reports;
    // The dead consumer's final tail: every element it released, so either all it recorded (killed outside
    // the window) or all but the last (killed after recording the last one and before releasing it).
    const std::uint64_t tail = view.popped();
    if (recorded == 0) {
      CHECK(tail == expected_start);
    } else {
      CHECK((tail == next || tail == next - 1));
    }
    expected_start = tail;
  }
  prod->kill_now();
  CHECK(dead_reports == rounds);
  CHECK(duplicates <= static_cast<std::uint64_t>(rounds));
  // Nothing lost: every element up to the last one recorded was recorded.
  std::uint64_t missing = 0;
  for (const auto t : times_seen) missing += t == 0 ? 1 : 0;
  CHECK(missing == 0);
  CHECK(expected_start + final_stream == times_seen.size());
  const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  std::printf("consumer killed %d times (policy %s): %zu elements delivered, %" PRIu64
              " in-flight elements seen twice, %.2f s\n",
              rounds, policy_name(policy), times_seen.size(), duplicates, secs);
}
