// The load generator of bench/asyncio/net/compare.py: ping-pong over many TCP connections.
//
//   net_loadgen --port P [--host 127.0.0.1] [--connections 100] [--size 64] [--duration 5]
//               [--warmup 1] [--threads 1] [--engine epoll|uring] [--server-pid P]
//   net_loadgen --port P --idle N [--hold 30] [--size 64]
//   net_loadgen --echo-server [--port 0]
//
// --echo-server is no load at all but the reference server: the least an echo server on
// epoll can do (one read and one write per message, level-triggered, up to 1,024 events per
// epoll_wait), under the same contract as the others (prints "PORT <n>", stops on SIGTERM or
// SIGINT). It is the floor the servers under test are measured against, in round trips a
// second and in syscalls per round trip, and, with the load generator facing it, the
// harness's own ceiling.
//
// Ping-pong: each connection writes `size` bytes, reads until `size` bytes came back, and
// starts again; every connection always has exactly one message in flight. Once every
// connection is up, it warms up, prints "WARM" (so that a driver can start sampling the
// server), counts the round trips of the next `duration` seconds and prints
//   RESULT rtps=<n> median=<n> clean=<n> slices=<n> clean_slices=<n> others=<cores>
//          connections=<n> size=<n> errors=<n> seconds=<s> rounds=<n> cpu=<cores> up=<n>
//          engine=<epoll|uring>
// where rtps is the mean over the measured seconds, median the median of their slices of
// 0.5 s (a tenth of them when shorter, 0.1 s at least), clean (with --server-pid P) the median of
// the slices during which other work on the machine took at most a quarter of a core (others: what
// it took on average, in cores), and cpu is the CPU this process took over the measured seconds, in
// cores: a figure near 1 per thread means the load generator, not the server, may be the
// bottleneck.
//
// Idle (--idle N): opens N connections, does one ping-pong on each (so the server has
// accepted it and set it up), prints "READY connections=<n> errors=<n>", then holds them
// open for --hold seconds or until SIGTERM/SIGINT, closes them and prints RESULT.
//
// It is built to stay out of the way: level-triggered epoll with up to 1,024 events a call,
// one read and one write per round trip on readiness (no read until EAGAIN, which would cost
// a syscall more), TCP_NODELAY, no library beyond libc, buffers allocated once. A message's
// bytes are the same filler but for its first and last bytes, a tag of the connection and
// round, which is what is checked on the way back. Connections are opened non-blocking, at
// most 512 unanswered at once, so that a burst of SYNs does not overflow the server's
// accept queue into one-second retransmits.
//
// Why it cannot get much cheaper than the servers it drives: on loopback about 95% of a
// round trip's CPU is the kernel's TCP path, and each side's send also pays the peer's
// receive (the loopback device delivers in the sender's context), so the client's cost per
// round trip is about that of the floor server (--echo-server), and against a server that
// fast both cores saturate together. --engine uring batches instead (raw io_uring, one
// io_uring_enter a turn submitting the next send and receive of every connection whose echo
// came back and reaping every completion, DEFER_TASKRUN, receives armed poll-first): it
// saves the syscalls but not the TCP path, and measured within 2% of epoll on Linux 6.18
// (4.7 us of CPU per round trip on either side at 100 x 64 B), so epoll stays the default.
// Where there are cores to spare, --threads spreads the connections over more of them.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::size_t connections = 100;
  std::size_t size = 64;
  double duration = 5;
  double warmup = 1;
  std::size_t threads = 1;
  std::size_t idle = 0;  // > 0: the idle mode, with this many connections
  double hold = 30;
  bool uring = false;  // --engine uring, or epoll (the default)
  bool echo_server = false;
  int server_pid = 0;  // > 0: slices where other work took the cores are set apart
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "net_loadgen: %s\nusage: net_loadgen --port P [--host H] [--connections N] "
               "[--size BYTES] [--duration S] [--warmup S] [--threads N]\n"
               "                   [--engine epoll|uring] [--server-pid P]\n"
               "       net_loadgen --port P --idle N [--hold S] [--size BYTES]\n"
               "       net_loadgen --echo-server [--port P]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--echo-server") {
      o.echo_server = true;
      continue;
    }
    if (i + 1 >= argc) usage(("missing the value of " + std::string(arg)).c_str());
    const char* value = argv[++i];
    if (arg == "--host") {
      o.host = value;
    } else if (arg == "--port") {
      o.port = std::atoi(value);
    } else if (arg == "--connections") {
      o.connections = std::strtoul(value, nullptr, 10);
    } else if (arg == "--size") {
      o.size = std::strtoul(value, nullptr, 10);
    } else if (arg == "--duration") {
      o.duration = std::atof(value);
    } else if (arg == "--warmup") {
      o.warmup = std::atof(value);
    } else if (arg == "--threads") {
      o.threads = std::strtoul(value, nullptr, 10);
    } else if (arg == "--idle") {
      o.idle = std::strtoul(value, nullptr, 10);
    } else if (arg == "--hold") {
      o.hold = std::atof(value);
    } else if (arg == "--server-pid") {
      o.server_pid = std::atoi(value);
    } else if (arg == "--engine") {
      if (std::string_view(value) != "uring" && std::string_view(value) != "epoll") {
        usage("--engine: uring or epoll");
      }
      o.uring = std::string_view(value) == "uring";
    } else {
      usage(("unknown option " + std::string(arg)).c_str());
    }
  }
  if (o.echo_server) return o;
  if (o.port <= 0 || o.port > 65535) usage("--port is required");
  if (o.size == 0) usage("--size must be at least 1");
  if (o.idle > 0) o.connections = o.idle;
  if (o.connections == 0) usage("--connections must be at least 1");
  if (o.threads == 0) o.threads = 1;
  if (o.threads > o.connections) o.threads = o.connections;
  return o;
}

