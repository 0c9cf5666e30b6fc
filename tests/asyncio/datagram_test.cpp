// Tests of create_datagram_endpoint and the datagram transport: UDP over loopback (IPv4 and
// IPv6), AF_UNIX datagrams, flow control, errors, and a CPython 3.11 peer.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <batteries/asyncio.hpp>
#include <batteries/asyncio/transports.hpp>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "fd_leaks.hpp"
#include "python.hpp"
#include "raises.hpp"

namespace aio = batteries::asyncio;
using aio::Address;
using aio::DatagramEndpointOptions;
using aio::DatagramTransport;
using aio::InetAddress;
using aio::Socket;
using aio::Task;
using batteries::OSError;
using batteries::TypeError;
using batteries::ValueError;

namespace {

using batteries::testing::NoFdLeak;

bool have_ipv6_loopback() {
  try {
    Socket s(AF_INET6, SOCK_DGRAM);
    s.bind(InetAddress{"::1", 0});
    return true;
  } catch (const OSError&) {
    return false;
  }
}

std::uint16_t port_of(const Address& address) { return std::get<InetAddress>(address).port; }

Address extra_address(const DatagramTransport& transport, std::string_view name) {
  return std::any_cast<Address>(transport.get_extra_info(name));
}

Socket* extra_socket(const DatagramTransport& transport) {
  return std::any_cast<Socket*>(transport.get_extra_info("socket"));
}

// Waits (a bounded number of loop turns, 10 s at most) until done() holds. The callable is
// taken by value, as it is: no converted temporary in a co_await operand (GCC 12, sockets.hpp).
template <class F>
Task<bool> wait_until(F done, double timeout = 10.0) {
  auto& loop = aio::get_running_loop();
  const double deadline = loop.time() + timeout;
  while (!done()) {
    if (loop.time() > deadline) co_return false;
    co_await aio::sleep(0.001);
  }
  co_return true;
}

// Records everything the transport tells it.
struct Recorder : aio::DatagramProtocol {
  std::shared_ptr<DatagramTransport> transport;
  int made = 0;
  std::vector<std::pair<std::string, Address>> datagrams;
  std::vector<std::exception_ptr> errors;
  std::optional<std::exception_ptr> lost;  // set once connection_lost() ran
  int lost_calls = 0;
  int paused = 0;
  int resumed = 0;

  void connection_made(std::shared_ptr<DatagramTransport> t) override {
    ++made;
    transport = std::move(t);
  }
  void datagram_received(std::string_view data, const Address& addr) override {
    datagrams.emplace_back(std::string(data), addr);
  }
  void error_received(std::exception_ptr exc) override { errors.push_back(std::move(exc)); }
  void connection_lost(std::exception_ptr exc) override {
    ++lost_calls;
    lost = std::move(exc);
    transport.reset();  // no cycle: the transport lets go of us too
  }
  void pause_writing() override { ++paused; }
  void resume_writing() override { ++resumed; }
};

// Sends every datagram back where it came from.
struct Echo : aio::DatagramProtocol {
  std::shared_ptr<DatagramTransport> transport;
  std::optional<std::exception_ptr> lost;
  void connection_made(std::shared_ptr<DatagramTransport> t) override { transport = std::move(t); }
  void datagram_received(std::string_view data, const Address& addr) override {
    transport->sendto(data, addr);
  }
  void connection_lost(std::exception_ptr exc) override {
    lost = std::move(exc);
    transport.reset();
  }
};

auto recorder() { return std::make_shared<Recorder>(); }
auto echo() { return std::make_shared<Echo>(); }

using RecorderEndpoint = std::pair<std::shared_ptr<DatagramTransport>, std::shared_ptr<Recorder>>;
using EchoEndpoint = std::pair<std::shared_ptr<DatagramTransport>, std::shared_ptr<Echo>>;

// The endpoint calls. GCC 12 miscompiles converted temporaries in a co_await operand (see
// sockets.hpp), so the tests make each task in a statement of its own, then await it.
Task<RecorderEndpoint> recorder_endpoint(std::optional<Address> local,
                                         std::optional<Address> remote = std::nullopt,
                                         DatagramEndpointOptions options = {}) {
  auto making = aio::create_datagram_endpoint(aio::get_running_loop(), recorder, std::move(local),
                                              std::move(remote), std::move(options));
  co_return co_await std::move(making);
}

Task<EchoEndpoint> echo_endpoint(std::optional<Address> local,
                                 DatagramEndpointOptions options = {}) {
  auto making = aio::create_datagram_endpoint(aio::get_running_loop(), echo, std::move(local),
                                              std::nullopt, std::move(options));
  co_return co_await std::move(making);
}

// Closes the transport and waits for connection_lost().
template <class P>
Task<void> close_and_wait(const std::shared_ptr<DatagramTransport>& transport,
                          const std::shared_ptr<P>& protocol) {
  transport->close();
  EXPECT_TRUE(co_await wait_until([&] { return protocol->lost.has_value(); }));
}

// The type name and message of an exception, "ValueError: ...".
std::string describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const batteries::BaseException& ex) {
    return std::string(ex.type_name()) + ": " + dynamic_cast<const std::exception&>(ex).what();
  } catch (const std::exception& ex) {
    return std::string("std::exception: ") + ex.what();
  }
}

