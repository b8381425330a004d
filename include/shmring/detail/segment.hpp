// shmring: a named shared-memory segment (Boost.Interprocess shared_memory_object + mapped_region).
// May touch: the shm object and its mapping, and kernel file locks on it. It knows nothing of rings: it creates,
// opens, validates names, owners and permissions, maps, locks bytes, and removes.
//
// Names: a user name N (1..200 bytes, no '/', no control bytes, not "." or "..") is the POSIX shm object
// "/shmring-N" (on Linux the file /dev/shm/shmring-N), so shmring never touches another program's segments.
// Locks: open-file-description (OFD) locks on bytes of the object, released by the kernel when the last
// descriptor of the holder closes, in particular when the process dies. They mark who is attached.
#pragma once

#include <shmring/config.hpp>
#include <shmring/detail/proc.hpp>
#include <shmring/error.hpp>

#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace shmring {

/// Longest user name accepted, in bytes.
inline constexpr std::size_t max_name_length = 200;
/// What shmring puts before a user name to make the shm object name.
inline constexpr std::string_view object_prefix = "shmring-";

/// Throws errc::invalid_name unless name is usable. Called before any system call.
inline void validate_name(std::string_view name) {
  auto bad = [&](const char* why) { throw error(errc::invalid_name, name, why); };
  if (name.empty()) bad("the name is empty");
  if (name.size() > max_name_length) bad("the name is longer than 200 bytes");
  if (name == "." || name == "..") bad("\".\" and \"..\" are not names");
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '/') bad("the name contains '/'");
    if (u < 0x20 || u == 0x7f) bad("the name contains a control byte");
  }
}

/// The shm object name of a user name, after `lead`: "shmring-" + name for Boost, "/" for shm_unlink(), "/dev/shm/"
/// for stat(). Built by appending: gcc 12 at -O3 reports a bogus -Wrestrict for "literal" + std::string&& (GCC bug
/// 105651) in every program that includes this header.
inline std::string object_name(std::string_view name, std::string_view lead = {}) {
  std::string s;
  s.reserve(lead.size() + object_prefix.size() + name.size());
  s.append(lead).append(object_prefix).append(name);
  return s;
}

/// The bytes of the shm object that carry the attach locks.
enum class lock_byte : std::uint8_t { admin = 0, producer = 1, consumer = 2 };

namespace detail {
/// The steps of creating a segment, in order (segment::create, then endpoint::create). Until the last one the
/// header's ready word is 0, so an opener refuses the segment (errc::not_ready) and a later create reclaims it.
enum class creation_step : std::uint8_t {
  object_created,  ///< shm_open(O_CREAT|O_EXCL) succeeded, mode 0600, size 0
  sized,           ///< ftruncate done: the memory is zero, nothing written
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
}  // namespace detail

class segment {
 public:
  enum class access : std::uint8_t { read_write, read_only };

  /// Creates the segment exclusively (errc::already_exists if the name is taken), mode 0600 whatever the umask,
  /// sized to size bytes and mapped read-write. The new memory is zero.
  static segment create(std::string_view name, std::uint64_t size) {
    validate_name(name);
    if (!fits_address_space(size))
      throw error(errc::invalid_argument, name,
                  "a segment of " + std::to_string(size) + " bytes cannot be mapped by this (32-bit) process");
    namespace bip = boost::interprocess;
    const std::string obj = object_name(name);
    segment s(name);
    bip::permissions perm;
    perm.set_permissions(0600);
    try {
      s.shm_ = bip::shared_memory_object(bip::create_only, obj.c_str(), bip::read_write, perm);
    } catch (const bip::interprocess_exception& e) {
      const int err = e.get_native_error();
      if (err == EEXIST || e.get_error_code() == bip::already_exists_error)
        throw error(errc::already_exists, name, "a segment of that name exists", EEXIST);
      throw error(errc::system_error, name, std::string("shm_open(O_CREAT|O_EXCL) failed: ") + e.what(), err);
    }
    s.owner_ = true;
    // Boost fchmods after creating; make sure the umask could not have widened or narrowed it.
    if (::fchmod(s.fd(), 0600) != 0) {
      const int err = errno;
      s.unlink_now();
      throw error(errc::system_error, name, "fchmod(0600) failed", err);
    }
    detail::at_creation_step(detail::creation_step::object_created);
    try {
      s.shm_.truncate(static_cast<bip::offset_t>(size));
      detail::at_creation_step(detail::creation_step::sized);
      s.region_ = bip::mapped_region(s.shm_, bip::read_write, 0, static_cast<std::size_t>(size));
      detail::at_creation_step(detail::creation_step::mapped);
    } catch (const bip::interprocess_exception& e) {
      const int err = e.get_native_error();
      s.unlink_now();
      throw error(errc::system_error, name, std::string("sizing or mapping the segment failed: ") + e.what(), err);
    }
    s.mapped_size_ = size;
    return s;
  }

