// Peer: Eclipse iceoryx 2.0 (Debian libiceoryx-posh-dev), the zero-copy publish/subscribe IPC library, between two
// processes, lossless: the publisher waits for a slow subscriber (ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER, and the
// subscriber asks for QueueFullPolicy::BLOCK_PRODUCER), no history (historyCapacity 0, historyRequest 0). Each
// sample is loaned from iceoryx's shared memory, written in place and published; the receiver take()s it in a
// polling loop (the lowest-latency way to wait in iceoryx; its WaitSet sleeps on a semaphore). The throughput entry
// checks every sequence number; the round trip goes over two services (ping, pong).
// RouDi: iceoryx needs its daemon. The first iceoryx entry of a run starts `iox-roudi` itself (from PATH, package
// iceoryx) and waits for it to say it is ready; it is stopped (SIGTERM, then reaped) when the suite exits, after
// this process's iceoryx runtime is gone. Its process monitoring is off: with it, a spinning subscriber on a loaded
// 2-core machine missed its keepalive for 1.5 s, RouDi removed it, and the publisher then waited for ever. A RouDi already running (someone else's) makes ours exit at once: the
// entries then fail with that reason instead of measuring against a daemon we did not start.
// May touch: the iox-roudi process it starts, iceoryx's shared memory (through its API), its child processes.
#include "peers/peers.hpp"

#if SHMRING_BENCH_HAVE_ICEORYX

#include "harness/control.hpp"
#include "harness/cores.hpp"
#include "harness/counters.hpp"
#include "harness/process.hpp"
#include "harness/round_trip.hpp"
#include "workloads/element_rounds.hpp"
#include "workloads/elements.hpp"

#include "iceoryx_hoofs/log/logmanager.hpp"
#include "iceoryx_posh/popo/publisher.hpp"
#include "iceoryx_posh/popo/subscriber.hpp"
#include "iceoryx_posh/runtime/posh_runtime.hpp"

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include <poll.h>
#include <signal.h>
#include <unistd.h>