// What create_datagram_endpoint() raises, described; "ok" when it makes an endpoint.
Task<std::string> endpoint_error(std::optional<Address> local, std::optional<Address> remote,
                                 DatagramEndpointOptions options) {
  try {
    auto making = recorder_endpoint(std::move(local), std::move(remote), std::move(options));
    auto [transport, protocol] = co_await std::move(making);
    co_await close_and_wait(transport, protocol);
    co_return "ok";
  } catch (...) {
    co_return describe(std::current_exception());
  }
}

// ---- round trips ---------------------------------------------------------------------------

Task<void> round_trip(int family, std::string host) {
  auto serving = echo_endpoint(InetAddress{host, 0});
  auto [server, echoing] = co_await std::move(serving);
  const Address server_addr = extra_address(*server, "sockname");
  EXPECT_NE(port_of(server_addr), 0);
  EXPECT_FALSE(server->get_extra_info("peername").has_value()) << "not connected: None";
  EXPECT_EQ(extra_socket(*server)->family(), family);
  EXPECT_EQ(extra_socket(*server)->type(), SOCK_DGRAM);
  EXPECT_FALSE(extra_socket(*server)->getblocking());
  EXPECT_EQ(std::any_cast<int>(server->get_extra_info("nothing", 42)), 42);

  // A connected client: sendto() without an address goes to the peer.
  auto connecting = recorder_endpoint(std::nullopt, server_addr);
  auto [client, got] = co_await std::move(connecting);
  EXPECT_EQ(got->made, 1) << "connection_made() ran before the endpoint was returned";
  EXPECT_EQ(got->transport, client);
  EXPECT_EQ(extra_address(*client, "peername"), server_addr);
  client->sendto("ping");
  client->sendto("pong", server_addr);  // its own peer is allowed
  client->sendto("");                   // an empty datagram is one too
  EXPECT_TRUE(co_await wait_until([&] { return got->datagrams.size() == 3; }));
  if (got->datagrams.size() == 3) {
    EXPECT_EQ(got->datagrams[0].first, "ping");
    EXPECT_EQ(got->datagrams[1].first, "pong");
    EXPECT_EQ(got->datagrams[2].first, "");
    EXPECT_EQ(got->datagrams[0].second, server_addr);
  }

  // An unconnected client names the address each time.
  auto binding = recorder_endpoint(InetAddress{host, 0});
  auto [free_client, got2] = co_await std::move(binding);
  const std::string big(60000, 'b');
  free_client->sendto(big, server_addr);
  EXPECT_TRUE(co_await wait_until([&] { return got2->datagrams.size() == 1; }));
  if (!got2->datagrams.empty()) {
    EXPECT_EQ(got2->datagrams[0].first, big);
    EXPECT_EQ(got2->datagrams[0].second, server_addr);
  }
  EXPECT_EQ(free_client->get_write_buffer_size(), 0U);

  co_await close_and_wait(client, got);
  co_await close_and_wait(free_client, got2);
  co_await close_and_wait(server, echoing);
  EXPECT_TRUE(got->errors.empty());
  EXPECT_EQ(got->lost_calls, 1);
  EXPECT_EQ(*got->lost, nullptr);
}

TEST(Datagram, Ipv4RoundTrip) {
  NoFdLeak check;
  aio::run(round_trip(AF_INET, "127.0.0.1"));
}

