// The peers, measured by the same harness as shmring (harness/, workloads/) with the same parameters:
// boost::lockfree's spsc_queue between two threads and placed in shared memory between two processes, atomic_queue between two
// threads, Boost.Interprocess message_queue, a pipe, a Unix domain socket pair and a POSIX message queue between two
// processes; and the floor for a round trip, one cache line bounced between the two cores.
#include "harness/control.hpp"
#include "harness/counters.hpp"
#include "harness/cores.hpp"
#include "harness/fail.hpp"
#include "harness/process.hpp"
#include "harness/registration.hpp"
#include "harness/round_trip.hpp"
#include "workloads/element_rounds.hpp"
#include "workloads/elements.hpp"
#include "workloads/message_rounds.hpp"
#include "workloads/messages.hpp"
#include "workloads/params.hpp"

#include <boost/interprocess/ipc/message_queue.hpp>
#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/lockfree/spsc_queue.hpp>

#if __has_include(<atomic_queue/atomic_queue.h>)
#include <atomic_queue/atomic_queue.h>
#define SHMRING_BENCH_HAVE_ATOMIC_QUEUE 1
#else
#define SHMRING_BENCH_HAVE_ATOMIC_QUEUE 0
#endif

#include <cerrno>
#include <fstream>
#include <string>
#include <thread>

#include <fcntl.h>
#include <mqueue.h>
#include <sys/socket.h>
#include <unistd.h>

namespace shmring_bench {
namespace {

namespace bip = boost::interprocess;

// ---------------------------------------------------------------------------------------------- boost::lockfree

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

template <class E>
int boost_spsc_consume(const std::string& name, control& ctl) {
  bip::managed_shared_memory seg(bip::open_only, name.c_str());
  auto* q = seg.find<boost_spsc<E>>("q").first;
  if (q == nullptr) return 2;
  consume_rounds<E>(ctl, [&] { return boost_pop(*q); });
  return 0;
}

BENCH_CHILD(boost_spsc_consumer) {
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

BENCH_CHILD(boost_spsc_echo) {
  shared_control ctl(child_fd_base);
  bip::managed_shared_memory seg(bip::open_only, args.at(0).c_str());
  auto* ping = seg.find<boost_spsc<elem8>>("ping").first;
  auto* pong = seg.find<boost_spsc<elem8>>("pong").first;
  if (ping == nullptr || pong == nullptr) return 2;
  echo(ctl.get(), [&] { return boost_pop(*ping); }, [&](std::uint64_t v) { boost_push(*pong, v); });
  return 0;
}

// ---------------------------------------------------------------------------------------------- atomic_queue

#if SHMRING_BENCH_HAVE_ATOMIC_QUEUE
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
#endif

// ---------------------------------------------------------------------------------------------- byte streams

void write_full(int fd, const void* p, std::size_t n) {
  const auto* b = static_cast<const char*>(p);
  while (n != 0) {
    const ssize_t k = ::write(fd, b, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      die("write failed: " + std::string(std::strerror(errno)));
    }
    b += k;
    n -= static_cast<std::size_t>(k);
  }
}

void read_full(int fd, void* p, std::size_t n) {
  auto* b = static_cast<char*>(p);
  while (n != 0) {
    const ssize_t k = ::read(fd, b, n);
    if (k <= 0) {
      if (k < 0 && errno == EINTR) continue;
      die(k == 0 ? "read: the peer closed its end" : "read failed: " + std::string(std::strerror(errno)));
    }
    b += k;
    n -= static_cast<std::size_t>(k);
  }
}

enum class stream_kind : int { pipe = 0, unix_socket = 1 };

long read_long(const char* path, long fallback) {
  std::ifstream f(path);
  long v = fallback;
  return (f >> v) ? v : fallback;
}

/// Two descriptors {read end, write end} for one direction: a pipe holding `bytes` (or as much as pipe-max-size
/// allows), or one socket pair (SOCK_STREAM; both ends are read-write, the kernel's default buffer sizes).
std::pair<int, int> make_stream(stream_kind k, std::size_t bytes) {
  int fds[2];
  if (k == stream_kind::pipe) {
    if (::pipe2(fds, O_CLOEXEC) != 0) die("pipe2 failed");
    if (::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(bytes)) < 0)
      (void)::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(read_long("/proc/sys/fs/pipe-max-size", 1 << 20)));
    return {fds[0], fds[1]};
  }
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) die("socketpair failed");
  return {fds[1], fds[0]};  // we write fds[0], the child reads fds[1]
}