namespace shmring_bench {
namespace {

/// The iox-roudi this benchmark started, stopped at exit (a static constructed before the iceoryx runtime, so
/// destroyed after it: RouDi never has to terminate us).
class roudi {
 public:
  /// Starts iox-roudi and waits (on its standard output, an event; 20 s hang guard) for "RouDi is ready".
  /// Returns "" when it is ready, else why not.
  std::string start() {
    try {
      proc_ = std::make_unique<shmring_test::command_process>(
          std::vector<std::string>{"iox-roudi", "--log-level", "warning", "--monitoring-mode", "off"});
    } catch (const std::exception& e) {
      return std::string("could not start iox-roudi (apt install iceoryx): ") + e.what();
    }
    std::string seen;
    char buf[4096];
    for (;;) {
      pollfd p{proc_->output_fd(), POLLIN, 0};
      const int rc = ::poll(&p, 1, 20000);
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) return "iox-roudi said nothing for 20 s";
      const ssize_t n = ::read(proc_->output_fd(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return "iox-roudi exited before it was ready (another RouDi running?): " + seen;
      seen.append(buf, static_cast<std::size_t>(n));
      if (seen.find("RouDi is ready for clients") != std::string::npos) break;
    }
    // Drain what it writes later, so a full pipe never stops it.
    drain_ = std::thread([fd = proc_->output_fd()] {
      char b[4096];
      while (::read(fd, b, sizeof b) > 0 || errno == EINTR) {
      }
    });
    return {};
  }
  ~roudi() {
    if (!proc_) return;
    ::kill(proc_->pid(), SIGTERM);  // RouDi cleans its shared memory up on SIGTERM
    (void)proc_->wait();
    if (drain_.joinable()) drain_.join();  // its stdout is closed now: end of file
  }

 private:
  std::unique_ptr<shmring_test::command_process> proc_;
  std::thread drain_;
};

/// iceoryx's runtime logs every registration at its default level (verbose): warnings and errors only.
void quiet_logs() {
  iox::log::LogManager::GetLogManager().SetDefaultLogLevel(iox::log::LogLevel::kWarn,
                                                           iox::log::LogLevelOutput::kHideLogLevel);
}

/// RouDi running and this process registered with it; "" when ready, else the reason (the same for every call).
const std::string& iceoryx_ready() {
  static roudi daemon;
  static const std::string why = [] {
    std::string w = daemon.start();
    quiet_logs();
    if (w.empty())
      iox::runtime::PoshRuntime::initRuntime(
          iox::RuntimeName_t(iox::cxx::TruncateToCapacity, ("shmring-bench-" + std::to_string(::getpid())).c_str()));
    return w;
  }();
  return why;
}

iox::capro::ServiceDescription service(const std::string& instance, const char* event) {
  return iox::capro::ServiceDescription(iox::capro::IdString_t(iox::cxx::TruncateToCapacity, "shmring-bench"),
                                        iox::capro::IdString_t(iox::cxx::TruncateToCapacity, instance.c_str()),
                                        iox::capro::IdString_t(iox::cxx::TruncateToCapacity, event));
}

iox::popo::PublisherOptions lossless_publisher() {
  iox::popo::PublisherOptions o;
  o.historyCapacity = 0;
  o.subscriberTooSlowPolicy = iox::popo::ConsumerTooSlowPolicy::WAIT_FOR_CONSUMER;
  return o;
}

iox::popo::SubscriberOptions lossless_subscriber() {
  iox::popo::SubscriberOptions o;
  o.historyRequest = 0;
  o.queueFullPolicy = iox::popo::QueueFullPolicy::BLOCK_PRODUCER;
  return o;  // queueCapacity: the maximum (256 samples)
}

using publisher = iox::popo::Publisher<std::uint64_t>;
using subscriber = iox::popo::Subscriber<std::uint64_t>;

/// Loans a sample, writes v, publishes (waiting while the subscriber's queue is full). False if iceoryx refused.
bool send(publisher& pub, std::uint64_t v) {
  bool ok = false;
  pub.loan()
      .and_then([&](auto& sample) {
        *sample = v;
        sample.publish();
        ok = true;
      })
      .or_else([](auto&) {});
  return ok;
}

/// Polls until a sample arrives and returns its value.
std::uint64_t receive(subscriber& sub) {
  for (;;) {
    std::uint64_t v = 0;
    bool got = false;
    sub.take().and_then([&](auto& sample) {
      v = *sample;
      got = true;
    });
    if (got) return v;
    cpu_relax();
  }
}

/// Spins until the subscriber is connected to its publisher (subscription goes through RouDi).
void until_subscribed(const subscriber& sub) {
  spin_until([&] { return sub.getSubscriptionState() == iox::SubscribeState::SUBSCRIBED; });
}

void child_runtime(const char* role) {
  quiet_logs();
  iox::runtime::PoshRuntime::initRuntime(iox::RuntimeName_t(
      iox::cxx::TruncateToCapacity, ("shmring-bench-" + std::string(role) + "-" + std::to_string(::getpid())).c_str()));
}

}  // namespace

/// 8-byte samples from this process to a child process, every sequence number checked there.
void BM_iceoryx_process(benchmark::State& state) {
  if (const std::string& why = iceoryx_ready(); !why.empty()) return state.SkipWithError(why.c_str());
  scoped_pin pin(bench_cpus().first);
  const std::string instance = unique_name("iceoryx");
  shared_control ctl;
  int status = 0;
  {
    publisher pub(service(instance, "data"), lossless_publisher());
    child_process child("iceoryx_consumer", {instance}, {ctl.fd()});
    start(ctl.get(), &child);
    spin_until([&] { return pub.hasSubscribers(); }, &child);
    bool ok = true;
    produce_rounds<elem8>(state, ctl.get(), [&](const elem8& v) { ok = send(pub, v) && ok; }, &child);
    status = child.wait();
    if (!ok) status = 100;
  }
  finish_throughput(state, ctl.get(), sizeof(elem8), status);
}

SHMRING_CHILD(iceoryx_consumer) {
  shared_control ctl(child_fd_base);
  child_runtime("consumer");
  subscriber sub(service(args.at(0), "data"), lossless_subscriber());
  until_subscribed(sub);
  consume_rounds<elem8>(ctl.get(), [&] { return receive(sub); });
  return 0;
}

/// Round trip: ping to a child process, which publishes it back on pong.
void BM_iceoryx_rtt_process(benchmark::State& state) {
  if (const std::string& why = iceoryx_ready(); !why.empty()) return state.SkipWithError(why.c_str());
  scoped_pin pin(bench_cpus().first);
  const std::string instance = unique_name("iceoryx-rtt");
  shared_control ctl;
  int status = 0;
  {
    publisher ping(service(instance, "ping"), lossless_publisher());
    subscriber pong(service(instance, "pong"), lossless_subscriber());
    child_process child("iceoryx_echo", {instance}, {ctl.fd()});
    start(ctl.get(), &child);
    until_subscribed(pong);
    spin_until([&] { return ping.hasSubscribers(); }, &child);
    bool ok = true;
    ping_pong(state, [&](std::uint64_t v) { ok = send(ping, v) && ok; }, [&] { return receive(pong); });
    status = child.wait();
    if (!ok) status = 100;
  }
  if (status != 0) state.SkipWithError("the echo process failed (or iceoryx refused a loan)");
}

SHMRING_CHILD(iceoryx_echo) {
  shared_control ctl(child_fd_base);
  child_runtime("echo");
  subscriber ping(service(args.at(0), "ping"), lossless_subscriber());
  publisher pong(service(args.at(0), "pong"), lossless_publisher());
  until_subscribed(ping);
  bool ok = true;
  echo(ctl.get(), [&] { return receive(ping); }, [&](std::uint64_t v) { ok = send(pong, v) && ok; });
  return ok ? 0 : 3;
}

}  // namespace shmring_bench

#endif  // SHMRING_BENCH_HAVE_ICEORYX