TEST(Datagram, Ipv6RoundTrip) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback";
  NoFdLeak check;
  aio::run(round_trip(AF_INET6, "::1"));
}

TEST(Datagram, HostNamesAreResolved) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto serving = echo_endpoint(InetAddress{"localhost", 0});
    auto [server, echoing] = co_await std::move(serving);
    const Address server_addr = extra_address(*server, "sockname");
    const auto& inet = std::get<InetAddress>(server_addr);
    EXPECT_TRUE(inet.host == "127.0.0.1" || inet.host == "::1") << inet.host;
    auto connecting = recorder_endpoint(std::nullopt, InetAddress{"localhost", inet.port},
                                        {.family = inet.host == "::1" ? AF_INET6 : AF_INET});
    auto [client, got] = co_await std::move(connecting);
    client->sendto("named");
    EXPECT_TRUE(co_await wait_until([&] { return got->datagrams.size() == 1; }));
    co_await close_and_wait(client, got);
    co_await close_and_wait(server, echoing);
  }());
}

TEST(Datagram, ReprAndStates) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto making = recorder_endpoint(InetAddress{"127.0.0.1", 0});
    auto [transport, got] = co_await std::move(making);
    const int fd = extra_socket(*transport)->fileno();
    EXPECT_EQ(transport->repr(), "<_SelectorDatagramTransport fd=" + std::to_string(fd) +
                                     " read=polling write=<idle, bufsize=0>>");
    EXPECT_FALSE(transport->is_closing());
    transport->close();
    EXPECT_TRUE(transport->is_closing());
    EXPECT_FALSE(got->lost) << "connection_lost() runs soon, never inside close()";
    EXPECT_EQ(transport->repr(), "<_SelectorDatagramTransport closing fd=" + std::to_string(fd) +
                                     " read=idle write=<idle, bufsize=0>>");
    transport->close();  // again: nothing
    EXPECT_TRUE(co_await wait_until([&] { return got->lost.has_value(); }));
    EXPECT_EQ(transport->repr(),
              "<_SelectorDatagramTransport closed fd=" + std::to_string(fd) + ">");
    EXPECT_EQ(got->lost_calls, 1);
    EXPECT_TRUE(extra_socket(*transport)->closed());
    EXPECT_EQ(transport->get_protocol(), nullptr) << "the protocol is let go";
    transport->abort();  // after the loss: nothing
    co_await aio::sleep(0.01);
    EXPECT_EQ(got->lost_calls, 1);
  }());
}

TEST(Datagram, AbortLosesTheConnectionSoon) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto making = recorder_endpoint(InetAddress{"127.0.0.1", 0});
    auto [transport, got] = co_await std::move(making);
    transport->abort();
    EXPECT_TRUE(transport->is_closing());
    EXPECT_FALSE(got->lost);
    EXPECT_TRUE(co_await wait_until([&] { return got->lost.has_value(); }));
    EXPECT_EQ(*got->lost, nullptr);
    EXPECT_EQ(got->lost_calls, 1);
  }());
}

// ---- connected endpoints -------------------------------------------------------------------

TEST(Datagram, ConnectedEndpointRejectsOtherAddresses) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto serving = echo_endpoint(InetAddress{"127.0.0.1", 0});
    auto [server, echoing] = co_await std::move(serving);
    const Address server_addr = extra_address(*server, "sockname");
    auto connecting = recorder_endpoint(std::nullopt, server_addr);
    auto [client, got] = co_await std::move(connecting);
    const Address other = InetAddress{"127.0.0.2", port_of(server_addr)};
    EXPECT_RAISES_MSG(client->sendto("x", other), ValueError,
                      "Invalid address: must be None or ('127.0.0.1', " +
                          std::to_string(port_of(server_addr)) + ")");
    co_await close_and_wait(client, got);
    // After connection_lost(), sends are counted and dropped, never raised.
    client->sendto("late");
    co_await close_and_wait(server, echoing);
  }());
}