void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// CPU seconds (user + system) a process has taken, from /proc/PID/stat; -1 if it is gone.
double process_cpu_seconds(int pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (!f) return -1;
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');  // the name, in parentheses, may hold spaces
  unsigned long utime = 0, stime = 0;
  if (!p || std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                        &stime) != 2) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds the whole machine has been busy, steal (other guests) included, /proc/stat.
double machine_busy_seconds() {
  FILE* f = std::fopen("/proc/stat", "r");
  if (!f) return -1;
  unsigned long long v[8] = {};
  const int got = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                              &v[3], &v[4], &v[5], &v[6], &v[7]);
  std::fclose(f);
  if (got < 4) return -1;
  const auto busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];  // all but idle and iowait
  return static_cast<double>(busy) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// The two checked bytes of a message, from its connection and round.
std::uint8_t head_tag(std::uint32_t id, std::uint32_t round) {
  return static_cast<std::uint8_t>(id * 131u + round * 7u + 1u);
}
std::uint8_t tail_tag(std::uint32_t id, std::uint32_t round) {
  return static_cast<std::uint8_t>(~(id * 17u + round * 29u));
}

// A bare io_uring: the rings mapped, one submission queue entry at a time, one enter call
// that submits what is queued and waits, and a walk over the completions. Single-threaded:
// the thread that calls init() is the only one that may use it (SINGLE_ISSUER).
class Ring {
 public:
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring() {
    if (m_sqes) munmap(m_sqes, m_sqes_size);
    if (m_cq_ptr && m_cq_ptr != m_sq_ptr) munmap(m_cq_ptr, m_cq_size);
    if (m_sq_ptr) munmap(m_sq_ptr, m_sq_size);
    if (m_fd >= 0) close(m_fd);
  }

