// Tour section: Python's selectors documentation, ported: the echo server, then keys,
// maps and the errors a selector raises.
#include <batteries/selectors.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "../selectors_echo.hpp"
#include "tour.hpp"

namespace sel = batteries::selectors;

namespace {

// A client for the echo server, driven by the same selector: connect, send, read the echo.
struct Client {
  Client(sel::BaseSelector& selector, std::uint16_t port, std::string message)
      : m_selector(selector), m_message(std::move(message)) {
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);  // EINPROGRESS
    m_selector.register_(m_fd, sel::EVENT_WRITE,
                         examples::Callback([this](int, sel::Events) { on_connected(); }));
  }
  ~Client() {
    if (m_fd >= 0) ::close(m_fd);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void on_connected() {
    ::send(m_fd, m_message.data(), m_message.size(), MSG_NOSIGNAL);
    m_selector.modify(m_fd, sel::EVENT_READ,
                      examples::Callback([this](int, sel::Events) { on_echo(); }));
  }
  void on_echo() {
    char buffer[1000];
    const ssize_t n = ::recv(m_fd, buffer, sizeof buffer, 0);
    m_echo.append(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
    if (m_echo.size() >= m_message.size() || n <= 0) {
      fmt::print("client got back {}\n", batteries::py_repr(m_echo));
      m_selector.unregister(m_fd);
      ::close(m_fd);  // the server sees end of file and closes its side
      m_fd = -1;
    }
  }

  sel::BaseSelector& m_selector;
  std::string m_message;
  std::string m_echo;
  int m_fd = -1;
};

}  // namespace

void tour::selectors() {
  heading("selectors: the echo server from Python's documentation");
  sel::DefaultSelector selector;
  examples::EchoServer server(selector, 0);
  fmt::print("listening on 127.0.0.1 (a free port), DefaultSelector is epoll on Linux\n");
  Client client(selector, server.port(), "hello, selectors");
  const bool done = examples::run_loop(
      selector, [&] { return server.connections_closed() == 1; }, 5.0);
  fmt::print("loop finished: {}\n", done ? "the client was served" : "timed out");

  heading("selectors: keys, the map, and Python's errors");
  int fds[2];
  if (::pipe(fds) != 0) batteries::raise_errno();
  const int r = fds[0], w = fds[1];
  sel::PollSelector poll;
  // key = sel.register(r, EVENT_READ, data="reader")
  const sel::SelectorKey key = poll.register_(r, sel::EVENT_READ, std::string("reader"));
  fmt::print("sel.register(r, EVENT_READ, data='reader') -> {}\n", key);
  fmt::print("key.data = {}\n", batteries::py_repr(std::any_cast<std::string>(key.data)));
  fmt::print("len(sel.get_map()) = {}, r in sel.get_map() -> {}\n", poll.get_map().size(),
             poll.get_map().contains(r) ? "True" : "False");
  fmt::print("sel.select(timeout=0) -> {} ready\n", poll.select(0).size());
  (void)::write(w, "x", 1);
  for (const auto& [k, mask] : poll.select(0)) {
    fmt::print("after a write: ready fd {} with mask {} (EVENT_READ)\n", k.fd, mask);
  }
  auto show = [](const char* python, auto&& call) {
    try {
      call();
    } catch (const batteries::Exception& e) {
      fmt::print("{} -> {}: {}\n", python, e.type_name(), e.what());
    }
  };
  show("sel.register(r, EVENT_WRITE)", [&] { poll.register_(r, sel::EVENT_WRITE); });
  show("sel.register(w, 4)", [&] { poll.register_(w, sel::Events(4)); });
  show("sel.register(-1, EVENT_READ)", [&] { poll.register_(-1, sel::EVENT_READ); });
  show("sel.unregister(w)", [&] { poll.unregister(w); });
  poll.close();
  show("sel.close(); sel.get_key(r)", [&] { (void)poll.get_key(r); });
  ::close(r);
  ::close(w);
}
