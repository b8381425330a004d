// Setup that cannot be half-seen. A real creator process is killed (SIGKILL) at every step of creation: inside the
// library (the test-only creation_hook: after shm_open, after ftruncate, after mmap, after taking the admin lock,
// after writing the header, after taking its side) and, by a child that performs create()'s steps by hand in the
// same order, after each single header field. Every time:
//   - the segment is left behind, and an opener is refused with errc::not_ready once its open_timeout passes
//     (it never hangs and never sees a half-made header);
//   - a later create() or open_or_create() reclaims it (the name holds a working ring afterwards, on a new object);
//   - a ready segment is never reclaimed: errc::already_exists, even when its creator is dead.
// A creator that is only stopped (SIGSTOP) while holding the admin lock is alive: openers and creators get
// errc::not_ready and nothing is removed; after SIGCONT it finishes and its ring works. A creator stopped before
// taking the admin lock looks abandoned, is reclaimed, and on resuming finds the name taken (already_exists).
#include <catch2/catch.hpp>

#include "checksum.hpp"
#include "errors.hpp"
#include "options.hpp"
#include "process.hpp"
#include "raw_segment.hpp"
#include "reports.hpp"
#include "sanitizers.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <csignal>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace shmring;
using shmring_test::child_process;
using shmring_test::code_of;
using shmring_test::mix;
using shmring_test::segment_exists;
using shmring_test::segment_guard;
using shmring_test::segment_inode;

namespace {
constexpr std::uint64_t capacity = 64;

options quick() { return shmring_test::with_timeouts(std::chrono::milliseconds(100)); }

detail::creation_step g_target{};
int g_signal = SIGKILL;
void stop_at_target(detail::creation_step s) noexcept {
  if (s == g_target) ::raise(g_signal);
}

const char* step_name(detail::creation_step s) {
  switch (s) {
    case detail::creation_step::object_created: return "object_created";
    case detail::creation_step::sized: return "sized";
    case detail::creation_step::mapped: return "mapped";
    case detail::creation_step::admin_locked: return "admin_locked";
    case detail::creation_step::header_written: return "header_written";
    case detail::creation_step::side_taken: return "side_taken";
  }
  return "?";
}

// Proves the name now holds a working ring: a consumer opens it, every value crosses and is checked.
void check_ring_works(producer<std::uint64_t>& p, const std::string& name) {
  auto c = consumer<std::uint64_t>::open(name, quick());
  for (std::uint64_t i = 0; i < 3 * capacity; ++i) {
    REQUIRE(p.try_push(mix(i)));
    REQUIRE(c.try_pop() == mix(i));
  }
  CHECK_FALSE(c.try_pop().has_value());
}

// The fields endpoint::create writes, in its order, each as one step of the hand-made creator below.
constexpr int header_fields = 16;

void write_field(layout::header& h, int k, std::uint64_t size) {
  switch (k) {
    case 0: std::memcpy(h.control.magic, layout_magic, sizeof layout_magic); break;
    case 1: h.control.version = layout_version; break;
    case 2: h.control.kind = static_cast<std::uint32_t>(segment_kind::typed); break;
    case 3: h.control.cache_line_size = static_cast<std::uint32_t>(cache_line); break;
    case 4: h.control.element_size = sizeof(std::uint64_t); break;
    case 5: h.control.element_align = alignof(std::uint64_t); break;
    case 6: h.control.capacity = capacity; break;
    case 7: h.control.data_offset = layout::data_offset_for(alignof(std::uint64_t)); break;
    case 8: h.control.segment_size = size; break;
    case 9: h.control.initial_index = 0; break;
    case 10: h.head.value.store(0, std::memory_order_relaxed); break;
    case 11: h.tail.value.store(0, std::memory_order_relaxed); break;
    case 12: h.info.created_ns = 1; break;
    case 13: h.info.flags = 0; break;
    case 14: h.info.creator_uid = static_cast<std::uint32_t>(::geteuid()); break;
    case 15:  // take_side (the caller took the producer's lock byte first): the slot
      h.attach.producer.pid.store(static_cast<std::uint32_t>(::getpid()), std::memory_order_relaxed);
      h.attach.producer.state.store(static_cast<std::uint32_t>(layout::attach_state::attached),
                                    std::memory_order_release);
      break;
    default: break;
  }
}

bool ofd_lock(int fd, lock_byte b) {
  struct flock fl{};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(b);
  fl.l_len = 1;
  return ::fcntl(fd, F_OFD_SETLK, &fl) == 0;
}
}  // namespace

// args: name step. Creates a producer ring and SIGKILLs itself at that creation step. Exit 1 if it got through.
SHMRING_CHILD(dying_creator) {
  g_target = static_cast<detail::creation_step>(std::stoi(args.at(1)));
  g_signal = SIGKILL;
  detail::creation_hook = &stop_at_target;
  auto p = producer<std::uint64_t>::create(args.at(0), capacity, quick());
  return 1;
}

