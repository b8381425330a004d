// Stale segments: a ring whose sides were both killed, or whose creator died before the header was ready, is
// detected by is_stale and removed by remove_stale; a ring with a live side, a cleanly detached ring that still
// holds data, and a segment being created right now are left alone.
// Registered RUN_SERIAL: the scanning remove_stale() judges every shmring segment of this user, and other tests
// deliberately make segments that look abandoned.
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "line_reader.hpp"
#include "process.hpp"
#include "raw_segment.hpp"
#include "reports.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

using namespace shmring;
using shmring_test::child_process;
using shmring_test::line_reader;
using shmring_test::mix;
using shmring_test::release_pipe;
using shmring_test::report;
using shmring_test::segment_guard;

namespace {
bool exists(const std::string& name) { return shmring_test::segment_exists(name); }

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
}  // namespace

// args: name side(p|c) create(1|0) release_fd. Attaches, pushes 3 values if producer, reports "attached" and
// waits until released (then detaches cleanly) or killed.
SHMRING_CHILD(attached_side) {
  shmring_test::die_with_parent();
  const std::string& name = args.at(0);
  const bool create = args.at(2) == "1";
  const int release_fd = std::stoi(args.at(3));
  if (args.at(1) == "p") {
    auto p = create ? producer<std::uint64_t>::create(name, 8) : producer<std::uint64_t>::open(name);
    for (std::uint64_t i = 0; i < 3; ++i) p.push(mix(i));
    report("attached");
    return shmring_test::wait_released(release_fd) ? 0 : 4;
  }
  auto c = create ? consumer<std::uint64_t>::create(name, 8) : consumer<std::uint64_t>::open(name);
  report("attached");
  return shmring_test::wait_released(release_fd) ? 0 : 4;
}

namespace {
// Starts a child attached as one side and waits for it to say so.
std::unique_ptr<child_process> start_side(release_pipe& rel, const std::string& name, const char* side, bool create) {
  auto c = rel.inherit([&] {
    return std::make_unique<child_process>(
        "attached_side", std::vector<std::string>{name, side, create ? "1" : "0", std::to_string(rel.read_fd())},
        true);
  });
  line_reader r(c->output_fd());
  REQUIRE(r.expect() == "attached");
  return c;
}
}  // namespace

TEST_CASE("a ring whose producer and consumer were both killed is stale and is removed", "[ipc][stale]") {
  segment_guard g("stale-both");
  release_pipe rel;
  auto prod = start_side(rel, g.name(), "p", true);
  auto cons = start_side(rel, g.name(), "c", false);
  CHECK_FALSE(is_stale(g.name()));  // both alive
  prod->kill_now();
  CHECK_FALSE(is_stale(g.name()));  // the consumer is alive: a restarted producer may continue
  CHECK_FALSE(remove_stale(g.name()));
  CHECK(exists(g.name()));
  cons->kill_now();
  CHECK(is_stale(g.name()));
  CHECK(exists(g.name()));  // is_stale only looks
  CHECK(remove_stale(g.name()));
  CHECK_FALSE(exists(g.name()));
  CHECK_FALSE(is_stale(g.name()));  // no such segment
  CHECK_FALSE(remove_stale(g.name()));
}

TEST_CASE("one side killed and the other detached cleanly is stale, but both detached cleanly with data is not",
          "[ipc][stale]") {
  SECTION("producer killed, consumer detached cleanly") {
    segment_guard g("stale-one");
    release_pipe rel;
    auto prod = start_side(rel, g.name(), "p", true);
    {
      auto c = consumer<std::uint64_t>::open(g.name());
      CHECK(c.pop() == mix(0));  // leaves two in the ring
    }
    prod->kill_now();
    CHECK(is_stale(g.name()));
    CHECK(remove_stale(g.name()));
    CHECK_FALSE(exists(g.name()));
  }
  SECTION("producer detached cleanly with data in the ring: it waits for its consumer") {
    segment_guard g("undrained");
    {
      auto p = producer<std::uint64_t>::create(g.name(), 8);
      for (std::uint64_t i = 0; i < 3; ++i) REQUIRE(p.try_push(mix(i)));
    }
    REQUIRE(exists(g.name()));
    CHECK_FALSE(is_stale(g.name()));
    CHECK_FALSE(remove_stale(g.name()));
    CHECK_FALSE(contains(remove_stale(), g.name()));
    REQUIRE(exists(g.name()));
    auto c = consumer<std::uint64_t>::open(g.name());
    for (std::uint64_t i = 0; i < 3; ++i) CHECK(c.pop() == mix(i));
  }
  SECTION("persistent ring, both detached cleanly and empty: kept, not stale") {
    segment_guard g("persist");
    options o;
    o.persistent = true;
    { auto p = producer<std::uint64_t>::create(g.name(), 8, o); }
    REQUIRE(exists(g.name()));
    CHECK_FALSE(is_stale(g.name()));
    CHECK_FALSE(remove_stale(g.name()));
  }
}

TEST_CASE("a ring with a live side is never removed", "[ipc][stale]") {
  segment_guard g("live");
  release_pipe rel;
  auto cons = start_side(rel, g.name(), "c", true);
  CHECK_FALSE(is_stale(g.name()));
  CHECK_FALSE(remove_stale(g.name()));
  CHECK_FALSE(contains(remove_stale(), g.name()));
  CHECK(exists(g.name()));
  // even when its producer died attached
  {
    release_pipe rel2;
    auto prod = start_side(rel2, g.name(), "p", false);
    prod->kill_now();
  }
  CHECK_FALSE(is_stale(g.name()));
  CHECK_FALSE(remove_stale(g.name()));
  rel.release();
  CHECK(cons->wait() == 0);
}

