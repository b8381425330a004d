// shmring: what a process does to its own mapping of a segment at attach (options::memory): huge pages, prefault,
// mlock; and reading back what it got. Plain Linux calls (madvise, mlock, getrlimit) and /proc/self/smaps.
// May touch: this process's mapping of the segment (its page tables and locks), never the bytes in it.
//
// Huge pages. /dev/shm is a tmpfs; whether it hands out 2 MiB pages by itself depends on its mount's huge= option
// and on /sys/kernel/mm/transparent_hugepage/shmem_enabled ("deny" forbids them everywhere, "force" imposes them).
// A segment's pages are allocated at create (posix_fallocate, detail/segment.hpp), before any mapping exists, so a
// mount with huge=advise still gives 4 KiB pages there. MADV_COLLAPSE (Linux 6.1) turns the whole 2 MiB extents of
// an aligned mapping into huge pages in the page cache, whatever the mount says, unless shmem_enabled is "deny";
// MADV_HUGEPAGE before it lets khugepaged keep them so. Both sides share the page cache: one side's collapse
// serves the other, which then maps them with 2 MiB entries if its own mapping is 2 MiB aligned (so both sides
// ask for huge pages to get the TLB benefit). What was obtained is read back from /proc/self/smaps, never assumed.
#pragma once

#include <shmring/detail/segment.hpp>
#include <shmring/error.hpp>
#include <shmring/options.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace shmring::detail {

/// The transparent huge page size of x86-64 and aarch64 (4 KiB base pages).
inline constexpr std::size_t huge_page_size = std::size_t{2} << 20;

#ifndef MADV_COLLAPSE
inline constexpr int madv_collapse = 25;  // Linux 6.1 uapi value, for older headers
#else
inline constexpr int madv_collapse = MADV_COLLAPSE;
#endif
#ifndef MADV_POPULATE_WRITE
inline constexpr int madv_populate_write = 23;  // Linux 5.14 uapi value, for older headers
#else
inline constexpr int madv_populate_write = MADV_POPULATE_WRITE;
#endif

/// The bracketed word of a sysfs choice file ("always within_size advise [never] deny force" -> "never"), or ""
/// when the file is absent.
inline std::string sysfs_choice(const char* path) {
  std::FILE* f = std::fopen(path, "re");
  if (f == nullptr) return {};
  char buf[256] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* open = std::strchr(buf, '[');
  const char* close = open != nullptr ? std::strchr(open, ']') : nullptr;
  return close != nullptr ? std::string(open + 1, close) : std::string();
}

/// Bytes of [addr, addr + size) that this process maps with 2 MiB page-table entries now: the ShmemPmdMapped
/// (or FilePmdMapped) line of the mapping's /proc/self/smaps entry. 0 when it cannot be read.
inline std::uint64_t huge_bytes_mapped(const void* addr, std::uint64_t size) {
  if (addr == nullptr || size == 0) return 0;
  std::FILE* f = std::fopen("/proc/self/smaps", "re");
  if (f == nullptr) return 0;
  const auto start = reinterpret_cast<std::uintptr_t>(addr);
  const long page = ::sysconf(_SC_PAGESIZE);
  const auto pg = static_cast<std::uintptr_t>(page > 0 ? page : 4096);
  const std::uintptr_t end = (start + static_cast<std::uintptr_t>(size) + pg - 1) / pg * pg;  // the vma's end
  std::uint64_t kib = 0;
  bool inside = false;
  char line[512];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    unsigned long lo = 0, hi = 0;
    char dash = 0;
    // An entry's first line is "lo-hi perms ...": hexadecimal then '-'; field lines start with a capital.
    if (std::sscanf(line, "%lx%c%lx", &lo, &dash, &hi) == 3 && dash == '-') {
      inside = lo >= start && hi <= end;
      continue;
    }
    if (!inside) continue;
    unsigned long v = 0;
    if (std::sscanf(line, "ShmemPmdMapped: %lu kB", &v) == 1 || std::sscanf(line, "FilePmdMapped: %lu kB", &v) == 1)
      kib += v;
  }
  std::fclose(f);
  return static_cast<std::uint64_t>(kib) * 1024;
}

/// Bytes this process has mlock()ed already (VmLck of /proc/self/status), 0 if unknown.
inline std::uint64_t locked_bytes() {
  std::FILE* f = std::fopen("/proc/self/status", "re");
  if (f == nullptr) return 0;
  char line[256];
  unsigned long kib = 0;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::sscanf(line, "VmLck: %lu kB", &kib) == 1) break;
  std::fclose(f);
  return static_cast<std::uint64_t>(kib) * 1024;
}

