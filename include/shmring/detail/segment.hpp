// shmring: a named shared-memory segment: the file /dev/shm/shmring-NAME, opened, reserved and mapped with plain
// POSIX calls (open, fstat, posix_fallocate, mmap).
// May touch: the shm object and its mapping, and kernel file locks on it. It knows nothing of rings: it creates,
// opens, validates names, file types, owners and permissions, reserves memory, maps, locks bytes, and removes.
// Longer than 400 lines on purpose: it is every system call shmring makes on a segment's file, and each refusal
// (space, file type, owner, limits) is checked next to the call it guards; split, the order of the checks would be
// spread over files that must be read together.
//
// Why not Boost.Interprocess (used here until issue 12): shared_memory_object opens by name with flags of its own,
// so it cannot pass O_NONBLOCK (opening a FIFO planted under a segment's name blocked forever) nor let us fstat
// the object before it is used, and it sizes with ftruncate only. On Linux shm_open(3) is open(2) of
// /dev/shm/NAME with O_NOFOLLOW | O_CLOEXEC added (glibc; musl adds O_NONBLOCK too), so this file calls open(2)
// on that path itself, with exactly the flags it needs; the objects are the same ones shm_open names "/shmring-N".
//
// Names: a user name N (1..200 bytes, no '/', no control bytes, not "." or "..") is the POSIX shm object
// "/shmring-N" (on Linux the file /dev/shm/shmring-N), so shmring never touches another program's segments.
// A name that begins with '/' is instead the absolute path of a regular file (a file-backed ring, issue 18,
// docs/durability.md): created, checked, reserved, locked and removed exactly as a /dev/shm object, except that its
// directory must exist, a disk file's extents are written once at create (write_extents), and remove() checks
// that the file starts with a ring's magic first.
// Truncation: every mapping is entered in the SIGBUS handler's table (detail/sigbus.hpp) while it exists, so a
// process that truncates the object cannot kill us; truncated() and check_truncated() say what happened.
// Locks: open-file-description (OFD) locks on bytes of the object, released by the kernel when the last
// descriptor of the holder closes, in particular when the process dies. They mark who is attached.
// Removal: every name shmring removes is removed under the object's name lock (a flock(2) on the object, see
// unlink_if_still_named), held from the check that the name still refers to the object to the unlink, so no
// other remover can remove the name (and a creator put a new object under it) in between.
#pragma once

#include <shmring/config.hpp>
#include <shmring/detail/proc.hpp>
#include <shmring/detail/sigbus.hpp>
#include <shmring/error.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

namespace shmring {

/// Longest user name accepted, in bytes.
inline constexpr std::size_t max_name_length = 200;
/// Longest file path accepted as a ring name (a file-backed ring, see is_file_path), in bytes: PATH_MAX - 1.
inline constexpr std::size_t max_path_length = 4095;
/// What shmring puts before a user name to make the shm object name.
inline constexpr std::string_view object_prefix = "shmring-";

/// Whether a ring name is the absolute path of a regular file (a file-backed ring, docs/durability.md) rather
/// than a /dev/shm name: it begins with '/', which a /dev/shm name may not contain, so every API takes both.
constexpr bool is_file_path(std::string_view name) noexcept { return !name.empty() && name.front() == '/'; }

/// Throws errc::invalid_name unless name is usable. Called before any system call.
/// A /dev/shm name: 1..200 bytes, no '/', no control bytes, not "." or "..". A file path: absolute, at most 4095
/// bytes, no control bytes, no empty, "." or ".." component and no trailing '/' (one spelling per path: the
/// name is what status, the tool and error messages show).
inline void validate_name(std::string_view name) {
  auto bad = [&](const char* why) { throw error(errc::invalid_name, name, why); };
  if (name.empty()) bad("the name is empty");
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) bad("the name contains a control byte");
  }
  if (is_file_path(name)) {
    if (name.size() > max_path_length) bad("the path is longer than 4095 bytes");
    if (name.size() == 1 || name.back() == '/') bad("the path names a directory (it ends with '/')");
    for (std::size_t at = 1; at <= name.size();) {
      const std::size_t end = std::min(name.find('/', at), name.size());
      const std::string_view part = name.substr(at, end - at);
      if (part.empty() || part == "." || part == "..")
        bad("the path has an empty, \".\" or \"..\" component (write it in one canonical spelling)");
      at = end + 1;
    }
    return;
  }
  if (name.size() > max_name_length) bad("the name is longer than 200 bytes");
  if (name == "." || name == "..") bad("\".\" and \"..\" are not names");
  for (const char c : name)
    if (c == '/') bad("the name contains '/'");
}

