#pragma once
// Acceptors: one per I/O thread on the same address (SO_REUSEPORT), so the
// kernel spreads connections over the threads and sessions never move.
#include <string>

#include "net/asio.hpp"

namespace smtpsd::net {

// Binds and listens. Port 0 picks a free port; pass the port the first
// acceptor got to the others. Throws std::system_error naming the address.
tcp::acceptor bind_acceptor(asio::io_context& io, const std::string& host, std::uint16_t port);

std::string to_string(const tcp::endpoint& e);

}  // namespace smtpsd::net
