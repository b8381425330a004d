// The peers' entry functions, one source file per peer (bench/peers/<peer>.cpp), registered under their names in
// one list, peers/register.cpp.
// May touch: nothing (declarations only).
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>

#if __has_include(<atomic_queue/atomic_queue.h>)
#define SHMRING_BENCH_HAVE_ATOMIC_QUEUE 1
#else
#define SHMRING_BENCH_HAVE_ATOMIC_QUEUE 0
#endif

namespace shmring_bench {

// boost_spsc.cpp: E is elem8 or elem64 (the batch entry: elem8).
template <class E>
void BM_boost_spsc_thread(benchmark::State& state);
template <class E>
void BM_boost_spsc_thread_batch(benchmark::State& state);
template <class E>
void BM_boost_spsc_process(benchmark::State& state);
void BM_boost_spsc_rtt_thread(benchmark::State& state);
void BM_boost_spsc_rtt_process(benchmark::State& state);

#if SHMRING_BENCH_HAVE_ATOMIC_QUEUE
// atomic_queue.cpp: E is elem8 or elem64.
template <class E>
void BM_atomic_queue_thread(benchmark::State& state);
void BM_atomic_queue_rtt_thread(benchmark::State& state);
#endif

// memcpy.cpp
void BM_memcpy(benchmark::State& state, std::size_t size);

// pipe.cpp
void BM_pipe_process(benchmark::State& state, std::size_t size);
void BM_pipe_rtt_process(benchmark::State& state);

// unix_socket.cpp
void BM_unix_socket_process(benchmark::State& state, std::size_t size);
void BM_unix_socket_rtt_process(benchmark::State& state);

// posix_mq.cpp
void BM_posix_mq_process(benchmark::State& state, std::size_t size);
void BM_posix_mq_rtt_process(benchmark::State& state);

// bip_message_queue.cpp
void BM_bip_mq_process(benchmark::State& state, std::size_t size);
void BM_bip_mq_rtt_process(benchmark::State& state);

// cache_line.cpp
void BM_cache_line_rtt_process(benchmark::State& state, bool pause);
void BM_two_lines_rtt_process(benchmark::State& state, bool pause);

#ifndef SHMRING_BENCH_HAVE_ICEORYX
#define SHMRING_BENCH_HAVE_ICEORYX 0  // bench/CMakeLists.txt sets it to 1 when iceoryx_posh is found
#endif
#if SHMRING_BENCH_HAVE_ICEORYX
// iceoryx.cpp: 8-byte samples, two processes (it starts iox-roudi itself).
void BM_iceoryx_process(benchmark::State& state);
void BM_iceoryx_rtt_process(benchmark::State& state);
#endif

}  // namespace shmring_bench
