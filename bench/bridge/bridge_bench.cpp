// shmring-bridge against raw ZeroMQ over loopback TCP, in one run (issue 17): throughput (messages/s, MB/s) and
// round-trip latency for 64 B, 1 KiB and 64 KiB messages. Raw: PUSH -> PULL between two processes (and a PUSH pair
// for the round trip). Bridge: producer -> ring -> send bridge -> recv bridge -> ring -> consumer, exactly-once on
// (journal, acknowledgements), and for the round trip two bridge pairs and an echo process.
// Usage: bridge_bench SHMRING-BRIDGE-EXE   (bench/bridge/run.sh builds and runs it)
#include <shmring/shmring.hpp>

#include <zmq.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using clk = std::chrono::steady_clock;

int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

std::string ep(int port) { return "tcp://127.0.0.1:" + std::to_string(port); }

pid_t spawn(const std::vector<std::string>& args) {
  const pid_t p = ::fork();
  if (p == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  return p;
}

void stop(pid_t p) {
  ::kill(p, SIGTERM);
  int st = 0;
  ::waitpid(p, &st, 0);
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "bridge_bench: %s\n", what);
    std::exit(1);
  }
}

// ---- raw ZeroMQ ------------------------------------------------------------------------------------------------

double raw_throughput(std::size_t size, std::uint64_t n) {
  const std::string e = ep(free_port());
  const pid_t child = ::fork();
  if (child == 0) {
    void* ctx = zmq_ctx_new();
    void* push = zmq_socket(ctx, ZMQ_PUSH);
    zmq_connect(push, e.c_str());
    std::vector<char> buf(size, 'x');
    for (std::uint64_t i = 0; i < n + 1; ++i) zmq_send(push, buf.data(), size, 0);
    zmq_close(push);  // default linger: everything is delivered first
    zmq_ctx_term(ctx);
    _exit(0);
  }
  void* ctx = zmq_ctx_new();
  void* pull = zmq_socket(ctx, ZMQ_PULL);
  zmq_bind(pull, e.c_str());
  std::vector<char> buf(size + 1);
  check(zmq_recv(pull, buf.data(), buf.size(), 0) == static_cast<int>(size), "raw warm-up");
  const auto t0 = clk::now();
  for (std::uint64_t i = 0; i < n; ++i) check(zmq_recv(pull, buf.data(), buf.size(), 0) == static_cast<int>(size), "raw recv");
  const double s = std::chrono::duration<double>(clk::now() - t0).count();
  zmq_close(pull);
  zmq_ctx_term(ctx);
  int st = 0;
  ::waitpid(child, &st, 0);
  return static_cast<double>(n) / s;
}

double raw_rtt_us(std::size_t size, int pings) {
  const std::string there = ep(free_port()), back = ep(free_port());
  const pid_t child = ::fork();
  if (child == 0) {  // echo
    void* ctx = zmq_ctx_new();
    void* in = zmq_socket(ctx, ZMQ_PULL);
    void* out = zmq_socket(ctx, ZMQ_PUSH);
    zmq_bind(in, there.c_str());
    zmq_connect(out, back.c_str());
    std::vector<char> buf(size + 1);
    for (int i = 0; i < pings + 1; ++i) {
      const int r = zmq_recv(in, buf.data(), buf.size(), 0);
      zmq_send(out, buf.data(), static_cast<std::size_t>(r), 0);
    }
    zmq_close(in);
    zmq_close(out);
    zmq_ctx_term(ctx);
    _exit(0);
  }
  void* ctx = zmq_ctx_new();
  void* out = zmq_socket(ctx, ZMQ_PUSH);
  void* in = zmq_socket(ctx, ZMQ_PULL);
  zmq_connect(out, there.c_str());
  zmq_bind(in, back.c_str());
  std::vector<char> buf(size + 1, 'y');
  std::vector<double> rtt;
  for (int i = 0; i < pings + 1; ++i) {
    const auto t0 = clk::now();
    zmq_send(out, buf.data(), size, 0);
    check(zmq_recv(in, buf.data(), buf.size(), 0) == static_cast<int>(size), "raw echo");
    if (i > 0) rtt.push_back(std::chrono::duration<double, std::micro>(clk::now() - t0).count());
  }
  zmq_close(out);
  zmq_close(in);
  zmq_ctx_term(ctx);
  int st = 0;
  ::waitpid(child, &st, 0);
  std::sort(rtt.begin(), rtt.end());
  return rtt[rtt.size() / 2];
}

// ---- the bridge pair ---------------------------------------------------------------------------------------

