// Peer: atomic_queue (header only, optional: Debian libatomic-queue-dev) between two threads, in its documented
// SPSC, maximize-throughput configuration; and the round trip over two of them. It cannot be shared between
// processes. Without the header this file compiles to nothing and its entries are not registered.
// May touch: its queues (on the heap) and the consumer or echo thread of each run.
#include "peers/peers.hpp"

#if SHMRING_BENCH_HAVE_ATOMIC_QUEUE

#include "harness/control.hpp"
#include "harness/counters.hpp"
#include "harness/cores.hpp"
#include "harness/round_trip.hpp"
#include "workloads/element_rounds.hpp"
#include "workloads/elements.hpp"
#include "workloads/params.hpp"

#include <atomic_queue/atomic_queue.h>

#include <cstdint>
#include <memory>
#include <thread>
#include <type_traits>

namespace shmring_bench {
namespace {

// atomic_queue's documented configuration for one producer and one consumer: SPSC = true, MAXIMIZE_THROUGHPUT =
// true, MINIMIZE_CONTENTION = true (neighbouring elements on different cache lines). AtomicQueue (atomic elements,
// a NIL value marks an empty slot) for 8 bytes; AtomicQueue2 (a state byte per slot) for the 64-byte struct.
// Its blocking push/pop busy-wait on the slot, with a CPU pause.
using aq8 = atomic_queue::AtomicQueue<std::uint64_t, capacity, std::uint64_t{0}, true, true, false, true>;
using aq64 = atomic_queue::AtomicQueue2<elem64, capacity, true, true, false, true>;
template <class E>
using aq = std::conditional_t<std::is_same_v<E, elem8>, aq8, aq64>;

// NIL is 0, so 8-byte elements travel as seq + 1 (quit, all ones, stays as it is).
inline std::uint64_t aq_in(std::uint64_t v) noexcept { return v == quit ? v : v + 1; }
inline std::uint64_t aq_out(std::uint64_t v) noexcept { return v == quit ? v : v - 1; }
inline const elem64& aq_in(const elem64& v) noexcept { return v; }
inline const elem64& aq_out(const elem64& v) noexcept { return v; }

}  // namespace

template <class E>
void BM_atomic_queue_thread(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  auto q = std::make_unique<aq<E>>();
  control ctl;
  std::thread t([&] {
    pin_to(bench_cpus().second);
    consume_rounds<E>(ctl, [&] { return E(aq_out(q->pop())); });
  });
  produce_rounds<E>(state, ctl, [&](const E& v) { q->push(aq_in(v)); });
  t.join();
  finish_throughput(state, ctl, sizeof(E));
}

void BM_atomic_queue_rtt_thread(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  auto ping = std::make_unique<aq8>();
  auto pong = std::make_unique<aq8>();
  control ctl;
  std::thread t([&] {
    pin_to(bench_cpus().second);
    echo(ctl, [&] { return aq_out(ping->pop()); }, [&](std::uint64_t v) { pong->push(aq_in(v)); });
  });
  start(ctl);
  ping_pong(state, [&](std::uint64_t v) { ping->push(aq_in(v)); }, [&] { return aq_out(pong->pop()); });
  t.join();
}

template void BM_atomic_queue_thread<elem8>(benchmark::State&);
template void BM_atomic_queue_thread<elem64>(benchmark::State&);

}  // namespace shmring_bench

#endif  // SHMRING_BENCH_HAVE_ATOMIC_QUEUE
