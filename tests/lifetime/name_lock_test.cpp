// The name lock (issue 12): a segment's name is removed only under the object's name lock, held from the check
// that the name still refers to the object to the unlink. These tests stand in the window between that check and
// that unlink (detail::before_unlink_hook, or a remover stopped there) and show that no other remover removes the
// name and no creator takes it meanwhile, and that a segment created under the name afterwards is never removed by
// a remover that found the old one.
#include <catch2/catch.hpp>

#include "errors.hpp"
#include "process.hpp"
#include "segment_guard.hpp"

#include <shmring/shmring.hpp>

#include <csignal>
#include <optional>
#include <string>

#include <sys/stat.h>

using namespace shmring;
using shmring_test::child_process;
using shmring_test::code_of;
using shmring_test::segment_guard;

namespace {
constexpr std::uint64_t size = 4096;

ino_t inode_of(const std::string& name) {
  struct stat st{};
  if (::lstat(object_name(name, "/dev/shm/").c_str(), &st) != 0) return 0;
  return st.st_ino;
}
ino_t inode_of(const segment& s) {
  struct stat st{};
  REQUIRE(::fstat(s.fd(), &st) == 0);
  return st.st_ino;
}

// What the other removers and a creator could do in the window, recorded by the hook. One process, several open
// file descriptions of the object: flock locks of different descriptions exclude each other as between processes.
struct window_attempts {
  std::string name;
  const segment* other_handle = nullptr;  // another description of the same object, opened before the retire
  std::optional<bool> other_unlinked;
  errc remove_code = errc::ok;
  errc create_code = errc::ok;
  ino_t named_after = 0;
  int calls = 0;
};
window_attempts* attempts = nullptr;

void in_the_window() noexcept {
  window_attempts& a = *attempts;
  ++a.calls;
  detail::before_unlink_hook = nullptr;  // the removers below must not re-enter
  a.other_unlinked = a.other_handle->unlink_if_still_named();
  try {
    (void)shmring::remove(a.name);
  } catch (const error& e) {
    a.remove_code = e.code();
  }
  try {
    (void)segment::create(a.name, size);
  } catch (const error& e) {
    a.create_code = e.code();
  }
  a.named_after = inode_of(a.name);
}
}  // namespace

TEST_CASE("between a retire's check and its unlink no other remover and no creator gets in", "[segment][name_lock]") {
  segment_guard g("namelock");
  auto s1 = segment::create(g.name(), size);
  auto other = segment::open(g.name(), segment::access::read_write);  // a second remover that found the same object
  const ino_t ino1 = inode_of(s1);
  REQUIRE(inode_of(g.name()) == ino1);

  window_attempts a;
  a.name = g.name();
  a.other_handle = &other;
  attempts = &a;
  detail::before_unlink_hook = in_the_window;
  const bool retired = s1.unlink_if_still_named();
  detail::before_unlink_hook = nullptr;
  attempts = nullptr;

  REQUIRE(a.calls == 1);
  CHECK(retired);
  REQUIRE(a.other_unlinked.has_value());
  CHECK_FALSE(*a.other_unlinked);              // waited for the lock, gave up, removed nothing
  CHECK(a.remove_code == errc::not_ready);     // remove() names the held lock instead of removing
  CHECK(a.create_code == errc::already_exists);  // the name still referred to s1 throughout the window
  CHECK(a.named_after == ino1);
  CHECK(inode_of(g.name()) == 0);              // and then the retire removed it

  // A new segment under the name: the remover that found the old object must leave it alone.
  auto s2 = segment::create(g.name(), size);
  const ino_t ino2 = inode_of(s2);
  CHECK_FALSE(other.unlink_if_still_named());
  CHECK(inode_of(g.name()) == ino2);
  CHECK(s2.still_named());
}

TEST_CASE("remove() of a name whose object was removed while it waited leaves the new object", "[segment][name_lock]") {
  // remove() found s1 (it opens by name, like the `other` handle above, then locks): once it has the lock and
  // s1 is no longer named, it reports false and does not remove what is named now.
  segment_guard g("namelock-rm");
  auto s1 = segment::create(g.name(), size);
  CHECK(s1.unlink_if_still_named());
  auto s2 = segment::create(g.name(), size);
  CHECK(shmring::remove(g.name()));  // found s2 and removed it: what the caller asked for
  CHECK(inode_of(g.name()) == 0);
  CHECK_FALSE(shmring::remove(g.name()));
}

// args: name. Opens the segment, enters the window of a retire (the hook) and stops itself there, holding the
// name lock: a remover stopped (or descheduled) between its check and its unlink.
SHMRING_CHILD(stopped_retirer) {
  auto s = segment::open(args.at(0), segment::access::read_write);
  detail::before_unlink_hook = [] () noexcept { ::raise(SIGSTOP); };
  (void)s.unlink_if_still_named();
  return 0;
}

TEST_CASE("a remover stopped in the window holds up other removers boundedly, and its death frees the name lock",
          "[segment][name_lock]") {
  segment_guard g("namelock-stop");
  auto s1 = segment::create(g.name(), size);
  const ino_t ino1 = inode_of(s1);
  child_process c("stopped_retirer", {g.name()});
  REQUIRE(shmring_test::wait_stopped(c.pid()));  // a kernel event: the child is inside the window

  CHECK(code_of([&] { (void)shmring::remove(g.name()); }) == errc::not_ready);
  CHECK_FALSE(s1.unlink_if_still_named());
  CHECK(code_of([&] { (void)segment::create(g.name(), size); }) == errc::already_exists);
  CHECK(inode_of(g.name()) == ino1);

  c.kill_now();  // the kernel drops a dead process's flock
  CHECK(inode_of(g.name()) == ino1);  // it died before its unlink
  CHECK(shmring::remove(g.name()));
  CHECK(inode_of(g.name()) == 0);
}
