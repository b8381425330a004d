// Peer: boost::lockfree::spsc_queue with a compile-time capacity of `capacity` elements: between two threads
// (single elements, and boost's own batch calls), constructed in a Boost.Interprocess managed_shared_memory segment
// between two processes, and the round trip over two such queues (threads and processes).
// May touch: its queues, its managed_shared_memory segments (named by unique_name, removed after each run), the
// consumer thread or child process of each run.
#include "peers/peers.hpp"

#include "harness/control.hpp"
#include "harness/counters.hpp"
#include "harness/cores.hpp"
#include "harness/process.hpp"
#include "harness/round_trip.hpp"
#include "workloads/element_rounds.hpp"
#include "workloads/elements.hpp"
#include "workloads/params.hpp"

#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/lockfree/spsc_queue.hpp>

#include <memory>
#include <span>
#include <string>
#include <thread>

namespace shmring_bench {
namespace {

namespace bip = boost::interprocess;

template <class E>
using boost_spsc = boost::lockfree::spsc_queue<E, boost::lockfree::capacity<capacity>>;  // holds `capacity`

template <class E>
E boost_pop(boost_spsc<E>& q) {
  E v;
  while (!q.pop(v)) cpu_relax();
  return v;
}
template <class E>
void boost_push(boost_spsc<E>& q, const E& v) {
  while (!q.push(v)) cpu_relax();
}

}  // namespace

/// Two threads, the queue on the heap.
template <class E>
void BM_boost_spsc_thread(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  auto q = std::make_unique<boost_spsc<E>>();
  control ctl;
  std::thread t([&] {
    pin_to(bench_cpus().second);
    consume_rounds<E>(ctl, [&] { return boost_pop(*q); });
  });
  produce_rounds<E>(state, ctl, [&](const E& v) { boost_push(*q, v); });
  t.join();
  finish_throughput(state, ctl, sizeof(E));
}

/// Two threads, boost's own batch calls: push(const T*, n) retried until all is in, pop(T*, n).
template <class E>
void BM_boost_spsc_thread_batch(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  auto q = std::make_unique<boost_spsc<E>>();
  control ctl;
  std::thread t([&] {
    pin_to(bench_cpus().second);
    consume_rounds_n<E>(ctl, [&](E* buf) {
      std::size_t k;
      while ((k = q->pop(buf, batch)) == 0) cpu_relax();
      return k;
    });
  });
  produce_rounds_n<E>(state, ctl, [&](std::span<const E> s) {
    while (!s.empty()) {
      const std::size_t k = q->push(s.data(), s.size());
      s = s.subspan(k);
      if (k == 0) cpu_relax();
    }
  });
  t.join();
  finish_throughput(state, ctl, sizeof(E));
}

/// The queue constructed in a Boost.Interprocess managed_shared_memory segment; the consumer is a child process.
template <class E>
void BM_boost_spsc_process(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  const std::string name = unique_name("boost-spsc");
  bip::shared_memory_object::remove(name.c_str());
  shared_control ctl;
  int status = 0;
  {
    bip::managed_shared_memory seg(bip::create_only, name.c_str(), sizeof(boost_spsc<E>) + 65536);
    auto* q = seg.construct<boost_spsc<E>>("q")();
    child_process child("boost_spsc_consumer", {name, std::to_string(sizeof(E))}, {ctl.fd()});
    produce_rounds<E>(state, ctl.get(), [&](const E& v) { boost_push(*q, v); }, &child);
    status = child.wait();
  }
  bip::shared_memory_object::remove(name.c_str());
  finish_throughput(state, ctl.get(), sizeof(E), status);
}

namespace {

template <class E>
int boost_spsc_consume(const std::string& name, control& ctl) {
  bip::managed_shared_memory seg(bip::open_only, name.c_str());
  auto* q = seg.find<boost_spsc<E>>("q").first;
  if (q == nullptr) return 2;
  consume_rounds<E>(ctl, [&] { return boost_pop(*q); });
  return 0;
}

}  // namespace

SHMRING_CHILD(boost_spsc_consumer) {
  shared_control ctl(child_fd_base);
  return args.at(1) == "8" ? boost_spsc_consume<elem8>(args.at(0), ctl.get())
                           : boost_spsc_consume<elem64>(args.at(0), ctl.get());
}

/// Round trip over two boost queues between two threads (the bar for shmring between two processes).
void BM_boost_spsc_rtt_thread(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  auto ping = std::make_unique<boost_spsc<elem8>>();
  auto pong = std::make_unique<boost_spsc<elem8>>();
  control ctl;
  std::thread t([&] {
    pin_to(bench_cpus().second);
    echo(ctl, [&] { return boost_pop(*ping); }, [&](std::uint64_t v) { boost_push(*pong, v); });
  });
  start(ctl);
  ping_pong(state, [&](std::uint64_t v) { boost_push(*ping, v); }, [&] { return boost_pop(*pong); });
  t.join();
}

/// Round trip over two boost queues in shared memory between two processes.
void BM_boost_spsc_rtt_process(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  const std::string name = unique_name("boost-rtt");
  bip::shared_memory_object::remove(name.c_str());
  shared_control ctl;
  int status = 0;
  {
    bip::managed_shared_memory seg(bip::create_only, name.c_str(), 2 * sizeof(boost_spsc<elem8>) + 65536);
    auto* ping = seg.construct<boost_spsc<elem8>>("ping")();
    auto* pong = seg.construct<boost_spsc<elem8>>("pong")();
    child_process child("boost_spsc_echo", {name}, {ctl.fd()});
    start(ctl.get(), &child);
    ping_pong(state, [&](std::uint64_t v) { boost_push(*ping, v); }, [&] { return boost_pop(*pong); });
    status = child.wait();
  }
  bip::shared_memory_object::remove(name.c_str());
  if (status != 0) state.SkipWithError("the echo process failed");
}

SHMRING_CHILD(boost_spsc_echo) {
  shared_control ctl(child_fd_base);
  bip::managed_shared_memory seg(bip::open_only, args.at(0).c_str());
  auto* ping = seg.find<boost_spsc<elem8>>("ping").first;
  auto* pong = seg.find<boost_spsc<elem8>>("pong").first;
  if (ping == nullptr || pong == nullptr) return 2;
  echo(ctl.get(), [&] { return boost_pop(*ping); }, [&](std::uint64_t v) { boost_push(*pong, v); });
  return 0;
}

template void BM_boost_spsc_thread<elem8>(benchmark::State&);
template void BM_boost_spsc_thread<elem64>(benchmark::State&);
template void BM_boost_spsc_thread_batch<elem8>(benchmark::State&);
template void BM_boost_spsc_process<elem8>(benchmark::State&);
template void BM_boost_spsc_process<elem64>(benchmark::State&);

}  // namespace shmring_bench