/// The bytes a stream holds: the pipe's size, the socket's send buffer (as the kernel accounts it).
long stream_bytes(stream_kind k, int wr) {
  if (k == stream_kind::pipe) return ::fcntl(wr, F_GETPIPE_SZ);
  int v = 0;
  socklen_t len = sizeof v;
  return ::getsockopt(wr, SOL_SOCKET, SO_SNDBUF, &v, &len) == 0 ? v : -1;
}

/// Producer here, consumer in a child: one write and one read of `size` bytes per message.
template <stream_kind K>
void BM_stream_process(benchmark::State& state, std::size_t size) {
  scoped_pin pin(bench_cpus().first);
  shared_control ctl;
  const auto ends = make_stream(K, msg_capacity);
  const int rd = ends.first, wr = ends.second;  // not a structured binding: clang 14 cannot capture one
  int status = 0;
  {
    child_process child("stream_consumer", {std::to_string(size)}, {ctl.fd(), rd});
    ::close(rd);
    produce_messages(state, ctl.get(), size, [&](const std::byte* p, std::size_t n) { write_full(wr, p, n); }, &child);
    status = child.wait();
  }
  finish_messages(state, ctl.get(), static_cast<std::uint64_t>(stream_bytes(K, wr)), status);
  ::close(wr);
}

BENCH_CHILD(stream_consumer) {
  shared_control ctl(child_fd_base);
  const int rd = child_fd_base + 1;
  const auto size = static_cast<std::size_t>(std::stoul(args.at(0)));
  page_buffer buf(size);
  std::byte* p = buf.data();
  consume_messages(ctl.get(), size, [&] {
    read_full(rd, p, size);
    return ends_of(p, size);
  });
  return 0;
}

/// Round trip of 8-byte messages over a pipe pair or one socket pair.
template <stream_kind K>
void BM_stream_rtt_process(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  shared_control ctl;
  int to_child_rd, to_child_wr, from_child_rd, from_child_wr;
  if (K == stream_kind::pipe) {
    std::tie(to_child_rd, to_child_wr) = make_stream(K, capacity * 8);
    std::tie(from_child_rd, from_child_wr) = make_stream(K, capacity * 8);
  } else {  // one socket pair carries both directions
    std::tie(to_child_rd, to_child_wr) = make_stream(K, capacity * 8);
    from_child_wr = to_child_rd;
    from_child_rd = to_child_wr;
  }
  int status = 0;
  {
    child_process child("stream_echo", {}, {ctl.fd(), to_child_rd, from_child_wr});
    start(ctl.get(), &child);
    ping_pong(
        state, [&](std::uint64_t v) { write_full(to_child_wr, &v, sizeof v); },
        [&] {
          std::uint64_t v;
          read_full(from_child_rd, &v, sizeof v);
          return v;
        });
    status = child.wait();
  }
  ::close(to_child_rd);
  ::close(to_child_wr);
  if (K == stream_kind::pipe) {  // the socket pair's two ends are closed above
    ::close(from_child_rd);
    ::close(from_child_wr);
  }
  if (status != 0) state.SkipWithError("the echo process failed");
}

BENCH_CHILD(stream_echo) {
  shared_control ctl(child_fd_base);
  const int rd = child_fd_base + 1, wr = child_fd_base + 2;
  echo(
      ctl.get(),
      [&] {
        std::uint64_t v;
        read_full(rd, &v, sizeof v);
        return v;
      },
      [&](std::uint64_t v) { write_full(wr, &v, sizeof v); });
  return 0;
}

// ---------------------------------------------------------------------------------------------- Boost message_queue