TEST(Datagram, PortUnreachableGoesToErrorReceived) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    // A port nobody listens on: bound, then closed.
    std::uint16_t port = 0;
    {
      Socket probe(AF_INET, SOCK_DGRAM);
      probe.bind(InetAddress{"127.0.0.1", 0});
      port = port_of(probe.getsockname());
    }
    auto connecting = recorder_endpoint(std::nullopt, InetAddress{"127.0.0.1", port});
    auto [client, got] = co_await std::move(connecting);
    // The ICMP error comes back for the first send; the second send or the reader sees it.
    for (int i = 0; i < 50 && got->errors.empty(); ++i) {
      client->sendto("anyone?");
      co_await aio::sleep(0.01);
    }
    EXPECT_FALSE(got->errors.empty());
    for (const auto& error : got->errors) {
      try {
        std::rethrow_exception(error);
      } catch (const batteries::ConnectionRefusedError& e) {
        EXPECT_EQ(e.errno_(), ECONNREFUSED);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "not ConnectionRefusedError: " << e.what();
      }
    }
    EXPECT_FALSE(client->is_closing()) << "the transport stays open";
    EXPECT_FALSE(got->lost);
    co_await close_and_wait(client, got);
    EXPECT_EQ(*got->lost, nullptr);
  }());
}

// ---- flow control --------------------------------------------------------------------------

// An AF_UNIX datagram socketpair pushes back (EAGAIN) when the reader lags, as UDP never does.
TEST(Datagram, BufferingUnderPressurePausesAndResumes) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto pair = aio::socketpair(AF_UNIX, SOCK_DGRAM);
    Socket reader = std::move(pair.second);
    auto making = recorder_endpoint(std::nullopt, std::nullopt, {.sock = std::move(pair.first)});
    auto [transport, got] = co_await std::move(making);
    const std::size_t count = 2000;
    std::size_t max_buffered = 0;
    for (std::size_t i = 0; i < count; ++i) {
      std::string datagram(1024, static_cast<char>('a' + i % 26));
      datagram.replace(0, std::to_string(i).size(), std::to_string(i));
      transport->sendto(datagram);
      max_buffered = std::max(max_buffered, transport->get_write_buffer_size());
    }
    EXPECT_GT(max_buffered, 64U * 1024) << "the socket pushed back";
    EXPECT_EQ(got->paused, 1) << "over the high-water mark (64 KiB) once";
    EXPECT_EQ(got->resumed, 0);
    EXPECT_TRUE(transport->repr().find("write=<polling, bufsize=") != std::string::npos)
        << transport->repr();

    // Every datagram arrives, in order, as the reader drains the socket.
    std::size_t received = 0;
    bool in_order = true;
    while (received < count) {
      auto reading = aio::wait_for(aio::sock_recv(loop, reader, 4096), 10.0);
      const std::string datagram = co_await std::move(reading);
      if (datagram.size() != 1024 || datagram.rfind(std::to_string(received), 0) != 0) {
        in_order = false;
      }
      ++received;
    }
    EXPECT_TRUE(in_order);
    EXPECT_TRUE(co_await wait_until([&] { return transport->get_write_buffer_size() == 0; }));
    EXPECT_EQ(got->resumed, 1) << "under the low-water mark (16 KiB) once";
    EXPECT_TRUE(got->errors.empty());
    co_await close_and_wait(transport, got);
  }());
}

TEST(Datagram, CloseSendsTheBufferFirst) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    auto pair = aio::socketpair(AF_UNIX, SOCK_DGRAM);
    Socket reader = std::move(pair.second);
    auto making = recorder_endpoint(std::nullopt, std::nullopt, {.sock = std::move(pair.first)});
    auto [transport, got] = co_await std::move(making);
    const std::size_t count = 500;
    for (std::size_t i = 0; i < count; ++i) transport->sendto(std::string(1024, 'c'));
    EXPECT_GT(transport->get_write_buffer_size(), 0U);
    transport->close();
    co_await aio::sleep(0.01);
    EXPECT_FALSE(got->lost) << "still sending the buffer";
    std::size_t received = 0;
    while (received < count) {
      auto reading = aio::wait_for(aio::sock_recv(loop, reader, 4096), 10.0);
      (void)co_await std::move(reading);
      ++received;
    }
    EXPECT_TRUE(co_await wait_until([&] { return got->lost.has_value(); }));
    EXPECT_EQ(*got->lost, nullptr);
  }());
}

