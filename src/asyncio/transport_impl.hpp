// Internal to batteries::asyncio: what the socket, TLS and subprocess transports share.
#pragma once

#include <batteries/asyncio/transports.hpp>

#include <any>
#include <cstddef>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace batteries::asyncio::detail {

/// The state behind a Server handle (transports.cpp). Connections attach when made and
/// detach when lost, so that wait_closed() can wait for them.
class ServerState;
void server_attach(ServerState* server) noexcept;
void server_detach(ServerState* server) noexcept;

using ExtraInfo = std::vector<std::pair<std::string, std::any>>;

/// Python's max_size of its selector and pipe transports: the most one read takes.
inline constexpr std::size_t kMaxReadSize = std::size_t{256} * 1024;
/// The kMaxReadSize bytes that every socket, datagram and pipe transport of the calling
/// thread reads into (transports.cpp), allocated on the first read, so that an idle
/// transport owns no read buffer. A protocol sees a view of it that is valid only during
/// its callback; a loop runs one callback at a time, so one buffer serves them all.
char* read_buffer();

/// A stream transport over a connected socket (Python's _SelectorSocketTransport). The
/// socket is made non-blocking and TCP_NODELAY (for TCP). protocol->connection_made() runs
/// now, then reading starts. "peername", "sockname" and "socket" are added to extra.
/// TypeError when protocol is not a Protocol or a BufferedProtocol.
std::shared_ptr<Transport> make_socket_transport(EventLoop& loop, Socket sock,
                                                 std::shared_ptr<BaseProtocol> protocol,
                                                 ExtraInfo extra = {},
                                                 std::shared_ptr<ServerState> server = nullptr);

/// Calls connection_made(transport) on a Protocol or BufferedProtocol; TypeError otherwise.
void stream_connection_made(BaseProtocol& protocol, std::shared_ptr<Transport> transport);
/// Whether protocol is a Protocol or a BufferedProtocol.
bool is_stream_protocol(const BaseProtocol* protocol) noexcept;

/// Reports an error nothing else can, with the transport and protocol named (Python's
/// _fatal_error context). OSErrors are not reported (Python logs them only in debug mode).
void report_transport_error(EventLoop& loop, const std::exception_ptr& exc,
                            const std::string& message, const BaseTransport* transport);

/// TLS over sock (sslproto.cpp): a socket transport whose protocol is a TLS layer that
/// drives app_protocol through a TLS transport. Returns the TLS transport once the
/// handshake has completed; raises (closing everything) when it fails or times out.
Task<std::shared_ptr<Transport>> make_ssl_transport(EventLoop& loop, Socket sock,
                                                    std::shared_ptr<BaseProtocol> app_protocol,
                                                    TlsOptions tls, bool server_side,
                                                    ExtraInfo extra,
                                                    std::shared_ptr<ServerState> server);

}  // namespace batteries::asyncio::detail
