// shmring: version, the fixed cache-line constant and compile-time requirements.
// May touch: nothing at run time. Everything here is a constant or a concept.
#pragma once

#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#define SHMRING_VERSION_MAJOR 0
#define SHMRING_VERSION_MINOR 1
#define SHMRING_VERSION_PATCH 0

#if defined(__GNUC__) || defined(__clang__)
#define SHMRING_LIKELY(x) __builtin_expect(!!(x), 1)
#define SHMRING_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SHMRING_NOINLINE __attribute__((noinline))
#define SHMRING_COLD __attribute__((noinline, cold))
#else
#define SHMRING_LIKELY(x) (x)
#define SHMRING_UNLIKELY(x) (x)
#define SHMRING_NOINLINE
#define SHMRING_COLD
#endif

namespace shmring {

/// The cache-line size the shared layout is built on. A fixed constant per architecture, never
/// std::hardware_destructive_interference_size: GCC warns that one is not a stable ABI, and the shared
/// segment is an ABI between processes built by different compilers. It is written into every segment
/// header and an opener built with another value is refused.
#if defined(__aarch64__) || defined(_M_ARM64) || defined(__powerpc64__) || defined(__s390x__)
inline constexpr std::size_t cache_line = 128;  // 128-byte lines or adjacent-line prefetch pairs
#else
inline constexpr std::size_t cache_line = 64;  // x86, x86-64, arm, riscv
#endif

static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "shmring needs lock-free 64-bit atomics: a lock-based atomic cannot be shared between processes");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free,
              "shmring needs lock-free 32-bit atomics for its futex words");
static_assert(sizeof(std::atomic<std::uint64_t>) == 8 && sizeof(std::atomic<std::uint32_t>) == 4,
              "std::atomic must have the size of the integer it wraps: it is part of the shared layout");

/// An element type the typed ring can carry: copied bytewise between processes, so it must be
/// trivially copyable (no pointers into one process's heap survive the trip anyway).
template <class T>
concept element = std::is_trivially_copyable_v<T> && !std::is_const_v<T> && !std::is_volatile_v<T> &&
                  (sizeof(T) > 0) && (alignof(T) <= 4096);

/// An element or payload type that declares its identity: `static constexpr std::string_view shmring_type_name =
/// "tick/v1";` (at most 40 bytes). The name is stored in the segment (typed rings) or in each record (send_typed),
/// and an opener or receiver whose type declares another name is refused; without it only size and alignment are
/// compared.
template <class T>
concept named_type = requires {
  { T::shmring_type_name } -> std::convertible_to<std::string_view>;
};

/// The declared name of T, or an empty view.
template <class T>
constexpr std::string_view type_name_of() noexcept {
  if constexpr (named_type<T>) {
    constexpr std::string_view n = T::shmring_type_name;
    static_assert(!n.empty() && n.size() <= 40, "shmring_type_name must have 1 to 40 bytes");
    return n;
  } else {
    return {};
  }
}

/// A payload type the typed-message helpers can carry: trivially copyable, sent as its object bytes.
template <class T>
concept trivially_copyable_message = std::is_trivially_copyable_v<T> && !std::is_pointer_v<T>;

}  // namespace shmring
