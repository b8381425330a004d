// Names and permissions against another user (beyond tests/lifetime/segment_test.cpp, which covers bad names, 0600
// whatever the umask and group/other-writable modes): a segment made by another uid (a child that setresuid()s
// to nobody, so these cases need root and are skipped with a message otherwise) is refused by an opener with
// errc::permission_denied even when the opener is root and could map it; another user cannot open ours; a name
// squatted before the real creator (another user's object, a world-writable one, a symlink) makes create() fail
// with errc::already_exists without touching or reclaiming the squatter's object, and open() refuse it.
#include <catch2/catch.hpp>

#include "errors.hpp"
#include "options.hpp"
#include "process.hpp"
#include "raw_segment.hpp"
#include "reports.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace shmring;
using shmring_test::child_process;
using shmring_test::code_of;
using shmring_test::segment_exists;
using shmring_test::segment_guard;
using shmring_test::shm_path;

namespace {
constexpr uid_t nobody = 65534;

bool drop_to_nobody() {
  return ::setresgid(nobody, nobody, nobody) == 0 && ::setresuid(nobody, nobody, nobody) == 0 && ::geteuid() == nobody;
}

// True (and a message in the report) when the test cannot make another user's segment here.
bool skip_unless_root() {
  if (::geteuid() == 0) return false;
  WARN("SKIPPED: creating a segment as another user needs root (setresuid); run the tests as root to cover it");
  return true;
}

options quick() { return shmring_test::with_timeouts(std::chrono::milliseconds(100)); }

struct stat stat_of(const std::string& name) {
  struct stat st{};
  REQUIRE(::stat(shm_path(name).c_str(), &st) == 0);
  return st;
}
}  // namespace

// args: name mode ready(0|1). As uid 65534: creates a producer ring and stays attached until killed
// (ready 1), or creates the raw object with that mode and a complete header whose ready word is set or not
// (ready 0 / 2), as a squatter that prepared a trap would.
SHMRING_CHILD(other_user_creator) {
  if (!drop_to_nobody()) return 2;
  const std::string& name = args.at(0);
  const auto mode = static_cast<mode_t>(std::stoi(args.at(1), nullptr, 8));
  const int how = std::stoi(args.at(2));
  if (how == 1) {
    auto p = producer<std::uint64_t>::create(name, 64);
    shmring_test::say("created");
    for (;;) ::pause();  // attached until the test kills it
  }
  const int fd = ::shm_open(object_name(name, "/").c_str(), O_RDWR | O_CREAT | O_EXCL, mode);
  if (fd < 0 || ::fchmod(fd, mode) != 0) return 3;
  const layout::slot_shape slots = layout::typed_slot_shape(8, 8);  // layout 4: the slot shape is in the header
  const std::uint64_t size = layout::data_offset_for(8) + 64 * slots.stride;
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return 4;
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return 5;
  auto* h = ::new (p) layout::header;
  std::memcpy(h->control.magic, layout_magic, sizeof layout_magic);
  h->control.version = layout_version;
  h->control.kind = static_cast<std::uint32_t>(segment_kind::typed);
  h->control.cache_line_size = static_cast<std::uint32_t>(cache_line);
  h->control.element_size = 8;
  h->control.element_align = 8;
  h->control.capacity = 64;
  h->control.data_offset = layout::data_offset_for(8);
  h->control.segment_size = size;
  h->info.slot_stride = slots.stride;
  h->info.slot_format = static_cast<std::uint32_t>(slots.format);
  h->info.creator_uid = nobody;
  if (how == 2) h->control.ready.store(ready_value, std::memory_order_release);
  return 0;
}

// args: name. As uid 65534: tries to open our ring; exits 20 + the error code.
SHMRING_CHILD(other_user_opener) {
  if (!drop_to_nobody()) return 2;
  const errc e = code_of([&] { (void)consumer<std::uint64_t>::open(args.at(0), quick()); });
  return 20 + static_cast<int>(e);
}

