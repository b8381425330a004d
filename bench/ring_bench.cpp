// shmring typed ring: throughput with 8- and 64-byte elements, producer and consumer as two threads and as two
// processes, three ways of calling it (try_push/try_pop in a spin loop, the default waiting push/pop, batches of
// `batch` with push_n/pop_n); the round trip over two rings; and the wake-up system calls of a busy stream. The
// harness (harness/) and the workloads (workloads/) are the ones the peers (peers/) are measured with.
#include "harness/control.hpp"
#include "harness/counters.hpp"
#include "harness/cores.hpp"
#include "harness/process.hpp"
#include "harness/registration.hpp"
#include "harness/round_trip.hpp"
#include "workloads/element_rounds.hpp"
#include "workloads/elements.hpp"
#include "workloads/params.hpp"

#include <shmring/shmring.hpp>

#include <optional>
#include <string>
#include <thread>

namespace shmring_bench {
namespace {

enum class mode : int {
  try_loop = 0,  ///< try_push / try_pop, retried with a CPU pause
  wait = 1,      ///< push / pop: the default wait policy (spin, yield, then futex sleep)
  batch = 2,     ///< push_n / pop_n with `batch` elements per call
};

template <class E, class Consumer>
void consume(control& ctl, Consumer& c, mode m) {
  switch (m) {
    case mode::try_loop:
      consume_rounds<E>(ctl, [&] {
        E v;
        while (!c.try_pop(v)) cpu_relax();
        return v;
      });
      break;
    case mode::wait:
      consume_rounds<E>(ctl, [&] { return c.pop(); });
      break;
    case mode::batch:
      consume_rounds_n<E>(ctl, [&](E* buf) { return c.pop_n(std::span<E>(buf, batch)); });
      break;
  }
}

template <class E, class Producer>
void produce(benchmark::State& state, control& ctl, Producer& p, mode m, child_process* peer) {
  switch (m) {
    case mode::try_loop:
      produce_rounds<E>(
          state, ctl,
          [&](const E& v) {
            while (!p.try_push(v)) cpu_relax();
          },
          peer);
      break;
    case mode::wait:
      produce_rounds<E>(state, ctl, [&](const E& v) { p.push(v); }, peer);
      break;
    case mode::batch:
      produce_rounds_n<E>(state, ctl, [&](std::span<const E> s) { p.push_n(s); }, peer);
      break;
  }
}

/// How often the wait policy went to the kernel: futex wakes the producer issued for a sleeping consumer and
/// futex sleeps of the producer, per million elements (zero when both sides kept up by spinning). And how often
/// each side found the ring full (producer) or empty (consumer), per element, from the segment's header: near 0
/// when one side runs well ahead of the other, near 1 when the two move in lockstep.
template <class Producer>
void wait_counters(benchmark::State& state, const Producer& p) {
  const double m = static_cast<double>(state.iterations() * round_items) / 1e6;
  if (m <= 0) return;
  state.counters["wakes_per_M"] = static_cast<double>(p.wake_calls()) / m;
  state.counters["producer_sleeps_per_M"] = static_cast<double>(p.sleeps()) / m;
  const shmring::ring_status st = p.status();
  state.counters["full_per_item"] = static_cast<double>(st.producer.stalls) / (m * 1e6);
  state.counters["empty_per_item"] = static_cast<double>(st.consumer.stalls) / (m * 1e6);
}

/// The busy stream's kernel calls, per message, for both sides, from the segment's header: futex wakes each side
/// made for a sleeping peer, futex sleeps it made itself. A side announces a sleep only after its spin and yield
/// polls failed, i.e. after the stream stopped for tens of microseconds, so while both processes run a busy stream
/// makes almost none: a few at the start and one or two each time the scheduler takes a side off its core. (How
/// few depends on the scheduler, which is why it is measured here and not asserted in tests/: the old test's bound
/// was one wake call per 10,000 messages.)
template <class Producer>
void wakeup_counters(benchmark::State& state, const Producer& p) {
  const double n = static_cast<double>(state.iterations() * round_items);
  if (n <= 0) return;
  const shmring::ring_status st = p.status();
  state.counters["messages"] = n;
  state.counters["wake_calls_per_msg"] = static_cast<double>(st.producer.wake_calls + st.consumer.wake_calls) / n;
  state.counters["producer_wake_calls_per_msg"] = static_cast<double>(st.producer.wake_calls) / n;
  state.counters["consumer_wake_calls_per_msg"] = static_cast<double>(st.consumer.wake_calls) / n;
  state.counters["producer_sleeps_per_msg"] = static_cast<double>(st.producer.sleeps) / n;
  state.counters["consumer_sleeps_per_msg"] = static_cast<double>(st.consumer.sleeps) / n;
}

// ---------------------------------------------------------------------------------------------- throughput

/// Producer and consumer as two threads of this process, each with its own endpoint on the segment.
template <class E, mode M>
void BM_shmring_thread(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  const std::string name = unique_name("typed");
  control ctl;
  {
    auto p = shmring::producer<E>::create(name, capacity);
    auto c = shmring::consumer<E>::open(name);
    std::thread t([&] {
      pin_to(bench_cpus().second);
      consume<E>(ctl, c, M);
    });
    produce<E>(state, ctl, p, M, nullptr);
    t.join();
    wait_counters(state, p);
  }
  (void)shmring::remove(name);
  finish_throughput(state, ctl, sizeof(E));
}

/// Producer in this process, consumer in a child process (this binary re-run), on the other core. Wakeups: the
/// entry also reports wakeup_counters. S: the ring's slot format (turn slots, the default; packed for batches).
template <class E, mode M, bool Wakeups = false, shmring::slots S = shmring::slots::turn>
void BM_shmring_process(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  const std::string name = unique_name("typed");
  shared_control ctl;
  int status = 0;
  {
    auto p = shmring::producer<E, S>::create(name, capacity);
    const std::string packed = S == shmring::slots::packed ? "packed" : "turn";
    child_process child("shmring_consumer",
                        {name, std::to_string(sizeof(E)), std::to_string(static_cast<int>(M)), packed}, {ctl.fd()});
    produce<E>(state, ctl.get(), p, M, &child);
    status = child.wait();
    wait_counters(state, p);
    if constexpr (Wakeups) wakeup_counters(state, p);
  }
  (void)shmring::remove(name);
  finish_throughput(state, ctl.get(), sizeof(E), status);
}

// args: name, element size (8 or 64), mode, slot format (turn or packed: 8-byte elements only).
SHMRING_CHILD(shmring_consumer) {
  shared_control ctl(child_fd_base);
  const auto m = static_cast<mode>(std::stoi(args.at(2)));
  if (args.at(1) == "8" && args.at(3) == "packed") {
    auto c = shmring::consumer<elem8, shmring::slots::packed>::open(args.at(0));
    consume<elem8>(ctl.get(), c, m);
  } else if (args.at(1) == "8") {
    auto c = shmring::consumer<elem8>::open(args.at(0));
    consume<elem8>(ctl.get(), c, m);
  } else {
    auto c = shmring::consumer<elem64>::open(args.at(0));
    consume<elem64>(ctl.get(), c, m);
  }
  return 0;
}

/// The ring algorithm alone (ring.hpp over heap memory: no segment, no wake-up check), two threads, try loops.
/// Not a user-facing configuration: it shows what the typed layer around the algorithm costs.
template <class E>
void BM_ring_core_thread(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  shmring::heap_ring<E> r(capacity);
  control ctl;
  std::thread t([&] {
    pin_to(bench_cpus().second);
    consume_rounds<E>(ctl, [&] {
      E v;
      while (!r.try_pop(v)) cpu_relax();
      return v;
    });
  });
  produce_rounds<E>(state, ctl, [&](const E& v) {
    while (!r.try_push(v)) cpu_relax();
  });
  t.join();
  finish_throughput(state, ctl, sizeof(E));
}

// ---------------------------------------------------------------------------------------------- round trip

std::uint64_t recv_one(shmring::consumer<elem8>& c, mode m) {
  if (m == mode::wait) return c.pop();
  elem8 v;
  while (!c.try_pop(v)) cpu_relax();
  return v;
}

void send_one(shmring::producer<elem8>& p, std::uint64_t v, mode m) {
  if (m == mode::wait) return p.push(v);
  while (!p.try_push(v)) cpu_relax();
}

/// Ping-pong over two rings between this process and a child: ring "a" carries the ping, ring "b" the pong.
template <mode M>
void BM_shmring_rtt_process(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  const std::string a = unique_name("ping"), b = unique_name("pong");
  shared_control ctl;
  int status = 0;
  {
    auto p = shmring::producer<elem8>::create(a, capacity);
    auto c = shmring::consumer<elem8>::create(b, capacity);
    child_process child("shmring_echo", {a, b, std::to_string(static_cast<int>(M))}, {ctl.fd()});
    start(ctl.get(), &child);
    ping_pong(state, [&](std::uint64_t v) { send_one(p, v, M); }, [&] { return recv_one(c, M); });
    status = child.wait();
  }
  (void)shmring::remove(a);
  (void)shmring::remove(b);
  if (status != 0) state.SkipWithError("the echo process failed");
}

SHMRING_CHILD(shmring_echo) {
  shared_control ctl(child_fd_base);
  const auto m = static_cast<mode>(std::stoi(args.at(2)));
  auto c = shmring::consumer<elem8>::open(args.at(0));
  auto p = shmring::producer<elem8>::open(args.at(1));
  echo(ctl.get(), [&] { return recv_one(c, m); }, [&](std::uint64_t v) { send_one(p, v, m); });
  return 0;
}

/// The same ping-pong between two threads of this process.
template <mode M>
void BM_shmring_rtt_thread(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  const std::string a = unique_name("ping"), b = unique_name("pong");
  control ctl;
  {
    auto p = shmring::producer<elem8>::create(a, capacity);
    auto c = shmring::consumer<elem8>::create(b, capacity);
    auto ec = shmring::consumer<elem8>::open(a);
    auto ep = shmring::producer<elem8>::open(b);
    std::thread t([&] {
      pin_to(bench_cpus().second);
      echo(ctl, [&] { return recv_one(ec, M); }, [&](std::uint64_t v) { send_one(ep, v, M); });
    });
    start(ctl);
    ping_pong(state, [&](std::uint64_t v) { send_one(p, v, M); }, [&] { return recv_one(c, M); });
    t.join();
  }
  (void)shmring::remove(a);
  (void)shmring::remove(b);
}

}  // namespace
}  // namespace shmring_bench

