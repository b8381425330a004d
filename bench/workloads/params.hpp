// Workloads: how much every entry moves, the same for shmring and every peer: queue capacity, elements per
// benchmark iteration, batch size, message capacity, message sizes.
// May touch: nothing (constants only).
#pragma once

#include <cstddef>
#include <cstdint>

namespace shmring_bench {

/// Slots of every element queue (shmring, boost::lockfree, atomic_queue, Boost message_queue, POSIX mq when the
/// system allows it, the pipe's buffer in 64-byte messages).
inline constexpr std::uint64_t capacity = 4096;
/// Elements per benchmark iteration in throughput runs (16 laps of the ring).
inline constexpr std::uint64_t round_items = std::uint64_t{1} << 16;
/// Elements per call in batch runs (try_push_n / push_n / pop_n, boost's push(const T*, n) / pop(T*, n)).
inline constexpr std::size_t batch = 64;

/// Bytes of every message queue (the shmring message ring's data area, Boost message_queue's messages times their
/// size, the pipe's buffer up to pipe-max-size).
inline constexpr std::uint64_t msg_capacity = std::uint64_t{4} << 20;
/// Bytes per benchmark iteration in message runs: 65536 messages of 64 B (as the element runs), 64 of 64 KiB, ...
inline constexpr std::uint64_t msg_round_bytes = std::uint64_t{4} << 20;
/// The message sizes of the message runs.
inline constexpr std::size_t msg_sizes[] = {64, 1024, 64 * 1024, 1024 * 1024};

}  // namespace shmring_bench
