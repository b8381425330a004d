// shmring: copying bytes the peer process has just written out of the shared segment.
// May touch: the two ranges it is given, nothing else.
//
// Why not plain memcpy: above glibc's x86_rep_movsb_threshold (by default 2048 bytes times the vector size over 16:
// 2048 with SSE2, 4096 with AVX2, 8192 with AVX-512; 2112 on CPUs with FSRM such as the reference AMD EPYC; see
// `ld.so --list-tunables`) glibc's memcpy copies with `rep movsb`. On the reference
// machine (Zen 3) that instruction runs at a third of its speed (10-13 GB/s instead of 35) for many copies whose
// source lines are still dirty in the other core's cache, which is exactly what a consumer reads: the 64 KiB copying
// receive swung between 10 and 36 GB/s from one repetition to the next, and
// GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=4194304 made it steady. A loop of 64-byte moves (SSE2, or what
// the compiler targets) does not have the problem and is as fast as memcpy's good case (docs/benchmarks.md,
// bench/copy_bench.cpp).
#pragma once

#include <shmring/config.hpp>

#include <cstddef>
#include <cstring>

namespace shmring::detail {

/// Copies below this many bytes go to memcpy, which uses vector moves there (at or below every glibc default of
/// x86_rep_movsb_threshold, so never `rep movsb`).
inline constexpr std::size_t peer_copy_loop_from = 2048;

/// The loop of copy_from_peer. Out of line: it is reached for 2 KiB and more, where a call costs nothing, and
/// inlined into a caller with a small fixed buffer it would draw false -Warray-bounds warnings from gcc.
SHMRING_NOINLINE inline void copy_from_peer_loop(unsigned char* d, const unsigned char* s, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    std::memcpy(d + i, s + i, 64);  // a constant size: inlined as vector moves
#if defined(__GNUC__) || defined(__clang__)
    // Keeps the optimiser from recognising the loop as a copy and calling memcpy (and so `rep movsb`) after all.
    // It orders nothing at run time: it emits no instruction.
    __asm__ __volatile__("" ::: "memory");
#endif
  }
  std::memcpy(d + i, s + i, n - i);
}

/// memcpy(dst, src, n) for a source the other process has just written. The ranges must not overlap; with n == 0
/// nothing is read or written and either pointer may be null.
inline void copy_from_peer(void* dst, const void* src, std::size_t n) noexcept {
  if (n == 0) return;  // memcpy's pointers must be valid even for 0 bytes
  if (n < peer_copy_loop_from)
    std::memcpy(dst, src, n);
  else
    copy_from_peer_loop(static_cast<unsigned char*>(dst), static_cast<const unsigned char*>(src), n);
}

}  // namespace shmring::detail
