// Event loops (issue 15, docs/events.md): what waiting on an endpoint's descriptor costs.
//   events/wakeup/{spin,futex,epoll}: ping-pong between this process and a child where both sides wait the given
//     way every time (a round trip is two wake-ups): spinning on try_pop, sleeping on the futex (sleep policy with
//     no spinning and no yielding, so every wait sleeps), or arm() + epoll_wait on the descriptor. p50_ns/p99_ns.
//   events/consumer/{blocking,asio_pop,asio_wait}: a child pushes as fast as it can; this process consumes with
//     pop(), with one Asio async_pop callback per element, or with async_wait callbacks that drain with try_pop
//     (<shmring/asio.hpp>), on an io_context. items_per_second.
//   events/rings/{1,1000}/one_busy: one epoll set over N consumer rings, a child pushing into one of them; the
//     loop drains whichever ring epoll reports and arms it again. items_per_second, and epoll_wait calls per item.
#include "harness/control.hpp"
#include "harness/cores.hpp"
#include "harness/process.hpp"
#include "harness/registration.hpp"
#include "harness/round_trip.hpp"

#include <shmring/asio.hpp>
#include <shmring/shmring.hpp>

#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

namespace shmring_bench {
namespace {

enum class how : int { spin = 0, futex = 1, epoll = 2 };

shmring::options options_for(how h) {
  shmring::options o;
  if (h == how::futex) {
    o.wait.spin_iterations = 0;
    o.wait.yield_iterations = 0;
  }
  return o;
}

/// One endpoint's descriptor in an epoll set of its own: wait() arms it and sleeps in epoll_wait until it speaks.
class epoll_waiter {
 public:
  explicit epoll_waiter(const shmring::detail::endpoint_base& e) : e_(e), ep_(::epoll_create1(EPOLL_CLOEXEC)) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    (void)::epoll_ctl(ep_, EPOLL_CTL_ADD, e.native_handle(), &ev);
  }
  ~epoll_waiter() { ::close(ep_); }
  epoll_waiter(const epoll_waiter&) = delete;
  epoll_waiter& operator=(const epoll_waiter&) = delete;
  void wait() {
    if (!e_.arm()) return;
    epoll_event ev{};
    while (::epoll_wait(ep_, &ev, 1, -1) != 1) {
    }
  }