// args: name step. Creates a producer ring, stopping itself (SIGSTOP) at that step; once continued it finishes,
// pushes 0..49 (mixed) and exits 0; or exits 20 + the error code if creating failed.
SHMRING_CHILD(stopping_creator) {
  g_target = static_cast<detail::creation_step>(std::stoi(args.at(1)));
  g_signal = SIGSTOP;
  detail::creation_hook = &stop_at_target;
  try {
    auto p = producer<std::uint64_t>::create(args.at(0), capacity, quick());
    for (std::uint64_t i = 0; i < 50; ++i)
      if (!p.try_push(mix(i))) return 2;
    return 0;
  } catch (const error& e) {
    return 20 + static_cast<int>(e.code());
  }
}

// args: name. Creates a producer ring, pushes 0..49 (mixed) and SIGKILLs itself: ready, and its creator dead.
SHMRING_CHILD(killed_after_ready) {
  auto p = producer<std::uint64_t>::create(args.at(0), capacity, quick());
  for (std::uint64_t i = 0; i < 50; ++i)
    if (!p.try_push(mix(i))) return 2;
  ::raise(SIGKILL);
  return 1;
}

// args: name k. Performs endpoint::create's steps by hand, writing header fields 0..k-1 in create()'s order
// (field 15 is taking the producer's side), then SIGKILLs itself before `ready`.
SHMRING_CHILD(hand_creator) {
  const std::string obj = object_name(args.at(0), "/");
  const int k = std::stoi(args.at(1));
  const std::uint64_t size = layout::data_offset_for(alignof(std::uint64_t)) + capacity * sizeof(std::uint64_t);
  const int fd = ::shm_open(obj.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0 || ::fchmod(fd, 0600) != 0 || ::ftruncate(fd, static_cast<off_t>(size)) != 0) return 2;
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED || !ofd_lock(fd, lock_byte::admin)) return 3;
  auto* h = ::new (p) layout::header;
  for (int i = 0; i < k; ++i) {
    if (i == 15 && !ofd_lock(fd, lock_byte::producer)) return 4;
    write_field(*h, i, size);
  }
  ::raise(SIGKILL);
  return 1;
}

TEST_CASE("a creator killed at any step inside create() leaves a segment that is refused, then reclaimed",
          "[hardening][setup]") {
  const auto step = static_cast<detail::creation_step>(GENERATE(range(0, 6)));
  CAPTURE(step_name(step));
  segment_guard g("die-step");
  child_process creator("dying_creator", {g.name(), std::to_string(static_cast<int>(step))});
  REQUIRE(creator.wait() == 128 + SIGKILL);
  REQUIRE(segment_exists(g.name()));  // left behind, never half-seen:
  const ino_t abandoned = segment_inode(g.name());
  CHECK(code_of([&] { (void)consumer<std::uint64_t>::open(g.name(), quick()); }) == errc::not_ready);
  CHECK(code_of([&] { (void)producer<std::uint64_t>::open(g.name(), quick()); }) == errc::not_ready);
  CHECK(segment_inode(g.name()) == abandoned);  // open never removes anything
  auto p = producer<std::uint64_t>::create(g.name(), capacity, quick());  // reclaims it
  CHECK(segment_inode(g.name()) != abandoned);
  check_ring_works(p, g.name());
  // The new segment is ready: it is never reclaimed.
  CHECK(code_of([&] { (void)consumer<std::uint64_t>::create(g.name(), capacity, quick()); }) == errc::already_exists);
}

TEST_CASE("open_or_create reclaims a segment whose creator died at any step, as create does", "[hardening][setup]") {
  const auto step = static_cast<detail::creation_step>(GENERATE(range(0, 6)));
  CAPTURE(step_name(step));
  segment_guard g("die-ooc");
  child_process creator("dying_creator", {g.name(), std::to_string(static_cast<int>(step))});
  REQUIRE(creator.wait() == 128 + SIGKILL);
  REQUIRE(segment_exists(g.name()));
  const ino_t abandoned = segment_inode(g.name());
  // The consumer side (a producer in check_ring_works must be free to attach): open finds it unready, create
  // reclaims it, and the new ring is the consumer's.
  auto c = consumer<std::uint64_t>::open_or_create(g.name(), capacity, quick());
  CHECK(segment_inode(g.name()) != abandoned);
  auto p = producer<std::uint64_t>::open_or_create(g.name(), capacity, quick());  // now it simply opens
  for (std::uint64_t i = 0; i < 3 * capacity; ++i) {
    REQUIRE(p.try_push(mix(i)));
    REQUIRE(c.try_pop() == mix(i));
  }
  CHECK_FALSE(c.try_pop().has_value());
}