/// The shm object name of a user name, after `lead`: "/" for shm_open()/shm_unlink(), "/dev/shm/" for the file
/// that segment opens, stats and unlinks. Built by appending: gcc 12 at -O3 reports a bogus -Wrestrict for "literal" + std::string&& (GCC bug
/// 105651) in every program that includes this header.
inline std::string object_name(std::string_view name, std::string_view lead = {}) {
  std::string s;
  s.reserve(lead.size() + object_prefix.size() + name.size());
  s.append(lead).append(object_prefix).append(name);
  return s;
}

/// The file a ring name refers to: the path itself for a file-backed ring, /dev/shm/shmring-NAME otherwise.
inline std::string file_of(std::string_view name) {
  return is_file_path(name) ? std::string(name) : object_name(name, "/dev/shm/");
}

/// The bytes of the shm object that carry the attach locks.
enum class lock_byte : std::uint8_t { admin = 0, producer = 1, consumer = 2 };

namespace detail {
/// The steps of creating a segment, in order (segment::create, then endpoint::create). Until the last one the
/// header's ready word is 0, so an opener refuses the segment (errc::not_ready) and a later create reclaims it.
enum class creation_step : std::uint8_t {
  object_created,  ///< open(O_CREAT|O_EXCL) succeeded, mode 0600, size 0
  sized,           ///< posix_fallocate done: every page reserved, the memory is zero, nothing written
  mapped,          ///< mapped read-write, nothing written
  admin_locked,    ///< the creator holds the admin lock; the header is still zero
  header_written,  ///< every header field written; ready still 0
  side_taken,      ///< the creator holds its side lock and its slot says attached; ready still 0
};
/// Test-only fault injection: when set, called at each creation step (the hardening tests make the creator
/// SIGKILL itself there). Nothing in shmring sets it; unset, each step costs one load of a null pointer.
inline void (*creation_hook)(creation_step) noexcept = nullptr;
inline void at_creation_step(creation_step s) noexcept {
  if (creation_hook != nullptr) creation_hook(s);
}
/// Test-only: called by segment::unlink_if_still_named between its check and its unlink, with the name lock held
/// (the lifetime tests race other removers and creators there). Unset, one load of a null pointer.
inline void (*before_unlink_hook)() noexcept = nullptr;
}  // namespace detail

class segment {
 public:
  enum class access : std::uint8_t { read_write, read_only };