void BM_bip_mq_process(benchmark::State& state, std::size_t size) {
  scoped_pin pin(bench_cpus().first);
  const std::string name = unique_name("bip-mq");
  bip::message_queue::remove(name.c_str());
  shared_control ctl;
  int status = 0;
  {
    bip::message_queue mq(bip::create_only, name.c_str(), msg_capacity / size, size);
    child_process child("bip_mq_consumer", {name, std::to_string(size)}, {ctl.fd()});
    produce_messages(state, ctl.get(), size, [&](const std::byte* p, std::size_t n) { mq.send(p, n, 0); }, &child);
    status = child.wait();
  }
  bip::message_queue::remove(name.c_str());
  finish_messages(state, ctl.get(), msg_capacity, status);
}

BENCH_CHILD(bip_mq_consumer) {
  shared_control ctl(child_fd_base);
  bip::message_queue mq(bip::open_only, args.at(0).c_str());
  const auto size = static_cast<std::size_t>(std::stoul(args.at(1)));
  page_buffer buf(size);
  std::byte* p = buf.data();
  consume_messages(ctl.get(), size, [&] {
    bip::message_queue::size_type got = 0;
    unsigned prio = 0;
    mq.receive(p, size, got, prio);
    if (got != size) die("short Boost message_queue message");
    return ends_of(p, size);
  });
  return 0;
}

void BM_bip_mq_rtt_process(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  const std::string a = unique_name("bip-ping"), b = unique_name("bip-pong");
  bip::message_queue::remove(a.c_str());
  bip::message_queue::remove(b.c_str());
  shared_control ctl;
  int status = 0;
  {
    bip::message_queue ping(bip::create_only, a.c_str(), capacity, 8);
    bip::message_queue pong(bip::create_only, b.c_str(), capacity, 8);
    child_process child("bip_mq_echo", {a, b}, {ctl.fd()});
    start(ctl.get(), &child);
    ping_pong(
        state, [&](std::uint64_t v) { ping.send(&v, sizeof v, 0); },
        [&] {
          std::uint64_t v = 0;
          bip::message_queue::size_type got = 0;
          unsigned prio = 0;
          pong.receive(&v, sizeof v, got, prio);
          return v;
        });
    status = child.wait();
  }
  bip::message_queue::remove(a.c_str());
  bip::message_queue::remove(b.c_str());
  if (status != 0) state.SkipWithError("the echo process failed");
}

BENCH_CHILD(bip_mq_echo) {
  shared_control ctl(child_fd_base);
  bip::message_queue ping(bip::open_only, args.at(0).c_str());
  bip::message_queue pong(bip::open_only, args.at(1).c_str());
  echo(
      ctl.get(),
      [&] {
        std::uint64_t v = 0;
        bip::message_queue::size_type got = 0;
        unsigned prio = 0;
        ping.receive(&v, sizeof v, got, prio);
        return v;
      },
      [&](std::uint64_t v) { pong.send(&v, sizeof v, 0); });
  return 0;
}

// ---------------------------------------------------------------------------------------------- POSIX mq

/// Opens a new POSIX queue of msg_bytes messages holding `want` of them, or as many as the system allows
/// (/proc/sys/fs/mqueue/msg_max, 10 by default, for an unprivileged user; RLIMIT_MSGQUEUE for everyone). Returns
/// the descriptor; held is set to the number of messages obtained.
mqd_t open_mq(const std::string& name, std::size_t msg_bytes, long want, long& held) {
  const long size_max = read_long("/proc/sys/fs/mqueue/msgsize_max", 8192);
  if (static_cast<long>(msg_bytes) > size_max) die("POSIX mq: messages of " + std::to_string(msg_bytes) + " bytes exceed msgsize_max");
  const long msg_max = read_long("/proc/sys/fs/mqueue/msg_max", 10);
  for (long n : {want, std::min(want, 65536L), std::min(want, 4096L), std::min(want, 1024L), std::min(want, msg_max)}) {
    mq_attr attr{};
    attr.mq_maxmsg = n;
    attr.mq_msgsize = static_cast<long>(msg_bytes);
    const mqd_t q = ::mq_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &attr);
    if (q != static_cast<mqd_t>(-1)) {
      held = n;
      return q;
    }
    if (errno != EINVAL && errno != EMFILE && errno != ENOMEM) break;
  }
  die("mq_open(" + name + ") failed: " + std::strerror(errno));
}