TEST(Datagram, AbortDropsTheBuffer) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto pair = aio::socketpair(AF_UNIX, SOCK_DGRAM);
    auto making = recorder_endpoint(std::nullopt, std::nullopt, {.sock = std::move(pair.first)});
    auto [transport, got] = co_await std::move(making);
    for (int i = 0; i < 500; ++i) transport->sendto(std::string(1024, 'd'));
    EXPECT_GT(transport->get_write_buffer_size(), 0U);
    transport->abort();
    EXPECT_EQ(transport->get_write_buffer_size(), 0U);
    EXPECT_TRUE(co_await wait_until([&] { return got->lost.has_value(); }));
    EXPECT_EQ(*got->lost, nullptr);
    transport->sendto("after");  // ignored
  }());
}

TEST(Datagram, UdpBurstIsDeliveredOrAccountedFor) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto serving = echo_endpoint(InetAddress{"127.0.0.1", 0});
    auto [server, echoing] = co_await std::move(serving);
    auto connecting = recorder_endpoint(std::nullopt, extra_address(*server, "sockname"));
    auto [client, got] = co_await std::move(connecting);
    const std::size_t count = 300;
    for (std::size_t i = 0; i < count; ++i) client->sendto(std::to_string(i));
    // UDP may drop what a full receive buffer cannot take; nothing arrives twice or twisted.
    (void)co_await wait_until([&] { return got->datagrams.size() == count; }, 0.5);
    EXPECT_LE(got->datagrams.size(), count);
    EXPECT_GT(got->datagrams.size(), 0U);
    for (const auto& [data, from] : got->datagrams) {
      EXPECT_LT(std::stoul(data), count);
      EXPECT_EQ(from, extra_address(*server, "sockname"));
    }
    EXPECT_EQ(client->get_write_buffer_size(), 0U);
    co_await close_and_wait(client, got);
    co_await close_and_wait(server, echoing);
  }());
}

// ---- options -------------------------------------------------------------------------------

TEST(Datagram, ReusePortLetsTwoEndpointsShareAPort) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto making =
        recorder_endpoint(InetAddress{"127.0.0.1", 0}, std::nullopt, {.reuse_port = true});
    auto [first, got1] = co_await std::move(making);
    const Address addr = extra_address(*first, "sockname");
    EXPECT_EQ(extra_socket(*first)->getsockopt(SOL_SOCKET, SO_REUSEPORT), 1);
    auto making2 = recorder_endpoint(addr, std::nullopt, {.reuse_port = true});
    auto [second, got2] = co_await std::move(making2);
    EXPECT_EQ(extra_address(*second, "sockname"), addr);
    // Without it, the port is taken.
    auto failing = endpoint_error(addr, std::nullopt, {});
    const std::string error = co_await std::move(failing);
    EXPECT_EQ(error, "OSError: [Errno 98] Address already in use");
    co_await close_and_wait(first, got1);
    co_await close_and_wait(second, got2);
  }());
}

TEST(Datagram, AllowBroadcastSetsSoBroadcastAndDoesNotConnect) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto serving = echo_endpoint(InetAddress{"127.0.0.1", 0});
    auto [server, echoing] = co_await std::move(serving);
    const Address server_addr = extra_address(*server, "sockname");
    auto making =
        recorder_endpoint(InetAddress{"127.0.0.1", 0}, server_addr, {.allow_broadcast = true});
    auto [client, got] = co_await std::move(making);
    EXPECT_EQ(extra_socket(*client)->getsockopt(SOL_SOCKET, SO_BROADCAST), 1);
    EXPECT_FALSE(client->get_extra_info("peername").has_value()) << "not connected";
    const Address other = InetAddress{"127.0.0.3", 9};
    EXPECT_RAISES(client->sendto("x", other), ValueError);
    client->sendto("to the remote_addr");
    EXPECT_TRUE(co_await wait_until([&] { return got->datagrams.size() == 1; }));
    co_await close_and_wait(client, got);
    co_await close_and_wait(server, echoing);

    auto making2 = recorder_endpoint(InetAddress{"127.0.0.1", 0});
    auto [plain, got2] = co_await std::move(making2);
    EXPECT_EQ(extra_socket(*plain)->getsockopt(SOL_SOCKET, SO_BROADCAST), 0);
    co_await close_and_wait(plain, got2);
  }());
}