  // Room for `entries` queued submissions and twice as many completions. False where the
  // kernel has no io_uring (or it is disabled, or too old for the timeout on a wait).
  bool init(unsigned entries) {
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    p.cq_entries = entries * 2;
    m_fd = static_cast<int>(syscall(__NR_io_uring_setup, entries, &p));
    if (m_fd < 0) {  // before Linux 6.1: no DEFER_TASKRUN
      p = io_uring_params{};
      p.flags = IORING_SETUP_CQSIZE;
      p.cq_entries = entries * 2;
      m_fd = static_cast<int>(syscall(__NR_io_uring_setup, entries, &p));
    }
    if (m_fd < 0 || !(p.features & IORING_FEAT_EXT_ARG)) return false;
    m_sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    m_cq_size = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
    const bool single = p.features & IORING_FEAT_SINGLE_MMAP;
    if (single) m_sq_size = m_cq_size = std::max(m_sq_size, m_cq_size);
    m_sq_ptr = map(m_sq_size, IORING_OFF_SQ_RING);
    m_cq_ptr = single ? m_sq_ptr : map(m_cq_size, IORING_OFF_CQ_RING);
    m_sqes_size = p.sq_entries * sizeof(io_uring_sqe);
    m_sqes = static_cast<io_uring_sqe*>(map(m_sqes_size, IORING_OFF_SQES));
    if (!m_sq_ptr || !m_cq_ptr || !m_sqes) return false;
    auto* sq = static_cast<char*>(m_sq_ptr);
    auto* cq = static_cast<char*>(m_cq_ptr);
    m_sq_head = reinterpret_cast<unsigned*>(sq + p.sq_off.head);
    m_sq_tail = reinterpret_cast<unsigned*>(sq + p.sq_off.tail);
    m_sq_mask = *reinterpret_cast<unsigned*>(sq + p.sq_off.ring_mask);
    m_sq_entries = p.sq_entries;
    auto* array = reinterpret_cast<unsigned*>(sq + p.sq_off.array);
    for (unsigned i = 0; i < p.sq_entries; ++i) array[i] = i;
    m_cq_head = reinterpret_cast<unsigned*>(cq + p.cq_off.head);
    m_cq_tail = reinterpret_cast<unsigned*>(cq + p.cq_off.tail);
    m_cq_mask = *reinterpret_cast<unsigned*>(cq + p.cq_off.ring_mask);
    m_cqes = reinterpret_cast<io_uring_cqe*>(cq + p.cq_off.cqes);
    m_tail = *m_sq_tail;
    return true;
  }

  // A cleared entry to fill, submitted by the next enter(); when the queue is full, what
  // is queued is submitted first.
  io_uring_sqe* next() {
    if (m_tail - __atomic_load_n(m_sq_head, __ATOMIC_ACQUIRE) >= m_sq_entries) enter(0, nullptr);
    io_uring_sqe* sqe = &m_sqes[m_tail & m_sq_mask];
    ++m_tail;
    std::memset(sqe, 0, sizeof *sqe);
    return sqe;
  }

  // Submits what is queued and waits for `wait` completions, or until `timeout`.
  void enter(unsigned wait, const timespec* timeout) {
    __atomic_store_n(m_sq_tail, m_tail, __ATOMIC_RELEASE);
    const unsigned queued = m_tail - __atomic_load_n(m_sq_head, __ATOMIC_ACQUIRE);
    io_uring_getevents_arg arg{};
    arg.ts = reinterpret_cast<std::uint64_t>(timeout);
    syscall(__NR_io_uring_enter, m_fd, queued, wait, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
            &arg, sizeof arg);
  }

  // Calls f(cqe) for each completion there is. f may queue new entries.
  template <class F>
  void reap(F&& f) {
    unsigned head = *m_cq_head;
    const unsigned tail = __atomic_load_n(m_cq_tail, __ATOMIC_ACQUIRE);
    for (; head != tail; ++head) f(m_cqes[head & m_cq_mask]);
    __atomic_store_n(m_cq_head, head, __ATOMIC_RELEASE);
  }

 private:
  void* map(std::size_t size, off_t offset) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, m_fd, offset);
    return p == MAP_FAILED ? nullptr : p;
  }

  int m_fd = -1;
  void* m_sq_ptr = nullptr;
  void* m_cq_ptr = nullptr;
  std::size_t m_sq_size = 0;
  std::size_t m_cq_size = 0;
  std::size_t m_sqes_size = 0;
  io_uring_sqe* m_sqes = nullptr;
  unsigned* m_sq_head = nullptr;
  unsigned* m_sq_tail = nullptr;
  unsigned m_sq_mask = 0;
  unsigned m_sq_entries = 0;
  unsigned m_tail = 0;  // ours, published to *m_sq_tail by enter()
  unsigned* m_cq_head = nullptr;
  unsigned* m_cq_tail = nullptr;
  unsigned m_cq_mask = 0;
  io_uring_cqe* m_cqes = nullptr;
};

