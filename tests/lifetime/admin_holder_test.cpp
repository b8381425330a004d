// A third process that holds a segment's admin lock (briefly every attach, detach and sweep does; a stopped or
// hostile one may keep it) can neither hide a death nor strand a segment: a waiting side still learns that its
// peer was SIGKILLed (errc::peer_dead), and sides that detach meanwhile leave promptly without retiring the
// drained segment, which is then stale and retired by the sweep once the holder is gone.
#include <catch2/catch.hpp>

#include "errors.hpp"
#include "process.hpp"
#include "raw_segment.hpp"
#include "reports.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace shmring;
using namespace std::chrono_literals;
using shmring_test::child_process;
using shmring_test::code_of;
using shmring_test::read_line;
using shmring_test::segment_exists;
using shmring_test::segment_guard;

namespace {
options quick() {
  options o;
  o.wait.liveness_interval = 2ms;
  return o;
}
}  // namespace

// args: name stop(0|1). Opens the segment's file like any process of this user may and takes its admin lock byte
// (an OFD lock on byte 0), prints "held", then waits (pause) or stops itself (SIGSTOP) holding it.
SHMRING_CHILD(admin_holder) {
  const int fd = ::open(object_name(args.at(0), "/dev/shm/").c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return 2;
  struct flock fl{};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 1;
  if (::fcntl(fd, F_OFD_SETLK, &fl) != 0) return 3;
  std::printf("held\n");
  std::fflush(stdout);
  if (args.at(1) == "1") ::raise(SIGSTOP);
  for (;;) ::pause();
}

// args: name. Opens the producer side, pushes 5, prints "ready" and waits to be killed.
SHMRING_CHILD(waiting_producer) {
  auto p = producer<std::uint64_t>::open(args.at(0));
  p.push(5);
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) ::pause();
}

TEST_CASE("a process holding the admin lock cannot hide a producer's death", "[lifecycle][liveness]") {
  const bool stopped = GENERATE(false, true);
  CAPTURE(stopped);
  for (int round = 0; round < 10; ++round) {
    segment_guard g("admin-held");
    auto c = consumer<std::uint64_t>::create(g.name(), 64, quick());
    child_process prod("waiting_producer", {g.name()}, true);
    REQUIRE(read_line(prod.output_fd()) == "ready");
    child_process holder("admin_holder", {g.name(), stopped ? "1" : "0"}, true);
    REQUIRE(read_line(holder.output_fd()) == "held");
    CHECK(c.producer_state() == peer_state::alive);
    CHECK(c.pop() == 5);
    prod.kill_now();
    // The holder keeps the admin lock all along: the death is still seen, by the waiting call and by the state.
    CHECK(code_of([&] { (void)c.pop(); }) == errc::peer_dead);
    CHECK(c.producer_state() == peer_state::dead);
    holder.kill_now();
  }
}

TEST_CASE("sides that detach while another process holds the admin lock leave a drained segment to the sweep",
          "[lifecycle][liveness]") {
  const bool stopped = GENERATE(false, true);
  CAPTURE(stopped);
  segment_guard g("admin-held-detach");
  std::optional<producer<std::uint64_t>> p(producer<std::uint64_t>::create(g.name(), 64));
  std::optional<consumer<std::uint64_t>> c(consumer<std::uint64_t>::open(g.name()));
  REQUIRE(p->try_push(9));
  REQUIRE(c->try_pop() == 9);
  child_process holder("admin_holder", {g.name(), stopped ? "1" : "0"}, true);
  REQUIRE(read_line(holder.output_fd()) == "held");
  // Both detach cleanly while the admin lock is held elsewhere: neither may judge the segment, so it stays...
  p.reset();
  c.reset();
  REQUIRE(segment_exists(g.name()));
  const ring_status s = status(g.name());
  CHECK(s.producer.state == layout::attach_state::detached);
  CHECK(s.consumer.state == layout::attach_state::detached);
  CHECK_FALSE(is_stale(g.name()));  // the holder still has the admin lock: nothing is judged under it
  // ...and once the holder is gone, the drained ring is stale and the sweep retires it.
  holder.kill_now();
  CHECK(is_stale(g.name()));
  CHECK(remove_stale(g.name()));
  CHECK_FALSE(segment_exists(g.name()));
}

TEST_CASE("a drained persistent ring is never stale", "[lifecycle][liveness]") {
  segment_guard g("drained-persistent");
  options keep;
  keep.persistent = true;
  { auto p = producer<std::uint64_t>::create(g.name(), 64, keep); }
  REQUIRE(segment_exists(g.name()));
  CHECK_FALSE(is_stale(g.name()));
}