TEST_CASE("a creator killed after each header field leaves a segment that is refused, then reclaimed",
          "[hardening][setup]") {
  const int fields = GENERATE(range(0, header_fields + 1));
  CAPTURE(fields);
  segment_guard g("die-field");
  child_process creator("hand_creator", {g.name(), std::to_string(fields)});
  REQUIRE(creator.wait() == 128 + SIGKILL);
  REQUIRE(segment_exists(g.name()));
  CHECK(code_of([&] { (void)consumer<std::uint64_t>::open(g.name(), quick()); }) == errc::not_ready);
  CHECK(code_of([&] { (void)producer<std::uint64_t>::open(g.name(), quick()); }) == errc::not_ready);
  auto c = consumer<std::uint64_t>::create(g.name(), capacity, quick());
  auto p = producer<std::uint64_t>::open(g.name(), quick());
  for (std::uint64_t i = 0; i < 3 * capacity; ++i) {
    REQUIRE(p.try_push(mix(i)));
    REQUIRE(c.try_pop() == mix(i));
  }
  CHECK(c.popped() == 3 * capacity);
}

TEST_CASE("a ready segment whose creator died is never reclaimed by create", "[hardening][setup]") {
  segment_guard g("die-ready");
  child_process creator("killed_after_ready", {g.name()});
  REQUIRE(creator.wait() == 128 + SIGKILL);
  REQUIRE(segment_exists(g.name()));
  const ino_t ino = segment_inode(g.name());
  CHECK(code_of([&] { (void)producer<std::uint64_t>::create(g.name(), capacity, quick()); }) == errc::already_exists);
  CHECK(segment_inode(g.name()) == ino);
  auto c = consumer<std::uint64_t>::open(g.name(), quick());
  for (std::uint64_t i = 0; i < 50; ++i) REQUIRE(c.try_pop() == mix(i));
}

TEST_CASE("a creator stopped while holding the admin lock is alive: refused, not reclaimed, then it finishes",
          "[hardening][setup]") {
  const auto step = static_cast<detail::creation_step>(GENERATE(3, 4, 5));  // admin_locked .. side_taken
  CAPTURE(step_name(step));
  segment_guard g("stop-step");
  child_process creator("stopping_creator", {g.name(), std::to_string(static_cast<int>(step))});
  REQUIRE(shmring_test::wait_stopped(creator.pid()));
  const ino_t ino = segment_inode(g.name());
  REQUIRE(ino != 0);
  CHECK(code_of([&] { (void)consumer<std::uint64_t>::open(g.name(), quick()); }) == errc::not_ready);
  CHECK(code_of([&] { (void)producer<std::uint64_t>::create(g.name(), capacity, quick()); }) == errc::not_ready);
  CHECK(code_of([&] { (void)consumer<std::uint64_t>::open_or_create(g.name(), capacity, quick()); }) ==
        errc::not_ready);
  CHECK(segment_inode(g.name()) == ino);  // nothing was removed
  REQUIRE(::kill(creator.pid(), SIGCONT) == 0);
  REQUIRE(creator.wait() == 0);  // it finished creating and pushed its 50 values
  auto c = consumer<std::uint64_t>::open(g.name(), quick());
  for (std::uint64_t i = 0; i < 50; ++i) REQUIRE(c.try_pop() == mix(i));
  CHECK_FALSE(c.try_pop().has_value());
}

TEST_CASE("open_or_create reclaims from a creator stopped before its admin lock, which then finds the name taken",
          "[hardening][setup]") {
  const auto step = static_cast<detail::creation_step>(GENERATE(0, 1, 2));  // object_created .. mapped
  CAPTURE(step_name(step));
  segment_guard g("stop-early-ooc");
  child_process creator("stopping_creator", {g.name(), std::to_string(static_cast<int>(step))});
  REQUIRE(shmring_test::wait_stopped(creator.pid()));
  const ino_t abandoned = segment_inode(g.name());
  REQUIRE(abandoned != 0);
  // open() finds it unready for open_timeout, then create() judges it abandoned and makes the ring anew.
  auto c = consumer<std::uint64_t>::open_or_create(g.name(), capacity, quick());
  CHECK(segment_inode(g.name()) != abandoned);
  REQUIRE(::kill(creator.pid(), SIGCONT) == 0);
  CHECK(creator.wait() == 20 + static_cast<int>(errc::already_exists));  // as with create(): never two rings
  auto p = producer<std::uint64_t>::open(g.name(), quick());
  for (std::uint64_t i = 0; i < 3 * capacity; ++i) {
    REQUIRE(p.try_push(mix(i)));
    REQUIRE(c.try_pop() == mix(i));
  }
  CHECK_FALSE(c.try_pop().has_value());
}