TEST_CASE("a ring created by another user is refused even by root", "[hardening][permissions]") {
  if (skip_unless_root()) return;
  segment_guard g("other-owner");
  child_process owner("other_user_creator", {g.name(), "600", "1"}, /*capture_stdout=*/true);
  REQUIRE(shmring_test::read_line(owner.output_fd()) == "created");
  const struct stat st = stat_of(g.name());
  CHECK(st.st_uid == nobody);
  CHECK((st.st_mode & 0777) == 0600);
  // Root could map it; shmring refuses to attach to memory another user controls.
  CHECK(code_of([&] { (void)consumer<std::uint64_t>::open(g.name(), quick()); }) == errc::permission_denied);
  CHECK(code_of([&] { (void)producer<std::uint64_t>::open(g.name(), quick()); }) == errc::permission_denied);
  CHECK(code_of([&] { (void)consumer<std::uint64_t>::open_or_create(g.name(), 64, quick()); }) ==
        errc::permission_denied);
  CHECK(code_of([&] { (void)consumer<std::uint64_t>::create(g.name(), 64, quick()); }) == errc::already_exists);
  CHECK(segment_exists(g.name()));
  owner.kill_now();
}

TEST_CASE("another user cannot open our ring", "[hardening][permissions]") {
  if (skip_unless_root()) return;
  segment_guard g("ours");
  auto p = producer<std::uint64_t>::create(g.name(), 64, quick());
  child_process other("other_user_opener", {g.name()});
  CHECK(other.wait() == 20 + static_cast<int>(errc::permission_denied));  // the kernel says EACCES: 0600
}

TEST_CASE("a name squatted before the real creator is neither used nor reclaimed", "[hardening][permissions]") {
  if (skip_unless_root()) return;
  // mode, and whether the squatter's header claims to be ready: a trap laid for whoever opens the name next.
  const auto [mode, ready] = GENERATE(table<const char*, const char*>(
      {{"600", "0"}, {"600", "2"}, {"666", "0"}, {"666", "2"}, {"622", "2"}}));
  CAPTURE(mode, ready);
  segment_guard g("squat");
  child_process squatter("other_user_creator", {g.name(), mode, ready});
  REQUIRE(squatter.wait() == 0);
  const struct stat before = stat_of(g.name());
  REQUIRE(before.st_uid == nobody);
  // The real creator does not reclaim an object it does not own, even an unready one: already_exists.
  CHECK(code_of([&] { (void)producer<std::uint64_t>::create(g.name(), 64, quick()); }) == errc::already_exists);
  // And nobody attaches to it.
  CHECK(code_of([&] { (void)consumer<std::uint64_t>::open(g.name(), quick()); }) == errc::permission_denied);
  CHECK(code_of([&] { (void)producer<std::uint64_t>::open_or_create(g.name(), 64, quick()); }) ==
        errc::permission_denied);
  const struct stat after = stat_of(g.name());
  CHECK(after.st_ino == before.st_ino);
  CHECK(after.st_uid == nobody);
}

TEST_CASE("a world-writable segment of our own that never became ready is not reclaimed", "[hardening][permissions]") {
  segment_guard g("own-666");
  const int fd = ::shm_open(object_name(g.name(), "/").c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::fchmod(fd, 0666) == 0);  // someone widened it: whatever is in it may have been written by anyone
  ::close(fd);
  CHECK(code_of([&] { (void)producer<std::uint64_t>::create(g.name(), 64, quick()); }) == errc::already_exists);
  CHECK(code_of([&] { (void)consumer<std::uint64_t>::open(g.name(), quick()); }) == errc::permission_denied);
  CHECK(segment_exists(g.name()));
}

TEST_CASE("a symlink squatting the name is never followed", "[hardening][permissions]") {
  segment_guard g("symlink");
  segment_guard target("symlink-target");
  auto victim = producer<std::uint64_t>::create(target.name(), 64, {.persistent = true});
  REQUIRE(::symlink(shm_path(target.name()).c_str(), shm_path(g.name()).c_str()) == 0);
  // shm_open uses O_NOFOLLOW: ELOOP, reported as a refusal.
  CHECK(code_of([&] { (void)consumer<std::uint64_t>::open(g.name(), quick()); }) == errc::permission_denied);
  CHECK(code_of([&] { (void)producer<std::uint64_t>::create(g.name(), 64, quick()); }) == errc::already_exists);
  struct stat st{};
  REQUIRE(::lstat(shm_path(g.name()).c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));  // create did not replace or remove it
  CHECK(victim.consumer_state() == peer_state::absent);  // nobody attached to the target through the link
  ::unlink(shm_path(g.name()).c_str());
}