namespace {
// Makes the segment look as if its creator made or sized it `age` ago (what a crash long ago leaves behind),
// instead of waiting that long.
void backdate(const std::string& name, std::chrono::seconds age) {
  const int fd = ::shm_open(object_name(name, "/").c_str(), O_RDWR, 0);
  REQUIRE(fd >= 0);
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const timespec then{now.tv_sec - static_cast<time_t>(age.count()), now.tv_nsec};
  const timespec times[2] = {then, then};
  REQUIRE(::futimens(fd, times) == 0);
  ::close(fd);
}
}  // namespace

TEST_CASE("a segment whose creator died before its header was ready is stale, unless it is being set up now",
          "[ipc][stale]") {
  SECTION("never sized (the creator died right after shm_open)") {
    segment_guard g("unsized");
    const int fd = ::shm_open(object_name(g.name(), "/").c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    ::close(fd);
    // Just made: it may be a live creator in the instant before it takes the admin lock.
    CHECK_FALSE(is_stale(g.name()));
    backdate(g.name(), stale_setup_grace);
    CHECK(is_stale(g.name()));
    CHECK(contains(remove_stale(), g.name()));
    CHECK_FALSE(exists(g.name()));
  }
  SECTION("sized but never marked ready") {
    segment_guard g("unready");
    {
      auto s = segment::create(g.name(), 4096);  // zero memory: ready is 0; this process holds no lock on it
      CHECK_FALSE(is_stale(g.name()));
    }
    backdate(g.name(), std::chrono::seconds(3600));
    CHECK(is_stale(g.name()));
    CHECK(remove_stale(g.name()));
    CHECK_FALSE(exists(g.name()));
  }
  SECTION("not ready while its creator holds the admin lock, however old") {
    segment_guard g("creating");
    auto s = segment::create(g.name(), 4096);
    REQUIRE(s.try_lock(lock_byte::admin));  // as endpoint::create does until the header is ready
    backdate(g.name(), std::chrono::seconds(3600));
    CHECK_FALSE(is_stale(g.name()));
    CHECK_FALSE(remove_stale(g.name()));
    CHECK(exists(g.name()));
    s.unlock(lock_byte::admin);
    CHECK(is_stale(g.name()));  // and once that creator is gone, it is
  }
}

TEST_CASE("remove_stale() removes every stale segment and returns their names", "[ipc][stale]") {
  segment_guard a("sweep-a"), b("sweep-b"), keep("sweep-keep");
  {
    release_pipe rel;
    auto p = start_side(rel, a.name(), "p", true);
    p->kill_now();
  }
  { auto s = segment::create(b.name(), 64); }  // never ready
  backdate(b.name(), std::chrono::seconds(3600));
  { auto p = producer<std::uint64_t>::create(keep.name(), 8); REQUIRE(p.try_push(1)); }  // undrained, clean
  const auto removed = remove_stale();
  CHECK(contains(removed, a.name()));
  CHECK(contains(removed, b.name()));
  CHECK_FALSE(contains(removed, keep.name()));
  CHECK(std::is_sorted(removed.begin(), removed.end()));
  CHECK_FALSE(exists(a.name()));
  CHECK_FALSE(exists(b.name()));
  CHECK(exists(keep.name()));
}

// args: name rounds. Creates the ring, attaches a consumer, moves one value, detaches both; rounds times.
// Fails (exit 5) if its new segment vanished under it.
SHMRING_CHILD(churning_creator) {
  shmring_test::die_with_parent();
  const std::uint64_t n = std::stoull(args.at(1));
  for (std::uint64_t i = 0; i < n; ++i) {
    auto p = producer<std::uint64_t>::create(args.at(0), 8);
    try {
      auto c = consumer<std::uint64_t>::open(args.at(0));
      p.push(mix(i));
      if (c.pop() != mix(i)) return 6;
    } catch (const error& e) {
      if (e.code() == errc::not_found) return 5;
      throw;
    }
  }  // each round ends with both detached and the ring empty: removed
  report("done");
  return 0;
}

TEST_CASE("a sweep never removes a segment that is being created or attached right now", "[ipc][stale][stress]") {
  segment_guard g("churn");
  child_process creator("churning_creator", {g.name(), "2000"}, true);
  std::uint64_t sweeps = 0, removed = 0;
  pollfd pf{creator.output_fd(), POLLIN, 0};
  // Sweep as fast as possible until the creator is done (its report pipe becomes readable): an event.
  while (::poll(&pf, 1, 0) == 0) {
    removed += remove_stale(g.name()) ? 1 : 0;
    ++sweeps;
  }
  // The creator never lost its ring: no sweep judged a ring being created or attached stale (and one that removed
  // a brand-new segment whose creator stalled past the grace would have made it create the ring again).
  CHECK(creator.wait() == 0);
  CHECK(sweeps > 0);
  std::printf("%llu sweeps during 2000 create/attach/detach rounds; %llu removed a segment\n",
              static_cast<unsigned long long>(sweeps), static_cast<unsigned long long>(removed));
}
