// libuv's echo server for bench/asyncio/net/compare.py: one uv_loop_t, one thread.
//
//   net_echo_libuv [--port N] [--try-write]
//
// Listens on 127.0.0.1 (port 0: the OS picks), prints "PORT <n>", and echoes until SIGTERM
// or SIGINT. Written in C style, as libuv's own echo examples are.
//
// By default, the way those examples do it: alloc_cb mallocs a buffer for each read and
// uv_write sends it, freed in the write callback (libuv writes at once when it can, but the
// callback, and so the free, waits for the next turn of the loop).
// --try-write: each read lands in one buffer the loop shares (it is done with before the
// next read, one thread), uv_try_write sends what it can at once, and only a remainder is
// copied out for uv_write: no allocation and no deferred callback in the common case.
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace {

bool g_try_write = false;
char g_shared[65536];

struct WriteReq {
  uv_write_t req;
  uv_buf_t buf;
};

void on_close(uv_handle_t* handle) { std::free(handle); }

void on_write(uv_write_t* req, int /*status*/) {
  auto* w = reinterpret_cast<WriteReq*>(req);
  std::free(w->buf.base);
  std::free(w);
}

void on_alloc(uv_handle_t* /*handle*/, std::size_t suggested, uv_buf_t* buf) {
  if (g_try_write) {
    *buf = uv_buf_init(g_shared, sizeof g_shared);
  } else {
    *buf =
        uv_buf_init(static_cast<char*>(std::malloc(suggested)), static_cast<unsigned>(suggested));
  }
}

// Sends data[0, n) with uv_write; the data must live until on_write frees it.
void write_owned(uv_stream_t* stream, char* data, std::size_t n) {
  auto* w = static_cast<WriteReq*>(std::malloc(sizeof(WriteReq)));
  w->buf = uv_buf_init(data, static_cast<unsigned>(n));
  if (uv_write(&w->req, stream, &w->buf, 1, on_write) != 0) {
    std::free(data);
    std::free(w);
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(stream))) {
      uv_close(reinterpret_cast<uv_handle_t*>(stream), on_close);
    }
  }
}

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  if (nread > 0) {
    const auto n = static_cast<std::size_t>(nread);
    if (!g_try_write) return write_owned(stream, buf->base, n);
    const uv_buf_t out = uv_buf_init(buf->base, static_cast<unsigned>(n));
    const int sent = uv_try_write(stream, &out, 1);
    const std::size_t done = sent > 0 ? static_cast<std::size_t>(sent) : 0;
    if (done == n) return;
    if (sent < 0 && sent != UV_EAGAIN) {
      uv_close(reinterpret_cast<uv_handle_t*>(stream), on_close);
      return;
    }
    auto* rest = static_cast<char*>(std::malloc(n - done));
    std::memcpy(rest, buf->base + done, n - done);
    return write_owned(stream, rest, n - done);
  }
  if (!g_try_write) std::free(buf->base);
  if (nread < 0) uv_close(reinterpret_cast<uv_handle_t*>(stream), on_close);
}

void on_connection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* client = static_cast<uv_tcp_t*>(std::malloc(sizeof(uv_tcp_t)));
  uv_tcp_init(server->loop, client);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(client)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(client), on_close);
    return;
  }
  uv_tcp_nodelay(client, 1);
  uv_read_start(reinterpret_cast<uv_stream_t*>(client), on_alloc, on_read);
}

void on_signal(uv_signal_t* handle, int /*signum*/) { uv_stop(handle->loop); }

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--port" && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if (arg == "--try-write") {
      g_try_write = true;
    } else {
      std::fprintf(stderr, "usage: net_echo_libuv [--port N] [--try-write]\n");
      return 2;
    }
  }
  uv_loop_t* loop = uv_default_loop();
  uv_tcp_t server;
  uv_tcp_init(loop, &server);
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", port, &addr);
  if (uv_tcp_bind(&server, reinterpret_cast<const sockaddr*>(&addr), 0) != 0 ||
      uv_listen(reinterpret_cast<uv_stream_t*>(&server), 4096, on_connection) != 0) {
    std::perror("net_echo_libuv: bind/listen");
    return 1;
  }
  sockaddr_in bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&server, reinterpret_cast<sockaddr*>(&bound), &len);
  std::printf("PORT %u\n", static_cast<unsigned>(ntohs(bound.sin_port)));
  std::fflush(stdout);

  uv_signal_t sigterm;
  uv_signal_t sigint;
  uv_signal_init(loop, &sigterm);
  uv_signal_init(loop, &sigint);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_run(loop, UV_RUN_DEFAULT);
  return 0;
}
