// Placeholder until the TLS layer lands (issue 8): TLS calls raise NotImplementedError.
#include "transport_impl.hpp"

namespace batteries::asyncio {

Task<std::shared_ptr<Transport>> detail::make_ssl_transport(EventLoop&, Socket, std::shared_ptr<BaseProtocol>,
                                                    TlsOptions, bool, ExtraInfo,
                                                    std::shared_ptr<ServerState>) {
  throw NotImplementedError("TLS is not implemented yet");
  co_return nullptr;
}

Task<std::shared_ptr<Transport>> start_tls(EventLoop&, std::shared_ptr<Transport>,
                                           std::shared_ptr<BaseProtocol>,
                                           std::shared_ptr<ssl::SSLContext>, StartTlsOptions) {
  throw NotImplementedError("TLS is not implemented yet");
  co_return nullptr;
}

}  // namespace batteries::asyncio