 private:
  const shmring::detail::endpoint_base& e_;
  int ep_;
};

std::uint64_t recv_one(shmring::consumer<std::uint64_t>& c, how h, epoll_waiter& w) {
  std::uint64_t v = 0;
  if (h == how::futex) return c.pop();
  while (!c.try_pop(v))
    if (h == how::epoll)
      w.wait();
    else
      cpu_relax();
  return v;
}

void send_one(shmring::producer<std::uint64_t>& p, std::uint64_t v) {
  while (!p.try_push(v)) cpu_relax();  // the ring never fills in a ping-pong
}

template <how H>
void BM_wakeup(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  const std::string a = unique_name("ev-ping"), b = unique_name("ev-pong");
  shared_control ctl;
  int status = 0;
  {
    auto p = shmring::producer<std::uint64_t>::create(a, 64, options_for(H));
    auto c = shmring::consumer<std::uint64_t>::create(b, 64, options_for(H));
    epoll_waiter w(c);
    child_process child("events_echo", {a, b, std::to_string(static_cast<int>(H))}, {ctl.fd()});
    start(ctl.get(), &child);
    ping_pong(state, [&](std::uint64_t v) { send_one(p, v); }, [&] { return recv_one(c, H, w); });
    status = child.wait();
  }
  (void)shmring::remove(a);
  (void)shmring::remove(b);
  if (status != 0) state.SkipWithError("the echo process failed");
}

SHMRING_CHILD(events_echo) {
  shared_control ctl(child_fd_base);
  const auto h = static_cast<how>(std::stoi(args.at(2)));
  auto c = shmring::consumer<std::uint64_t>::open(args.at(0), options_for(h));
  auto p = shmring::producer<std::uint64_t>::open(args.at(1), options_for(h));
  epoll_waiter w(c);
  echo(ctl.get(), [&] { return recv_one(c, h, w); }, [&](std::uint64_t v) { send_one(p, v); });
  return 0;
}

// ------------------------------------------------------------------------------------ consumer throughput

constexpr std::uint64_t batch = 1 << 14;  // items one benchmark iteration consumes

// args: name. Pushes 0, 1, 2, ... until the consumer closes its side (push throws closed).
SHMRING_CHILD(events_stream) {
  shared_control ctl(child_fd_base);
  auto p = shmring::producer<std::uint64_t>::open(args.at(0));
  ctl.get().ready.store(1, std::memory_order_release);  // pairs with the acquire load in start()
  try {
    for (std::uint64_t i = 0;; ++i) p.push(i);
  } catch (const shmring::error& e) {
    return e.code() == shmring::errc::closed ? 0 : 1;
  }
}

enum class consume : int { blocking = 0, asio_pop = 1, asio_wait = 2 };

template <consume How>
void BM_consumer(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  const std::string a = unique_name("ev-stream");
  shared_control ctl;
  int status = 0;
  std::uint64_t next = 0, bad = 0;
  {
    auto c = shmring::consumer<std::uint64_t>::create(a, 1024);
    child_process child("events_stream", {a}, {ctl.fd()});
    start(ctl.get(), &child);
    boost::asio::io_context io;
    shmring::asio::async_endpoint<shmring::consumer<std::uint64_t>> ac(io, c);
    std::uint64_t left = 0;
    std::function<void(boost::system::error_code, std::uint64_t)> on_pop = [&](boost::system::error_code ec, std::uint64_t v) {
      if (ec) return;
      if (v != next++) ++bad;
      if (--left != 0) ac.async_pop(on_pop);
    };
    std::function<void(boost::system::error_code)> on_ready = [&](boost::system::error_code ec) {
      if (ec) return;
      std::uint64_t v = 0;
      while (left != 0 && c.try_pop(v)) {
        if (v != next++) ++bad;
        --left;
      }
      if (left != 0) ac.async_wait(on_ready);
    };
    for (auto _ : state) {
      if constexpr (How == consume::asio_pop) {
        left = batch;
        ac.async_pop(on_pop);
        io.restart();
        io.run();
      } else if constexpr (How == consume::asio_wait) {
        left = batch;
        ac.async_wait(on_ready);
        io.restart();
        io.run();
      } else {
        for (std::uint64_t k = 0; k < batch; ++k)
          if (c.pop() != next++) ++bad;
      }
    }
    c.close();
    status = child.wait();
  }
  (void)shmring::remove(a);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  if (bad != 0) state.SkipWithError("wrong sequence numbers");
  if (status != 0) state.SkipWithError("the producer process failed");
}

// --------------------------------------------------------------------------- many rings in one epoll set

// args: name. Opens the producer of ring name and pushes until the consumer closes (as events_stream).
template <int Rings>
void BM_rings_one_busy(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  rlimit rl{};  // two descriptors per ring (its segment, its event descriptor) and a few more per endpoint
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
  }
  const std::string base = unique_name("ev-rings");
  const int busy = Rings / 2;
  shared_control ctl;
  int status = 0;
  std::uint64_t next = 0, bad = 0, waits = 0;
  {
    std::vector<shmring::consumer<std::uint64_t>> cs;
    cs.reserve(Rings);
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < Rings; ++i) {
      cs.push_back(shmring::consumer<std::uint64_t>::create(base + "-" + std::to_string(i), 1024));
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = static_cast<std::uint32_t>(i);
      (void)::epoll_ctl(ep, EPOLL_CTL_ADD, cs.back().native_handle(), &ev);
      while (!cs.back().arm()) {
      }
    }
    child_process child("events_stream", {base + "-" + std::to_string(busy)}, {ctl.fd()});
    start(ctl.get(), &child);
    epoll_event evs[64];
    for (auto _ : state) {
      std::uint64_t got = 0;
      while (got < batch) {
        const int n = ::epoll_wait(ep, evs, 64, -1);
        ++waits;
        for (int k = 0; k < n; ++k) {
          auto& c = cs[evs[k].data.u32];
          for (;;) {
            std::uint64_t v = 0;
            while (c.try_pop(v)) {
              if (v != next++) ++bad;
              ++got;
            }
            if (c.arm()) break;
          }
        }
      }
    }
    cs[static_cast<std::size_t>(busy)].close();
    status = child.wait();
    ::close(ep);
    for (int i = 0; i < Rings; ++i) (void)shmring::remove(base + "-" + std::to_string(i));
  }
  const double items = static_cast<double>(next);
  state.SetItemsProcessed(static_cast<std::int64_t>(next));
  state.counters["epoll_waits_per_item"] = items > 0 ? static_cast<double>(waits) / items : 0;
  if (bad != 0) state.SkipWithError("wrong sequence numbers");
  if (status != 0) state.SkipWithError("the producer process failed");
}

}  // namespace
}  // namespace shmring_bench

using namespace shmring_bench;  // NOLINT: registration macros below read better without the qualification

BENCHMARK_TEMPLATE(BM_wakeup, how::spin)->Name("events/wakeup/spin")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_wakeup, how::futex)->Name("events/wakeup/futex")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_wakeup, how::epoll)->Name("events/wakeup/epoll")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_consumer, consume::blocking)->Name("events/consumer/blocking")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_consumer, consume::asio_pop)->Name("events/consumer/asio_pop")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_consumer, consume::asio_wait)->Name("events/consumer/asio_wait")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_rings_one_busy, 1)->Name("events/rings/1/one_busy")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_rings_one_busy, 1000)->Name("events/rings/1000/one_busy")->Apply(two_sided);