TEST(Datagram, UnixDatagramEndpoints) {
  NoFdLeak check;
  const std::string dir = batteries::testing::make_temp_dir("datagram");
  const Address server_path = dir + "/server.sock";
  const Address client_path = dir + "/client.sock";
  aio::run([&]() -> Task<void> {
    auto serving = echo_endpoint(server_path, {.family = AF_UNIX});
    auto [server, echoing] = co_await std::move(serving);
    EXPECT_EQ(extra_address(*server, "sockname"), server_path);
    auto connecting = recorder_endpoint(client_path, server_path, {.family = AF_UNIX});
    auto [client, got] = co_await std::move(connecting);
    EXPECT_EQ(extra_address(*client, "peername"), server_path);
    client->sendto("over a path");
    EXPECT_TRUE(co_await wait_until([&] { return got->datagrams.size() == 1; }));
    if (!got->datagrams.empty()) {
      EXPECT_EQ(got->datagrams[0].second, server_path);
    }
    const Address elsewhere = dir + "/elsewhere";
    EXPECT_RAISES_MSG(client->sendto("x", elsewhere), ValueError,
                      "Invalid address: must be None or " + dir + "/server.sock");
    co_await close_and_wait(client, got);
    co_await close_and_wait(server, echoing);

    // The socket files stay, as Python leaves them; the next endpoint replaces a stale one.
    struct stat st {};
    EXPECT_EQ(::stat((dir + "/server.sock").c_str(), &st), 0);
    auto serving_again = echo_endpoint(server_path, {.family = AF_UNIX});
    auto [again, echoing2] = co_await std::move(serving_again);
    co_await close_and_wait(again, echoing2);
  }());
  batteries::testing::remove_tree(dir);
}

TEST(Datagram, UnixAbstractAndUnnamedEndpoints) {
  NoFdLeak check;
  aio::run([&]() -> Task<void> {
    // An unnamed sender's datagrams come from "" (Python's None).
    const Address receiver_name =
        std::string(1, '\0') + "batteries-datagram-" + std::to_string(::getpid());
    auto binding = recorder_endpoint(receiver_name, std::nullopt, {.family = AF_UNIX});
    auto [receiver, got] = co_await std::move(binding);
    EXPECT_EQ(extra_address(*receiver, "sockname"), receiver_name);
    auto connecting = recorder_endpoint(std::nullopt, receiver_name, {.family = AF_UNIX});
    auto [sender, got2] = co_await std::move(connecting);
    sender->sendto("unnamed");
    EXPECT_TRUE(co_await wait_until([&] { return got->datagrams.size() == 1; }));
    if (!got->datagrams.empty()) {
      EXPECT_EQ(got->datagrams[0].first, "unnamed");
      EXPECT_EQ(got->datagrams[0].second, Address(std::string()));
    }
    // Which cannot be answered: the error goes to error_received, the transport stays.
    receiver->sendto("reply?", std::string());
    EXPECT_EQ(got->errors.size(), 1U);
    EXPECT_FALSE(receiver->is_closing());

    // An endpoint with only a family: an unbound socket that names each destination.
    auto making = recorder_endpoint(std::nullopt, std::nullopt, {.family = AF_UNIX});
    auto [loose, got3] = co_await std::move(making);
    loose->sendto("loose", receiver_name);
    EXPECT_TRUE(co_await wait_until([&] { return got->datagrams.size() == 2; }));
    for (auto* t : {&receiver, &sender, &loose}) (*t)->close();
    EXPECT_TRUE(co_await wait_until([&] { return got->lost && got2->lost && got3->lost; }));
  }());
}

TEST(Datagram, ExistingSocket) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto serving = echo_endpoint(InetAddress{"127.0.0.1", 0});
    auto [server, echoing] = co_await std::move(serving);
    Socket sock(AF_INET, SOCK_DGRAM);
    sock.bind(InetAddress{"127.0.0.1", 0});
    const Address bound = sock.getsockname();
    EXPECT_TRUE(sock.getblocking());
    auto making = recorder_endpoint(std::nullopt, std::nullopt, {.sock = std::move(sock)});
    auto [client, got] = co_await std::move(making);
    EXPECT_EQ(extra_address(*client, "sockname"), bound);
    EXPECT_FALSE(extra_socket(*client)->getblocking());
    client->sendto("mine", extra_address(*server, "sockname"));
    EXPECT_TRUE(co_await wait_until([&] { return got->datagrams.size() == 1; }));
    co_await close_and_wait(client, got);
    co_await close_and_wait(server, echoing);
  }());
}