enum class State : std::uint8_t { connecting, running, idle, closed };

struct Conn {
  int fd = -1;
  std::uint32_t id = 0;
  std::uint32_t round = 0;
  std::uint32_t sent = 0;
  std::uint32_t received = 0;
  State state = State::connecting;
  bool settled = false;   // up, or failed before it was
  bool want_out = false;  // EPOLLOUT is in the interest set (a write was cut short)
};

// What the main thread reads of a worker while it runs; each field has one writer.
struct alignas(64) Counters {
  std::atomic<std::uint64_t> rounds{0};
  std::atomic<std::uint32_t> up{0};       // connected (ping-pong) or answered once (idle)
  std::atomic<std::uint32_t> errors{0};   // failed connects, resets, EOFs, wrong bytes
  std::atomic<std::uint32_t> settled{0};  // up + failed: connection attempts that ended
};

std::atomic<bool> g_stop{false};

class Worker {
 public:
  Worker(const Options& o, const sockaddr_in& addr, std::uint32_t first, std::uint32_t count)
      : m_opt(o),
        m_addr(addr),
        m_first(first),
        m_conns(count),
        m_send(o.size, 'x'),
        m_recv(o.size < 65536 ? 65536 : o.size) {
    m_ep = epoll_create1(EPOLL_CLOEXEC);
    for (std::uint32_t i = 0; i < count; ++i) m_conns[i].id = first + i;
  }
  ~Worker() {
    for (auto& c : m_conns) {
      if (c.fd >= 0) close(c.fd);
    }
    close(m_ep);
  }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  Counters& counters() { return m_counters; }

  // Whether the ping-pong ran on io_uring; read once run() has returned (joined).
  bool uring() const { return m_uring; }

  void run() {
    if (m_opt.uring && !m_opt.idle) {
      // The ring is made here: with SINGLE_ISSUER only its maker's thread may enter it.
      const auto want = static_cast<unsigned>(std::max<std::size_t>(2 * m_conns.size(), 64));
      unsigned entries = 64;
      while (entries < want && entries < 32768) entries *= 2;
      m_ring = std::make_unique<Ring>();
      m_uring = m_ring->init(entries);
      if (!m_uring) m_ring.reset();
    }
    // Connections open on epoll, then, with io_uring, leave it once all are up.
    constexpr int kBatch = 1024;
    std::vector<epoll_event> events(kBatch);
    const std::size_t max_pending = 512 / m_opt.threads + 16;
    while (!g_stop.load(std::memory_order_relaxed)) {
      if (m_uring && m_next == m_conns.size() && m_pending == 0) return run_uring();
      while (m_next < m_conns.size() && m_pending < max_pending) open(m_conns[m_next++]);
      const int n = epoll_wait(m_ep, events.data(), kBatch, 50);
      for (int i = 0; i < n; ++i) handle(m_conns[events[i].data.u32], events[i].events);
    }
  }

 private:
  void add_error(const char* what, const Conn& c, int err) {
    const auto e = m_counters.errors.load(std::memory_order_relaxed);
    if (e < 5) {
      std::fprintf(stderr, "net_loadgen: connection %u: %s%s%s\n", c.id, what, err ? ": " : "",
                   err ? std::strerror(err) : "");
    }
    m_counters.errors.store(e + 1, std::memory_order_relaxed);
  }

  void fail(Conn& c, const char* what, int err) {
    add_error(what, c, err);
    settle(c);
    close(c.fd);
    c.fd = -1;
    c.state = State::closed;
  }

  void settle(Conn& c) {
    if (c.settled) return;
    c.settled = true;
    --m_pending;
    m_counters.settled.store(m_counters.settled.load(std::memory_order_relaxed) + 1,
                             std::memory_order_relaxed);
  }