  /// Creates the segment exclusively (errc::already_exists if the name is taken), mode 0600 whatever the umask,
  /// with all of its size bytes reserved (posix_fallocate) and mapped read-write. The new memory is zero.
  /// errc::no_space, leaving nothing behind, when the system cannot hold it: /dev/shm has fewer bytes free, the
  /// size exceeds RLIMIT_FSIZE (checked first: never SIGXFSZ) or the machine's memory and swap.
  static segment create(std::string_view name, std::uint64_t size) {
    validate_name(name);
    if (!fits_address_space(size))
      throw error(errc::invalid_argument, name,
                  "a segment of " + std::to_string(size) + " bytes cannot be mapped by this (32-bit) process");
    if (size > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()))
      throw error(errc::invalid_argument, name,
                  "a segment of " + std::to_string(size) + " bytes is larger than this build's off_t (32-bit " +
                      "without _FILE_OFFSET_BITS=64)");
    const std::string path = file_of(name);
    segment s(name);
    s.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | open_flags, 0600);
    if (s.fd_ < 0) {
      const int err = errno;
      if (err == EEXIST) throw error(errc::already_exists, name, "a segment of that name exists", EEXIST);
      if (err == EACCES || err == EPERM)
        throw error(errc::permission_denied, name, "this user may not create files in " + where(name), err);
      if (err == ENOSPC || err == EDQUOT)
        throw error(errc::no_space, name, where(name) + " has no room for another file (inodes)", err);
      if (err == ENOENT || err == ENOTDIR)  // a file ring's directory: shmring never creates directories
        throw error(errc::not_found, name, "the directory " + where(name) + " does not exist", err);
      if (err == ELOOP)
        throw error(errc::permission_denied, name, "the path is a symbolic link; shmring follows none", err);
      if (err == EROFS) throw error(errc::permission_denied, name, where(name) + " is a read-only file system", err);
      throw error(errc::system_error, name, "open(" + path + ", O_CREAT|O_EXCL) failed", err);
    }
    try {
      // The mode asked of open() passed through the umask; make it exactly 0600.
      if (::fchmod(s.fd_, 0600) != 0) throw error(errc::system_error, name, "fchmod(0600) failed", errno);
      detail::at_creation_step(detail::creation_step::object_created);
      s.reserve(size);
      if (s.file_backed()) s.write_extents(size);
      detail::at_creation_step(detail::creation_step::sized);
      s.map(size);
      detail::at_creation_step(detail::creation_step::mapped);
    } catch (...) {
      (void)s.unlink_if_still_named();  // nothing half-made stays; a name someone else took meanwhile is theirs
      throw;
    }
    return s;
  }

  /// Opens an existing segment without mapping it (errc::not_found if there is none). Never blocks and never
  /// follows a symbolic link (permission_denied); anything but a regular file (a FIFO, a directory, a socket, a
  /// device) is errc::not_a_segment and is left as it is, unread. read_write also refuses a segment owned by
  /// another user or writable by group/others (a squatter could have made it).
  static segment open(std::string_view name, access a) {
    validate_name(name);
    const std::string path = file_of(name);
    segment s(name);
    // O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW: a symlink is ELOOP, never its target.
    s.fd_ = ::open(path.c_str(), (a == access::read_write ? O_RDWR : O_RDONLY) | open_flags);
    if (s.fd_ < 0) {
      const int err = errno;
      if (err == ENOENT) throw error(errc::not_found, name, "no segment of that name", ENOENT);
      if (err == EACCES || err == EPERM) throw error(errc::permission_denied, name, "the segment may not be opened", err);
      if (err == ELOOP)  // O_NOFOLLOW: someone squats the name with a symbolic link
        throw error(errc::permission_denied, name, "the name is a symbolic link, not a segment", err);
      if (err == EISDIR || err == ENXIO)  // a directory opened for writing; a socket (or a device with no driver)
        throw error(errc::not_a_segment, name,
                    path + (err == EISDIR ? " is a directory" : " is a socket or a device") +
                        ", not a shared-memory segment; left as it is",
                    err);
      throw error(errc::system_error, name, "open(" + path + ") failed", err);
    }
    s.access_ = a;
    struct stat st{};
    if (::fstat(s.fd_, &st) != 0) throw error(errc::system_error, name, "fstat failed", errno);
    if (!S_ISREG(st.st_mode))
      throw error(errc::not_a_segment, name,
                  path + " is " + file_type(st.st_mode) + ", not a shared-memory segment; left as it is");
    if (a == access::read_write) {
      if (st.st_uid != ::geteuid())
        throw error(errc::permission_denied, name,
                    "the segment is owned by uid " + std::to_string(st.st_uid) + ", not by this user (uid " +
                        std::to_string(::geteuid()) + ")");
      if ((st.st_mode & 022) != 0)
        throw error(errc::permission_denied, name, "group or others may write the segment (mode " +
                                                       std::to_string(st.st_mode & 0777) + " octal-decimal)");
    }
    return s;
  }

  /// Whether size bytes can be mapped by this process (always on 64-bit; below 4 GiB on 32-bit).
  static constexpr bool fits_address_space(std::uint64_t size) noexcept {
    if constexpr (sizeof(std::size_t) < sizeof(std::uint64_t))
      return size <= static_cast<std::uint64_t>(static_cast<std::size_t>(-1));
    else
      return true;
  }

  /// Removes the name (the memory lives on while mapped). False when there was no such segment, or when the
  /// segment found was removed by another process first (then a segment created under the name since is not
  /// touched: it is not the one this call found). Removes segments only: anything but a regular file is
  /// errc::not_a_segment (a symbolic link permission_denied) and stays; another user's segment is
  /// permission_denied (/dev/shm is sticky: only its owner may remove it). Takes the object's name lock like
  /// every shmring remover (unlink_if_still_named); errc::not_ready if another process keeps holding it.
  /// A file path (a file-backed ring) is removed only when it is this user's and its first bytes are `magic`
  /// (given by the caller, which knows what a ring's header starts with): any other file is not_a_segment and
  /// stays, so a mistyped path never deletes a file that is not a ring.
  static bool remove(std::string_view name, std::string_view magic = {}) {
    validate_name(name);
    const std::string path = file_of(name);
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return false;
      throw error(errc::system_error, name, "lstat(" + path + ") failed", errno);
    }
    // Only the entry's owner can unlink or replace it in the sticky /dev/shm; what is checked here is what the
    // descriptor below refers to (compared by inode) and what is removed under its name lock.
    if (S_ISLNK(st.st_mode))
      throw error(errc::permission_denied, name, "the name is a symbolic link, not a segment; left as it is");
    if (!S_ISREG(st.st_mode))
      throw error(errc::not_a_segment, name,
                  path + " is " + file_type(st.st_mode) + ", not a shared-memory segment; left as it is");
    const auto owner_only = [&](int err) -> error {
      return error(errc::permission_denied, name,
                   "the segment is owned by uid " + std::to_string(st.st_uid) +
                       "; only its owner may remove it (/dev/shm is sticky)",
                   err);
    };
    segment s(name);
    s.fd_ = ::open(path.c_str(), O_RDONLY | open_flags);  // read access is enough for flock
    if (s.fd_ < 0) {
      const int err = errno;
      if (err == ENOENT) return false;  // removed since the lstat
      if (err == EACCES || err == EPERM) throw owner_only(err);
      if (err == ELOOP) throw error(errc::permission_denied, name, "the name is a symbolic link, not a segment", err);
      throw error(errc::system_error, name, "open(" + path + ") failed", err);
    }
    struct stat opened{};
    if (::fstat(s.fd_, &opened) != 0) throw error(errc::system_error, name, "fstat failed", errno);
    if (!S_ISREG(opened.st_mode))
      throw error(errc::not_a_segment, name,
                  path + " is " + file_type(opened.st_mode) + ", not a shared-memory segment; left as it is");
    if (is_file_path(name)) {
      if (opened.st_uid != ::geteuid())
        throw error(errc::permission_denied, name,
                    "the file is owned by uid " + std::to_string(opened.st_uid) + "; only its owner may remove it");
      char first[16] = {};
      const std::size_t want = std::min(magic.size(), sizeof first);
      if (want != 0 && (::pread(s.fd_, first, want, 0) != static_cast<ssize_t>(want) ||
                        std::memcmp(first, magic.data(), want) != 0))
        throw error(errc::not_a_segment, name, path + " does not start with a ring header; left as it is");
    }
    if (!s.lock_name())
      throw error(errc::not_ready, name,
                  "another process holds the segment's name lock (it is removing or retiring the segment) and "
                  "did not release it within " + std::to_string(name_lock_wait.count()) + " ms; try again");
    name_unlocker unlock_at_exit{s};
    if (!s.still_named()) return false;  // removed by another remover while we waited: not ours to judge again
    if (::unlink(path.c_str()) == 0) return true;
    const int err = errno;
    if (err == ENOENT) return false;
    if (err == EACCES || err == EPERM) throw owner_only(err);
    throw error(errc::system_error, name, "unlink(" + path + ") failed", err);
  }

  segment(segment&& o) noexcept
      : name_(std::move(o.name_)), path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)),
        map_(std::exchange(o.map_, nullptr)),
        mapped_size_(std::exchange(o.mapped_size_, 0)), range_(std::exchange(o.range_, nullptr)), access_(o.access_) {}
  segment& operator=(segment&& o) noexcept {
    if (this != &o) {
      release();
      name_ = std::move(o.name_);
      path_ = std::move(o.path_);
      fd_ = std::exchange(o.fd_, -1);
      map_ = std::exchange(o.map_, nullptr);
      mapped_size_ = std::exchange(o.mapped_size_, 0);
      range_ = std::exchange(o.range_, nullptr);
      access_ = o.access_;
    }
    return *this;
  }
  segment(const segment&) = delete;
  segment& operator=(const segment&) = delete;
  ~segment() { release(); }  // unmaps and closes; the kernel drops this description's locks

  /// The segment's current size in bytes, as the kernel sees it.
  [[nodiscard]] std::uint64_t real_size() const {
    struct stat st{};
    if (::fstat(fd(), &st) != 0) throw error(errc::system_error, name_, "fstat failed", errno);
    return static_cast<std::uint64_t>(st.st_size);
  }

  /// Maps the first size bytes (size <= real_size()). Replaces any earlier mapping (kept if this one fails).
  /// align (a power of two, or 0 for the kernel's choice) places the mapping at an address that is a multiple of
  /// it: huge pages (detail/memory.hpp) need 2 MiB.
  void map(std::uint64_t size, std::size_t align = 0) {
    // A 32-bit process must not truncate a 64-bit size to size_t and then index past its smaller mapping.
    if (!fits_address_space(size))
      throw error(errc::layout_mismatch, name_,
                  "the segment declares " + std::to_string(size) + " bytes, more than this (32-bit) process can map");
    if (size == 0) throw error(errc::invalid_argument, name_, "a mapping of 0 bytes");
    const int prot = access_ == access::read_write ? PROT_READ | PROT_WRITE : PROT_READ;
    const auto n = static_cast<std::size_t>(size);
    void* p = MAP_FAILED;
    if (align <= 1) {
      p = ::mmap(nullptr, n, prot, MAP_SHARED, fd(), 0);
    } else if (n + align > n) {
      // Reserve n + align bytes of address space, map the object over its first aligned address, return the rest.
      void* r = ::mmap(nullptr, n + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (r != MAP_FAILED) {
        const auto base = reinterpret_cast<std::uintptr_t>(r);
        const std::uintptr_t at = (base + align - 1) & ~static_cast<std::uintptr_t>(align - 1);
        p = ::mmap(reinterpret_cast<void*>(at), n, prot, MAP_SHARED | MAP_FIXED, fd(), 0);
        const int err = errno;
        if (p == MAP_FAILED) {
          ::munmap(r, n + align);
        } else {
          if (at > base) ::munmap(r, at - base);
          if (base + n + align > at + n) ::munmap(reinterpret_cast<void*>(at + n), base + n + align - (at + n));
        }
        errno = err;
      }
    }
    if (p == MAP_FAILED)
      throw error(errc::system_error, name_, "mmap of " + std::to_string(size) + " bytes failed", errno);
    unmap();
    map_ = p;
    mapped_size_ = size;
    // Known to the SIGBUS handler from now on (detail/sigbus.hpp): a truncation of the object no longer kills us.
    range_ = detail::mapped_ranges::instance().add(p, static_cast<std::size_t>(size));
  }

  /// Whether the mapping lost its pages to a truncation of the object: the SIGBUS handler replaced them with
  /// private zero pages (detail/sigbus.hpp). One acquire load: for slow paths.
  [[nodiscard]] bool truncated() const noexcept { return range_ != nullptr && range_->was_truncated(); }

  /// truncated(), or the object is now smaller than the mapping (fstat: pages past its end are gone even if
  /// this process has not touched one yet); the latter is remembered. A system call: for slow paths.
  [[nodiscard]] bool check_truncated() const noexcept {
    if (truncated()) return true;
    struct stat st{};
    if (fd_ < 0 || map_ == nullptr || ::fstat(fd_, &st) != 0) return false;
    if (static_cast<std::uint64_t>(st.st_size) >= mapped_size_) return false;
    // release: pairs with was_truncated(); nothing was replaced, the flag alone says so.
    if (range_ != nullptr) range_->truncated.store(true, std::memory_order_release);
    return true;
  }

  /// What the SIGBUS handler writes into the zero pages at the mapping's base before the faulting access resumes
  /// (async-signal-safe stores only). Set after map(); a new mapping starts without one.
  void on_truncation(detail::refill_fn f) const noexcept {
    // release: pairs with the handler's acquire load of refill.
    if (range_ != nullptr) range_->refill.store(f, std::memory_order_release);
  }

  /// The mapping.
  [[nodiscard]] std::byte* data() const noexcept { return static_cast<std::byte*>(map_); }
  /// Bytes mapped.
  [[nodiscard]] std::uint64_t mapped_size() const noexcept { return mapped_size_; }
  /// The user name.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// The descriptor of the shm object.
  [[nodiscard]] int fd() const noexcept { return fd_; }
  /// Whether the segment is a file-backed ring's file (its name is a path).
  [[nodiscard]] bool file_backed() const noexcept { return is_file_path(name_); }
  /// What names the object for wake addresses (event/channel.hpp): the name of a /dev/shm segment; for a file,
  /// its device and inode, so that every spelling of its path (a symbolic link to a directory on the way, a bind
  /// mount) reaches the same address.
  [[nodiscard]] std::string identity() const {
    if (!file_backed()) return name_;
    struct stat st{};
    if (::fstat(fd(), &st) != 0) throw error(errc::system_error, name_, "fstat failed", errno);
    return "file:" + std::to_string(static_cast<std::uint64_t>(st.st_dev)) + ":" +
           std::to_string(static_cast<std::uint64_t>(st.st_ino));
  }

  /// Takes an exclusive lock on byte b without blocking. False if another description holds it.
  [[nodiscard]] bool try_lock(lock_byte b) const noexcept { return lock_op(b, F_WRLCK, F_OFD_SETLK) == 0; }

  /// Takes the lock on byte b, retrying until the deadline. False on timeout (never blocks in the kernel, so a
  /// stopped holder cannot hang us).
  [[nodiscard]] bool lock_until(lock_byte b, std::chrono::steady_clock::time_point deadline) const {
    for (unsigned i = 0;; ++i) {
      if (try_lock(b)) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      detail::backoff(i);
    }
  }

  /// Releases this description's lock on byte b.
  void unlock(lock_byte b) const noexcept { (void)lock_op(b, F_UNLCK, F_OFD_SETLK); }

  /// True when another open file description (another process, or another open of the same name) holds byte b.
  [[nodiscard]] bool locked_by_other(lock_byte b) const noexcept {
    struct flock fl{};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(b);
    fl.l_len = 1;
    if (::fcntl(fd(), F_OFD_GETLK, &fl) != 0) return false;
    return fl.l_type != F_UNLCK;
  }

  /// True when the name still refers to this object (nobody removed it and created another since, nor put
  /// something else, a symbolic link included, in its place). Async-signal-safe: no allocation (the path was
  /// built at construction).
  [[nodiscard]] bool still_named() const noexcept {
    struct stat mine{}, named{};
    if (::fstat(fd(), &mine) != 0) return false;
    if (::lstat(path_.c_str(), &named) != 0) return false;
    return mine.st_dev == named.st_dev && mine.st_ino == named.st_ino;
  }

  /// Removes the name if it still refers to this object. Used to retire a drained segment, a half-made one and an
  /// abandoned one. Async-signal-safe (flock, fstat, lstat, unlink, clock_gettime, sched_yield, nanosleep).
  ///
  /// The check and the unlink run under the object's name lock: flock(LOCK_EX) on this descriptor, which every
  /// shmring remover of a name takes on the object it found (this function, remove()). Without it, between our
  /// check and our unlink a third process could remove the name and create a new segment under it, which we
  /// would then remove. With it, a remover that found this object waits until we are done and then finds the name
  /// gone (still_named() false), and no creator can take the name while it still refers to this object (O_EXCL).
  /// A flock, not an OFD byte lock: it needs no write access, and it is independent of the attach locks.
  /// False (the name left as it is) when another process keeps the lock for name_lock_wait: a stopped remover;
  /// a drained segment left so is stale (stale.hpp) and swept later. Programs that unlink without shmring (rm,
  /// shm_unlink) take no lock and are not covered.
  bool unlink_if_still_named() const noexcept {
    if (!lock_name()) return false;
    bool done = false;
    if (still_named()) {
      if (detail::before_unlink_hook != nullptr) detail::before_unlink_hook();
      done = ::unlink(path_.c_str()) == 0;
    }
    unlock_name();
    return done;
  }

  /// In a fork child: drops every reference this process holds to the object's open file description, which it
  /// shares with the parent (and with it the parent's OFD locks, which would otherwise outlive the parent). The
  /// mapping is replaced by private zero memory of the same size (so a stray access is harmless; the destructor
  /// unmaps it) and the descriptor is closed. Touches nothing of the object itself. Async-signal-safe (mmap,
  /// close).
  void abandon_after_fork() noexcept {
    if (map_ != nullptr && mapped_size_ != 0)
      (void)::mmap(map_, static_cast<std::size_t>(mapped_size_), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  // Every open of the object: never wait on a FIFO, never follow a symlink, never leak into an exec'd program,
  // never make a terminal planted under the name our controlling terminal.
  static constexpr int open_flags = O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
  // How long a remover waits for another's name lock. A holder keeps it for two system calls (lstat, unlink).
  static constexpr std::chrono::milliseconds name_lock_wait{100};

  /// Takes the name lock (see unlink_if_still_named), retrying for name_lock_wait. Never blocks in the kernel.
  [[nodiscard]] bool lock_name() const noexcept {
    const auto deadline = std::chrono::steady_clock::now() + name_lock_wait;
    for (unsigned i = 0;; ++i) {
      if (::flock(fd(), LOCK_EX | LOCK_NB) == 0) return true;
      if (errno != EWOULDBLOCK && errno != EINTR) return false;  // EBADF, ENOLCK: no lock, so no unlink
      if (std::chrono::steady_clock::now() >= deadline) return false;
      detail::backoff(i);
    }
  }
  void unlock_name() const noexcept { (void)::flock(fd(), LOCK_UN); }
  struct name_unlocker {
    const segment& s;
    ~name_unlocker() { s.unlock_name(); }
  };

  // posix_fallocate in steps of this many bytes; the modification time is refreshed after each (see reserve).
  static constexpr std::uint64_t reserve_step = std::uint64_t{256} << 20;

  explicit segment(std::string_view name) : name_(name), path_(file_of(name)) {}

  /// The directory a ring's file is in, for messages: "/dev/shm", or a file ring's parent directory.
  static std::string where(std::string_view name) {
    if (!is_file_path(name)) return "/dev/shm";
    const std::size_t slash = name.rfind('/');
    return slash == 0 ? std::string("/") : std::string(name.substr(0, slash));
  }

  static std::string file_type(mode_t m) {
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISDIR(m)) return "a directory";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISLNK(m)) return "a symbolic link";
    return "not a regular file";
  }

  /// Bytes free for this object's file system (statvfs), or nullopt when it does not say (a tmpfs mounted
  /// without a size limit reports 0 blocks).
  std::optional<std::uint64_t> bytes_free() const {
    struct statvfs v{};
    if (::fstatvfs(fd_, &v) != 0 || v.f_blocks == 0) return std::nullopt;
    return static_cast<std::uint64_t>(v.f_bavail) * static_cast<std::uint64_t>(v.f_frsize);
  }

  [[noreturn]] void throw_no_space(std::uint64_t size, int err) const {
    const auto free = bytes_free();
    throw error(errc::no_space, name_,
                "the segment needs " + std::to_string(size) + " bytes; " + where(name_) + " has " +
                    (free ? std::to_string(*free) : std::string("an unknown number of")) + " bytes free (statvfs)",
                err);
  }

  /// Gives the new (empty) object its size with every page allocated, so that no later access to the mapping
  /// can fault for want of memory (ftruncate alone promises pages that a full tmpfs then refuses: SIGBUS).
  void reserve(std::uint64_t size) {
    // Growing a file past RLIMIT_FSIZE raises SIGXFSZ, whose default action kills the process: check first.
    rlimit rl{};
    if (::getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && size > rl.rlim_cur)
      throw error(errc::no_space, name_,
                  "the segment needs " + std::to_string(size) + " bytes, more than this process's file-size limit " +
                      "(RLIMIT_FSIZE, ulimit -f) of " + std::to_string(static_cast<std::uint64_t>(rl.rlim_cur)) +
                      " bytes");
    if (const auto free = bytes_free(); free && size > *free) throw_no_space(size, ENOSPC);
    // A tmpfs holds its pages in memory and swap; more than the machine has can never be reserved (and must not
    // be tried on a tmpfs mounted without a size limit, where fallocate would run the machine out of memory).
    struct statfs fs{};
    struct sysinfo si{};
    if (::fstatfs(fd_, &fs) == 0 && fs.f_type == TMPFS_MAGIC && ::sysinfo(&si) == 0) {
      const std::uint64_t memory = (static_cast<std::uint64_t>(si.totalram) + si.totalswap) * si.mem_unit;
      if (size > memory)
        throw error(errc::no_space, name_,
                    "the segment needs " + std::to_string(size) + " bytes, more than this machine's memory and swap (" +
                        std::to_string(memory) + " bytes); " + where(name_) + " is a tmpfs");
    }
    // In steps, refreshing the modification time after each: until its header is ready a segment counts as
    // abandoned once unmodified for stale_setup_grace (stale.hpp), and reserving gigabytes takes a while.
    for (std::uint64_t done = 0; done < size;) {
      const std::uint64_t n = std::min(reserve_step, size - done);
      int rc = 0;
      do rc = ::posix_fallocate(fd_, static_cast<off_t>(done), static_cast<off_t>(n));
      while (rc == EINTR);
      if (rc == ENOSPC || rc == ENOMEM || rc == EDQUOT || rc == EFBIG) throw_no_space(size, rc);
      if (rc == EOPNOTSUPP || rc == EINVAL)  // glibc emulates fallocate where it can; these file systems refuse
        throw error(errc::unsupported, name_,
                    where(name_) + " cannot reserve a file's space (posix_fallocate: " + std::string(std::strerror(rc)) +
                        "); a ring needs every page reserved, so it cannot live there",
                    rc);
      if (rc != 0) throw error(errc::system_error, name_, "posix_fallocate failed", rc);
      done += n;
      (void)::futimens(fd_, nullptr);
    }
  }

  /// A file ring on a disk file system: posix_fallocate left its extents "unwritten", so the first write to each
  /// page later makes every msync commit a metadata change (ext4: a journal commit, milliseconds) instead of
  /// writing data only. Writing the zeros once, at create, and syncing them makes every later sync a data-only
  /// one (bench/results/xeon/2026-12-02-durable.md). Not on a tmpfs (its pages are memory; nothing to convert).
  void write_extents(std::uint64_t size) {
    struct statfs fs{};
    if (::fstatfs(fd_, &fs) == 0 && fs.f_type == TMPFS_MAGIC) return;
    static constexpr std::size_t chunk = std::size_t{1} << 20;
    static const std::byte zeros[4096] = {};
    for (std::uint64_t done = 0; done < size;) {
      const std::uint64_t n = std::min<std::uint64_t>(chunk, size - done);
      for (std::uint64_t k = 0; k < n;) {
        const std::size_t w = static_cast<std::size_t>(std::min<std::uint64_t>(sizeof zeros, n - k));
        const ssize_t r = ::pwrite(fd_, zeros, w, static_cast<off_t>(done + k));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == ENOSPC || errno == EDQUOT)) throw_no_space(size, errno);
        if (r <= 0) throw error(errc::system_error, name_, "writing the new file's zeros failed", r < 0 ? errno : EIO);
        k += static_cast<std::uint64_t>(r);
      }
      done += n;
      (void)::futimens(fd_, nullptr);  // as in reserve(): a slow creation does not look abandoned
    }
    if (::fdatasync(fd_) != 0) throw error(errc::system_error, name_, "fdatasync of the new file failed", errno);
  }

  void unmap() noexcept {
    detail::mapped_ranges::remove(std::exchange(range_, nullptr));  // before the range can be reused
    if (map_ != nullptr) ::munmap(map_, static_cast<std::size_t>(mapped_size_));
    map_ = nullptr;
    mapped_size_ = 0;
  }

  void release() noexcept {
    unmap();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  int lock_op(lock_byte b, short type, int cmd) const noexcept {
    struct flock fl{};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(b);
    fl.l_len = 1;
    return ::fcntl(fd(), cmd, &fl);
  }

  std::string name_;
  std::string path_;  // file_of(name): built once, so unlink and stat need no allocation
  int fd_ = -1;
  void* map_ = nullptr;
  std::uint64_t mapped_size_ = 0;
  detail::mapped_range* range_ = nullptr;  // this mapping's entry in the SIGBUS handler's table, or nullptr
  access access_ = access::read_write;
};

}  // namespace shmring
