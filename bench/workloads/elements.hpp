// Workloads: the elements of the element queues. An 8-byte element is its sequence number; a 64-byte element
// carries a sequence number and 56 bytes of payload that the producer fills, so the bytes really move.
// May touch: nothing (types and value makers only).
#pragma once

#include <cstdint>
#include <type_traits>

namespace shmring_bench {

/// The 8-byte element: its sequence number.
using elem8 = std::uint64_t;

/// The 64-byte element: a sequence number and 56 bytes of payload (filled, so the bytes really move).
struct elem64 {
  std::uint64_t seq;
  std::uint64_t payload[7];
};
static_assert(sizeof(elem64) == 64);

template <class E>
inline E make(std::uint64_t seq) noexcept {
  if constexpr (std::is_same_v<E, elem64>) {
    elem64 e;
    e.seq = seq;
    for (auto& p : e.payload) p = seq;
    return e;
  } else {
    return seq;
  }
}
inline std::uint64_t seq_of(const elem64& e) noexcept { return e.seq; }
inline std::uint64_t seq_of(std::uint64_t e) noexcept { return e; }

}  // namespace shmring_bench
