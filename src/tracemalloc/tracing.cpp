// Python's tracemalloc functions over the tracer: start, stop, snapshots and user domains.
#include <batteries/errors.hpp>
#include <batteries/tracemalloc/tracing.hpp>

#include <fmt/format.h>

#include <memory>
#include <utility>

#include "raw.hpp"
#include "tracer.hpp"

namespace batteries::tracemalloc {

void start(std::size_t nframe, StartOptions options) {
  if (nframe < 1 || nframe > kMaxFrames) {
    throw ValueError(fmt::format("the number of frames must be in range [1; {}]", kMaxFrames));
  }
  if (!detail::hooks_available()) {
    throw RuntimeError(
        "tracemalloc cannot trace in this build: a sanitizer's runtime owns malloc (run the "
        "program under `batteries tracemalloc` from a build without sanitizers)");
  }
  detail::tracer_start(nframe, options.sample_rate);
}

void stop() { detail::tracer_stop(); }

bool is_tracing() noexcept { return detail::tracing(); }

std::size_t get_traceback_limit() noexcept { return detail::tracer_limit(); }

std::pair<std::size_t, std::size_t> get_traced_memory() noexcept {
  return detail::tracer_traced_memory();
}

void reset_peak() noexcept { detail::tracer_reset_peak(); }

void clear_traces() { detail::tracer_clear(); }

std::size_t get_tracemalloc_memory() noexcept { return detail::tracer_memory(); }

Snapshot take_snapshot() {
  if (!is_tracing()) {
    throw RuntimeError(
        "the tracemalloc module must be tracing memory allocations to take a snapshot");
  }
  Untraced untraced;
  auto data = std::make_shared<detail::SnapshotData>();
  data->raw = detail::tracer_snapshot();
  data->traceback_limit = data->raw.traceback_limit;
  return Snapshot(std::move(data));
}

std::optional<Traceback> get_object_traceback(const void* ptr) {
  if (!is_tracing() || ptr == nullptr) {
    return std::nullopt;
  }
  Untraced untraced;
  detail::RawTraceback tb;
  if (!detail::tracer_traceback_of(kDefaultDomain, reinterpret_cast<std::uintptr_t>(ptr), tb)) {
    return std::nullopt;
  }
  detail::SnapshotData data;
  data.raw.modules = detail::collect_modules();
  data.raw.tracebacks.push_back(std::move(tb));
  data.raw.traces.push_back(detail::RawTrace{kDefaultDomain, 0, 0});
  data.traceback_limit = detail::tracer_limit();
  return data.resolved_traces().at(0).traceback;
}

[[gnu::noinline]] bool track(Domain domain, std::uintptr_t ptr, std::size_t size) {
  return detail::tracer_track(domain, ptr, size,
                              reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)),
                              __builtin_frame_address(0));
}

bool untrack(Domain domain, std::uintptr_t ptr) { return detail::tracer_untrack(domain, ptr); }

Untraced::Untraced() noexcept : m_previous(detail::busy()) { detail::busy() = true; }

Untraced::~Untraced() { detail::busy() = m_previous; }

}  // namespace batteries::tracemalloc