void mq_send_all(mqd_t q, const void* p, std::size_t n) {
  while (::mq_send(q, static_cast<const char*>(p), n, 0) != 0)
    if (errno != EINTR) die("mq_send failed: " + std::string(std::strerror(errno)));
}

void mq_receive_all(mqd_t q, void* p, std::size_t n) {
  for (;;) {
    const ssize_t k = ::mq_receive(q, static_cast<char*>(p), n, nullptr);
    if (k == static_cast<ssize_t>(n)) return;
    if (k < 0 && errno == EINTR) continue;
    die("mq_receive failed or short: " + std::string(k < 0 ? std::strerror(errno) : "short message"));
  }
}

/// Messages up to msgsize_max (8 KiB by default): the 64 B and 1 KiB runs.
void BM_posix_mq_process(benchmark::State& state, std::size_t size) {
  scoped_pin pin(bench_cpus().first);
  const std::string name = "/" + unique_name("mq");
  long held = 0;
  const mqd_t q = open_mq(name, size, static_cast<long>(msg_capacity / size), held);
  shared_control ctl;
  int status = 0;
  {
    child_process child("posix_mq_consumer", {name, std::to_string(size)}, {ctl.fd()});
    produce_messages(state, ctl.get(), size, [&](const std::byte* p, std::size_t n) { mq_send_all(q, p, n); }, &child);
    status = child.wait();
  }
  ::mq_close(q);
  ::mq_unlink(name.c_str());
  finish_messages(state, ctl.get(), static_cast<std::uint64_t>(held) * size, status);
}

BENCH_CHILD(posix_mq_consumer) {
  shared_control ctl(child_fd_base);
  const mqd_t q = ::mq_open(args.at(0).c_str(), O_RDONLY);
  if (q == static_cast<mqd_t>(-1)) return 2;
  const auto size = static_cast<std::size_t>(std::stoul(args.at(1)));
  page_buffer buf(size);
  std::byte* p = buf.data();
  consume_messages(ctl.get(), size, [&] {
    mq_receive_all(q, p, size);
    return ends_of(p, size);
  });
  return 0;
}

void BM_posix_mq_rtt_process(benchmark::State& state) {
  scoped_pin pin(bench_cpus().first);
  const std::string a = "/" + unique_name("mq-ping"), b = "/" + unique_name("mq-pong");
  long held = 0;
  const mqd_t ping = open_mq(a, 8, static_cast<long>(capacity), held);
  const mqd_t pong = open_mq(b, 8, static_cast<long>(capacity), held);
  shared_control ctl;
  int status = 0;
  {
    child_process child("posix_mq_echo", {a, b}, {ctl.fd()});
    start(ctl.get(), &child);
    ping_pong(
        state, [&](std::uint64_t v) { mq_send_all(ping, &v, sizeof v); },
        [&] {
          std::uint64_t v = 0;
          mq_receive_all(pong, &v, sizeof v);
          return v;
        });
    status = child.wait();
  }
  ::mq_close(ping);
  ::mq_close(pong);
  ::mq_unlink(a.c_str());
  ::mq_unlink(b.c_str());
  if (status != 0) state.SkipWithError("the echo process failed");
}

BENCH_CHILD(posix_mq_echo) {
  shared_control ctl(child_fd_base);
  const mqd_t ping = ::mq_open(args.at(0).c_str(), O_RDONLY);
  const mqd_t pong = ::mq_open(args.at(1).c_str(), O_WRONLY);
  if (ping == static_cast<mqd_t>(-1) || pong == static_cast<mqd_t>(-1)) return 2;
  echo(
      ctl.get(),
      [&] {
        std::uint64_t v = 0;
        mq_receive_all(ping, &v, sizeof v);
        return v;
      },
      [&](std::uint64_t v) { mq_send_all(pong, &v, sizeof v); });
  return 0;
}

// ---------------------------------------------------------------------------------------------- the ceiling