  /// Opens an existing segment without mapping it (errc::not_found if there is none). read_write also refuses a
  /// segment owned by another user or writable by group/others (a squatter could have made it).
  static segment open(std::string_view name, access a) {
    validate_name(name);
    namespace bip = boost::interprocess;
    const std::string obj = object_name(name);
    segment s(name);
    try {
      s.shm_ = bip::shared_memory_object(bip::open_only, obj.c_str(),
                                         a == access::read_write ? bip::read_write : bip::read_only);
    } catch (const bip::interprocess_exception& e) {
      const int err = e.get_native_error();
      if (err == ENOENT || e.get_error_code() == bip::not_found_error)
        throw error(errc::not_found, name, "no segment of that name", ENOENT);
      if (err == EACCES || err == EPERM)
        throw error(errc::permission_denied, name, "the segment may not be opened", err);
      if (err == ELOOP)  // shm_open never follows a symlink (O_NOFOLLOW): someone squats the name with one
        throw error(errc::permission_denied, name, "the name is a symbolic link, not a segment", err);
      throw error(errc::system_error, name, std::string("shm_open failed: ") + e.what(), err);
    }
    s.access_ = a;
    if (a == access::read_write) {
      struct stat st{};
      if (::fstat(s.fd(), &st) != 0) throw error(errc::system_error, name, "fstat failed", errno);
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

  /// Removes the name (the memory lives on while mapped). False when there was no such segment.
  static bool remove(std::string_view name) {
    validate_name(name);
    const std::string obj = object_name(name, "/");
    if (::shm_unlink(obj.c_str()) == 0) return true;
    if (errno == ENOENT) return false;
    throw error(errc::system_error, name, "shm_unlink failed", errno);
  }

  segment(segment&&) noexcept = default;
  segment& operator=(segment&&) noexcept = default;
  ~segment() = default;  // unmaps and closes; the kernel drops this description's locks

  /// The segment's current size in bytes, as the kernel sees it.
  [[nodiscard]] std::uint64_t real_size() const {
    struct stat st{};
    if (::fstat(fd(), &st) != 0) throw error(errc::system_error, name_, "fstat failed", errno);
    return static_cast<std::uint64_t>(st.st_size);
  }

  /// Maps the first size bytes (size <= real_size()). Replaces any earlier mapping.
  void map(std::uint64_t size) {
    namespace bip = boost::interprocess;
    // A 32-bit process must not truncate a 64-bit size to size_t and then index past its smaller mapping.
    if (!fits_address_space(size))
      throw error(errc::layout_mismatch, name_,
                  "the segment declares " + std::to_string(size) + " bytes, more than this (32-bit) process can map");
    try {
      region_ = bip::mapped_region(shm_, access_ == access::read_write ? bip::read_write : bip::read_only, 0,
                                   static_cast<std::size_t>(size));
    } catch (const bip::interprocess_exception& e) {
      throw error(errc::system_error, name_, std::string("mapping the segment failed: ") + e.what(),
                  e.get_native_error());
    }
    mapped_size_ = size;
  }

  /// The mapping.
  [[nodiscard]] std::byte* data() const noexcept { return static_cast<std::byte*>(region_.get_address()); }
  /// Bytes mapped.
  [[nodiscard]] std::uint64_t mapped_size() const noexcept { return mapped_size_; }
  /// The user name.
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  /// The descriptor of the shm object.
  [[nodiscard]] int fd() const noexcept { return static_cast<int>(shm_.get_mapping_handle().handle); }

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

  /// True when the name still refers to this object (nobody removed it and created another since).
  /// Async-signal-safe: no allocation (the path was built at construction).
  [[nodiscard]] bool still_named() const noexcept {
    struct stat mine{}, named{};
    if (::fstat(fd(), &mine) != 0) return false;
    if (::stat(path_.c_str(), &named) != 0) return false;
    return mine.st_dev == named.st_dev && mine.st_ino == named.st_ino;
  }

  /// Removes the name if it still refers to this object. Used to retire a drained segment. Async-signal-safe.
  bool unlink_if_still_named() const noexcept {
    if (!still_named()) return false;
    return ::shm_unlink(unlink_name_.c_str()) == 0;
  }

  /// Removes the name unconditionally (creation failed half-way).
  void unlink_now() const noexcept { (void)::shm_unlink(unlink_name_.c_str()); }

  /// In a fork child: drops every reference this process holds to the object's open file description, which it
  /// shares with the parent (and with it the parent's OFD locks, which would otherwise outlive the parent). The
  /// mapping is replaced by private zero memory of the same size (so a stray access is harmless) and the
  /// descriptor made to refer to /dev/null (so the destructor closes an fd that is still ours). Touches nothing
  /// of the object itself. Async-signal-safe (mmap, open, dup3, close).
  void abandon_after_fork() noexcept {
    if (mapped_size_ != 0 && data() != nullptr)
      (void)::mmap(data(), static_cast<std::size_t>(mapped_size_), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    const int nul = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nul >= 0) {
      (void)::dup3(nul, fd(), O_CLOEXEC);
      ::close(nul);
    }
  }

 private:
  explicit segment(std::string_view name)
      : name_(name), path_(object_name(name, "/dev/shm/")), unlink_name_(object_name(name, "/")) {}

  int lock_op(lock_byte b, short type, int cmd) const noexcept {
    struct flock fl{};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(b);
    fl.l_len = 1;
    return ::fcntl(fd(), cmd, &fl);
  }

  std::string name_;
  std::string path_;         // "/dev/shm/shmring-<name>", for stat()
  std::string unlink_name_;  // "/shmring-<name>", for shm_unlink()
  boost::interprocess::shared_memory_object shm_;
  boost::interprocess::mapped_region region_;
  std::uint64_t mapped_size_ = 0;
  access access_ = access::read_write;
  bool owner_ = false;
};

}  // namespace shmring
