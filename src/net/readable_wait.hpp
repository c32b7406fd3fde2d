#pragma once
// Waiting for a socket to turn readable without a system call per wait.
//
// Asio's socket::async_wait(wait_read) re-arms the descriptor with
// EPOLL_CTL_MOD every time: its reactor starts a wait with
// allow_speculative = false, so as not to miss an edge that came while
// nothing waited. Under load that is one epoll_ctl per SMTP command (4.9 per
// message under `compare.sh send`, 2 % of the CPU). Asio registers a socket
// for input once, edge-triggered, and remembers an edge that came while no
// read operation was queued (the reactor's try_speculative_ flag); an
// operation started with allow_speculative completes at once when the flag is
// set and otherwise waits for the next edge, without a system call. Asio
// offers that only for operations that read; readable_op is one that reads
// nothing: it completes, and says the socket is exhausted, which spends the
// remembered edge.
//
// So a wait started while the socket still holds data that arrived before
// the last edge was spent would not end until more comes. stream starts one
// only when that cannot be: on a TLS socket whose last read stopped short of
// its buffer or at EAGAIN (stream's bio_.input_may_remain is false).
// A wait that ends with nothing to read (an edge whose data a read already
// took) costs one read that finds EAGAIN, after which the wait is exact.
//
// This reaches into Asio's detail namespace: the operation is Asio's
// reactive_wait_op with another perform step, and is started on the epoll
// reactor as reactive_socket_service_base starts one (Boost 1.81, as Debian 12
// ships it). The static_assert stops a build on another reactor.
#include <boost/asio/detail/bind_handler.hpp>
#include <boost/asio/detail/fenced_block.hpp>
#include <boost/asio/detail/handler_alloc_helpers.hpp>
#include <boost/asio/detail/handler_work.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>

#include <memory>
#include <type_traits>

#include "net/asio.hpp"

namespace smtpsd::net {

static_assert(std::is_same_v<asio::detail::reactor, asio::detail::epoll_reactor>,
              "readable_wait.hpp knows Asio's epoll reactor only");

// tcp::socket with the reactor's state for it reachable.
class readable_socket : public tcp::socket {
 public:
  explicit readable_socket(tcp::socket&& s) : tcp::socket(std::move(s)) {}
  auto& reactor_state() { return impl_.get_implementation(); }
};

template <typename Handler, typename IoExecutor>
class readable_op : public asio::detail::reactor_op {
 public:
  BOOST_ASIO_DEFINE_HANDLER_PTR(readable_op);

  readable_op(Handler& handler, const IoExecutor& io_ex)
      : reactor_op(error_code(), &readable_op::do_perform, &readable_op::do_complete),
        handler_(std::move(handler)),
        work_(handler_, io_ex) {}

  static status do_perform(reactor_op*) { return done_and_exhausted; }

  static void do_complete(void* owner, asio::detail::operation* base, const error_code&, std::size_t) {
    auto* o = static_cast<readable_op*>(base);
    ptr p = {std::addressof(o->handler_), o, o};
    asio::detail::handler_work<Handler, IoExecutor> w(std::move(o->work_));
    // The memory goes back before the upcall; a copy keeps the handler alive.
    asio::detail::binder1<Handler, error_code> handler(o->handler_, o->ec_);
    p.h = std::addressof(handler.handler_);
    p.reset();
    if (owner) {
      asio::detail::fenced_block b(asio::detail::fenced_block::half);
      w.complete(handler, handler.handler_);
    }
  }

 private:
  Handler handler_;
  asio::detail::handler_work<Handler, IoExecutor> work_;
};

// Starts the wait; the handler gets error_code (operation_aborted when the
// socket is cancelled or closed). A handler with a cancellation slot of its
// own gets Asio's async_wait, which supports it.
template <typename Handler>
void start_readable_wait(asio::detail::reactor& reactor, readable_socket& s, Handler handler) {
  if (asio::get_associated_cancellation_slot(handler).is_connected()) {
    s.async_wait(tcp::socket::wait_read, std::move(handler));
    return;
  }
  using op = readable_op<Handler, tcp::socket::executor_type>;
  const bool continuation = boost_asio_handler_cont_helpers::is_continuation(handler);
  typename op::ptr p = {std::addressof(handler), op::ptr::allocate(handler), nullptr};
  p.p = new (p.v) op(handler, s.get_executor());
  auto& impl = s.reactor_state();
  reactor.start_op(asio::detail::reactor::read_op, impl.socket_, impl.reactor_data_, p.p, continuation, true);
  p.v = p.p = nullptr;
}

}  // namespace smtpsd::net