struct pair_of_bridges {
  std::string a, b, journal;
  pid_t recv = -1, send = -1;
  pair_of_bridges(const std::string& exe, const std::string& tag) {
    a = "bench-bridge-a-" + tag + "-" + std::to_string(::getpid());
    b = "bench-bridge-b-" + tag + "-" + std::to_string(::getpid());
    journal = "/dev/shm/shmbridge-" + b + ".journal";
    (void)shmring::remove(a);
    (void)shmring::remove(b);
    ::unlink(journal.c_str());
    shmring::options o;
    o.persistent = true;
    (void)shmring::message_consumer::create(a, 4u << 20, o);
    (void)shmring::message_consumer::create(b, 4u << 20, o);
    const std::string e = ep(free_port());
    recv = spawn({exe, "recv", "--ring", b, "--listen", e, "--journal", journal, "--status-interval", "0"});
    send = spawn({exe, "send", "--ring", a, "--to", e, "--status-interval", "0"});
  }
  ~pair_of_bridges() {
    stop(send);
    stop(recv);
    (void)shmring::remove(a);
    (void)shmring::remove(b);
    ::unlink(journal.c_str());
  }
};

double bridge_throughput(const std::string& exe, std::size_t size, std::uint64_t n) {
  pair_of_bridges br(exe, "t" + std::to_string(size));
  const pid_t child = ::fork();
  if (child == 0) {
    auto p = shmring::message_producer::open(br.a);
    std::vector<std::byte> buf(size, std::byte{'x'});
    for (std::uint64_t i = 0; i < n + 1; ++i) p.send(buf);
    _exit(0);
  }
  auto c = shmring::message_consumer::open(br.b);
  std::vector<std::byte> buf(size);
  check(c.receive(buf).length == size, "bridge warm-up");
  const auto t0 = clk::now();
  for (std::uint64_t i = 1; i <= n; ++i) {
    const auto m = c.receive(buf);
    check(m.length == size && m.sequence == i, "bridge: a message out of order");
  }
  const double s = std::chrono::duration<double>(clk::now() - t0).count();
  int st = 0;
  ::waitpid(child, &st, 0);
  return static_cast<double>(n) / s;
}

double bridge_rtt_us(const std::string& exe, std::size_t size, int pings) {
  pair_of_bridges there(exe, "p" + std::to_string(size)), back(exe, "q" + std::to_string(size));
  const pid_t child = ::fork();
  if (child == 0) {  // echo: ring there.b -> ring back.a
    auto in = shmring::message_consumer::open(there.b);
    auto out = shmring::message_producer::open(back.a);
    std::vector<std::byte> buf(size);
    for (int i = 0; i < pings + 1; ++i) {
      const auto m = in.receive(buf);
      out.send(std::span(buf.data(), m.length));
    }
    _exit(0);
  }
  auto out = shmring::message_producer::open(there.a);
  auto in = shmring::message_consumer::open(back.b);
  std::vector<std::byte> buf(size, std::byte{'y'});
  std::vector<double> rtt;
  for (int i = 0; i < pings + 1; ++i) {
    const auto t0 = clk::now();
    out.send(buf);
    check(in.receive(buf).length == size, "bridge echo");
    if (i > 0) rtt.push_back(std::chrono::duration<double, std::micro>(clk::now() - t0).count());
  }
  int st = 0;
  ::waitpid(child, &st, 0);
  std::sort(rtt.begin(), rtt.end());
  return rtt[rtt.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bridge_bench SHMRING-BRIDGE-EXE [scale]\n");
    return 2;
  }
  const std::string exe = argv[1];
  const double scale = argc > 2 ? std::atof(argv[2]) : 1.0;
  std::printf("| size | raw ZeroMQ msg/s | bridge msg/s | bridge / raw | raw MB/s | bridge MB/s | raw RTT median us | bridge RTT median us |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const std::size_t size : {std::size_t{64}, std::size_t{1024}, std::size_t{65536}}) {
    const auto n = static_cast<std::uint64_t>(scale * std::min<double>(1'000'000.0, 512.0 * 1024 * 1024 / static_cast<double>(size)));
    const double raw = raw_throughput(size, n);
    const double bridge = bridge_throughput(exe, size, n);
    const double raw_rtt = raw_rtt_us(size, 2000);
    const double bridge_rtt = bridge_rtt_us(exe, size, 2000);
    std::printf("| %zu B | %.0f | %.0f | %.0f%% | %.1f | %.1f | %.1f | %.1f |\n", size, raw, bridge, 100 * bridge / raw,
                raw * static_cast<double>(size) / 1e6, bridge * static_cast<double>(size) / 1e6, raw_rtt, bridge_rtt);
    std::fflush(stdout);
  }
  return 0;
}