TEST(Datagram, ProtocolErrorsGoToTheExceptionHandler) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto& loop = aio::get_running_loop();
    std::vector<std::string> reports;
    loop.set_exception_handler([&](aio::EventLoop&, const aio::ExceptionContext& context) {
      reports.push_back(context.message + " | " +
                        (context.exception ? describe(context.exception) : "-"));
    });
    struct Throwing : Recorder {
      void datagram_received(std::string_view data, const Address& addr) override {
        Recorder::datagram_received(data, addr);
        throw ValueError("bad datagram");
      }
    };
    auto making = aio::create_datagram_endpoint(
        loop, [] { return std::make_shared<Throwing>(); }, Address(InetAddress{"127.0.0.1", 0}));
    auto [transport, got] = co_await std::move(making);
    const Address addr = extra_address(*transport, "sockname");
    transport->sendto("one", addr);
    transport->sendto("two", addr);
    EXPECT_TRUE(co_await wait_until([&] { return got->datagrams.size() == 2; }));
    EXPECT_EQ(reports.size(), 2U);
    if (!reports.empty()) {
      EXPECT_EQ(reports[0], "Exception in callback | ValueError: bad datagram");
    }
    EXPECT_FALSE(transport->is_closing()) << "as in Python, the transport stays open";

    // An unconnected endpoint sending nowhere: Python's TypeError is fatal to it.
    transport->sendto("nowhere");
    EXPECT_TRUE(co_await wait_until([&] { return got->lost.has_value(); }));
    EXPECT_EQ(describe(*got->lost),
              "TypeError: sendto(): AF_INET address must be tuple, not NoneType");
    EXPECT_EQ(reports.size(), 3U);
    if (reports.size() == 3) {
      EXPECT_EQ(reports[2],
                "Fatal write error on datagram transport | TypeError: sendto(): AF_INET "
                "address must be tuple, not NoneType");
    }
    loop.set_exception_handler(nullptr);
  }());
}

TEST(Datagram, FailedEndpointsLeakNothing) {
  NoFdLeak check;
  aio::run([]() -> Task<void> {
    auto failing = endpoint_error(std::nullopt, Address(std::string("/nonexistent/dir/socket")),
                                  {.family = AF_UNIX});
    EXPECT_EQ(co_await std::move(failing),
              "FileNotFoundError: [Errno 2] No such file or directory");
    // A port in use: the socket made for it is closed again.
    Socket taken(AF_INET, SOCK_DGRAM);
    taken.bind(InetAddress{"127.0.0.1", 0});
    auto failing2 = endpoint_error(taken.getsockname(), std::nullopt, {});
    EXPECT_EQ(co_await std::move(failing2), "OSError: [Errno 98] Address already in use");
  }());
}

TEST(Datagram, TransportThatOutlivesItsLoop) {
  NoFdLeak check;
  std::shared_ptr<DatagramTransport> kept;
  aio::run([&]() -> Task<void> {
    // A protocol that keeps no transport: the loop's closing lets go of the rest.
    auto making = aio::create_datagram_endpoint(
        aio::get_running_loop(), [] { return std::make_shared<aio::DatagramProtocol>(); },
        Address(InetAddress{"127.0.0.1", 0}));
    auto made = co_await std::move(making);
    kept = made.first;
  }());
  ASSERT_TRUE(kept);
  const int fd = extra_socket(*kept)->fileno();
  EXPECT_EQ(kept->repr(), "<_SelectorDatagramTransport fd=" + std::to_string(fd) + ">");
  kept->close();  // no loop to run connection_lost(): the socket is just closed
  EXPECT_TRUE(kept->is_closing());
  EXPECT_TRUE(extra_socket(*kept)->closed());
  kept->abort();
}

// ---- errors, against CPython ---------------------------------------------------------------