/// The alignment the mapping needs for o (segment::map's align).
inline std::size_t mapping_alignment(const memory_options& o) noexcept {
  return o.huge == huge_pages::off ? 0 : huge_page_size;
}

/// Applies o to seg's read-write mapping, which must have been made with mapping_alignment(o). In this order:
/// huge pages (before any page is mapped, so the entries are 2 MiB from the start), then mlock or prefault.
/// Throws errc::limit_exceeded (RLIMIT_MEMLOCK), errc::unsupported (huge_pages::require not met),
/// errc::system_error (any other refusal). The caller's mapping stays usable whatever is thrown.
inline memory_status apply_memory_options(const segment& seg, const memory_options& o) {
  memory_status st;
  st.applied = true;
  st.huge = o.huge;
  std::byte* const p = seg.data();
  const auto n = static_cast<std::size_t>(seg.mapped_size());
  if (o.huge != huge_pages::off) {
    const std::size_t whole = n / huge_page_size * huge_page_size;  // the mapping starts 2 MiB aligned
    const std::string shmem = sysfs_choice("/sys/kernel/mm/transparent_hugepage/shmem_enabled");
    if (whole == 0) {
      st.huge_note = "the segment (" + std::to_string(n) + " bytes) is smaller than one 2 MiB huge page";
    } else if (shmem == "deny") {
      st.huge_note = "/sys/kernel/mm/transparent_hugepage/shmem_enabled is \"deny\": no huge pages on any tmpfs";
    } else if (shmem.empty()) {
      st.huge_note = "this kernel has no transparent huge pages for shared memory (no shmem_enabled in sysfs)";
    } else {
      // MADV_HUGEPAGE: khugepaged may keep (and re-collapse) the extents; refused only without THP support.
      (void)::madvise(p, n, MADV_HUGEPAGE);
      if (::madvise(p, whole, madv_collapse) != 0) {
        const int err = errno;
        st.huge_note = std::string("madvise(MADV_COLLAPSE) failed: ") + std::strerror(err) +
                       (err == EINVAL ? " (Linux before 6.1, or THP disabled)" : err == EAGAIN ? " (pages busy)" : "");
      }
    }
  }
  if (o.lock) {
    // The system call itself, not libc's mlock(): the sanitizers replace that with a no-op returning 0 ("ignores
    // mlock"), and status() must not say locked about memory that is not.
    if (::syscall(SYS_mlock, p, n) != 0) {
      const int err = errno;
      rlimit rl{};
      if ((err == ENOMEM || err == EPERM) && ::getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        const std::uint64_t already = locked_bytes();
        throw error(errc::limit_exceeded, seg.name(),
                    "mlock of the segment's " + std::to_string(n) + " bytes exceeds this process's locked-memory " +
                        "limit (RLIMIT_MEMLOCK, ulimit -l) of " + std::to_string(static_cast<std::uint64_t>(rl.rlim_cur)) +
                        " bytes (" + std::to_string(already) + " locked already); raise it or leave memory.lock off",
                    err);
      }
      throw error(errc::system_error, seg.name(), "mlock of " + std::to_string(n) + " bytes failed", err);
    }
    st.locked = true;
    st.prefaulted = true;  // mlock maps every page
  } else if (o.prefault || o.huge != huge_pages::off) {  // huge: map the extents now, to read back what we got
    if (::madvise(p, n, madv_populate_write) != 0) {
      const int err = errno;
      if (err != EINVAL) throw error(errc::system_error, seg.name(), "madvise(MADV_POPULATE_WRITE) failed", err);
      // Linux before 5.14: a read of each page maps it (a tmpfs page is mapped writable by a read fault).
      const long page = ::sysconf(_SC_PAGESIZE);
      const std::size_t step = page > 0 ? static_cast<std::size_t>(page) : 4096;
      for (std::size_t i = 0; i < n; i += step) (void)*static_cast<volatile const unsigned char*>(
          static_cast<const void*>(p + i));
    }
    st.prefaulted = true;
  }
  if (o.huge != huge_pages::off) {
    st.huge_bytes = huge_bytes_mapped(p, n);
    const std::uint64_t whole = n / huge_page_size * huge_page_size;
    if (st.huge_note.empty() && st.huge_bytes < whole)
      st.huge_note = std::to_string(st.huge_bytes) + " of the " + std::to_string(whole) +
                     " bytes in whole 2 MiB extents are mapped with huge pages";
    if (o.huge == huge_pages::require && !st.huge_note.empty())
      throw error(errc::unsupported, seg.name(), "huge pages required: " + st.huge_note);
  }
  return st;
}

}  // namespace shmring::detail