/// What one core does alone with the same bytes: the producer's source message (stamped as in every message run)
/// copied with memcpy into successive places of a destination as large as the message ring's data area.
void BM_memcpy(benchmark::State& state, std::size_t size) {
  scoped_pin pin(bench_cpus().first);
  message_source src(size);
  page_buffer dst(msg_capacity);
  std::byte* d = dst.data();
  const std::uint64_t per_round = msg_round_bytes / size;
  std::uint64_t seq = 0, off = 0;
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < per_round; ++i) {
      std::memcpy(d + off, src.stamp(seq++), size);
      off = (off + size) & (msg_capacity - 1);
    }
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(d);
  const auto n = static_cast<std::int64_t>(state.iterations() * per_round);
  state.SetItemsProcessed(n);
  state.SetBytesProcessed(n * static_cast<std::int64_t>(size));
  state.counters["msg_bytes"] = static_cast<double>(size);
  state.counters["capacity_bytes"] = static_cast<double>(msg_capacity);
}

// ---------------------------------------------------------------------------------------------- the floor

/// One 8-byte word alone on a cache line, in a shared mapping. The benchmark thread writes 2k+1 and spins until it
/// reads 2k+2; the child spins until it reads an odd value and writes it + 1. Each round trip moves the line to the
/// other core and back: nothing can go between two processes faster. Plain load loops, no pause (the floor); the
/// `pause` variant spins with a CPU pause as every queue's wait loop does (on Zen 3 one pause is ~25 ns).
struct alignas(shmring::cache_line) bounce_line {
  std::atomic<std::uint64_t> word{0};
};

class shared_line {
 public:
  shared_line() : fd_(::memfd_create("shmring-bench-line", MFD_CLOEXEC)) {
    if (fd_ < 0 || ::ftruncate(fd_, sizeof(bounce_line)) != 0) die("memfd_create failed");
    map();
    ::new (static_cast<void*>(line_)) bounce_line();
  }
  explicit shared_line(int fd) : fd_(fd) { map(); }
  ~shared_line() {
    ::munmap(line_, sizeof(bounce_line));
    ::close(fd_);
  }
  shared_line(const shared_line&) = delete;
  shared_line& operator=(const shared_line&) = delete;
  [[nodiscard]] std::atomic<std::uint64_t>& word() const noexcept { return line_->word; }
  [[nodiscard]] int fd() const noexcept { return fd_; }

 private:
  void map() {
    void* p = ::mmap(nullptr, sizeof(bounce_line), PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) die("mmap failed");
    line_ = static_cast<bounce_line*>(p);
  }
  int fd_;
  bounce_line* line_ = nullptr;
};

void BM_cache_line_rtt_process(benchmark::State& state, bool pause) {
  scoped_pin pin(bench_cpus().first);
  shared_control ctl;
  shared_line line;
  auto& w = line.word();
  int status = 0;
  {
    child_process child("cache_line_echo", {pause ? "1" : "0"}, {ctl.fd(), line.fd()});
    start(ctl.get(), &child);
    std::uint64_t last = 0;
    ping_pong(
        state,
        [&](std::uint64_t v) {
          // release/acquire: pair with the child's acquire load and release store (the data is the word itself).
          if (v == quit) return w.store(quit, std::memory_order_release);
          last = 2 * v + 2;
          w.store(2 * v + 1, std::memory_order_release);
        },
        [&] {
          while (w.load(std::memory_order_acquire) != last)
            if (pause) cpu_relax();
          return (last - 2) / 2;
        });
    status = child.wait();
  }
  if (status != 0) state.SkipWithError("the echo process failed");
}

BENCH_CHILD(cache_line_echo) {
  shared_control ctl(child_fd_base);
  shared_line line(child_fd_base + 1);
  auto& w = line.word();
  const bool pause = args.at(0) == "1";
  ctl.get().ready.store(1, std::memory_order_release);  // pairs with the acquire load in start()
  for (std::uint64_t expect = 3;; expect += 2) {  // ping_pong's first sequence number is 1: 2*1+1
    std::uint64_t v;
    // acquire: pairs with the parent's release store of the ping.
    while ((v = w.load(std::memory_order_acquire)) != expect) {
      if (v == quit) return 0;
      if (pause) cpu_relax();
    }
    w.store(expect + 1, std::memory_order_release);  // release: pairs with the parent's acquire load
  }
}

}  // namespace
}  // namespace shmring_bench