TEST(Datagram, ArgumentErrorsMatchPython) {
  NoFdLeak check;
  std::vector<std::string> ours;
  std::string sock_repr;
  aio::run([&]() -> Task<void> {
    const Address v4 = InetAddress{"127.0.0.1", 0};
    const Address v6 = InetAddress{"::1", 5};
    const Address path = std::string("/tmp/x");
    const Address four = InetAddress{"1.2.3.4", 1, 0, 7};
    Socket stream(AF_INET, SOCK_STREAM);
    stream.bind(InetAddress{"127.0.0.1", 0});
    sock_repr = "<socket.socket fd=" + std::to_string(stream.fileno()) +
                ", family=2, type=1, proto=0, laddr=" + aio::repr(stream.getsockname()) + ">";
    // Each case as Python writes it, in the script below; the last is ours alone.
    std::vector<Task<std::string>> cases;
    cases.push_back(endpoint_error(std::nullopt, std::nullopt, {}));
    cases.push_back(endpoint_error(v4, std::nullopt, {.family = AF_UNIX}));
    cases.push_back(endpoint_error(path, std::nullopt, {}));
    cases.push_back(endpoint_error(four, std::nullopt, {}));
    cases.push_back(endpoint_error(v4, v6, {}));
    cases.push_back(endpoint_error(v4, std::nullopt, {.family = AF_INET6}));
    cases.push_back(endpoint_error(path, v6,
                                   {.family = AF_UNIX,
                                    .proto = 17,
                                    .flags = 1,
                                    .reuse_port = true,
                                    .allow_broadcast = true,
                                    .sock = Socket(AF_INET, SOCK_DGRAM)}));
    cases.push_back(endpoint_error(v4, std::nullopt, {.sock = Socket(AF_INET, SOCK_DGRAM)}));
    cases.push_back(endpoint_error(std::nullopt, std::nullopt, {.sock = std::move(stream)}));
    for (auto& task : cases) ours.push_back(co_await std::move(task));
  }());
  ASSERT_EQ(ours.size(), 9U);
  EXPECT_EQ(ours[8], "ValueError: A UDP Socket was expected, got " + sock_repr);

  const auto python = batteries::testing::run_python(R"(
import asyncio, socket
async def main():
    loop = asyncio.get_running_loop()
    cases = [
        dict(),
        dict(local_addr=('127.0.0.1', 0), family=socket.AF_UNIX),
        dict(local_addr='/tmp/x'),
        dict(local_addr=('1.2.3.4', 1, 0, 7)),
        dict(local_addr=('127.0.0.1', 0), remote_addr=('::1', 5)),
        dict(local_addr=('127.0.0.1', 0), family=socket.AF_INET6),
        dict(local_addr='/tmp/x', remote_addr=('::1', 5, 0, 0), family=1, proto=17, flags=1,
             reuse_port=True, allow_broadcast=True, sock=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)),
        dict(local_addr=('127.0.0.1', 0), sock=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)),
    ]
    for kw in cases:
        try:
            t, p = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, **kw)
            t.close()
            print('ok')
        except Exception as e:
            print(f'{type(e).__name__}: {e}')
        if 'sock' in kw: kw['sock'].close()
asyncio.run(main())
)");
  if (!python) GTEST_SKIP() << "no python3";
  const auto lines = batteries::testing::split(*python, '\n');
  ASSERT_GE(lines.size(), 8U);
  for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(ours[i], lines[i]) << "case " << i;
}

// ---- a CPython peer --------------------------------------------------------------------------

TEST(Datagram, CPythonClientRoundTrip) {
  NoFdLeak check;
  std::optional<std::string> python;
  aio::run([&]() -> Task<void> {
    auto serving = echo_endpoint(InetAddress{"127.0.0.1", 0});
    auto [server, echoing] = co_await std::move(serving);
    const std::uint16_t port = port_of(extra_address(*server, "sockname"));
    const std::string script = R"(
import asyncio
async def main():
    loop = asyncio.get_running_loop()
    got = asyncio.Queue()
    class P(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr): got.put_nowait((data, addr))
    t, p = await loop.create_datagram_endpoint(P, remote_addr=('127.0.0.1', )" +
                               std::to_string(port) + R"())
    for msg in (b'hello', bytes(range(256)), b'x' * 60000):
        t.sendto(msg)
        data, addr = await asyncio.wait_for(got.get(), 10)
        print(data == msg, len(data), addr == t.get_extra_info('peername'))
    t.close()
asyncio.run(main())
)";
    // CPython runs in a worker thread while this loop echoes.
    auto running = aio::to_thread([script] { return batteries::testing::run_python(script); });
    python = co_await std::move(running);
    co_await close_and_wait(server, echoing);
  }());
  if (!python) GTEST_SKIP() << "no python3";
  EXPECT_EQ(*python, "True 5 True\nTrue 256 True\nTrue 60000 True\n");
}

}  // namespace