using namespace shmring_bench;  // NOLINT: registration macros below read better without the qualification

BENCHMARK_TEMPLATE(BM_shmring_process, elem8, mode::wait)->Name("typed/process/8B/wait")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_shmring_process, elem8, mode::try_loop)->Name("typed/process/8B/try")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_shmring_process, elem8, mode::batch)->Name("typed/process/8B/batch")->Apply(two_sided);
// The same ring created with packed slots (shmring::slots::packed: 8 elements to a line, no turn words).
BENCHMARK_TEMPLATE(BM_shmring_process, elem8, mode::wait, false, shmring::slots::packed)
    ->Name("typed/process/8B/wait_packed")
    ->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_shmring_process, elem8, mode::batch, false, shmring::slots::packed)
    ->Name("typed/process/8B/batch_packed")
    ->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_shmring_thread, elem8, mode::wait)->Name("typed/thread/8B/wait")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_shmring_thread, elem8, mode::try_loop)->Name("typed/thread/8B/try")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_shmring_thread, elem8, mode::batch)->Name("typed/thread/8B/batch")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_ring_core_thread, elem8)->Name("ring_core/thread/8B/try")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_shmring_process, elem64, mode::wait)->Name("typed/process/64B/wait")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_shmring_process, elem64, mode::try_loop)->Name("typed/process/64B/try")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_shmring_process, elem64, mode::batch)->Name("typed/process/64B/batch")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_shmring_thread, elem64, mode::wait)->Name("typed/thread/64B/wait")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_shmring_thread, elem64, mode::try_loop)->Name("typed/thread/64B/try")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_shmring_thread, elem64, mode::batch)->Name("typed/thread/64B/batch")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_ring_core_thread, elem64)->Name("ring_core/thread/64B/try")->Apply(two_sided);

BENCHMARK_TEMPLATE(BM_shmring_rtt_process, mode::wait)->Name("rtt/typed/process/wait")->Apply(round_trip);
BENCHMARK_TEMPLATE(BM_shmring_rtt_process, mode::try_loop)->Name("rtt/typed/process/try")->Apply(round_trip);
BENCHMARK_TEMPLATE(BM_shmring_rtt_thread, mode::wait)->Name("rtt/typed/thread/wait")->Apply(round_trip);

// The stream of typed/process/8B/wait (two processes, push/pop, the default sleep policy), with its wake calls and
// sleeps per message (wakeup_counters).
BENCHMARK_TEMPLATE(BM_shmring_process, elem8, mode::wait, true)->Name("wakeups/typed/process/8B")->Apply(two_sided);