TEST_CASE("a creator stopped before its admin lock is reclaimed, and on resuming finds the name taken",
          "[hardening][setup]") {
  const auto step = static_cast<detail::creation_step>(GENERATE(0, 1, 2));  // object_created .. mapped
  CAPTURE(step_name(step));
  segment_guard g("stop-early");
  child_process creator("stopping_creator", {g.name(), std::to_string(static_cast<int>(step))});
  REQUIRE(shmring_test::wait_stopped(creator.pid()));
  const ino_t abandoned = segment_inode(g.name());
  REQUIRE(abandoned != 0);
  auto p = producer<std::uint64_t>::create(g.name(), capacity, quick());  // it looks abandoned: reclaimed
  CHECK(segment_inode(g.name()) != abandoned);
  REQUIRE(::kill(creator.pid(), SIGCONT) == 0);
  // The resumed creator locks its orphaned object, sees the name now refers to ours, tries again and is told
  // the name is taken by a ready segment. Our ring is untouched.
  CHECK(creator.wait() == 20 + static_cast<int>(errc::already_exists));
  check_ring_works(p, g.name());
}

// args: name side(producer|consumer) go_fd done_fd. Waits to be released through go_fd, calls open_or_create, prints
// its side and the errc value it got (0: attached), then holds what it got until released through done_fd, so that no other
// caller can take its side meanwhile. (Two pipes: a racer that is done must not take a start byte meant for another.)
SHMRING_CHILD(racing_open_or_create) {
  const int release = std::stoi(args.at(2));
  if (!shmring_test::wait_released(release)) return 2;
  errc got = errc::ok;
  std::optional<producer<std::uint64_t>> p;
  std::optional<consumer<std::uint64_t>> c;
  try {
    if (args.at(1) == "producer")
      p.emplace(producer<std::uint64_t>::open_or_create(args.at(0), capacity, quick()));
    else
      c.emplace(consumer<std::uint64_t>::open_or_create(args.at(0), capacity, quick()));
  } catch (const error& e) {
    got = e.code();
  }
  shmring_test::report(args.at(1) + " " + std::to_string(static_cast<int>(got)));
  if (!shmring_test::wait_released(std::stoi(args.at(3)))) return 2;
  return 0;
}

TEST_CASE("16 producers and 16 consumers racing open_or_create on an abandoned segment resolve cleanly",
          "[hardening][setup]") {
  constexpr int per_side = 16;
  const int rounds = static_cast<int>(shmring_test::scaled(50, 8));
  for (int round = 0; round < rounds; ++round) {
    const auto step = static_cast<detail::creation_step>(round % 6);
    CAPTURE(round, step_name(step));
    segment_guard g("race-abandoned");
    {
      child_process creator("dying_creator", {g.name(), std::to_string(static_cast<int>(step))});
      REQUIRE(creator.wait() == 128 + SIGKILL);
    }
    REQUIRE(segment_exists(g.name()));
    shmring_test::release_pipe go, done;
    std::vector<std::unique_ptr<child_process>> racers;
    for (int i = 0; i < 2 * per_side; ++i) {
      racers.push_back(go.inherit([&] {
        return done.inherit([&] {
          return std::make_unique<child_process>(
              "racing_open_or_create",
              std::vector<std::string>{g.name(), i % 2 == 0 ? "producer" : "consumer", std::to_string(go.read_fd()),
                                       std::to_string(done.read_fd())},
              true);
        });
      }));
    }
    for (int i = 0; i < 2 * per_side; ++i) go.release();
    int attached[2] = {0, 0}, refused[2] = {0, 0};
    for (int i = 0; i < 2 * per_side; ++i) {
      const std::string line = shmring_test::read_line(racers[static_cast<std::size_t>(i)]->output_fd());
      const auto w = shmring_test::words(line);
      REQUIRE(w.size() == 2);
      const auto code = static_cast<errc>(std::stoi(w[1]));
      INFO("racer " << i << " (" << w[0] << ") got " << to_string(code));
      CHECK((code == errc::ok || code == errc::already_attached));
      const int side_index = w[0] == "producer" ? 0 : 1;
      if (code == errc::ok)
        ++attached[side_index];
      else
        ++refused[side_index];
    }
    // One producer and one consumer attached (the segment was reclaimed once), every other caller told why not.
    CHECK(attached[0] == 1);
    CHECK(attached[1] == 1);
    CHECK(refused[0] == per_side - 1);
    CHECK(refused[1] == per_side - 1);
    for (int i = 0; i < 2 * per_side; ++i) done.release();
    for (auto& r : racers) CHECK(r->wait() == 0);
  }
}