using namespace shmring_bench;  // NOLINT: registration macros below read better without the qualification

BENCHMARK_TEMPLATE(BM_boost_spsc_thread, elem8)->Name("boost_spsc/thread/8B")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_boost_spsc_thread_batch, elem8)->Name("boost_spsc/thread/8B/batch")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_boost_spsc_process, elem8)->Name("boost_spsc/process/8B")->Apply(two_sided);
#if SHMRING_BENCH_HAVE_ATOMIC_QUEUE
BENCHMARK_TEMPLATE(BM_atomic_queue_thread, elem8)->Name("atomic_queue/thread/8B")->Apply(two_sided);
#endif
BENCHMARK_TEMPLATE(BM_boost_spsc_thread, elem64)->Name("boost_spsc/thread/64B")->Apply(two_sided);
BENCHMARK_TEMPLATE(BM_boost_spsc_process, elem64)->Name("boost_spsc/process/64B")->Apply(two_sided);
#if SHMRING_BENCH_HAVE_ATOMIC_QUEUE
BENCHMARK_TEMPLATE(BM_atomic_queue_thread, elem64)->Name("atomic_queue/thread/64B")->Apply(two_sided);
#endif

// Message sizes: one entry per size, named msg/<peer>/.../<size> (the report's throughput-by-size chart).
template <class Reg>
void by_size(const char* name, Reg reg, std::size_t max_size = ~std::size_t{0}) {
  for (const std::size_t s : msg_sizes)
    if (s <= max_size) reg(std::string(name) + "/" + size_name(s), s)->Apply(two_sided);
}

const bool message_peers_registered = [] {
  by_size("msg/memcpy", [](const std::string& n, std::size_t s) { return benchmark::RegisterBenchmark(n.c_str(), BM_memcpy, s); });
  by_size("msg/pipe/process",
          [](const std::string& n, std::size_t s) { return benchmark::RegisterBenchmark(n.c_str(), BM_stream_process<stream_kind::pipe>, s); });
  by_size("msg/unix_socket/process", [](const std::string& n, std::size_t s) {
    return benchmark::RegisterBenchmark(n.c_str(), BM_stream_process<stream_kind::unix_socket>, s);
  });
  by_size(
      "msg/posix_mq/process", [](const std::string& n, std::size_t s) { return benchmark::RegisterBenchmark(n.c_str(), BM_posix_mq_process, s); },
      static_cast<std::size_t>(read_long("/proc/sys/fs/mqueue/msgsize_max", 8192)));
  by_size("msg/bip_message_queue/process",
          [](const std::string& n, std::size_t s) { return benchmark::RegisterBenchmark(n.c_str(), BM_bip_mq_process, s); });
  return true;
}();

BENCHMARK_CAPTURE(BM_cache_line_rtt_process, floor, false)->Name("rtt/cache_line/process")->Apply(round_trip);
BENCHMARK_CAPTURE(BM_cache_line_rtt_process, pause, true)->Name("rtt/cache_line_pause/process")->Apply(round_trip);
BENCHMARK(BM_boost_spsc_rtt_thread)->Name("rtt/boost_spsc/thread")->Apply(round_trip);
BENCHMARK(BM_boost_spsc_rtt_process)->Name("rtt/boost_spsc/process")->Apply(round_trip);
#if SHMRING_BENCH_HAVE_ATOMIC_QUEUE
BENCHMARK(BM_atomic_queue_rtt_thread)->Name("rtt/atomic_queue/thread")->Apply(round_trip);
#endif
BENCHMARK_TEMPLATE(BM_stream_rtt_process, stream_kind::pipe)->Name("rtt/pipe/process")->Apply(round_trip);
BENCHMARK_TEMPLATE(BM_stream_rtt_process, stream_kind::unix_socket)->Name("rtt/unix_socket/process")->Apply(round_trip);
BENCHMARK(BM_posix_mq_rtt_process)->Name("rtt/posix_mq/process")->Apply(round_trip);
BENCHMARK(BM_bip_mq_rtt_process)->Name("rtt/bip_message_queue/process")->Apply(round_trip);