  void mark_up() {
    m_counters.up.store(m_counters.up.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
  }

  void open(Conn& c) {
    ++m_pending;
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return fail(c, "socket", errno);
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&m_addr), sizeof m_addr) != 0 &&
        errno != EINPROGRESS) {
      return fail(c, "connect", errno);
    }
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u32 = c.id - m_first;
    epoll_ctl(m_ep, EPOLL_CTL_ADD, c.fd, &ev);
  }

  void interest(Conn& c, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u32 = c.id - m_first;
    epoll_ctl(m_ep, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void handle(Conn& c, std::uint32_t events) {
    if (c.state == State::closed) return;
    if (c.state == State::connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return fail(c, "connect", err);
      c.state = m_opt.idle ? State::idle : State::running;
      if (!m_opt.idle) {
        settle(c);
        mark_up();
      }
      if (m_uring) {  // it waits for the others, and then for run_uring()
        epoll_ctl(m_ep, EPOLL_CTL_DEL, c.fd, nullptr);
        return;
      }
      interest(c, EPOLLIN);
      return send_message(c);
    }
    if ((events & EPOLLOUT) && c.want_out) {
      write_rest(c);
      if (c.state == State::closed) return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) read_some(c);
  }

  // io_uring: every connection always has its send or its receive (or both) in flight;
  // user_data is the connection's index, times two, plus one for a receive.
  void run_uring() {
    const std::size_t size = m_opt.size;
    m_sbufs.assign(m_conns.size() * size, 'x');
    m_rbufs.assign(m_conns.size() * size, 0);
    for (auto& c : m_conns) {
      if (c.state != State::running) continue;
      uring_message(c);
    }
    timespec timeout{0, 50'000'000};
    while (!g_stop.load(std::memory_order_relaxed)) {
      m_ring->enter(1, &timeout);
      m_ring->reap([this](const io_uring_cqe& cqe) { on_completion(cqe); });
    }
  }

  char* sbuf(const Conn& c) { return m_sbufs.data() + (c.id - m_first) * m_opt.size; }
  char* rbuf(const Conn& c) { return m_rbufs.data() + (c.id - m_first) * m_opt.size; }

  // The next message: tagged in the connection's own send buffer (a send that cannot go at
  // once reads it later), sent, and its echo's receive queued behind it.
  void uring_message(Conn& c) {
    char* out = sbuf(c);
    out[0] = static_cast<char>(head_tag(c.id, c.round));
    if (m_opt.size > 1) out[m_opt.size - 1] = static_cast<char>(tail_tag(c.id, c.round));
    c.sent = 0;
    c.received = 0;
    queue_send(c);
    queue_recv(c);
  }

  void queue_send(Conn& c) {
    io_uring_sqe* sqe = m_ring->next();
    sqe->opcode = IORING_OP_SEND;
    sqe->fd = c.fd;
    sqe->addr = reinterpret_cast<std::uint64_t>(sbuf(c) + c.sent);
    sqe->len = static_cast<std::uint32_t>(m_opt.size - c.sent);
    sqe->msg_flags = MSG_NOSIGNAL | MSG_WAITALL;
    sqe->user_data = std::uint64_t{c.id - m_first} * 2;
  }

  void queue_recv(Conn& c) {
    io_uring_sqe* sqe = m_ring->next();
    sqe->opcode = IORING_OP_RECV;
    sqe->fd = c.fd;
    sqe->addr = reinterpret_cast<std::uint64_t>(rbuf(c) + c.received);
    sqe->len = static_cast<std::uint32_t>(m_opt.size - c.received);
    sqe->ioprio = IORING_RECVSEND_POLL_FIRST;  // the echo is not there yet: skip the try
    sqe->user_data = std::uint64_t{c.id - m_first} * 2 + 1;
  }

  void on_completion(const io_uring_cqe& cqe) {
    Conn& c = m_conns[cqe.user_data / 2];
    if (c.state == State::closed) return;
    if (cqe.res < 0) return fail(c, cqe.user_data % 2 ? "recv" : "send", -cqe.res);
    const auto n = static_cast<std::uint32_t>(cqe.res);
    if (cqe.user_data % 2 == 0) {
      c.sent += n;
      if (c.sent < m_opt.size) queue_send(c);
      return;
    }
    if (n == 0) return fail(c, "the server closed the connection", 0);
    c.received += n;
    if (c.received < m_opt.size) return queue_recv(c);
    const char* in = rbuf(c);
    if (static_cast<std::uint8_t>(in[0]) != head_tag(c.id, c.round) ||
        static_cast<std::uint8_t>(in[m_opt.size - 1]) !=
            (m_opt.size > 1 ? tail_tag(c.id, c.round) : head_tag(c.id, c.round))) {
      return fail(c, "wrong bytes echoed", 0);
    }
    if (c.sent != m_opt.size) return fail(c, "an echo came before its send completed", 0);
    ++c.round;
    m_counters.rounds.store(m_counters.rounds.load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
    uring_message(c);
  }

  void send_message(Conn& c) {
    c.sent = 0;
    write_rest(c);
  }

  void write_rest(Conn& c) {
    const std::size_t size = m_opt.size;
    // The filler is shared; only the two tag bytes are this message's.
    m_send[0] = static_cast<char>(head_tag(c.id, c.round));
    if (size > 1) m_send[size - 1] = static_cast<char>(tail_tag(c.id, c.round));
    const ssize_t n = write(c.fd, m_send.data() + c.sent, size - c.sent);
    if (n < 0 && errno != EAGAIN) return fail(c, "write", errno);
    if (n > 0) c.sent += static_cast<std::uint32_t>(n);
    const bool done = c.sent == size;
    if (done != !c.want_out) {
      c.want_out = !done;
      interest(c, done ? EPOLLIN : EPOLLIN | EPOLLOUT);
    }
  }

  void read_some(Conn& c) {
    const std::size_t want = m_opt.size - c.received;
    const ssize_t n = read(c.fd, m_recv.data(), want ? want : 1);
    if (n < 0) {
      if (errno == EAGAIN) return;
      return fail(c, "read", errno);
    }
    if (n == 0) return fail(c, "the server closed the connection", 0);
    const auto got = static_cast<std::uint32_t>(n);
    if (c.received == 0 && static_cast<std::uint8_t>(m_recv[0]) != head_tag(c.id, c.round)) {
      return fail(c, "wrong first byte echoed", 0);
    }
    c.received += got;
    if (c.received < m_opt.size) return;
    if (m_opt.size > 1 && static_cast<std::uint8_t>(m_recv[got - 1]) != tail_tag(c.id, c.round)) {
      return fail(c, "wrong last byte echoed", 0);
    }
    c.received = 0;
    ++c.round;
    if (c.state == State::idle) {
      if (c.round == 1) {
        settle(c);
        mark_up();
      }
      return;  // answered once: stays open, silent
    }
    m_counters.rounds.store(m_counters.rounds.load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
    send_message(c);
  }

  const Options& m_opt;
  sockaddr_in m_addr;
  std::uint32_t m_first;
  std::vector<Conn> m_conns;
  std::vector<char> m_send;
  std::vector<char> m_recv;
  int m_ep = -1;
  std::size_t m_next = 0;     // the next connection to open
  std::size_t m_pending = 0;  // opened, not yet up or failed
  std::unique_ptr<Ring> m_ring;
  bool m_uring = false;
  std::vector<char> m_sbufs;  // io_uring: each connection's message, size bytes each
  std::vector<char> m_rbufs;  // and its echo
  Counters m_counters;
};

struct Totals {
  std::uint64_t rounds = 0;
  std::uint64_t up = 0;
  std::uint64_t errors = 0;
  std::uint64_t settled = 0;
};

Totals totals(const std::vector<std::unique_ptr<Worker>>& workers) {
  Totals t;
  for (const auto& w : workers) {
    auto& c = w->counters();
    t.rounds += c.rounds.load(std::memory_order_relaxed);
    t.up += c.up.load(std::memory_order_relaxed);
    t.errors += c.errors.load(std::memory_order_relaxed);
    t.settled += c.settled.load(std::memory_order_relaxed);
  }
  return t;
}

void sleep_for(double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

// Waits until every connection is up or failed, for at most `limit` seconds.
bool wait_settled(const std::vector<std::unique_ptr<Worker>>& workers, std::size_t n,
                  double limit) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(limit);
  while (totals(workers).settled < n) {
    if (Clock::now() > deadline) return false;
    sleep_for(0.005);
  }
  return true;
}

// Sleeps `seconds`, or less when SIGTERM or SIGINT comes (they are blocked in every thread).
void hold(double seconds) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(seconds);
  ts.tv_nsec = static_cast<long>((seconds - static_cast<double>(ts.tv_sec)) * 1e9);
  sigtimedwait(&set, nullptr, &ts);
}

// The reference echo server (--echo-server, see the top of the file). SIGTERM and SIGINT
// are blocked by main() and come through a signalfd.
int echo_server(const Options& opt) {
  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(opt.port));
  inet_pton(AF_INET, opt.host.c_str(), &addr.sin_addr);
  socklen_t len = sizeof addr;
  if (bind(lfd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(lfd, 4096) != 0 || getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("net_loadgen --echo-server");
    return 1;
  }
  std::printf("PORT %u\n", static_cast<unsigned>(ntohs(addr.sin_port)));
  std::fflush(stdout);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  const int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = lfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  ev.data.fd = sfd;
  epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
  std::vector<std::string> unsent;  // by descriptor: what a short write left
  std::vector<char> buf(65536);
  std::vector<epoll_event> events(1024);
  auto drop = [&](int fd) {
    close(fd);
    unsent[static_cast<std::size_t>(fd)].clear();
  };
  auto watch = [&](int fd, std::uint32_t what, int op) {
    epoll_event e{};
    e.events = what;
    e.data.fd = fd;
    epoll_ctl(ep, op, fd, &e);
  };
  for (;;) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == sfd) return 0;
      if (fd == lfd) {
        for (int c; (c = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) {
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          if (unsent.size() <= static_cast<std::size_t>(c)) unsent.resize(c + 1024);
          watch(c, EPOLLIN, EPOLL_CTL_ADD);
        }
        continue;
      }
      std::string& rest = unsent[static_cast<std::size_t>(fd)];
      if (!rest.empty()) {  // EPOLLOUT: finish the write, then read again
        const ssize_t w = write(fd, rest.data(), rest.size());
        if (w < 0 && errno != EAGAIN) {
          drop(fd);
          continue;
        }
        rest.erase(0, w > 0 ? static_cast<std::size_t>(w) : 0);
        if (rest.empty()) watch(fd, EPOLLIN, EPOLL_CTL_MOD);
        continue;
      }
      const ssize_t r = read(fd, buf.data(), buf.size());
      if (r <= 0) {
        if (r == 0 || errno != EAGAIN) drop(fd);
        continue;
      }
      const ssize_t w = write(fd, buf.data(), static_cast<std::size_t>(r));
      if (w == r) continue;
      if (w < 0 && errno != EAGAIN) {
        drop(fd);
        continue;
      }
      const auto done = static_cast<std::size_t>(w > 0 ? w : 0);
      rest.assign(buf.data() + done, static_cast<std::size_t>(r) - done);
      watch(fd, EPOLLOUT, EPOLL_CTL_MOD);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  raise_fd_limit();
  signal(SIGPIPE, SIG_IGN);
  // Blocked before the workers start, so that they inherit the mask and hold() gets them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (opt.echo_server) return echo_server(opt);

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(opt.port));
  if (inet_pton(AF_INET, opt.host.c_str(), &addr.sin_addr) != 1)
    usage("--host: not an IPv4 address");

  std::vector<std::unique_ptr<Worker>> workers;
  std::size_t first = 0;
  for (std::size_t t = 0; t < opt.threads; ++t) {
    const std::size_t count = opt.connections / opt.threads + (t < opt.connections % opt.threads);
    workers.push_back(std::make_unique<Worker>(opt, addr, static_cast<std::uint32_t>(first),
                                               static_cast<std::uint32_t>(count)));
    first += count;
  }
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->run(); });
  auto finish = [&threads] {
    g_stop.store(true);
    for (auto& t : threads) t.join();
  };

  const bool all = wait_settled(workers, opt.connections, 60);
  if (opt.idle) {
    const Totals t = totals(workers);
    std::printf("READY connections=%llu errors=%llu%s\n", static_cast<unsigned long long>(t.up),
                static_cast<unsigned long long>(t.errors), all ? "" : " (timed out)");
    std::fflush(stdout);
    hold(opt.hold);
    finish();
    const Totals end = totals(workers);
    std::printf("RESULT idle=%llu errors=%llu\n", static_cast<unsigned long long>(t.up),
                static_cast<unsigned long long>(end.errors));
    return end.up == opt.connections && end.errors == 0 ? 0 : 1;
  }

  if (!all) std::fprintf(stderr, "net_loadgen: not every connection was up after 60 s\n");
  sleep_for(opt.warmup);
  std::printf("WARM\n");
  std::fflush(stdout);
  const Totals t0 = totals(workers);
  const double cpu0 = cpu_seconds();
  const auto start = Clock::now();
  // The measured seconds in slices of 0.5 s (ten at least, unless that is under 0.1 s, the
  // kernel's accounting being in 10 ms ticks): their median is a figure that a
  // neighbour's burst on a shared machine moves less than it moves the mean. With
  // --server-pid, each slice also learns what the rest of the machine took meanwhile (all
  // that was busy, less this process and the server), and the slices where that was more
  // than a quarter of a core are left out of a second median, "clean".
  const double slice = std::max(0.1, std::min(0.5, opt.duration / 10));
  std::vector<double> rates;
  std::vector<double> clean;
  double others_total = 0;
  auto mark = start;
  auto counted = t0.rounds;
  auto sample = [&] {
    return std::array<double, 3>{cpu_seconds(),
                                 opt.server_pid ? process_cpu_seconds(opt.server_pid) : 0,
                                 machine_busy_seconds()};
  };
  auto last = sample();
  for (;;) {
    const auto next =
        mark + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(slice));
    const auto end = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(opt.duration));
    std::this_thread::sleep_until(std::min(next, end));
    const auto now = Clock::now();
    const auto rounds = totals(workers).rounds;
    const auto cpu = sample();
    const double took = std::chrono::duration<double>(now - mark).count();
    if (took > slice / 2) {
      const double rate = static_cast<double>(rounds - counted) / took;
      rates.push_back(rate);
      const double others =
          std::max(0.0, (cpu[2] - last[2]) - (cpu[0] - last[0]) - (cpu[1] - last[1])) / took;
      others_total += others * took;
      if (opt.server_pid && cpu[1] >= 0 && others <= 0.25) clean.push_back(rate);
    }
    mark = now;
    last = cpu;
    counted = rounds;
    if (now >= end) break;
  }
  const Totals t1 = totals(workers);
  const double cpu1 = cpu_seconds();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  finish();
  const auto rounds = t1.rounds - t0.rounds;
  auto median = [](std::vector<double>& v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  bool uring = true;
  for (const auto& w : workers) uring = uring && w->uring();
  std::printf(
      "RESULT rtps=%.0f median=%.0f clean=%.0f slices=%zu clean_slices=%zu others=%.2f "
      "connections=%zu size=%zu errors=%llu seconds=%.3f rounds=%llu cpu=%.2f up=%llu "
      "engine=%s\n",
      static_cast<double>(rounds) / seconds, median(rates), median(clean), rates.size(),
      clean.size(), others_total / seconds, opt.connections, opt.size,
      static_cast<unsigned long long>(t1.errors), seconds, static_cast<unsigned long long>(rounds),
      (cpu1 - cpu0) / seconds, static_cast<unsigned long long>(t1.up), uring ? "uring" : "epoll");
  return t1.errors == 0 ? 0 : 1;
}
